"""Resources: static URIs and RFC 6570 templates, listing and reading (Srv/resources)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from .._proto import types as t
from .._proto.errors import RESOURCE_NOT_FOUND, McpError
from .._runtime.context import Context
from .content import b64, to_jsonable
from .handlers import context_parameter, description_of, invoke
from .pagination import registration_number
from .tools import RegistrationError, required_scopes
from .uri_template import UriTemplate


@attrs.define(eq=False)
class ResourceDefinition:
    uri: str
    func: Callable[..., Any]
    name: str
    ctx_param: str | None
    template: UriTemplate | None
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    annotations: t.Annotations | None = None
    icons: list[t.Icon] | None = None
    meta: dict[str, Any] | None = None
    blocking: bool = False
    #: 2026-07-28 caching hints of this resource's reads (SEP-2549); None: the server's
    cache_ttl_ms: int | None = None
    cache_scope: str | None = None
    #: OAuth scopes a token needs to see and read it (docs/architecture.md §10)
    scopes: frozenset[str] = frozenset()
    #: registration number: list order and the key of pagination cursors (pagination.py)
    order: int = attrs.field(factory=registration_number, kw_only=True)

    @classmethod
    def from_function(
        cls,
        uri: str,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
        annotations: t.Annotations | None = None,
        icons: list[t.Icon] | None = None,
        meta: dict[str, Any] | None = None,
        blocking: bool = False,
        cache_ttl_ms: int | None = None,
        cache_scope: str | None = None,
        scopes: Iterable[str] = (),
    ) -> ResourceDefinition:
        try:
            template = UriTemplate(uri)
        except ValueError as exc:
            raise RegistrationError(str(exc)) from None
        if cache_ttl_ms is not None and (
            isinstance(cache_ttl_ms, bool) or not isinstance(cache_ttl_ms, int) or cache_ttl_ms < 0
        ):
            raise RegistrationError(
                f"resource {uri!r}: cache_ttl_ms must be 0 or more milliseconds, not {cache_ttl_ms!r}"
            )
        if cache_scope not in (None, "private", "public"):
            raise RegistrationError(
                f"resource {uri!r}: cache_scope must be 'private' or 'public', not {cache_scope!r}"
            )
        ctx_param = context_parameter(func)
        params = [p for p in inspect.signature(func).parameters if p != ctx_param]
        if set(params) != set(template.variables):
            raise RegistrationError(
                f"resource {uri!r}: the function's parameters {params} must be exactly the template variables "
                f"{list(template.variables)}"
            )
        return cls(
            uri=uri,
            func=func,
            name=name or func.__name__,
            ctx_param=ctx_param,
            template=template if template.variables else None,
            title=title,
            description=description_of(func, description),
            mime_type=mime_type,
            size=size,
            annotations=annotations,
            icons=icons,
            meta=meta,
            blocking=blocking,
            cache_ttl_ms=cache_ttl_ms,
            cache_scope=cache_scope,
            scopes=required_scopes(f"resource {uri!r}", scopes),
        )

    def to_resource(self) -> t.Resource:
        return t.Resource(
            uri=self.uri,
            name=self.name,
            title=self.title,
            description=self.description,
            mime_type=self.mime_type,
            size=self.size,
            annotations=self.annotations,
            icons=self.icons,
            meta=self.meta,
        )

    def to_template(self) -> t.ResourceTemplate:
        return t.ResourceTemplate(
            uri_template=self.uri,
            name=self.name,
            title=self.title,
            description=self.description,
            mime_type=self.mime_type,
            annotations=self.annotations,
            icons=self.icons,
            meta=self.meta,
        )

    async def read(self, ctx: Context, uri: str, variables: dict[str, str]) -> t.ReadResourceResult:
        value = await invoke(
            self.func, dict(variables), ctx=ctx, ctx_param=self.ctx_param, blocking=self.blocking
        )
        return t.ReadResourceResult(
            contents=self._contents(uri, value), ttl_ms=self.cache_ttl_ms, cache_scope=self.cache_scope
        )

    def _contents(self, uri: str, value: Any) -> list[t.ResourceContents]:
        if isinstance(value, t.ReadResourceResult):
            return value.contents
        if isinstance(value, t.TextResourceContents | t.BlobResourceContents):
            return [value]
        if isinstance(value, list | tuple) and all(
            isinstance(v, t.TextResourceContents | t.BlobResourceContents)
            for v in value  # pyright: ignore[reportUnknownVariableType]
        ):
            return list(value)  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(value, bytes | bytearray):
            return [t.BlobResourceContents(uri=uri, blob=b64(bytes(value)), mime_type=self.mime_type)]
        if isinstance(value, str):
            return [t.TextResourceContents(uri=uri, text=value, mime_type=self.mime_type or "text/plain")]
        text = json.dumps(to_jsonable(value), ensure_ascii=False)
        return [t.TextResourceContents(uri=uri, text=text, mime_type=self.mime_type or "application/json")]


@attrs.define(eq=False)
class ResourceTable:
    static: dict[str, ResourceDefinition] = attrs.field(factory=dict[str, ResourceDefinition])
    templates: list[ResourceDefinition] = attrs.field(factory=list[ResourceDefinition])

    def add(self, resource: ResourceDefinition) -> None:
        if resource.template is None:
            self.static[resource.uri] = resource
        else:
            self.templates = [r for r in self.templates if r.uri != resource.uri] + [resource]

    def remove(self, uri: str) -> bool:
        before = len(self.static) + len(self.templates)
        self.static.pop(uri, None)
        self.templates = [r for r in self.templates if r.uri != uri]
        return before != len(self.static) + len(self.templates)

    def every(self) -> list[ResourceDefinition]:
        return [*self.static.values(), *self.templates]

    def find(self, uri: str) -> tuple[ResourceDefinition, dict[str, str]]:
        resource = self.static.get(uri)
        if resource is not None:
            return resource, {}
        for candidate in self.templates:
            assert candidate.template is not None
            variables = candidate.template.match(uri)
            if variables is not None:
                return candidate, variables
        # Srv/resources §Error Handling: -32002 with the uri in data.
        raise McpError(RESOURCE_NOT_FOUND, f"Resource not found: {uri}", {"uri": uri})


def check_resource_name(uri: str) -> None:
    if not uri or ":" not in uri:
        raise RegistrationError(f"resource URI {uri!r} needs a scheme, like 'file:///...' or 'myapp://...'")
