"""Tools: registration from a function, schema from its hints, calling with validation (Srv/tools)."""

from __future__ import annotations

import logging
import re
import typing
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import attrs

from .._proto import types as t
from .._proto.errors import INVALID_PARAMS, McpError
from .._runtime.context import Context
from .content import CONTENT_TYPES, Audio, Image, to_content, to_json_text, to_jsonable
from .handlers import context_parameter, description_of, invoke
from .pagination import registration_number
from .schema import input_schema_for, output_schema_for, resolve_hints
from .validation import ArgumentBinder, Check, compile_validator

log = logging.getLogger("trio_mcp")

# Srv/tools §Tool Names: 1-128 characters of [A-Za-z0-9_.-].
TOOL_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


class RegistrationError(ValueError):
    """A decorator was applied to something that cannot be served as declared."""


# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), no space, quote or backslash.
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")


def required_scopes(what: str, scopes: Iterable[str]) -> frozenset[str]:
    """The `scopes=` of a registration, checked: each an RFC 6749 scope token (a lone string is one scope)."""
    names = (scopes,) if isinstance(scopes, str) else tuple(scopes)
    for scope in names:
        if not isinstance(scope, str) or not SCOPE_TOKEN.fullmatch(scope):
            raise RegistrationError(
                f"{what}: scope {scope!r} is not an OAuth scope token (printable ASCII without spaces, quotes or "
                "backslashes)"
            )
    return frozenset(names)


