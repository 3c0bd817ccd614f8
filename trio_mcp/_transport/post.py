"""POST on the MCP endpoint: a JSON-RPC message or batch in, a JSON answer or an SSE response out.

Content type, Accept and size are checked, the body goes through the one parse boundary (`parse_body`), then
one of: `initialize` (a new session: run, then its place under the cap taken with its one record write), a
request in a session (`notifications/initialized` alone: the record's activation is the one read), or a
stateless request (docs/architecture.md §2). JSON mode needs no task and no channel per request; SSE mode one
handler task per request and one bounded channel.
"""

from __future__ import annotations

import logging
from typing import cast

import attrs

from .._auth.tokens import AccessToken
from .._proto.errors import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR, RemoteProtocolError
from .._proto.jsonrpc import (
    ErrorResponse,
    Message,
    Notification,
    ParsedBody,
    Request,
    RequestId,
    Response,
    encode,
    parse_body,
)
from .._proto.modern import is_modern
from .._proto.session import RequestReceived
from .._proto.versions import HEADERLESS_VERSION
from .._runtime.dispatcher import Dispatcher
from .._runtime.input_round import RequestStates
from .._runtime.intake import triage
from .._runtime.outbound import NoBackChannel
from .._runtime.state import ServerSession
from .._stores._base import SessionStore
from .._streams._base import StreamManager
from .._streams.control import CancelRequest
from .._streams.events import EventStore
from .answers import STATELESS_REASON, Answers
from .asgi import (
    BodyTooLarge,
    Receive,
    RequestHeaders,
    Scope,
    Send,
    read_body,
    respond_error,
)
from .auth import ResourceGuard, access_of
from .config import HttpConfig
from .drain import Drain, refuse_while_draining
from .gate import Gate, Headers
from .headers import AcceptDecision, is_json_content_type
from .listen import ListenHub
from .modern import ModernPost
from .sessions import SessionManager, new_session_id
from .stream_timers import StreamTimers

log = logging.getLogger("trio_mcp.http")

JSON_MODE_REASON = "this request asked for a JSON response, which has no stream for server-to-client requests"


@attrs.frozen(kw_only=True)
class Post:
    """One POST on its way through the handler."""

    scope: Scope
    send: Send
    h: RequestHeaders
    accept: AcceptDecision
    parsed: ParsedBody
    cors: Headers
    #: the verified token (None without auth)
    access: AccessToken | None


