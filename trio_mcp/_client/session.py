"""ClientSession: the client side of MCP on the same sans-IO core, independent of the transport.

A transport gives it `send(message)` and feeds every message it reads to `deliver(message)`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from .._proto import types as t
from .._proto.converter import structure_params
from .._proto.errors import INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, McpError, RemoteProtocolError
from .._proto.jsonrpc import (
    ErrorResponse,
    Message,
    Notification,
    Request,
    RequestId,
    Response,
    error_response,
)
from .._proto.modern import MODERN_VERSION
from .._proto.session import (
    ErrorReceived,
    NotificationReceived,
    ProtocolSession,
    RequestReceived,
    ResponseReceived,
    Role,
)
from .._proto.versions import LATEST_VERSION
from .._runtime.peer import Peer

log = logging.getLogger("trio_mcp.client")

SamplingCallback = Callable[[t.CreateMessageRequestParams], Awaitable[t.CreateMessageResult]]
ElicitationCallback = Callable[[t.ElicitRequestParams], Awaitable[t.ElicitResult]]
LoggingCallback = Callable[[t.LoggingMessageNotificationParams], Awaitable[None]]
ProgressCallback = Callable[[t.ProgressNotificationParams], Awaitable[None]]
NotificationCallback = Callable[[str, Any], Awaitable[None]]

DEFAULT_CLIENT_INFO = t.Implementation(name="trio_mcp-client", version="0.1.0")
INPUT_REQUEST_METHODS = ("elicitation/create", "sampling/createMessage", "roots/list")
#: 2026-07-28 multi-round-trip requests: how many input_required results one call answers before it gives up
MAX_INPUT_ROUNDS = 16


class _SendOutbound:
    can_request = True

    def __init__(self, send: Callable[[Message], Awaitable[None]]) -> None:
        self._send = send

    async def send(self, message: Message) -> None:
        await self._send(message)

    def close_stream(self, retry_ms: int | None) -> bool:
        return False  # no SSE stream of its own


@attrs.define(eq=False)
class ClientSession:
    send: Callable[[Message], Awaitable[None]]
    nursery: trio.Nursery
    client_info: t.Implementation = DEFAULT_CLIENT_INFO
    sampling_callback: SamplingCallback | None = None
    elicitation_callback: ElicitationCallback | None = None
    logging_callback: LoggingCallback | None = None
    notification_callback: NotificationCallback | None = None
    roots: list[t.Root] | None = None
    request_timeout: float = 60.0
    protocol_version: str = LATEST_VERSION
    protocol: ProtocolSession = attrs.field(init=False)
    peer: Peer = attrs.field(init=False)
    initialize_result: t.InitializeResult | None = attrs.field(default=None, init=False)
    _progress: dict[t.ProgressToken, ProgressCallback] = attrs.field(
        factory=dict[t.ProgressToken, ProgressCallback], init=False
    )
    _progress_ids: int = attrs.field(default=0, init=False)
    # Server requests being answered, so `notifications/cancelled` stops exactly that callback (U/cancellation).
    _answering: dict[RequestId, trio.CancelScope] = attrs.field(
        factory=dict[RequestId, trio.CancelScope], init=False
    )
    #: what the application set on the session, set again in a new session after a 404 (`replay`)
    logging_level: t.LoggingLevel | None = attrs.field(default=None, init=False)
    subscriptions: set[str] = attrs.field(factory=set[str], init=False)
    #: set by the transport: what `aclose()` does (DELETE the session, end the transport's tasks)
    closer: Callable[[], Awaitable[None]] | None = attrs.field(default=None, init=False)
    #: set by the transport: where `session_id` comes from
    session_id_source: Callable[[], str | None] | None = attrs.field(default=None, init=False)
    #: the protocol era in use: "legacy" (initialize and a session) or "modern" (2026-07-28: no handshake,
    #: every request carries its `_meta`); `discover_result` is what `server/discover` said in the latter
    era: str = attrs.field(default="legacy", init=False)
    discover_result: t.DiscoverResult | None = attrs.field(default=None, init=False)

    def resume(self, protocol_version: str | None) -> None:
        """Take up a session initialized earlier (the transport holds its id): no handshake now."""
        self.protocol.resume(protocol_version or self.protocol_version)

    def use_modern(self, discovered: t.DiscoverResult) -> None:
        """Speak 2026-07-28 from now on: no initialize; the transport adds each request's `_meta`."""
        self.era = "modern"
        self.discover_result = discovered
        self.protocol.start_stateless(MODERN_VERSION)

    def _not_in_modern(self, method: str, instead: str) -> McpError:
        return McpError(
            METHOD_NOT_FOUND, f"{method} does not exist in MCP 2026-07-28 (this client's era): {instead}"
        )

    @property
    def session_id(self) -> str | None:
        """The server's `Mcp-Session-Id` for this session right now (it changes when the client had to open
        a new one); None over stdio and for a stateless server."""
        return None if self.session_id_source is None else self.session_id_source()

    def __attrs_post_init__(self) -> None:
        self.protocol = ProtocolSession(Role.CLIENT)
        self.peer = Peer(self.protocol, default_timeout=self.request_timeout)

    @property
    def capabilities(self) -> t.ClientCapabilities:
        return t.ClientCapabilities(
            sampling=t.SamplingCapability() if self.sampling_callback else None,
            elicitation=t.ElicitationCapability(form={}) if self.elicitation_callback else None,
            roots=t.RootsCapability(list_changed=True) if self.roots is not None else None,
        )

    # -- incoming --

    async def deliver(self, message: Message) -> None:
        """Feed one message read from the transport."""
        if isinstance(message, Response | ErrorResponse):
            try:
                event = self.protocol.receive(message)
            except RemoteProtocolError as exc:
                log.debug("ignored a reply: %s", exc.message)
                return
            assert isinstance(event, ResponseReceived | ErrorReceived)
            self.peer.deliver(event)
            return
        if isinstance(message, Request):
            try:
                event = self.protocol.receive(message)
            except RemoteProtocolError as exc:
                await self.send(error_response(message.id, exc.code, exc.message, exc.data))
                return
            assert isinstance(event, RequestReceived)
            # Registered now, not when the task starts, so a cancellation read right after still finds it.
            scope = self._answering[event.id] = trio.CancelScope()
            self.nursery.start_soon(self._answer, event, scope)
            return
        try:
            event = self.protocol.receive(message)
        except RemoteProtocolError as exc:
            log.debug("ignored a notification: %s", exc.message)
            return
        assert isinstance(event, NotificationReceived)
        await self._on_notification(event)

    async def _on_notification(self, event: NotificationReceived) -> None:
        if event.method == "notifications/cancelled":
            scope = self._answering.get(event.params.request_id)
            if scope is not None:
                scope.cancel()
        elif event.method == "notifications/progress":
            callback = self._progress.get(event.params.progress_token)
            if callback is not None:
                await callback(event.params)
        elif event.method == "notifications/message" and self.logging_callback is not None:
            await self.logging_callback(event.params)
        if self.notification_callback is not None:
            await self.notification_callback(event.method, event.params)

    async def _answer(self, event: RequestReceived, scope: trio.CancelScope) -> None:
        reply: Message | None = None
        try:
            with scope:
                try:
                    result = await self._handle_server_request(event)
                    reply = self.protocol.send_result(event.id, result)
                except McpError as exc:
                    reply = error_response(event.id, exc.code, exc.message, exc.data)
                except Exception as exc:
                    log.exception("client callback for %s raised", event.method)
                    reply = error_response(event.id, INTERNAL_ERROR, f"client error: {exc}")
        finally:
            if self._answering.get(event.id) is scope:
                del self._answering[event.id]
        # Cancelled by the server: U/cancellation says send no response.
        if reply is not None:
            await self.send(reply)

    async def _handle_server_request(self, event: RequestReceived) -> Any:
        return await self._serve(event.method, event.params)

    async def _serve(self, method: str, params: Any) -> Any:
        """What the server asked for (a request of the 2025 era, or an input request of 2026-07-28)."""
        if method == "ping":
            return t.EmptyResult()
        if method == "sampling/createMessage" and self.sampling_callback is not None:
            return await self.sampling_callback(params)
        if method == "elicitation/create" and self.elicitation_callback is not None:
            return await self.elicitation_callback(params)
        if method == "roots/list" and self.roots is not None:
            return t.ListRootsResult(roots=list(self.roots))
        raise McpError(METHOD_NOT_FOUND, f"this client does not support {method}")

    async def _input_responses(self, needed: t.InputRequiredResult) -> dict[str, Any]:
        """Our answers to a server's `inputRequests` (SEP-2322), from the same callbacks that answer its
        requests in the 2025 era."""
        responses: dict[str, Any] = {}
        for key, asked in (needed.input_requests or {}).items():
            method = asked.get("method") if isinstance(asked, dict) else None  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
            if method not in INPUT_REQUEST_METHODS:
                raise McpError(
                    INVALID_REQUEST,
                    f"the server asked for input {key!r} with {method!r}, not an input request",
                )
            params = structure_params(self.protocol.converter, method, asked.get("params") or {})  # pyright: ignore[reportUnknownMemberType,reportUnknownArgumentType]
            result = await self._serve(method, params)
            responses[key] = self.protocol.converter.unstructure(result)
        return responses

    async def _request_with_input(
        self,
        method: str,
        params: Any,
        *,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Any:
        """A request that a 2026-07-28 server may answer with input_required: answer its input requests and
        retry (a new request id, `inputResponses`, the `requestState` echoed), until it completes."""
        first = self.protocol.converter.unstructure(params)
        retry: dict[str, Any] = dict(first)
        for _ in range(MAX_INPUT_ROUNDS):
            result = await self.request(method, retry, timeout=timeout, progress=progress)
            if not isinstance(result, t.InputRequiredResult):
                return result
            retry = {**first, "inputResponses": await self._input_responses(result)}
            if result.request_state is not None:
                retry["requestState"] = result.request_state
        raise McpError(
            INTERNAL_ERROR, f"{method} still needed input after {MAX_INPUT_ROUNDS} rounds; the client gave up"
        )

    # -- outgoing --

    async def request(
        self,
        method: str,
        params: Any = None,
        *,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Any:
        if progress is not None:
            self._progress_ids += 1
            token = f"p{self._progress_ids}"
            params = self._with_progress_token(params, token)
            self._progress[token] = progress
            try:
                return await self.peer.request(method, params, _SendOutbound(self.send), timeout=timeout)
            finally:
                self._progress.pop(token, None)
        return await self.peer.request(method, params, _SendOutbound(self.send), timeout=timeout)

    def _with_progress_token(self, params: Any, token: str) -> dict[str, Any]:
        raw: dict[str, Any] = dict(self.protocol.converter.unstructure(params) if params is not None else {})
        raw["_meta"] = {**raw.get("_meta", {}), "progressToken": token}
        return raw

    async def notify(self, method: str, params: Any = None) -> None:
        await self.send(self.protocol.send_notification(method, params))

    def initialize_params(self) -> t.InitializeRequestParams:
        return t.InitializeRequestParams(
            protocol_version=self.protocol_version,
            capabilities=self.capabilities,
            client_info=self.client_info,
        )

    def replay(self) -> list[tuple[str, Any]]:
        """The requests that set up a new session as this one was (log level, resource subscriptions), as
        (method, JSON params) for a transport that opens it."""
        unstructure = self.protocol.converter.unstructure
        requests: list[tuple[str, Any]] = []
        if self.logging_level is not None:
            requests.append(
                ("logging/setLevel", unstructure(t.SetLevelRequestParams(level=self.logging_level)))
            )
        for uri in sorted(self.subscriptions):
            requests.append(("resources/subscribe", unstructure(t.SubscribeRequestParams(uri=uri))))
        return requests

    async def aclose(self) -> None:
        """End the session: DELETE it on an HTTP server and stop the transport's tasks."""
        if self.closer is not None:
            closer, self.closer = self.closer, None
            await closer()

    async def initialize(self) -> t.InitializeResult:
        result: t.InitializeResult = await self.request("initialize", self.initialize_params())
        self.initialize_result = result
        await self.notify("notifications/initialized")
        return result

    # -- conveniences --

    async def ping(self) -> None:
        if self.era == "modern":
            raise self._not_in_modern("ping", "every request is its own liveness check")
        await self.request("ping")

    async def list_tools(self, cursor: str | None = None) -> t.ListToolsResult:
        return await self.request("tools/list", t.PaginatedRequestParams(cursor=cursor))

    async def list_all_tools(self) -> list[t.Tool]:
        return await self._all("tools/list", "tools")

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> t.CallToolResult:
        params = t.CallToolRequestParams(name=name, arguments=arguments)
        return await self._request_with_input("tools/call", params, timeout=timeout, progress=progress)

    async def list_resources(self, cursor: str | None = None) -> t.ListResourcesResult:
        return await self.request("resources/list", t.PaginatedRequestParams(cursor=cursor))

    async def list_resource_templates(self, cursor: str | None = None) -> t.ListResourceTemplatesResult:
        return await self.request("resources/templates/list", t.PaginatedRequestParams(cursor=cursor))

    async def read_resource(self, uri: str) -> t.ReadResourceResult:
        return await self._request_with_input("resources/read", t.ReadResourceRequestParams(uri=uri))

    async def subscribe(self, uri: str) -> None:
        if self.era == "modern":
            raise self._not_in_modern(
                "resources/subscribe", "subscriptions/listen replaces it (not offered yet)"
            )
        await self.request("resources/subscribe", t.SubscribeRequestParams(uri=uri))
        self.subscriptions.add(uri)

    async def unsubscribe(self, uri: str) -> None:
        if self.era == "modern":
            raise self._not_in_modern(
                "resources/unsubscribe", "subscriptions/listen replaces it (not offered yet)"
            )
        await self.request("resources/unsubscribe", t.UnsubscribeRequestParams(uri=uri))
        self.subscriptions.discard(uri)

    async def list_prompts(self, cursor: str | None = None) -> t.ListPromptsResult:
        return await self.request("prompts/list", t.PaginatedRequestParams(cursor=cursor))

    async def get_prompt(self, name: str, arguments: dict[str, str] | None = None) -> t.GetPromptResult:
        params = t.GetPromptRequestParams(name=name, arguments=arguments)
        return await self._request_with_input("prompts/get", params)

    async def complete(
        self, ref: t.CompletionReference, argument: str, value: str, context: dict[str, str] | None = None
    ) -> t.Completion:
        params = t.CompleteRequestParams(
            ref=ref,
            argument=t.CompletionArgument(name=argument, value=value),
            context=t.CompletionContext(arguments=context) if context is not None else None,
        )
        result: t.CompleteResult = await self.request("completion/complete", params)
        return result.completion

    async def set_logging_level(self, level: t.LoggingLevel) -> None:
        """The level of `notifications/message` the server sends (2026-07-28: no request; every later request
        says it in its `_meta`)."""
        if self.era != "modern":
            await self.request("logging/setLevel", t.SetLevelRequestParams(level=level))
        self.logging_level = level

    async def cancel(self, request_id: Any, reason: str | None = None) -> None:
        await self.notify(
            "notifications/cancelled", t.CancelledNotificationParams(request_id=request_id, reason=reason)
        )

    async def _all(self, method: str, field: str) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        while True:
            page = await self.request(method, t.PaginatedRequestParams(cursor=cursor))
            items.extend(getattr(page, field))
            cursor = page.next_cursor
            if not cursor:
                return items


__all__ = ["ClientSession", "Notification"]
