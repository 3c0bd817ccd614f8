"""Resuming a POST stream: a GET with `Last-Event-ID` naming it, on any instance (T§Resumability).

The stream's events come from the event store only: what followed the client's id is replayed, then the log
is followed until its end marker (the request's response was sent) — the writer on the instance running the
request records each event right after it sends it, and a client's id past the log's end is followed from
that id (EventStore.after), so there is neither a gap nor a duplicate at the hand-off from replay to live. A resumed POST stream never takes the session's standalone stream. When the instance
running the request is gone (its heartbeat stopped) and nothing more was recorded, the stream ends with a
retryable error for each request still unanswered, instead of leaving the client waiting.
"""

from __future__ import annotations

import json

import trio

from .._proto.errors import INTERNAL_ERROR, INVALID_REQUEST
from .._proto.jsonrpc import ErrorResponse, RequestId, encode, error_response
from .._streams._base import StreamManager
from .._streams.events import EventLog, EventsGone, EventStore, StoredEvent
from .asgi import SSE_HEADERS, Receive, Send, respond_error
from .config import HttpConfig
from .drain import Drain
from .gate import Headers
from .recorder import requests_of
from .sse_stream import SSEWriter, watch_disconnect

OWNER_GONE = (
    "the server instance running this request stopped before it answered; the request may be sent again"
)


class Resumption:
    def __init__(
        self, config: HttpConfig, events: EventStore | None, streams: StreamManager, drain: Drain
    ) -> None:
        self.config = config
        self.events = events
        self.streams = streams
        self.drain = drain

    async def __call__(
        self, session_id: str, stream_id: str, seq: int, receive: Receive, send: Send, headers: Headers
    ) -> None:
        if self.events is None:
            await start_over(send, headers, "this server keeps no events (event_store='none')")
            return
        try:
            log = await self.events.after(session_id, stream_id, seq)
        except EventsGone as exc:
            await start_over(send, headers, str(exc))
            return
        await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})
        writer = SSEWriter(send, stream_id)
        # Draining, the stream ends after what it replayed, with `retry:`: the client resumes it elsewhere.
        follow = trio.CancelScope()
        with self.drain.stream(follow.cancel):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch_disconnect, receive, nursery.cancel_scope)
                with follow:
                    await self._follow(self.events, writer, session_id, stream_id, log)
                nursery.cancel_scope.cancel()
        if follow.cancelled_caught:
            writer.retry(self.config.sse_retry_ms)
        await writer.close()

    async def _follow(
        self, events: EventStore, writer: SSEWriter, session_id: str, stream_id: str, log: EventLog
    ) -> None:
        unanswered = requests_of(log.prime) if log.prime is not None else []
        poll = self.config.heartbeat_interval / 2
        quiet_since = trio.current_time()
        while True:
            for event in log.events:
                writer.replayed(event)
                _answered(event, unanswered)
            if log.events:
                quiet_since = trio.current_time()
                await writer.flush()
            if log.ended:
                return
            last = log.last_seq
            await events.wait(session_id, stream_id, last, timeout=poll)
            try:
                log = await events.after(session_id, stream_id, last)
            except EventsGone:
                return  # the log went (the session was deleted or expired): nothing more will come
            if log.events or log.ended:
                continue
            if not await self.streams.is_alive(log.owner):
                for request_id in unanswered:
                    writer.message(encode(_owner_gone(request_id)))
                return
            if trio.current_time() - quiet_since >= self.config.keepalive_interval:
                writer.keepalive()
                await writer.flush()
                quiet_since = trio.current_time()


def _answered(event: StoredEvent, unanswered: list[RequestId]) -> None:
    try:
        message = json.loads(event.payload)
    except ValueError:
        return
    if isinstance(message, dict) and ("result" in message or "error" in message):
        request_id = message.get("id")  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
        if request_id in unanswered:
            unanswered.remove(request_id)  # pyright: ignore[reportUnknownArgumentType]


def _owner_gone(request_id: RequestId) -> ErrorResponse:
    return error_response(request_id, INTERNAL_ERROR, OWNER_GONE, {"retryable": True})


async def start_over(send: Send, headers: Headers, why: str) -> None:
    await respond_error(
        send,
        400,
        INVALID_REQUEST,
        f"Bad Request: cannot resume the stream: {why}; the events are no longer available, so start over "
        "(send the request again, or open a GET without Last-Event-ID)",
        headers=headers,
    )
