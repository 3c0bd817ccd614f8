"""Server: what users write. Decorators register tools, resources, prompts and completions into one registry."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

import trio

from .._proto import types as t
from .._proto.errors import INVALID_PARAMS, McpError
from .._runtime.context import Context
from .._runtime.dispatcher import Dispatcher, ServerIdentity, SessionHook
from .._runtime.hub import ConnectionHub, NotificationHub
from .._runtime.registry import HandlerRegistry
from .pagination import paginate
from .prompts import PromptDefinition
from .resources import ResourceDefinition, ResourceTable, check_resource_name
from .tools import ToolDefinition, unknown_tool

if TYPE_CHECKING:
    from .._transport.http import McpASGIApp

log = logging.getLogger("trio_mcp")

F = TypeVar("F", bound=Callable[..., Any])
CompletionHandler = Callable[
    [t.CompletionReference, t.CompletionArgument, t.CompletionContext | None],
    Awaitable["list[str] | t.Completion"],
]
MAX_COMPLETION_VALUES = 100  # Srv/utilities/completion: at most 100 values per response.


class Server:
    """An MCP server. Registries are per process (every instance runs the same code); notifications cross instances."""

    def __init__(
        self,
        name: str,
        version: str = "0.1.0",
        instructions: str | None = None,
        *,
        title: str | None = None,
        description: str | None = None,
        website_url: str | None = None,
        icons: list[t.Icon] | None = None,
        page_size: int = 100,
        tool_error_details: bool = True,
    ) -> None:
        """`tool_error_details=False`: a tool that raises answers the client with a generic error text
        instead of the exception's message (the log keeps the message and the traceback either way)."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.info = t.Implementation(
            name=name,
            version=version,
            title=title,
            description=description,
            website_url=website_url,
            icons=icons,
        )
        self.instructions = instructions
        self.tool_error_details = tool_error_details
        self.page_size = page_size
        self.tools: dict[str, ToolDefinition] = {}
        self.resources = ResourceTable()
        self.prompts: dict[str, PromptDefinition] = {}
        self._completion: CompletionHandler | None = None
        self.registry = HandlerRegistry()
        self.connections = ConnectionHub()
        self._hubs: list[NotificationHub] = [self.connections]
        self._install_handlers()

    # -- identity --

    @property
    def capabilities(self) -> t.ServerCapabilities:
        # Declared whole from the start: tools, resources and prompts may be added at run time.
        return t.ServerCapabilities(
            tools=t.ToolsCapability(list_changed=True),
            resources=t.ResourcesCapability(subscribe=True, list_changed=True),
            prompts=t.PromptsCapability(list_changed=True),
            logging={},
            completions={},
        )

    def identity(self) -> ServerIdentity:
        return ServerIdentity(info=self.info, capabilities=self.capabilities, instructions=self.instructions)

    def dispatcher(self, on_session_change: SessionHook | None = None) -> Dispatcher:
        if on_session_change is None:
            return Dispatcher(self.registry, self.identity)
        return Dispatcher(self.registry, self.identity, on_session_change)

    def add_hub(self, hub: NotificationHub) -> None:
        self._hubs.append(hub)

    def remove_hub(self, hub: NotificationHub) -> None:
        if hub in self._hubs:
            self._hubs.remove(hub)

    # -- authorization: which scopes a request needs (the transport refuses it before it runs) --

    def required_scopes(self, method: str, params: Any) -> frozenset[str]:
        """The scopes declared on what the request names (a tool, a prompt, a resource); none when the name is
        unknown (the handler answers that). `params`: the raw JSON object or the typed params."""

        def field(name: str) -> str:
            if isinstance(params, Mapping):
                return str(cast(Mapping[str, object], params).get(name))
            return str(getattr(params, name, None))

        if method == "tools/call":
            tool = self.tools.get(field("name"))
            return tool.scopes if tool is not None else frozenset()
        if method == "prompts/get":
            prompt = self.prompts.get(field("name"))
            return prompt.scopes if prompt is not None else frozenset()
        if method in ("resources/read", "resources/subscribe"):
            try:
                resource, _ = self.resources.find(field("uri"))
            except McpError:
                return frozenset()
            return resource.scopes
        return frozenset()

    def declared_scopes(self) -> frozenset[str]:
        """Every scope a tool, resource or prompt declares (the resource metadata's `scopes_supported`)."""
        found: set[str] = set()
        for definition in [*self.tools.values(), *self.prompts.values(), *self.resources.every()]:
            found |= definition.scopes
        return frozenset(found)

    # -- decorators --

    @overload
    def tool(self, func: F, /) -> F: ...

    @overload
    def tool(
        self,
        func: None = None,
        /,
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
    ) -> Callable[[F], F]: ...

    def tool(self, func: F | None = None, /, **options: Any) -> F | Callable[[F], F]:
        """Register a tool: name from the function, description from the docstring, schemas from the hints.

        `scopes`: the OAuth scopes a token needs to see it in tools/list and to call it; a call without them
        is refused with 403 `insufficient_scope` naming them (step-up; docs/architecture.md §10)."""

        def register(fn: F) -> F:
            self._put_tool(ToolDefinition.from_function(fn, **options))
            return fn

        return register(func) if func is not None else register

    @overload
    def resource(
        self,
        uri: str,
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
        cache_scope: Literal["private", "public"] | None = None,
        scopes: Iterable[str] = (),
    ) -> Callable[[F], F]: ...

    @overload
    def resource(self, uri: str, **options: Any) -> Callable[[F], F]: ...

    def resource(self, uri: str, **options: Any) -> Callable[[F], F]:
        """Register a resource at a static URI, or an RFC 6570 template whose variables are the parameters.

        `cache_ttl_ms` / `cache_scope`: the 2026-07-28 caching hints (SEP-2549) of its reads, instead of the
        server's `cache_ttl_ms` / `cache_scope` knobs."""
        check_resource_name(uri)

        def register(fn: F) -> F:
            self.resources.add(ResourceDefinition.from_function(uri, fn, **options))
            return fn

        return register

    @overload
    def prompt(self, func: F, /) -> F: ...

    @overload
    def prompt(
        self,
        func: None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[t.Icon] | None = None,
        meta: dict[str, Any] | None = None,
        scopes: Iterable[str] = (),
    ) -> Callable[[F], F]: ...

    def prompt(self, func: F | None = None, /, **options: Any) -> F | Callable[[F], F]:
        """Register a prompt; its parameters are the prompt's arguments (all strings on the wire)."""

        def register(fn: F) -> F:
            definition = PromptDefinition.from_function(fn, **options)
            self.prompts[definition.name] = definition
            return fn

        return register(func) if func is not None else register

    def completion(self, func: F, /) -> F:
        """Register THE completion handler: `async (ref, argument, context) -> list[str] | Completion`."""
        self._completion = func
        return func

    # -- run-time changes --

    async def add_tool(self, func: Callable[..., Any], **options: Any) -> ToolDefinition:
        """Add (or replace) a tool at run time and send tools/list_changed to every session."""
        definition = ToolDefinition.from_function(func, **options)
        self._put_tool(definition)
        await self.send_tools_list_changed()
        return definition

    async def remove_tool(self, name: str) -> None:
        """Remove a tool at run time and send tools/list_changed to every session."""
        if self.tools.pop(name, None) is None:
            raise KeyError(f"no tool named {name!r}")
        await self.send_tools_list_changed()

    def _put_tool(self, definition: ToolDefinition) -> None:
        self.tools[definition.name] = definition

    # -- notifications to every session, on every instance --

    async def _broadcast(self, method: str) -> None:
        for hub in list(self._hubs):
            await hub.broadcast(method)

    async def send_tools_list_changed(self) -> None:
        await self._broadcast("notifications/tools/list_changed")

    async def send_resources_list_changed(self) -> None:
        await self._broadcast("notifications/resources/list_changed")

    async def send_prompts_list_changed(self) -> None:
        await self._broadcast("notifications/prompts/list_changed")

    async def notify_resource_updated(self, uri: str) -> None:
        """`notifications/resources/updated` to every session subscribed to `uri`, wherever it is served."""
        for hub in list(self._hubs):
            await hub.resource_updated(uri)

    # -- transports --

    def run_http(self, *, host: str = "127.0.0.1", port: int = 8000, **config: Any) -> int:
        """Serve over Streamable HTTP at http://host:port/mcp until SIGINT or SIGTERM, as `trio-mcp serve`
        does (one startup line; a startup failure prints one line); returns the exit code. `config`: the
        keywords of :meth:`asgi_app`."""
        from .._cli import run

        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return run(self.asgi_app(**config), {"bind": [bind]})

    def asgi_app(self, **config: Any) -> McpASGIApp:
        """The Streamable HTTP ASGI app; see trio_mcp's configuration for the keywords and their env twins."""
        from .._transport.http import McpASGIApp

        return McpASGIApp(self, **config)

    def run_stdio(self) -> None:
        """Serve one client on stdin/stdout (newline-delimited JSON-RPC), logs on stderr; returns at EOF."""
        from .._transport.stdio import run_stdio

        trio.run(run_stdio, self)

    # -- request handlers --

    def _install_handlers(self) -> None:
        reg = self.registry

        @reg.request("tools/list")
        async def list_tools(ctx: Context, params: t.PaginatedRequestParams) -> t.ListToolsResult:
            page, cursor = paginate(visible(ctx, self.tools.values()), params.cursor, self.page_size)
            return t.ListToolsResult(tools=[d.to_wire() for d in page], next_cursor=cursor)

        @reg.request("tools/call")
        async def call_tool(ctx: Context, params: t.CallToolRequestParams) -> t.CallToolResult:
            definition = self.tools.get(params.name)
            if definition is None:
                raise unknown_tool(params.name)
            return await definition.call(ctx, params.arguments, error_details=self.tool_error_details)

        @reg.request("resources/list")
        async def list_resources(ctx: Context, params: t.PaginatedRequestParams) -> t.ListResourcesResult:
            page, cursor = paginate(
                visible(ctx, self.resources.static.values()), params.cursor, self.page_size
            )
            return t.ListResourcesResult(resources=[r.to_resource() for r in page], next_cursor=cursor)

        @reg.request("resources/templates/list")
        async def list_templates(
            ctx: Context, params: t.PaginatedRequestParams
        ) -> t.ListResourceTemplatesResult:
            page, cursor = paginate(visible(ctx, self.resources.templates), params.cursor, self.page_size)
            return t.ListResourceTemplatesResult(
                resource_templates=[r.to_template() for r in page], next_cursor=cursor
            )

        @reg.request("resources/read")
        async def read_resource(ctx: Context, params: t.ReadResourceRequestParams) -> t.ReadResourceResult:
            definition, variables = self.resources.find(params.uri)
            return await definition.read(ctx, params.uri, variables)

        @reg.request("prompts/list")
        async def list_prompts(ctx: Context, params: t.PaginatedRequestParams) -> t.ListPromptsResult:
            page, cursor = paginate(visible(ctx, self.prompts.values()), params.cursor, self.page_size)
            return t.ListPromptsResult(prompts=[p.to_wire() for p in page], next_cursor=cursor)

        @reg.request("prompts/get")
        async def get_prompt(ctx: Context, params: t.GetPromptRequestParams) -> t.GetPromptResult:
            definition = self.prompts.get(params.name)
            if definition is None:
                raise McpError(INVALID_PARAMS, f"Unknown prompt: {params.name!r}", {"name": params.name})
            return await definition.get(ctx, params.arguments)

        @reg.request("completion/complete")
        async def complete(ctx: Context, params: t.CompleteRequestParams) -> t.CompleteResult:
            return t.CompleteResult(completion=await self._complete(params))

    async def _complete(self, params: t.CompleteRequestParams) -> t.Completion:
        ref = params.ref
        if isinstance(ref, t.PromptReference) and ref.name not in self.prompts:
            raise McpError(INVALID_PARAMS, f"Unknown prompt: {ref.name!r}")
        if self._completion is None:
            return t.Completion(values=[], total=0, has_more=False)
        answer = await self._completion(ref, params.argument, params.context)
        if isinstance(answer, t.Completion):
            return answer
        values = list(answer)
        return t.Completion(
            values=values[:MAX_COMPLETION_VALUES],
            total=len(values),
            has_more=len(values) > MAX_COMPLETION_VALUES,
        )


Scoped = TypeVar("Scoped", ToolDefinition, ResourceDefinition, PromptDefinition)


def visible(ctx: Context, definitions: Iterable[Scoped]) -> list[Scoped]:
    """What a list shows this request: with a token, only what its scopes open (MCP basic/authorization
    §Scope Challenge Handling: the rest asks for step-up); without auth, everything."""
    token = ctx.access_token
    if token is None:
        return list(definitions)
    return [d for d in definitions if d.scopes <= token.scopes]
