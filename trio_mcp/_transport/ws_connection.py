"""One MCP session over one WebSocket (docs/architecture.md §8).

The session is the app's, like an HTTP session: its record is in the store, and while the socket is open this
instance holds the session's stream (`StreamManager.subscribe`, as a GET stream does), so notifications and
server-to-client requests from any instance reach it; a reply the client sends here for a request another
instance made is forwarded there. Every frame goes through the shared intake (`handle_frame`) and the app's
`Dispatcher`; every task lives in the connection's nursery and every queue is bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack

import attrs
import trio

from .._auth.tokens import AccessToken
from .._proto.errors import REQUEST_TIMEOUT, McpError
from .._proto.jsonrpc import ErrorResponse, Message, RequestId, Response, encode
from .._proto.session import RequestReceived
from .._proto.websocket import Close
from .._runtime.connection import WRITE_QUEUE, handle_frame
from .._runtime.dispatcher import Dispatcher
from .._runtime.state import ServerSession
from .._stores._base import SessionStore, wall_clock
from .._streams._base import StreamError, StreamManager, StreamUnavailable
from .._streams.control import CancelRequest, StreamTaken
from .._streams.events import EventStore
from .auth import ResourceGuard
from .config import HttpConfig
from .drain import Drain
from .live_hub import HttpSessionsHub
from .live_table import LiveSession, StandaloneStream
from .sessions import SessionManager
from .stream_ids import random_hex
from .ws_socket import Closing, Frame, WebSocket

log = logging.getLogger("trio_mcp.websocket")

Closer = Callable[[Closing], None]
SHUTTING_DOWN = "this server instance is shutting down; reconnect with Mcp-Session-Id to resume"


class SocketOutbound:
    """The connection's one bounded queue to its writer, for handlers (Messages) and the session's stream
    (payloads already encoded). A client that leaves it full for `slow_timeout` is disconnected: memory stays
    bounded and a slow client never holds a handler forever."""

    can_request = True

    def __init__(
        self, channel: trio.MemorySendChannel[Message | bytes], slow_timeout: float, on_slow: Closer
    ):
        self._channel = channel
        self._slow_timeout = slow_timeout
        self._on_slow = on_slow

    async def send(self, message: Message | bytes) -> None:
        try:
            self._channel.send_nowait(message)
            return
        except trio.WouldBlock:
            pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return  # the socket is closing: a disconnect is not cancellation, the handler runs on
        with trio.move_on_after(self._slow_timeout):
            try:
                await self._channel.send(message)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            return
        self._on_slow(
            Closing(
                Close.TRY_AGAIN_LATER,
                f"the client read nothing for {self._slow_timeout:g} s with {WRITE_QUEUE} messages queued; "
                "reconnect to resume",
            )
        )

    def close_stream(self, retry_ms: int | None) -> bool:
        return False  # no SSE stream to poll: the socket stays open


@attrs.frozen
class AppParts:
    """What a socket's connection uses of the app: one per app, shared by all its sockets."""

    config: HttpConfig
    sessions: SessionManager
    streams: StreamManager
    store: SessionStore
    events: EventStore | None
    dispatcher: Dispatcher
    hub: HttpSessionsHub
    drain: Drain
    guard: ResourceGuard | None = None


@attrs.frozen
class SocketGrant:
    """The verified token a socket was opened with (docs/architecture.md §10): it holds for the socket's
    lifetime, which ends when the token expires; `metadata_url` goes into step-up errors."""

    token: AccessToken
    metadata_url: str