@attrs.define(eq=False)
class ToolDefinition:
    name: str
    func: Callable[..., Any]
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    ctx_param: str | None
    blocking: bool
    title: str | None = None
    annotations: t.ToolAnnotations | None = None
    icons: list[t.Icon] | None = None
    mime_type: str | None = None
    meta: dict[str, Any] | None = None
    # A hand-written schema is passed through: arguments then go to the function by name, unconverted.
    schema_is_raw: bool = False
    # Built once per tool: binding arguments is on every call.
    binder: ArgumentBinder | None = None
    validator: Check | None = None
    #: OAuth scopes a token needs to see and call it (docs/architecture.md §10)
    scopes: frozenset[str] = frozenset()
    #: registration number: list order and the key of pagination cursors (pagination.py)
    order: int = attrs.field(factory=registration_number, kw_only=True)

    @classmethod
    def from_function(
        cls,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: dict[str, Any] | None = None,
        output_schema: dict[str, Any] | None = None,
        blocking: bool = False,
        title: str | None = None,
        annotations: t.ToolAnnotations | None = None,
        icons: list[t.Icon] | None = None,
        mime_type: str | None = None,
        meta: dict[str, Any] | None = None,
        scopes: Iterable[str] = (),
    ) -> ToolDefinition:
        tool_name = name or func.__name__
        if not TOOL_NAME.fullmatch(tool_name):
            raise RegistrationError(
                f"tool name {tool_name!r} is not valid: use 1-128 characters of letters, digits, '_', '-' or '.'"
            )
        desc = description_of(func, description)
        if not desc:
            raise RegistrationError(
                f"tool {tool_name!r} has no description: give the function a docstring or pass description=... "
                "(clients show it to the model, and many reject tools without one)"
            )
        ctx_param = context_parameter(func)
        skip = (ctx_param,) if ctx_param else ()
        schema = input_schema if input_schema is not None else input_schema_for(func, skip=skip)
        if schema.get("type") != "object":
            raise RegistrationError(
                f"tool {tool_name!r}: inputSchema must be a JSON Schema object with type 'object'"
            )
        out_schema = output_schema
        if out_schema is None and not _is_content_hint(resolve_hints(func).get("return")):
            out_schema = output_schema_for(resolve_hints(func).get("return"))
        return cls(
            name=tool_name,
            func=func,
            description=desc,
            input_schema=schema,
            output_schema=out_schema,
            ctx_param=ctx_param,
            blocking=blocking,
            title=title,
            annotations=annotations,
            icons=icons,
            mime_type=mime_type,
            meta=meta,
            schema_is_raw=input_schema is not None,
            scopes=required_scopes(f"tool {tool_name!r}", scopes),
        )

    def to_wire(self) -> t.Tool:
        return t.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            annotations=self.annotations,
            icons=self.icons,
            meta=self.meta,
        )

    async def call(
        self, ctx: Context, arguments: dict[str, Any] | None, *, error_details: bool = True
    ) -> t.CallToolResult:
        """Run the tool; an exception it raises becomes an isError result (Srv/tools §Error Handling), logged
        once at ERROR with its traceback. `error_details=False`: the client gets a generic text, not the
        exception's message (which may carry internals)."""
        args = arguments or {}
        if self.validator is None:
            self.validator = compile_validator(self.input_schema)
        issues = self.validator(args)
        if issues:
            # Srv/tools §Error Handling (2025-11-25): input validation errors are tool results the model can fix.
            text = f"Invalid arguments for tool {self.name!r}: " + "; ".join(str(i) for i in issues)
            return error_result(text)
        try:
            kwargs = self._bind(args)
        except (ValueError, TypeError) as exc:
            return error_result(f"Invalid arguments for tool {self.name!r}: {exc}")
        try:
            value = await invoke(self.func, kwargs, ctx=ctx, ctx_param=self.ctx_param, blocking=self.blocking)
        except McpError:
            raise
        except Exception as exc:
            if (error := request_error(exc)) is not None:
                raise error from exc  # e.g. -32021 from an ask in one of the tool's tasks
            log.error("tool %r raised %s: %s", self.name, type(exc).__name__, exc, exc_info=exc)
            if not error_details:
                return error_result(f"The tool {self.name!r} failed; the server log has the details")
            return error_result(str(exc) or f"{type(exc).__name__} in tool {self.name!r}")
        return self._result(value)

    def _bind(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.binder is None:
            self.binder = ArgumentBinder(self.func, skip=(self.ctx_param,) if self.ctx_param else ())
        return self.binder(args)

    def _result(self, value: Any) -> t.CallToolResult:
        if isinstance(value, t.CallToolResult):
            return value
        if isinstance(value, UNSTRUCTURED_RESULTS):
            return t.CallToolResult(
                content=to_content(value, mime_type=self.mime_type, uri=f"tool://{self.name}/result")
            )
        if (
            self.output_schema is not None
            and not isinstance(value, str | bytes | list | tuple)
            and value is not None
        ):
            structured = to_jsonable(value)
            if isinstance(structured, dict):
                # Srv/tools §Structured Content: also send the JSON as text for older clients.
                return t.CallToolResult(
                    content=[t.TextContent(text=to_json_text(structured))],
                    structured_content=structured,  # pyright: ignore[reportUnknownArgumentType]
                )
        return t.CallToolResult(
            content=to_content(value, mime_type=self.mime_type, uri=f"tool://{self.name}/result")
        )


# Return values that are content, never structured results (they are attrs classes, so they would look like it).
UNSTRUCTURED_RESULTS = (*CONTENT_TYPES, Image, Audio, t.TextResourceContents, t.BlobResourceContents)


def _is_content_hint(hint: Any) -> bool:
    while typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    return isinstance(hint, type) and issubclass(hint, (*UNSTRUCTURED_RESULTS, t.CallToolResult))


def request_error(exc: Exception) -> McpError | None:
    """The request's own error inside the group of a nursery the handler opened (only McpErrors in it)."""
    if not isinstance(exc, ExceptionGroup):
        return None
    group: ExceptionGroup[Exception] = exc  # pyright: ignore[reportUnknownVariableType]
    matched, rest = group.split(McpError)
    if matched is None or rest is not None:
        return None
    first = matched.exceptions[0]
    while isinstance(first, ExceptionGroup):
        first = first.exceptions[0]  # pyright: ignore[reportUnknownVariableType,reportUnknownMemberType]
    return first if isinstance(first, McpError) else None


def error_result(text: str) -> t.CallToolResult:
    return t.CallToolResult(content=[t.TextContent(text=text)], is_error=True)


def unknown_tool(name: str) -> McpError:
    return McpError(INVALID_PARAMS, f"Unknown tool: {name!r}", {"name": name})
