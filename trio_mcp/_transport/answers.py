"""The answer to a POST: JSON (one body, after every request ran) or an SSE response (T§Sending Messages to
the Server): one request runs in the request's own task (one_request.py); a batch's each in a task of its own,
one bounded channel feeding the single writer."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import trio

from .._auth.tokens import AccessToken
from .._proto.errors import INVALID_REQUEST, PARSE_ERROR
from .._proto.jsonrpc import ErrorResponse, Message, ParsedBody, RequestId, Response, encode
from .._proto.session import RequestReceived
from .._proto.versions import LATEST_VERSION
from .._runtime.dispatcher import Dispatcher
from .._runtime.outbound import ChannelOutbound, NoBackChannel, Outbound
from .._runtime.state import ServerSession
from .._streams._base import StreamManager
from .._streams.events import EventStore
from .asgi import JSON_HEADERS, SSE_HEADERS, Send, respond
from .backends import SessionStreamOutbound
from .config import HttpConfig
from .drain import Drain, drain_deadline_error
from .gate import Headers
from .one_request import OneRequest
from .recorder import StreamRecorder, prime_payload
from .sse_stream import SSEWriter
from .stream_ids import random_hex
from .stream_timers import StreamTimers

# The first letter of a stream id tells a POST stream ("p") from a session's standalone GET stream ("g").
POST_STREAM_MARK = "p"
STATELESS_REASON = (
    "the client connected statelessly (no Mcp-Session-Id and no text/event-stream in Accept), so the server "
    "cannot send it requests; initialize a session with Accept: application/json, text/event-stream"
)


class Answers:
    def __init__(
        self,
        config: HttpConfig,
        streams: StreamManager,
        dispatcher: Dispatcher,
        events: EventStore | None,
        drain: Drain,
        timers: StreamTimers | None = None,
    ) -> None:
        self.config = config
        self.streams = streams
        self.dispatcher = dispatcher
        self.events = events
        self.drain = drain
        self.timers = timers

    async def without_requests(
        self, send: Send, parsed: ParsedBody, replies: list[Message], headers: Headers
    ) -> None:
        """Nothing to run: the error replies (or 202, T§Sending.4: accepted notifications and responses)."""
        if not replies:
            await respond(send, 202, b"", headers)
        elif parsed.is_batch:
            await respond(send, 200, encode(replies), [*JSON_HEADERS, *headers])
        else:
            # A single message refused as unparseable or invalid is a 400; any other answer a 200.
            reply = replies[0]
            refused = isinstance(reply, ErrorResponse) and reply.error.code in (INVALID_REQUEST, PARSE_ERROR)
            await respond(send, 400 if refused else 200, encode(reply), [*JSON_HEADERS, *headers])

    async def json(
        self,
        session: ServerSession,
        send: Send,
        parsed: ParsedBody,
        requests: list[RequestReceived],
        replies: list[Message],
        headers: Headers,
        *,
        stateless: bool,
        access: AccessToken | None = None,
    ) -> None:
        outbound: Outbound
        if stateless or session.session_id is None:
            outbound = NoBackChannel(STATELESS_REASON)
        else:
            outbound = SessionStreamOutbound(self.streams, session.session_id, self.events)
        finished: set[RequestId] = set()
        with self.drain.work() as work:
            for event in requests:
                reply = await self.dispatcher.handle_request(session, event, outbound, access=access)
                finished.add(event.id)
                if reply is not None:
                    replies.append(reply)
        if work.cancelled_caught:  # the drain's deadline: what did not finish may be sent again
            replies.extend(drain_deadline_error(event.id) for event in requests if event.id not in finished)
        await self.without_requests(send, parsed, replies, headers)

    async def sse(
        self,
        session: ServerSession,
        send: Send,
        requests: list[RequestReceived],
        replies: list[Message],
        headers: Headers,
        access: AccessToken | None = None,
    ) -> None:
        stream_id = POST_STREAM_MARK + random_hex(4)
        awaiting: set[RequestId] = {event.id for event in requests}
        recorder = None
        if self.events is not None and session.session_id is not None and awaiting:
            # T§Resumability: what this stream sends is recorded, so the client can resume it on any instance.
            recorder = StreamRecorder(self.events, session.session_id, stream_id, self.streams.instance_id)
        writer = SSEWriter(send, stream_id, recorder, head=[*SSE_HEADERS, *headers])
        # T§Sending.6 (2025-11-25): a priming event with an id and empty data, so the client can resume. Older
        # clients get none, but the log starts with it all the same (it keeps the request ids).
        writer.prime(
            prime_payload([event.id for event in requests]) if recorder is not None else b"",
            visible=session.protocol.protocol_version == LATEST_VERSION,
        )
        for reply in replies:
            writer.message(reply)
        if not awaiting:
            await writer.close()
            return
        closable = recorder is not None and session.protocol.protocol_version == LATEST_VERSION
        if len(requests) == 1 and self.timers is not None and self.timers.running:
            await self._one(session, writer, requests[0], self.timers, closable, access)
        else:
            await self._batch(session, writer, requests, awaiting, closable, access)
        await writer.close(ended=True)

    async def _one(
        self,
        session: ServerSession,
        writer: SSEWriter,
        event: RequestReceived,
        timers: StreamTimers,
        closable: bool,
        access: AccessToken | None,
    ) -> None:
        """One request: its handler runs in this task (one_request.py)."""
        stream = OneRequest(
            writer,
            event.id,
            buffer=self.config.stream_buffer,
            closable=closable,
            keepalive=self.config.keepalive_interval,
            poll_after=self.config.sse_poll_interval if closable else None,
            retry_ms=self.config.sse_retry_ms,
        )
        # Draining (docs/architecture.md §4): as a batch's stream, below.
        closing: AbstractContextManager[None] = (
            self.drain.stream(stream.close_soon) if closable else nullcontext()
        )
        try:
            with closing, self.drain.work() as work:
                async with trio.open_nursery() as nursery:
                    stream.opened(nursery)
                    timer = timers.call_at(stream.watch_at, stream.promote)
                    try:
                        reply = await self.dispatcher.handle_request(session, event, stream, access=access)
                    finally:
                        timer.cancel()
                    await stream.finish(reply)
            if work.cancelled_caught:
                _answer_at_deadline(writer, stream.receive, stream.awaiting)
        finally:
            stream.close()

    async def _batch(
        self,
        session: ServerSession,
        writer: SSEWriter,
        requests: list[RequestReceived],
        awaiting: set[RequestId],
        closable: bool,
        access: AccessToken | None,
    ) -> None:
        """Each request in a task of its own, one channel feeding this task, the writer."""
        send_channel, receive_channel = trio.open_memory_channel[Message](self.config.stream_buffer)

        def close_stream(retry_ms: int | None) -> None:
            writer.request_close(self.config.sse_retry_ms if retry_ms is None else retry_ms)

        async def run(event: RequestReceived, channel: trio.MemorySendChannel[Message]) -> None:
            async with channel:
                # SSE polling (2025-11-25) needs the stream's log: only a recorded stream can be closed early.
                outbound: Outbound = ChannelOutbound(
                    channel, on_close_stream=close_stream if closable else None
                )
                reply = await self.dispatcher.handle_request(session, event, outbound, access=access)
                if reply is not None:
                    await outbound.send(reply)

        # Draining (docs/architecture.md §4): a closable stream ends after its last id with `retry:` while
        # its handlers run on into its log; at the drain's deadline they are cancelled and answered.
        closing: AbstractContextManager[None] = (
            self.drain.stream(lambda: close_stream(None)) if closable else nullcontext()
        )
        async with receive_channel:
            with closing, self.drain.work() as work:
                async with trio.open_nursery() as nursery:
                    async with send_channel:
                        for event in requests:
                            nursery.start_soon(run, event, send_channel.clone())
                    await writer.drain(
                        receive_channel,
                        self.config.keepalive_interval,
                        awaiting,
                        poll_after=self.config.sse_poll_interval if closable else None,
                        poll_retry_ms=self.config.sse_retry_ms,
                    )
            if work.cancelled_caught:
                _answer_at_deadline(writer, receive_channel, awaiting)


def _answer_at_deadline(
    writer: SSEWriter, channel: trio.MemoryReceiveChannel[Message] | None, awaiting: set[RequestId]
) -> None:
    """The drain cancelled the handlers: what they had sent still goes out, then a retryable error for each
    request that got no response, as the stream's last events."""
    while channel is not None:
        try:
            message = channel.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            break
        writer.message(message)
        if isinstance(message, Response | ErrorResponse) and message.id is not None:
            awaiting.discard(message.id)
    for request_id in awaiting:
        writer.message(drain_deadline_error(request_id))
