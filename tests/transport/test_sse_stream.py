"""SSEWriter: a send is never cut by the keep-alive deadline, and a send cut by cancellation keeps its bytes."""

from __future__ import annotations

from typing import Any

import trio

from trio_mcp._proto.sse import SSEDecoder
from trio_mcp._transport.recorder import StreamRecorder
from trio_mcp._transport.sse_stream import HEAD_WITHIN, SSEWriter


class SlowClient:
    """An ASGI `send` that takes `delay` per body send (a client reading slowly) and records what went out."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.body = bytearray()
        self.ended = False

    async def __call__(self, message: dict[str, Any]) -> None:
        await trio.sleep(self.delay)
        self.body += message.get("body", b"")
        if not message.get("more_body", False):
            self.ended = True


async def test_sends_slower_than_the_keepalive_lose_no_event(autojump_clock: trio.abc.Clock) -> None:
    # Each send takes longer than the keep-alive interval: the deadline used to fire mid-send and drop the body.
    client = SlowClient(delay=0.03)
    writer = SSEWriter(client, "s")
    send_channel, receive_channel = trio.open_memory_channel[bytes](1000)
    async with trio.open_nursery() as nursery:

        async def produce() -> None:
            async with send_channel:
                for n in range(300):
                    await send_channel.send(b'{"n":%d}' % n)
                    await trio.sleep(0.01)

        nursery.start_soon(produce)
        await writer.drain(receive_channel, keepalive=0.02)
        await writer.close()
    events = [e for e in SSEDecoder().feed(bytes(client.body)) if e.data]
    assert [e.data for e in events] == [f'{{"n":{n}}}' for n in range(300)]
    assert [e.id for e in events] == [f"s:{n}" for n in range(1, 301)]  # no id skipped
    assert client.ended


async def test_a_send_cut_by_cancellation_goes_out_with_the_close(autojump_clock: trio.abc.Clock) -> None:
    client = SlowClient(delay=1.0)
    writer = SSEWriter(client, "s")
    writer.message(b'{"first":1}')
    with trio.move_on_after(0.5):  # the stream's owner cancels it mid-send (superseded, shutting down)
        await writer.flush()
    assert not client.body
    writer.retry(1000)
    await writer.close()
    events = SSEDecoder().feed(bytes(client.body))
    assert events[0].data == '{"first":1}'
    assert events[0].id == "s:1"
    assert b"retry: 1000" in client.body


class GatedEvents:
    """An event store whose record waits for `release`: a slow round trip, with what each record held."""

    def __init__(self) -> None:
        self.release = trio.Event()
        self.recorded: list[list[int]] = []

    async def record(self, session_id: str, stream_id: str, entries: Any, *, owner: str) -> None:
        if self.recorded:  # the first record (the log's creation) is not gated
            await self.release.wait()
        self.recorded.append([entry.seq for entry in entries])


async def test_a_flush_sends_before_it_records() -> None:
    # The client gets each event one event-store round trip sooner; only the log's first record comes first.
    events = GatedEvents()
    client = SlowClient(delay=0)
    writer = SSEWriter(client, "s", StreamRecorder(events, "sid", "s", "me"))  # type: ignore[arg-type]
    writer.prime()
    await writer.flush()
    assert events.recorded == [[1]]
    writer.message(b'{"n":2}')
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.flush)
        with trio.fail_after(1):
            while b'{"n":2}' not in client.body:
                await trio.lowlevel.checkpoint()
        assert events.recorded == [[1]]  # sent, its record still on its way
        events.release.set()
    assert events.recorded == [[1], [2]]


class Recording:
    """An ASGI `send` that keeps every message, with the trio time it was sent."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append((trio.current_time(), message))


HEAD = [(b"content-type", b"text/event-stream")]


async def test_a_whole_response_in_one_body_goes_with_its_length() -> None:
    # No chunked framing: hypercorn writes head and body, without a third write for the chunk terminator.
    client = Recording()
    writer = SSEWriter(client, "s", head=HEAD)
    writer.prime()
    writer.message(b'{"n":1}')
    await writer.close(ended=True)
    (_, start), (_, body) = client.messages
    assert start["type"] == "http.response.start"
    assert (b"content-length", b"%d" % len(body["body"])) in start["headers"]
    assert body["more_body"] is False


async def test_a_slow_handler_still_gets_its_head_and_priming_event_at_once(
    autojump_clock: trio.abc.Clock,
) -> None:
    client = Recording()
    writer = SSEWriter(client, "s", head=HEAD)
    writer.prime()
    send_channel, receive_channel = trio.open_memory_channel[bytes](10)
    async with trio.open_nursery() as nursery:

        async def slow_handler() -> None:
            async with send_channel:
                await trio.sleep(30)  # past the keep-alive interval too
                await send_channel.send(b'{"n":1}')

        nursery.start_soon(slow_handler)
        await writer.drain(receive_channel, keepalive=10)
        await writer.close()
    (at, start), (_, first), *rest = client.messages
    assert at <= HEAD_WITHIN
    assert not any(name == b"content-length" for name, _ in start["headers"])  # a stream: chunked
    assert [event.id for event in SSEDecoder().feed(first["body"])] == ["s:1"]  # the priming event
    sent = b"".join(message["body"] for _, message in rest)
    assert sent.count(b": keepalive") == 2
    assert b'{"n":1}' in sent