class PostHandler:
    def __init__(
        self,
        config: HttpConfig,
        gate: Gate,
        sessions: SessionManager,
        streams: StreamManager,
        store: SessionStore,
        dispatcher: Dispatcher,
        events: EventStore | None,
        drain: Drain,
        listeners: ListenHub,
        request_states: RequestStates,
        guard: ResourceGuard | None = None,
        timers: StreamTimers | None = None,
    ) -> None:
        self.config = config
        self.guard = guard
        self.gate = gate
        self.sessions = sessions
        self.streams = streams
        self.store = store
        self.dispatcher = dispatcher
        self.drain = drain
        self.answers = Answers(config, streams, dispatcher, events, drain, timers)
        self.modern = ModernPost(config, dispatcher, drain, listeners, request_states)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, h: RequestHeaders) -> None:
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
        access = access_of(scope)
        if self.guard is not None:
            challenge = self.guard.step_up(
                access, [(m.method, m.params) for m in parsed.messages if isinstance(m, Request)]
            )
            if challenge is not None:
                await self.guard.refuse(send, scope, h, challenge, cors)
                return
        first = next((m for m in parsed.messages if isinstance(m, Request | Notification)), None)
        if is_modern(first.params if first is not None else None, h.protocol_version):
            # 2026-07-28: no session, its own rules.
            await self.modern(
                receive,
                send,
                h,
                parsed,
                cors,
                sse_ok=accept.sse,
                principal=self.config.principal(scope),
                access=access,
            )
            return
        problem = self.gate.version_verdict(h)
        if problem is not None:
            await respond_error(send, problem[0], INVALID_REQUEST, problem[1], headers=cors)
            return
        initialize = next(
            (m for m in parsed.messages if isinstance(m, Request) and m.method == "initialize"), None
        )
        post = Post(scope=scope, send=send, h=h, accept=accept, parsed=parsed, cors=cors, access=access)
        if initialize is not None:
            await self._initialize(post)
        elif h.session_id is not None:
            await self._in_session(post)
        elif self.gate.stateless_for(accept):
            session = _stateless_session()
            # No session to go by: served as initialized, by the header's version rules (T§Protocol Version
            # Header: none -> 2025-03-26).
            session.protocol.restore(active=True, protocol_version=h.protocol_version or HEADERLESS_VERSION)
            if not await self._batch_allowed(send, session, parsed, cors):
                return
            await self._process(session, parsed, send, accept, cors, stateless=True, access=access)
        else:
            await respond_error(
                send,
                400,
                INVALID_REQUEST,
                "Bad Request: missing Mcp-Session-Id header; send initialize first and echo the session id it "
                "returns on every later request",
                headers=cors,
            )

    async def _initialize(self, post: Post) -> None:
        send, parsed, cors = post.send, post.parsed, post.cors
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
        if post.h.session_id is not None:
            await respond_error(
                send,
                400,
                INVALID_REQUEST,
                "Bad Request: initialize starts a new session; send it without an Mcp-Session-Id header",
                headers=cors,
            )
            return
        if self.drain.draining:
            await refuse_while_draining(send, cors, "new sessions")
            return
        if self.gate.stateless_for(post.accept):
            await self._process(
                _stateless_session(), parsed, send, post.accept, cors, stateless=True, access=post.access
            )
            return
        session_id = new_session_id()
        session = self.sessions.new_session(
            session_id,
            self.config.principal(post.scope),
            client_id=post.access.client_id if post.access is not None else None,
        )
        (message,) = parsed.messages  # not a batch (refused above)
        assert isinstance(message, Request)
        async with self.sessions.hold_new(session):
            # Run inline, before any header goes out: only an initialize that succeeded hands out a session id
            # (T§Session Management: the server assigns it "at initialization time", in the InitializeResult's
            # response); a refused one leaves no session behind to 404 on later. Initialize runs no application
            # code and writes nothing (`save` waits for the reservation), so it runs before its place under
            # the cap is taken: the reservation then writes the whole pending record in its one round trip.
            event = self.dispatcher.receive(session, message)
            reply = (
                event
                if isinstance(event, ErrorResponse)
                else await self.dispatcher.handle_request(
                    session, cast(RequestReceived, event), NoBackChannel(JSON_MODE_REASON), access=post.access
                )
            )
            assert reply is not None
            headers = cors
            if not isinstance(reply, ErrorResponse):
                if not await self.sessions.reserve(session, self.config.max_sessions):
                    await self._at_cap(send, cors)
                    return
                headers = [*cors, (b"mcp-session-id", session_id.encode("ascii"))]
            if self.config.json_response or not post.accept.sse:
                await self.answers.without_requests(send, parsed, [reply], headers)
            else:
                await self.answers.sse(session, send, [], [reply], headers)

    async def _at_cap(self, send: Send, cors: Headers) -> None:
        await respond_error(
            send,
            503,
            INTERNAL_ERROR,
            f"Service Unavailable: the server holds its maximum of {self.config.max_sessions} sessions; "
            "retry later or end unused sessions with DELETE",
            headers=[*cors, (b"retry-after", b"1")],
        )

    async def _in_session(self, post: Post) -> None:
        assert post.h.session_id is not None
        principal = self.config.principal(post.scope)
        activate = _only_initialized(post.parsed)
        async with self.sessions.hold(post.h.session_id, principal, activate=activate) as live:
            if live is None:
                await self.gate.session_not_found(post.send, post.cors)
                return
            if await self._batch_allowed(post.send, live.session, post.parsed, post.cors):
                await self._process(
                    live.session,
                    post.parsed,
                    post.send,
                    post.accept,
                    post.cors,
                    stateless=False,
                    access=post.access,
                )

    async def _batch_allowed(
        self, send: Send, session: ServerSession, parsed: ParsedBody, cors: Headers
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
        headers: Headers,
        *,
        stateless: bool,
        access: AccessToken | None = None,
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
            await self.answers.without_requests(send, parsed, replies, headers)
        elif self.config.json_response or not accept.sse or stateless:
            await self.answers.json(
                session, send, parsed, requests, replies, headers, stateless=stateless, access=access
            )
        else:
            await self.answers.sse(session, send, requests, replies, headers, access)

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


def _stateless_session() -> ServerSession:
    # A throwaway session for one stateless request: no id, no record, no back channel.
    return ServerSession.new(None)


def _only_initialized(parsed: ParsedBody) -> bool:
    """The body is the client's `notifications/initialized` alone: the session's read is then its activation
    (`SessionStore.activate`, one round trip for the whole step)."""
    if parsed.is_batch or len(parsed.messages) != 1:
        return False
    (message,) = parsed.messages
    return isinstance(message, Notification) and message.method == "notifications/initialized"
