"""A POST of the 2026-07-28 era (SEP-2575): one request, no session, served by the era's rules
(`_proto/modern.py`) on the app's Dispatcher (docs/architecture.md §9).

The request's `_meta` is all the server knows of the client: its version, capabilities and log level make a
throwaway session for this one request. The answer is JSON unless the handler sends a notification before its
result (progress, a log message the request asked for): then it is an SSE stream of that request alone, without
event ids (M§Receiving Messages: no resumption). Closing the response cancels the request (M§Cancellation).
"""

from __future__ import annotations

from typing import Any

import trio

from .._auth.tokens import AccessToken
from .._proto import modern, sse
from .._proto.errors import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, McpError
from .._proto.jsonrpc import (
    ErrorResponse,
    InvalidMessage,
    Message,
    Notification,
    ParsedBody,
    Request,
    Response,
    encode,
    error_response,
)
from .._proto.session import RequestReceived
from .._proto.types import LOGGING_LEVELS, ClientCapabilities, Implementation
from .._runtime.dispatcher import Dispatcher
from .._runtime.input_round import InputRound, RequestStates
from .._runtime.outbound import BackChannelUnavailable
from .._runtime.state import ServerSession
from .._streams._base import StreamBuffer
from .asgi import JSON_HEADERS, SSE_HEADERS, Receive, RequestHeaders, Send, respond, respond_error
from .config import HttpConfig
from .drain import Drain, drain_deadline_error
from .gate import Headers
from .listen import Filter, Listener, ListenHub, acknowledgement, ended, follow
from .sse_stream import watch_disconnect

NO_ROUND_TRIPS = (
    "cannot send {method} to the client: in 2026-07-28 a server asks the client only through the "
    "input_required result of tools/call, prompts/get or resources/read (SEP-2322), not while serving {serving}"
)


class ModernOutbound:
    """Where a 2026-07-28 handler's messages go: notifications onto its own response, never a request (the
    era has no server-to-client requests on a stream; the capability check comes first, so a missing
    capability is still -32021)."""

    can_request = True

    def __init__(self, channel: trio.MemorySendChannel[Message], serving: str) -> None:
        self._channel = channel
        self._serving = serving

    async def send(self, message: Message) -> None:
        if isinstance(message, Request):
            raise BackChannelUnavailable(NO_ROUND_TRIPS.format(method=message.method, serving=self._serving))
        try:
            await self._channel.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the response is gone: what the handler still sends goes nowhere

    def close_stream(self, retry_ms: int | None) -> bool:
        return False


