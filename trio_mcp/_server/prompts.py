"""Prompts: templates from functions, arguments from the signature (Srv/prompts)."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import attrs

from .._proto import types as t
from .._proto.errors import INVALID_PARAMS, McpError
from .._runtime.context import Context
from .content import to_content
from .handlers import context_parameter, description_of, invoke
from .pagination import registration_number
from .schema import resolve_hints
from .tools import RegistrationError, required_scopes


@attrs.define(eq=False)
class PromptDefinition:
    name: str
    func: Callable[..., Any]
    description: str
    arguments: list[t.PromptArgument]
    ctx_param: str | None
    title: str | None = None
    icons: list[t.Icon] | None = None
    meta: dict[str, Any] | None = None
    #: OAuth scopes a token needs to see and get it (docs/architecture.md §10)
    scopes: frozenset[str] = frozenset()
    #: registration number: list order and the key of pagination cursors (pagination.py)
    order: int = attrs.field(factory=registration_number, kw_only=True)

    @classmethod
    def from_function(
        cls,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[t.Icon] | None = None,
        meta: dict[str, Any] | None = None,
        scopes: Iterable[str] = (),
    ) -> PromptDefinition:
        prompt_name = name or func.__name__
        desc = description_of(func, description)
        if not desc:
            raise RegistrationError(
                f"prompt {prompt_name!r} has no description: give the function a docstring or pass description=..."
            )
        ctx_param = context_parameter(func)
        hints = resolve_hints(func)
        arguments: list[t.PromptArgument] = []
        for param in inspect.signature(func).parameters.values():
            if param.name == ctx_param:
                continue
            arguments.append(
                t.PromptArgument(
                    name=param.name,
                    description=_annotated_description(hints.get(param.name)),
                    required=param.default is inspect.Parameter.empty,
                )
            )
        return cls(
            name=prompt_name,
            func=func,
            description=desc,
            arguments=arguments,
            ctx_param=ctx_param,
            title=title,
            icons=icons,
            meta=meta,
            scopes=required_scopes(f"prompt {prompt_name!r}", scopes),
        )

    def to_wire(self) -> t.Prompt:
        return t.Prompt(
            name=self.name,
            title=self.title,
            description=self.description,
            arguments=self.arguments or None,
            icons=self.icons,
            meta=self.meta,
        )

    async def get(self, ctx: Context, arguments: dict[str, str] | None) -> t.GetPromptResult:
        args = dict(arguments or {})
        missing = [a.name for a in self.arguments if a.required and a.name not in args]
        if missing:
            # Srv/prompts §Error Handling: missing required arguments are -32602.
            raise McpError(
                INVALID_PARAMS, f"Prompt {self.name!r} is missing required arguments: {', '.join(missing)}"
            )
        known = {a.name for a in self.arguments}
        unknown = sorted(set(args) - known)
        if unknown:
            raise McpError(
                INVALID_PARAMS, f"Prompt {self.name!r} takes no arguments named: {', '.join(unknown)}"
            )
        value = await invoke(self.func, args, ctx=ctx, ctx_param=self.ctx_param, blocking=False)
        return self._result(value)

    def _result(self, value: Any) -> t.GetPromptResult:
        if isinstance(value, t.GetPromptResult):
            return value
        items: list[Any] = list(value) if isinstance(value, list | tuple) else [value]  # pyright: ignore[reportUnknownArgumentType]
        messages: list[t.PromptMessage] = []
        for item in items:
            if isinstance(item, t.PromptMessage):
                messages.append(item)
            else:
                messages.extend(t.PromptMessage(role="user", content=block) for block in to_content(item))
        return t.GetPromptResult(messages=messages, description=self.description)


def _annotated_description(hint: Any) -> str | None:
    if typing.get_origin(hint) is Annotated:
        return next((e for e in typing.get_args(hint)[1:] if isinstance(e, str)), None)
    return None
