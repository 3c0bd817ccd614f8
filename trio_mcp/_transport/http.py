"""Streamable HTTP (MCP 2025-11-25 T§Streamable HTTP) as an ASGI 3 app for hypercorn's trio worker.

One endpoint: POST carries client messages, GET opens the session's standalone SSE stream, DELETE ends the
session. Header rules and status codes follow spec-checklist §2 and §7; every error has a JSON-RPC body that says
what to change. JSON mode needs no task and no channel per request; SSE mode one handler task and one bounded
channel per request.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, cast

import trio

from .._proto.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    RemoteProtocolError,
)
from .._proto.jsonrpc import (
    ErrorResponse,
    Message,
    ParsedBody,
    Request,
    RequestId,
    Response,
    encode,
    parse_body,
)
from .._proto.session import READY, RequestReceived
from .._proto.versions import HEADERLESS_VERSION, LATEST_VERSION, SUPPORTED_VERSIONS
from .._runtime.application import Application
from .._runtime.intake import triage
from .._runtime.outbound import ChannelOutbound, NoBackChannel, Outbound
from .._runtime.state import ServerSession
from .._stores._base import StoreError, StoreUnavailable
from .._streams._base import StreamUnavailable
from .._streams.control import (
    CancelRequest,
    StreamTaken,
)
from .._tasks import supervised
from .asgi import (
    JSON_HEADERS,
    SSE_HEADERS,
    BodyTooLarge,
    Receive,
    RequestHeaders,
    Scope,
    Send,
    read_body,
    respond,
    respond_error,
)
from .backends import HttpHub, SessionStreamOutbound, select_store, select_streams
from .config import ConfigError, load_config
from .fanout import ControlFanout
from .gate import Gate
from .headers import AcceptDecision, is_json_content_type
from .sessions import LiveSession, SessionManager, StandaloneStream, new_session_id
from .sse_stream import SSEWriter, watch_disconnect

log = logging.getLogger("trio_mcp.http")

MODERN_VERSION_META = "io.modelcontextprotocol/protocolVersion"
STATELESS_REASON = (
    "the client connected statelessly (no Mcp-Session-Id and no text/event-stream in Accept), so the server "
    "cannot send it requests; initialize a session with Accept: application/json, text/event-stream"
)
JSON_MODE_REASON = "this request asked for a JSON response, which has no stream for server-to-client requests"
_SUPPORTED = ", ".join(SUPPORTED_VERSIONS)


class McpASGIApp:
    """`server.asgi_app(**config)`: run it with `hypercorn --worker-class trio module:app`."""

    def __init__(self, server: Application, **config: Any) -> None:
        self.server = server
        self.config = load_config(**config)
        self.store = select_store(self.config)
        self.streams = select_streams(self.config, self.store)
        self.sessions = SessionManager(
            self.store,
            self.streams,
            reply_timeout=self.config.reply_timeout,
            instance_id=self.streams.instance_id,
            # A cached record must never outlive a quarter of the session's timeouts.
            cache_ttl=min(
                self.config.session_cache_ttl, self.config.pending_timeout / 4, self.config.idle_timeout / 4
            ),
        )
        self.dispatcher = server.dispatcher(self.sessions.save)
        self.hub = HttpHub(self.streams)
        self.control = ControlFanout(self.sessions, self.streams, self.store, self.dispatcher)
        self._started = False
        self.gate = Gate(self.config)

    # -- lifespan --

    @asynccontextmanager
    async def lifespan(self) -> AsyncGenerator[McpASGIApp]:
        """Opens the app nursery (heartbeat, store); enter it from a host app's lifespan when mounted."""
        if self._started:
            raise RuntimeError("this trio_mcp app is already running")
        opener = getattr(self.store, "open", None)
        if opener is not None:
            await opener()
        try:
            async with trio.open_nursery() as nursery:
                self.control.nursery = nursery
                await nursery.start(supervised, "stream manager", self.streams.run, self.control)
                nursery.start_soon(supervised, "session heartbeat", self._heartbeat)
                self.server.add_hub(self.hub)
                self._started = True
                try:
                    yield self
                finally:
                    self._started = False
                    self.server.remove_hub(self.hub)
                    # Streams first (they end with retry:), while the stream manager still runs: then every
                    # live copy, then the app's tasks.
                    with trio.CancelScope(shield=True):
                        await self.streams.aclose()
                    for sid in list(self.sessions.live):
                        self.sessions.close_live(sid, ended=False)
                    nursery.cancel_scope.cancel()
        finally:
            self.control.nursery = None
            # Not inside a new cancel scope: the Redis and file stores entered a task group in open() above,
            # and exiting it from within a scope opened later corrupts trio's cancel scope stack.
            await self.store.aclose()

    async def _heartbeat(self) -> None:
        while True:
            await trio.sleep(self.config.heartbeat_interval)
            try:
                await self.sessions.flush_touches()
            except StoreUnavailable as exc:
                log.warning("could not refresh session TTLs: %s", exc)

    async def _run_lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        started = False
        try:
            async with self.lifespan():
                started = True
                await send({"type": "lifespan.startup.complete"})
                while (await receive())["type"] != "lifespan.shutdown":
                    pass
        except Exception as exc:
            reason = _first_leaf(exc)
            if isinstance(reason, StoreError | ConfigError):
                # A configuration problem (store file locked, bad URL...): one clear line, not a traceback.
                log.error("trio_mcp app cannot start: %s", reason)
            else:
                log.exception("trio_mcp app lifespan failed")
            if not started:
                await send(
                    {"type": "lifespan.startup.failed", "message": f"{type(reason).__name__}: {reason}"}
                )
                return
        await send({"type": "lifespan.shutdown.complete"})

    # -- ASGI entry --

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._run_lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "use the HTTP endpoint"})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope)
        if path.rstrip("/") != self.config.path.rstrip("/") and path != self.config.path:
            await respond(send, 404, b"Not Found", [(b"content-type", b"text/plain")])
            return
        if not self._started:
            await respond_error(
                send,
                503,
                INTERNAL_ERROR,
                "Service Unavailable: the MCP app has not started. Run it under an ASGI server that sends lifespan "
                "events (hypercorn does), or enter app.lifespan() in the host app's lifespan when it is mounted.",
            )
            return
        h = RequestHeaders.from_scope(scope)
        problem = self.gate.header_verdict(h)
        if problem is not None:
            status, message = problem
            await respond_error(send, status, INVALID_REQUEST, message, headers=self.gate.cors(h))
            return
        method = scope["method"]
        try:
            if method == "POST":
                await self._post(scope, receive, send, h)
            elif method == "GET":
                await self._get(scope, receive, send, h)
            elif method == "DELETE":
                await self._delete(scope, send, h)
            elif method == "OPTIONS" and self.config.cors_origins is not None:
                await self.gate.preflight(send, h)
            else:
                await respond_error(
                    send,
                    405,
                    INVALID_REQUEST,
                    f"Method Not Allowed: the MCP endpoint takes POST, GET and DELETE, not {method}",
                    headers=[(b"allow", b"GET, POST, DELETE")],
                )
        except (StoreUnavailable, StreamUnavailable) as exc:
            await self._unavailable(send, exc)

    async def _unavailable(self, send: Send, exc: StoreUnavailable | StreamUnavailable) -> None:
        what = "session store" if isinstance(exc, StoreUnavailable) else "stream manager"
        # The details (host, port, the backend's error) are for the operator's log, not for clients.
        log.warning("answered 503: the %s cannot be reached: %s", what, exc)
        try:
            await respond_error(
                send,
                503,
                INTERNAL_ERROR,
                f"Service Unavailable: the {what} cannot be reached; retry shortly",
                headers=[(b"retry-after", b"1")],
            )
        except Exception:  # the response had already started; nothing more to say
            log.debug("store failure after the response started", exc_info=True)

    # -- POST --

    async def _post(self, scope: Scope, receive: Receive, send: Send, h: RequestHeaders) -> None:
        cors = self.gate.cors(h)
        if not is_json_content_type(h.content_type):
            await respond_error(
                send,
                415,
                INVALID_REQUEST,
                f"Unsupported Media Type: POST a JSON-RPC message with Content-Type: application/json, not {h.content_type!r}",
                headers=cors,
            )
            return
        accept = self.gate.accept(h.accept)
        if not accept.json and not accept.sse:
            await respond_error(
                send,
                406,
                INVALID_REQUEST,
                "Not Acceptable: the Accept header must allow application/json and/or text/event-stream "
                "(clients should send both)",
                headers=cors,
            )
            return
        limit = self.config.max_body_size
        if h.bad_content_length or (h.content_length is not None and h.content_length > limit):
            await respond_error(
                send, 413, INVALID_REQUEST, f"Payload Too Large: the body exceeds {limit} bytes", headers=cors
            )
            return
        try:
            body = await read_body(receive, limit)
        except BodyTooLarge:
            await respond_error(
                send, 413, INVALID_REQUEST, f"Payload Too Large: the body exceeds {limit} bytes", headers=cors
            )
            return
        try:
            parsed = parse_body(body)
        except RemoteProtocolError as exc:
            await respond_error(send, 400, exc.code, exc.message, headers=cors)
            return
        except RecursionError:
            # json.loads recurses per nesting level: `[[[[...` within max_body_size would otherwise be a 500.
            await respond_error(
                send, 400, PARSE_ERROR, "Parse error: the JSON body is nested too deeply", headers=cors
            )
            return
        initialize = next(
            (m for m in parsed.messages if isinstance(m, Request) and m.method == "initialize"), None
        )
        if initialize is not None:
            await self._post_initialize(scope, send, h, accept, parsed, cors)
        elif h.session_id is not None:
            await self._post_in_session(scope, send, h, accept, parsed, cors)
        elif _is_modern(parsed):
            await respond_error(
                send,
                400,
                INVALID_REQUEST,
                f"Bad Request: this server speaks MCP {_SUPPORTED} (initialize first); "
                "the 2026-07-28 stateless protocol is not supported yet",
                data={"supported": list(SUPPORTED_VERSIONS)},
                headers=cors,
            )
        elif self.gate.stateless_for(accept):
            session = ServerSession.new(None)
            session.stateless = True
            session.protocol.state = READY
            # No session to go by: the header's version rules (T§Protocol Version Header: none -> 2025-03-26).
            session.protocol.protocol_version = h.protocol_version or HEADERLESS_VERSION
            if not await self._batch_allowed(send, session, parsed, cors):
                return
            await self._process(session, parsed, send, accept, cors, stateless=True)
        else:
            await respond_error(
                send,
                400,
                INVALID_REQUEST,
                "Bad Request: missing Mcp-Session-Id header; send initialize first and echo the session id it "
                "returns on every later request",
                headers=cors,
            )

    async def _post_initialize(
        self,
        scope: Scope,
        send: Send,
        h: RequestHeaders,
        accept: AcceptDecision,
        parsed: ParsedBody,
        cors: list[tuple[bytes, bytes]],
    ) -> None:
        if parsed.is_batch:
            # L§Initialization (2025-03-26): initialize MUST NOT be part of a batch.
            await respond_error(
                send,
                400,
                INVALID_REQUEST,
                "Invalid Request: initialize must not be part of a batch",
                headers=cors,
            )
            return
        if h.session_id is not None:
            await respond_error(
                send,
                400,
                INVALID_REQUEST,
                "Bad Request: initialize starts a new session; send it without an Mcp-Session-Id header",
                headers=cors,
            )
            return
        if self.gate.stateless_for(accept):
            session = ServerSession.new(None)
            session.stateless = True
            await self._process(session, parsed, send, accept, cors, stateless=True)
            return
        session_id = new_session_id()
        session = self.sessions.new_session(session_id, self.config.principal(scope))
        if not await self.sessions.reserve(session, self.config.max_sessions):
            await respond_error(
                send,
                503,
                INTERNAL_ERROR,
                f"Service Unavailable: the server holds its maximum of {self.config.max_sessions} sessions; "
                "retry later or end unused sessions with DELETE",
                headers=[*cors, (b"retry-after", b"1")],
            )
            return
        (message,) = parsed.messages  # not a batch (refused above)
        assert isinstance(message, Request)
        async with self.sessions.hold_new(session):
            # Run inline, before any header goes out: only an initialize that succeeded hands out a session id
            # (T§Session Management: the server assigns it "at initialization time", in the InitializeResult's
            # response); a refused one leaves no session behind to 404 on later.
            event = self.dispatcher.receive(session, message)
            reply = (
                event
                if isinstance(event, ErrorResponse)
                else await self.dispatcher.handle_request(
                    session, cast(RequestReceived, event), NoBackChannel(JSON_MODE_REASON)
                )
            )
            assert reply is not None
            headers = cors
            if isinstance(reply, ErrorResponse):
                await self.store.delete(session_id)  # give back the place reserved under the cap
            else:
                headers = [*cors, (b"mcp-session-id", session_id.encode("ascii"))]
            if self.config.json_response or not accept.sse:
                await self._answer_without_requests(send, parsed, [reply], headers)
            else:
                await self._answer_sse(session, send, [], [reply], headers)

    async def _post_in_session(
        self,
        scope: Scope,
        send: Send,
        h: RequestHeaders,
        accept: AcceptDecision,
        parsed: ParsedBody,
        cors: list[tuple[bytes, bytes]],
    ) -> None:
        assert h.session_id is not None
        async with self.sessions.hold(h.session_id, self.config.principal(scope)) as live:
            if live is None:
                await self.gate.session_not_found(send, cors)
                return
            session = live.session
            if not await self._batch_allowed(send, session, parsed, cors):
                return
            await self._process(session, parsed, send, accept, cors, stateless=False)

    async def _batch_allowed(
        self, send: Send, session: ServerSession, parsed: ParsedBody, cors: list[tuple[bytes, bytes]]
    ) -> bool:
        """Batches follow the session's protocol version (only 2025-03-26 has them); refused with 400."""
        if not parsed.is_batch:
            return True
        try:
            session.protocol.check_batch()
        except RemoteProtocolError as exc:
            await respond_error(send, 400, exc.code, exc.message, headers=cors)
            return False
        return True

    async def _process(
        self,
        session: ServerSession,
        parsed: ParsedBody,
        send: Send,
        accept: AcceptDecision,
        headers: list[tuple[bytes, bytes]],
        *,
        stateless: bool,
    ) -> None:
        intake = triage(self.dispatcher, session, parsed)
        if intake.refused and not parsed.is_batch:
            # A single notification the protocol refused: nobody to answer in JSON-RPC, so HTTP says 400.
            await respond_error(send, 400, intake.refused[0].code, intake.refused[0].message, headers=headers)
            return
        for response in intake.responses:
            if not self.dispatcher.deliver_reply(session, response) and not await self._forward_reply(
                session, response
            ):
                log.debug("a reply to request %r arrived, but nothing waits for it", response.id)
        for notification in intake.notifications:
            await self.dispatcher.handle_notification(session, notification, NoBackChannel(STATELESS_REASON))
            if notification.method == "notifications/cancelled":
                await self._cancel_elsewhere(session, notification.params.request_id)
        requests = list(intake.requests)
        replies: list[Message] = list(intake.replies)
        if not requests:
            await self._answer_without_requests(send, parsed, replies, headers)
        elif self.config.json_response or not accept.sse or stateless:
            await self._answer_json(session, send, parsed, requests, replies, headers, stateless=stateless)
        else:
            await self._answer_sse(session, send, requests, replies, headers)

    async def _cancel_elsewhere(self, session: ServerSession, request_id: RequestId | None) -> None:
        """U§Cancellation: the request may run on another instance of the session (any instance serves any
        POST): tell every instance, and the one running it cancels it, like a forwarded reply."""
        if session.session_id is None or request_id is None or request_id in session.in_flight:
            return
        await self.streams.broadcast(CancelRequest(session=session.session_id, request_id=request_id))

    async def _forward_reply(self, session: ServerSession, message: Response | ErrorResponse) -> bool:
        """The handler waiting for this reply may run on another instance: route it there."""
        if session.session_id is None or message.id is None:
            return False
        return await self.streams.forward_reply(session.session_id, message.id, encode(message))

    async def _answer_without_requests(
        self, send: Send, parsed: ParsedBody, replies: list[Message], headers: list[tuple[bytes, bytes]]
    ) -> None:
        if not replies:
            # T§Sending.4: accepted notifications and responses get 202 with no body.
            await respond(send, 202, b"", headers)
            return
        if not parsed.is_batch:
            reply = replies[0]
            status = (
                400
                if isinstance(reply, ErrorResponse) and reply.error.code in (INVALID_REQUEST, PARSE_ERROR)
                else 200
            )
            await respond(send, status, encode(reply), [*JSON_HEADERS, *headers])
            return
        await respond(send, 200, encode(replies), [*JSON_HEADERS, *headers])

    async def _answer_json(
        self,
        session: ServerSession,
        send: Send,
        parsed: ParsedBody,
        requests: list[RequestReceived],
        replies: list[Message],
        headers: list[tuple[bytes, bytes]],
        *,
        stateless: bool,
    ) -> None:
        outbound: Outbound
        if stateless or session.session_id is None:
            outbound = NoBackChannel(STATELESS_REASON)
        else:
            outbound = SessionStreamOutbound(self.streams, session.session_id)
        for event in requests:
            reply = await self.dispatcher.handle_request(session, event, outbound)
            if reply is not None:
                replies.append(reply)
        if not replies:
            await respond(send, 202, b"", headers)
        elif parsed.is_batch:
            await respond(send, 200, encode(replies), [*JSON_HEADERS, *headers])
        else:
            reply = replies[0]
            status = (
                400
                if isinstance(reply, ErrorResponse) and reply.error.code in (INVALID_REQUEST, PARSE_ERROR)
                else 200
            )
            await respond(send, status, encode(reply), [*JSON_HEADERS, *headers])

    async def _answer_sse(
        self,
        session: ServerSession,
        send: Send,
        requests: list[RequestReceived],
        replies: list[Message],
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        stream_id = secrets.token_hex(4)
        writer = SSEWriter(send, stream_id)
        await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})
        if session.protocol.protocol_version == LATEST_VERSION:
            # T§Sending.6 (2025-11-25): a priming event with an id and empty data, so the client can resume.
            writer.prime()
        for reply in replies:
            writer.message(reply)
        awaiting: set[RequestId] = {event.id for event in requests}
        send_channel, receive_channel = trio.open_memory_channel[Message](self.config.stream_buffer)

        async def run(event: RequestReceived, channel: trio.MemorySendChannel[Message]) -> None:
            async with channel:
                outbound: Outbound = ChannelOutbound(channel)
                reply = await self.dispatcher.handle_request(session, event, outbound)
                if reply is not None:
                    await outbound.send(reply)

        if not awaiting:
            await writer.close()
            return
        async with trio.open_nursery() as nursery:
            async with send_channel:
                for event in requests:
                    nursery.start_soon(run, event, send_channel.clone())
            async with receive_channel:
                await writer.drain(receive_channel, self.config.keepalive_interval, awaiting)
                await writer.close()

    # -- GET: the standalone stream --

    async def _get(self, scope: Scope, receive: Receive, send: Send, h: RequestHeaders) -> None:
        cors = self.gate.cors(h)
        if await self.gate.refuse_sessionless(send, h, cors, "has no GET stream"):
            return
        if not self.gate.accept(h.accept).sse:
            await respond_error(
                send,
                406,
                INVALID_REQUEST,
                "Not Acceptable: GET opens an SSE stream; send Accept: text/event-stream",
                headers=cors,
            )
            return
        assert h.session_id is not None
        async with self.sessions.hold(h.session_id, self.config.principal(scope)) as live:
            if live is None:
                await self.gate.session_not_found(send, cors)
                return
            await self._standalone_stream(live, receive, send, cors)

    async def _standalone_stream(
        self, live: LiveSession, receive: Receive, send: Send, headers: list[tuple[bytes, bytes]]
    ) -> None:
        session_id = live.session.session_id
        assert session_id is not None
        previous = live.standalone
        if previous is not None:
            # A new GET supersedes the old stream, so a client reconnecting after a blip is never locked out.
            previous.scope.cancel()
        stream = StandaloneStream(scope=trio.CancelScope(), token=secrets.token_hex(8))
        live.standalone = stream
        writer = SSEWriter(send, stream.token)
        start = {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]}
        started = False
        try:
            with stream.scope:
                async with self.streams.subscribe(
                    session_id, self.config.stream_buffer, slow_timeout=self.config.slow_stream_timeout
                ) as buffer:
                    # Subscribed before the client sees the 200: a message published as soon as it does
                    # (e.g. list_changed right after the GET returned its headers) must not be lost.
                    await send(start)
                    started = True
                    await self.streams.broadcast(StreamTaken(session=session_id, token=stream.token))
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(watch_disconnect, receive, nursery.cancel_scope)
                        # Returns when the buffer ends: superseded here, or dropped because the client lagged.
                        await writer.drain(buffer, self.config.keepalive_interval)
                        nursery.cancel_scope.cancel()
        finally:
            if live.standalone is stream:
                live.standalone = None
            if started or stream.scope.cancelled_caught:
                with trio.CancelScope(shield=True), trio.move_on_after(1):
                    if not started:  # superseded before it began: still a stream, ended with retry
                        await send(start)
                    if not stream.session_ended:
                        # T§Resumability: whatever ended this stream, the client reconnects after `retry`.
                        writer.retry(self.config.sse_retry_ms)
                    await writer.close()

    # -- DELETE --

    async def _delete(self, scope: Scope, send: Send, h: RequestHeaders) -> None:
        cors = self.gate.cors(h)
        if await self.gate.refuse_sessionless(send, h, cors, "has no sessions to end"):
            return
        assert h.session_id is not None
        record = await self.sessions.record(h.session_id)
        if record is None or (
            record.principal is not None and record.principal != self.config.principal(scope)
        ):
            await self.gate.session_not_found(send, cors)
            return
        await self.sessions.end(h.session_id)
        await self.streams.session_deleted(h.session_id)
        await respond(send, 200, b"", cors)


def _first_leaf(exc: BaseException) -> BaseException:
    leaf: BaseException = exc
    while isinstance(leaf, BaseExceptionGroup):
        leaf = cast("BaseExceptionGroup[BaseException]", leaf).exceptions[0]
    return leaf


def _route_path(scope: Scope) -> str:
    """The request path relative to where the app is mounted.

    ASGI: `path` includes `root_path`, the mount prefix (Starlette's Mount, hypercorn's root_path), so
    an app mounted at /tools sees path "/tools/mcp" and root_path "/tools". Servers that strip the prefix
    from `path` themselves are handled too (the path then does not start with root_path).
    """
    path: str = scope["path"]
    root: str = scope.get("root_path") or ""
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


def _is_modern(parsed: ParsedBody) -> bool:
    """A 2026-07-28-style request: no initialize, the protocol version in `_meta` (spec-checklist §8)."""
    for message in parsed.messages:
        if isinstance(message, Request) and isinstance(message.params, dict):
            meta = message.params.get("_meta")
            if isinstance(meta, dict) and MODERN_VERSION_META in meta:
                return True
    return False