class ModernPost:
    def __init__(
        self,
        config: HttpConfig,
        dispatcher: Dispatcher,
        drain: Drain,
        listeners: ListenHub,
        request_states: RequestStates,
    ) -> None:
        self.config = config
        self.dispatcher = dispatcher
        self.drain = drain
        self.listeners = listeners
        self.request_states = request_states

    async def __call__(
        self,
        receive: Receive,
        send: Send,
        h: RequestHeaders,
        parsed: ParsedBody,
        cors: Headers,
        *,
        sse_ok: bool = True,
        principal: str | None = None,
        access: AccessToken | None = None,
    ) -> None:
        """`sse_ok`: the client's Accept allows `text/event-stream`; without it the answer is always JSON and a
        handler's notifications are dropped. `principal`: who sends it (the app's principal hook), whom a
        requestState is bound to."""
        if parsed.is_batch or len(parsed.messages) != 1:
            await respond_error(
                send,
                400,
                INVALID_REQUEST,
                "Invalid Request: a 2026-07-28 POST carries exactly one JSON-RPC message, not a batch",
                headers=cors,
            )
            return
        (message,) = parsed.messages
        if isinstance(message, InvalidMessage):
            error = message.error
            await respond_error(send, 400, error.code, error.message, request_id=message.id, headers=cors)
            return
        if isinstance(message, Notification):
            await respond(send, 202, b"", cors)  # T§Sending.5: accepted; the era defines none over HTTP
            return
        if not isinstance(message, Request):
            await respond_error(
                send,
                400,
                INVALID_REQUEST,
                "Invalid Request: a 2026-07-28 client sends no responses (the era has no server requests)",
                headers=cors,
            )
            return
        headers = modern.ModernHeaders(
            protocol_version=h.protocol_version, method=h.mcp_method, name=h.mcp_name
        )
        verdict = modern.check(message.method, message.params, headers)
        if isinstance(verdict, modern.Refusal):
            await respond_error(
                send,
                verdict.status,
                verdict.code,
                verdict.message,
                request_id=message.id,
                data=verdict.data,
                headers=cors,
            )
            return
        if message.method == "subscriptions/listen":
            await self._listen(receive, send, message, cors)
            return
        session = self._session(verdict, principal)
        if session is None:
            await respond_error(
                send,
                400,
                INVALID_PARAMS,
                "Invalid params: _meta io.modelcontextprotocol/clientCapabilities is not a ClientCapabilities "
                "object",
                request_id=message.id,
                headers=cors,
            )
            return
        event = self.dispatcher.receive(session, message)
        if isinstance(event, ErrorResponse):
            await self._json(send, message.method, event, cors)
            return
        assert isinstance(event, RequestReceived)
        inputs = None
        if message.method in modern.INPUT_METHODS:
            try:
                inputs = self.request_states.open_round(message.method, _params(message), principal)
            except McpError as exc:
                await self._json(
                    send, message.method, error_response(message.id, exc.code, exc.message), cors
                )
                return
        await self._run(receive, send, session, event, cors, sse_ok, inputs, access)

    async def _listen(self, receive: Receive, send: Send, request: Request, cors: Headers) -> None:
        """`subscriptions/listen` (listen.py): acknowledge, then what any instance announces, until the client
        leaves or the drain ends it (with the listen result, so the client listens again elsewhere)."""
        params = _params(request)
        listener = Listener(
            subscription_id=request.id,
            filter=Filter.honoured(params.get("notifications"), self.dispatcher.identity().capabilities),
            buffer=StreamBuffer(self.config.stream_buffer, slow_timeout=self.config.slow_stream_timeout),
        )
        await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *cors]})
        await send({"type": "http.response.body", "body": acknowledgement(listener), "more_body": True})
        self.listeners.listeners.add(listener)
        try:
            with self.drain.stream(listener.buffer.close):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(watch_disconnect, receive, nursery.cancel_scope)
                    await follow(listener, send, self.config.keepalive_interval)
                    nursery.cancel_scope.cancel()
            # The server ended it (a drain, a client that fell behind): say so with the listen's result.
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await send({"type": "http.response.body", "body": ended(listener), "more_body": False})
        finally:
            self.listeners.listeners.discard(listener)

    def _session(self, request: modern.ModernRequest, principal: str | None) -> ServerSession | None:
        """A session for this one request, from what its `_meta` says (M§Statelessness)."""
        session = ServerSession.new(None)
        session.principal = principal
        protocol = session.protocol
        try:
            capabilities = protocol.converter.structure(dict(request.capabilities), ClientCapabilities)
        except Exception:
            return None
        info = None
        if request.client_info is not None:
            try:
                info = protocol.converter.structure(dict(request.client_info), Implementation)
            except Exception:
                info = None  # clientInfo is a SHOULD: a malformed one is ignored, not refused
        level = request.log_level if request.log_level in LOGGING_LEVELS else None
        protocol.restore(
            active=True,
            protocol_version=request.version,
            client_capabilities=capabilities,
            client_info=info,
            log_level=level,
        )
        return session

    async def _run(
        self,
        receive: Receive,
        send: Send,
        session: ServerSession,
        event: RequestReceived,
        cors: Headers,
        sse_ok: bool,
        inputs: InputRound | None,
        access: AccessToken | None,
    ) -> None:
        """The handler in its own task; its first message decides the answer: the result alone is JSON, a
        notification first opens an SSE stream."""
        send_channel, messages = trio.open_memory_channel[Message](self.config.stream_buffer)
        outbound = ModernOutbound(send_channel, event.method)

        async def handle() -> None:
            async with send_channel:
                reply: Message | None = None
                with self.drain.work() as work:
                    reply = await self.dispatcher.handle_request(
                        session, event, outbound, inputs=inputs, access=access
                    )
                if work.cancelled_caught:
                    reply = drain_deadline_error(event.id)
                if reply is not None:
                    await send_channel.send(reply)

        async with messages, trio.open_nursery() as nursery:
            nursery.start_soon(watch_disconnect, receive, nursery.cancel_scope)  # M§Cancellation
            nursery.start_soon(handle)
            streaming = False
            async for message in messages:
                final = isinstance(message, Response | ErrorResponse)
                if final and not streaming:
                    await self._json(send, event.method, message, cors)
                    break
                if not sse_ok and not final:
                    continue  # a JSON-only client gets the result alone
                if not streaming:
                    streaming = True
                    await send(
                        {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *cors]}
                    )
                body = encode(self._complete(event.method, message) if final else message)
                await send(
                    {"type": "http.response.body", "body": sse.encode_event(body), "more_body": not final}
                )
                if final:
                    break
            else:  # the handler ended without a result (it was cancelled): say so, or end the stream
                if streaming:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                else:
                    await respond_error(
                        send,
                        500,
                        INTERNAL_ERROR,
                        f"Internal error: {event.method} ended without a result",
                        request_id=event.id,
                        headers=cors,
                    )
            nursery.cancel_scope.cancel()

    async def _json(self, send: Send, method: str, message: Message, cors: Headers) -> None:
        status = 200
        if (
            isinstance(message, ErrorResponse)
            and message.error.code == modern.MISSING_REQUIRED_CLIENT_CAPABILITY
        ):
            status = 400  # M§Backward Compatibility: a modern 400 the client recognises
        await respond(send, status, encode(self._complete(method, message)), [*JSON_HEADERS, *cors])

    def _complete(self, method: str, message: Message) -> Message:
        if isinstance(message, Response) and isinstance(message.result, dict):
            modern.complete_result(method, message.result, self.config.cache_ttl_ms, self.config.cache_scope)
        elif (
            isinstance(message, ErrorResponse)
            and modern.current_code(message.error.code) != message.error.code
        ):
            error = message.error
            return error_response(message.id, modern.current_code(error.code), error.message, error.data)
        return message


def _params(request: Request) -> dict[str, Any]:
    return request.params if isinstance(request.params, dict) else {}  # pyright: ignore[reportUnknownVariableType]
