"""SSEWriter: a send is never cut by the keep-alive deadline, and a send cut by cancellation keeps its bytes."""

from __future__ import annotations

from typing import Any

import trio

from trio_mcp._proto.sse import SSEDecoder
from trio_mcp._transport.sse_stream import SSEWriter


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