class WsConnection:
    """Serves one accepted socket; `run` returns how it ends (the close frame to send)."""

    def __init__(self, socket: WebSocket, app: AppParts, grant: SocketGrant | None = None) -> None:
        self.socket = socket
        self.app = app
        self.grant = grant
        self.closing: Closing | None = None
        self._scope = trio.CancelScope()  # everything of the connection: cancelled by `close`
        self._receiving: trio.CancelScope | None = None
        self._stop_reading = False
        self._working = 0
        self._tasks: trio.Nursery | None = None
        self._stack = AsyncExitStack()
        self._stream: StandaloneStream | None = None
        send_channel, self._queue = trio.open_memory_channel[Message | bytes](WRITE_QUEUE)
        self._send_channel = send_channel
        self._final = Closing(Close.SERVICE_RESTART, SHUTTING_DOWN)  # the close frame, unless `end` says
        self.outbound = SocketOutbound(send_channel, app.config.slow_stream_timeout, self.close)

    # -- how it ends --

    def close(self, closing: Closing) -> None:
        """End the connection now: every task and in-flight request of it is cancelled."""
        if self.closing is None:
            self.closing = closing
        self._scope.cancel()

    def _finish_reading(self, closing: Closing) -> None:
        """Stop reading once the requests in flight answered (a drain): what they sent still goes out."""
        if self.closing is None:
            self.closing = closing
        self._stop_reading = True
        if self._receiving is not None:
            self._receiving.cancel()

    def _on_drain(self) -> None:
        # The drain (docs/architecture.md §4): requests read from now on are not run (the client sends them
        # again after reconnecting); once the running ones answered, the socket closes with 1012.
        self.closing = self.closing or Closing(Close.SERVICE_RESTART, SHUTTING_DOWN)
        if self._working == 0:
            self._finish_reading(self.closing)

    # -- the connection --

    async def run(self, session: ServerSession, live: LiveSession | None) -> Closing:
        """Serve `session` (`live`: resumed, its live copy held by the caller; None: a fresh connection whose
        first request must be initialize) until the client or the server ends it; returns how it ends. The
        writer (`write`) runs beside it, outside: a client that stops reading holds no session (§8)."""
        async with self._stack:
            with self._scope, self.app.drain.stream(self._on_drain):
                async with trio.open_nursery() as tasks:
                    self._tasks = tasks
                    if live is not None:
                        await self._hold_stream(live, resumed=True)
                    tasks.start_soon(self._keepalive, session)
                    if self.grant is not None and self.grant.token.expires_at is not None:
                        tasks.start_soon(self._expire, self.grant.token.expires_at)
                    if live is None:
                        tasks.start_soon(self._initialize_within, self.app.config.pending_timeout)
                    await self._read(session)
                    tasks.cancel_scope.cancel()
        return self._ending()

    def _ending(self) -> Closing:
        stream = self._stream
        if stream is not None and stream.session_ended:
            return Closing(Close.SESSION_NOT_FOUND, "the session was deleted; connect anew and initialize")
        if stream is not None and stream.superseded:
            return Closing(Close.SUPERSEDED, "another connection took this session's stream")
        return self.closing or Closing(Close.NORMAL, "")

    async def _read(self, session: ServerSession) -> None:
        async with trio.open_nursery() as handlers:

            async def run_request(event: RequestReceived, scope: trio.CancelScope) -> None:
                await self._run_request(session, event, scope)

            while not self._stop_reading:
                frame = None
                with trio.CancelScope() as self._receiving:
                    frame = await self.socket.receive()
                self._receiving = None
                if self._stop_reading or frame is None:
                    break
                raw = self._check(frame)
                if isinstance(raw, Closing):
                    self.close(raw)
                    return
                replies, initialize = handle_frame(
                    self.app.dispatcher, session, raw, handlers, run_request, self.outbound, router=self
                )
                for reply in replies:
                    await self.outbound.send(reply)
                if initialize is not None:
                    await run_request(initialize, self.app.dispatcher.register_request(session, initialize))
            # The client went away (or the drain ended the connection with nothing in flight): a request does
            # not outlive its socket (docs/architecture.md §8), so what still runs is cancelled; the client
            # sends it again on its next socket.
            handlers.cancel_scope.cancel()

    async def _expire(self, expires_at: float) -> None:
        # An expired token must not keep a connection open (MCP basic/authorization §Token Handling: tokens
        # are short-lived); the client reconnects with a fresh one and resumes the session.
        await trio.sleep_until(trio.current_time() + max(0.0, expires_at - wall_clock()))
        self.close(Closing(Close.POLICY, "the access token expired: reconnect with a fresh token"))

    def _check(self, frame: Frame) -> str | Closing:
        if frame.binary or frame.text is None:
            return Closing(
                Close.UNSUPPORTED_DATA, "binary frames are not MCP messages: send JSON-RPC as text"
            )
        text = frame.text
        limit = self.app.config.max_body_size
        if len(text) > limit or (4 * len(text) > limit and len(text.encode("utf-8", "replace")) > limit):
            return Closing(Close.TOO_BIG, f"a message exceeds {limit} bytes (max_body_size)")
        return text

    async def _run_request(
        self, session: ServerSession, event: RequestReceived, scope: trio.CancelScope
    ) -> None:
        if self.app.drain.draining:
            # Not run: the socket closes with 1012 once the running requests answered, and the client sends
            # this one again on its new connection.
            session.in_flight.pop(event.id, None)
            return
        self._working += 1
        try:
            admitting = event.method == "initialize" and self._stream is None
            if admitting and not await self._admit(session):
                return
            reply = self._step_up(event)
            with self.app.drain.work():
                if reply is None:
                    reply = await self.app.dispatcher.handle_request(
                        session, event, self.outbound, scope=scope, access=self._token
                    )
                if reply is not None:
                    await self.outbound.send(reply)
            if admitting and isinstance(reply, ErrorResponse):
                # A refused initialize leaves no session behind (over HTTP it never takes a place): its place
                # under the cap goes back, and the socket (whose session it was to be) closes once the error
                # went out.
                assert session.session_id is not None
                await self.app.store.delete(session.session_id)
                self._finish_reading(
                    Closing(Close.PROTOCOL_ERROR, f"initialize failed: {reply.error.message}")
                )
        finally:
            session.in_flight.pop(event.id, None)
            self._working -= 1
            if self._working == 0 and self.app.drain.draining:
                self._on_drain()

    @property
    def _token(self) -> AccessToken | None:
        return None if self.grant is None else self.grant.token

    def _step_up(self, event: RequestReceived) -> Message | None:
        """A request the token's scopes do not cover is answered with the challenge, not run."""
        guard, grant = self.app.guard, self.grant
        if guard is None or grant is None:
            return None
        challenge = guard.step_up(grant.token, [(event.method, event.params)])
        return None if challenge is None else guard.socket_error(event.id, challenge, grant.metadata_url)

    async def _admit(self, session: ServerSession) -> bool:
        """A fresh connection's initialize: a place under the session cap (its pending record), then the
        session's stream. False: refused, and the connection closes saying why."""
        if not await self.app.sessions.reserve(session, self.app.config.max_sessions):
            self.close(
                Closing(
                    Close.TRY_AGAIN_LATER,
                    f"the server holds its maximum of {self.app.config.max_sessions} sessions; retry later",
                )
            )
            return False
        live = await self._stack.enter_async_context(self.app.sessions.hold_new(session))
        await self._hold_stream(live, resumed=False)
        return True

    # -- the session's stream: what any instance sends this session --

    async def _hold_stream(self, live: LiveSession, *, resumed: bool) -> None:
        assert self._tasks is not None
        previous = live.standalone
        if previous is not None:
            previous.supersede()  # one stream per session (T§Multiple Connections): the newest wins
        self._stream = stream = StandaloneStream(scope=self._scope, token=random_hex(8))
        live.standalone = stream
        await self._tasks.start(self._follow, live, stream, resumed)

    async def _follow(
        self,
        live: LiveSession,
        stream: StandaloneStream,
        resumed: bool,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        sid = live.session.session_id
        assert sid is not None
        self.app.hub.stream_opened(sid)
        try:
            async with self.app.streams.subscribe(
                sid, self.app.config.stream_buffer, slow_timeout=self.app.config.slow_stream_timeout
            ) as buffer:
                stream.held(buffer.order)  # a newer stream taken elsewhere meanwhile ends this one
                task_status.started()
                await self.app.streams.broadcast(
                    StreamTaken(session=sid, token=stream.token, order=buffer.order)
                )
                if resumed and self.app.events is not None:
                    # What reached no stream while the client was away (list_changed, JSON-mode requests'
                    # messages) comes first; a fresh connection starts from now.
                    for payload in await self.app.events.take_parked(sid):
                        await self.outbound.send(payload)
                async for payload in buffer:
                    await self.outbound.send(payload)
                if buffer.dropped:
                    self.close(
                        Closing(
                            Close.TRY_AGAIN_LATER,
                            "the client fell behind on the session's messages; reconnect",
                        )
                    )
                else:  # superseded here, or the stream manager is stopping
                    self.close(Closing(Close.SERVICE_RESTART, SHUTTING_DOWN))
        finally:
            if live.standalone is stream:
                live.standalone = None
                if not stream.session_ended and not stream.superseded:
                    self.app.hub.stream_closed(sid)  # the client may come back: fan-outs are parked meanwhile

    # -- keep-alive (ASGI exposes no WebSocket ping frames: an MCP ping, U§Ping) --

    async def _keepalive(self, session: ServerSession) -> None:
        interval, timeout = self.app.config.websocket_ping_interval, self.app.config.websocket_ping_timeout
        while True:
            await trio.sleep_until(self.socket.last_heard + interval)
            if trio.current_time() < self.socket.last_heard + interval:
                continue  # the client spoke meanwhile
            try:
                await session.peer.request("ping", None, self.outbound, timeout=timeout, routed=False)
            except McpError as exc:
                if exc.code == REQUEST_TIMEOUT:
                    self.close(
                        Closing(Close.PING_TIMEOUT, f"the keep-alive ping got no answer within {timeout:g} s")
                    )
                    return
                # Any answer, an error too, shows the client is there.

    async def _initialize_within(self, seconds: float) -> None:
        """A fresh socket has no record yet: one that never initializes must not hold a connection forever
        (the twin of a pending record's `pending_timeout`)."""
        await trio.sleep(seconds)
        if self._stream is None:
            self.close(Closing(Close.PING_TIMEOUT, f"no initialize within {seconds:g} s (pending_timeout)"))

    # -- the writer: the one task that sends --

    async def write(self) -> None:
        """Send what is queued until `end`, then the close frame. Runs beside `run`, in the endpoint's
        nursery: hypercorn writes in a shielded scope with no timeout, so a send to a client that stopped
        reading cannot be cancelled; only this task (the queue and the TCP connection, both bounded) waits for
        it, until the client reads or the kernel gives up (`trio_mcp.serve(send_timeout=)`)."""
        try:
            async with self._queue:
                async for message in self._queue:
                    data = message if isinstance(message, bytes) else encode(message)
                    await self.socket.send_text(data.decode())
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await self.socket.close(self._final)

    def end(self, closing: Closing) -> None:
        """No more messages: the writer sends what is queued, then closes the socket with `closing`."""
        self._final = closing
        self._send_channel.close()

    # -- Router: what is not for this connection --

    async def stray_reply(self, session: ServerSession, response: Response | ErrorResponse) -> None:
        """A reply to a request another instance sent (through this session's stream): forward it there."""
        if session.session_id is None or response.id is None:
            return
        try:
            if not await self.app.streams.forward_reply(session.session_id, response.id, encode(response)):
                log.debug("a reply to request %r arrived, but nothing waits for it", response.id)
        except (StreamUnavailable, StreamError) as exc:
            log.warning("could not forward a reply to request %r: %s", response.id, exc)

    async def cancel_elsewhere(self, session: ServerSession, request_id: RequestId) -> None:
        """U§Cancellation: the request may run on another instance (a POST there): tell every instance."""
        if session.session_id is None:
            return
        try:
            await self.app.streams.broadcast(CancelRequest(session=session.session_id, request_id=request_id))
        except (StreamUnavailable, StreamError) as exc:
            log.warning("could not pass on the cancellation of request %r: %s", request_id, exc)
