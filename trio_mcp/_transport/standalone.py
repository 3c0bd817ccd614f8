"""GET on the MCP endpoint: the session's standalone SSE stream (T§Listening for Messages from the Server).

The stream subscribes before its 200 goes out (a message published at once is not lost), tells every other
instance it now holds the session's stream (`StreamTaken`: one stream per session, T§Multiple Connections),
and drains its `StreamBuffer` until it is superseded, dropped as slow, deleted or shut down; every end except
the session's DELETE writes `retry:` so the client reconnects (docs/architecture.md §2).
"""

from __future__ import annotations

import trio

from .._proto import sse
from .._proto.errors import INVALID_REQUEST
from .._proto.versions import LATEST_VERSION
from .._streams._base import StreamManager
from .._streams.control import StreamTaken
from .._streams.events import EventsGone, EventStore
from .answers import POST_STREAM_MARK
from .asgi import SSE_HEADERS, Receive, RequestHeaders, Scope, Send, respond_error
from .config import HttpConfig
from .drain import Drain, refuse_while_draining
from .gate import Gate, Headers
from .live_hub import HttpSessionsHub
from .live_table import LiveSession, StandaloneStream
from .recorder import StreamRecorder
from .resume import Resumption, start_over
from .sessions import SessionManager
from .sse_stream import SSEWriter, watch_disconnect
from .stream_ids import random_hex

# The first letter of a standalone stream's id (a POST stream's is POST_STREAM_MARK).
STANDALONE_STREAM_MARK = "g"


class StandaloneStreams:
    def __init__(
        self,
        config: HttpConfig,
        gate: Gate,
        sessions: SessionManager,
        streams: StreamManager,
        events: EventStore | None,
        hub: HttpSessionsHub,
        drain: Drain,
    ) -> None:
        self.config = config
        self.gate = gate
        self.sessions = sessions
        self.streams = streams
        self.events = events
        self.hub = hub
        self.drain = drain
        self.resume = Resumption(config, events, streams, drain)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, h: RequestHeaders) -> None:
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
        resumed: tuple[str, int] | None = None
        if h.last_event_id is not None:
            resumed = sse.parse_event_id(h.last_event_id)
            if resumed is None or resumed[0][0] not in (POST_STREAM_MARK, STANDALONE_STREAM_MARK):
                await respond_error(
                    send,
                    400,
                    INVALID_REQUEST,
                    f"Bad Request: Last-Event-ID {h.last_event_id[:80]!r} is not an event id this server sent "
                    "(<stream>:<n>); reconnect without it to start over",
                    headers=cors,
                )
                return
        resumes_post = resumed is not None and resumed[0].startswith(POST_STREAM_MARK)
        if self.drain.draining and not resumes_post:
            await refuse_while_draining(send, cors, "new GET streams")
            return
        async with self.sessions.hold(h.session_id, self.config.principal(scope)) as live:
            if live is None:
                await self.gate.session_not_found(send, cors)
                return
            if resumed is not None and resumes_post:
                await self.resume(h.session_id, resumed[0], resumed[1], receive, send, cors)
                return
            await self._stream(live, receive, send, cors, resumed)

    async def _stream(
        self,
        live: LiveSession,
        receive: Receive,
        send: Send,
        headers: Headers,
        resumed: tuple[str, int] | None,
    ) -> None:
        session_id = live.session.session_id
        assert session_id is not None
        previous = live.standalone
        if previous is not None:
            # A new GET supersedes the old stream, so a client reconnecting after a blip is never locked out.
            previous.supersede()
        stream = StandaloneStream(scope=trio.CancelScope(), token=random_hex(8))
        live.standalone = stream
        # Its SSE events: the resumed stream's log goes on (T§Resumability), or a fresh one starts from now.
        stream_id = resumed[0] if resumed is not None else STANDALONE_STREAM_MARK + random_hex(6)
        recorder = (
            None
            if self.events is None
            else StreamRecorder(self.events, session_id, stream_id, self.streams.instance_id)
        )
        writer = SSEWriter(send, stream_id, recorder)
        started = False
        self.hub.stream_opened(session_id)
        try:
            with stream.scope:
                async with self.streams.subscribe(
                    session_id, self.config.stream_buffer, slow_timeout=self.config.slow_stream_timeout
                ) as buffer:
                    stream.held(buffer.order)  # a newer stream taken elsewhere meanwhile ends this one
                    # Draining closes the buffer: the writer sends what it holds, then the stream ends like
                    # any other end but DELETE, with `retry:`, and the client resumes it elsewhere.
                    with self.drain.stream(buffer.close):
                        # Subscribed before the client sees the 200 (and before a replay is read): a message
                        # published from now on waits in the buffer, after what the log and the parked list hold.
                        primed = live.session.protocol.protocol_version == LATEST_VERSION
                        if not await self._catch_up(writer, session_id, resumed, send, headers, primed):
                            return
                        await send(_start(headers))
                        started = True
                        await self.streams.broadcast(
                            StreamTaken(session=session_id, token=stream.token, order=buffer.order)
                        )
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(watch_disconnect, receive, nursery.cancel_scope)
                            await writer.flush()
                            # Returns when the buffer ends: superseded here, dropped as the client lagged, drained.
                            await writer.drain(buffer, self.config.keepalive_interval)
                            nursery.cancel_scope.cancel()
        finally:
            if live.standalone is stream:
                live.standalone = None
                if started and not stream.session_ended and not stream.superseded:
                    self.hub.stream_closed(session_id)  # the client went away: it may come back
            if started or stream.scope.cancelled_caught:
                with trio.CancelScope(shield=True), trio.move_on_after(1):
                    if not started:  # superseded before it began: still a stream, ended with retry
                        await send(_start(headers))
                    if not stream.session_ended:
                        # T§Resumability: whatever ended this stream, the client reconnects after `retry`.
                        writer.retry(self.config.sse_retry_ms)
                    await writer.close()

    async def _catch_up(
        self,
        writer: SSEWriter,
        session_id: str,
        resumed: tuple[str, int] | None,
        send: Send,
        headers: Headers,
        primed: bool,
    ) -> bool:
        """A resumed stream: what followed the client's id in its log, then what was parked while no GET was
        open. A fresh stream starts from now: what was parked is dropped. False: answered 400 instead.
        `primed`: a fresh stream sends its priming event (a 2025-11-25 client)."""
        if self.events is None:
            return True
        if resumed is None:
            await self.events.take_parked(session_id)  # not for a stream that starts from now
            # The log starts with a priming entry. It is sent to a 2025-11-25 client (T§Sending.6's priming
            # event: an id and empty data), so even a stream that ends before its first message (superseded,
            # drained) leaves the client an id to resume from and nothing published meanwhile is lost; older
            # clients may not expect an event without data.
            writer.prime(visible=primed)
            return True
        stream_id, seq = resumed
        try:
            log = await self.events.after(session_id, stream_id, seq)
        except EventsGone as exc:
            await start_over(send, headers, str(exc))  # what was parked stays for a resume that works
            return False
        parked = await self.events.take_parked(session_id)
        writer.continue_after(log.last_seq)
        for event in log.events:
            writer.replayed(event)
        for payload in parked:
            writer.message(payload)
        return True


def _start(headers: Headers) -> dict[str, object]:
    # Made when sent, not kept for the stream's whole life (10,000 held streams: 10,000 dicts and lists).
    return {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]}
