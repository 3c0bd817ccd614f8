"""StreamBuffer: bursts are kept, only a stream full for longer than its slow timeout is dropped, memory bounded."""

from __future__ import annotations

import pytest
import trio

from trio_mcp.streams import StreamBuffer


def drain(buffer: StreamBuffer) -> list[bytes]:
    out: list[bytes] = []
    while True:
        try:
            out.append(buffer.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return out


async def test_a_burst_past_capacity_is_kept_in_order(autojump_clock: trio.abc.Clock) -> None:
    buffer = StreamBuffer(64, slow_timeout=3.0)
    payloads = [b"%d" % n for n in range(200)]
    assert all(buffer.offer(p) for p in payloads)  # one scheduler tick: the reader has not run yet
    stats = buffer.statistics()
    assert stats.current_buffer_used == 200
    assert stats.full_since is not None
    assert not stats.dropped
    assert drain(buffer) == payloads
    assert buffer.statistics().full_since is None  # caught up: no longer full


async def test_a_buffer_full_past_the_slow_timeout_drops_the_stream(autojump_clock: trio.abc.Clock) -> None:
    buffer = StreamBuffer(4, slow_timeout=1.0)
    for n in range(6):
        assert buffer.offer(b"%d" % n)
    await trio.sleep(0.9)
    assert buffer.offer(b"6")  # full, but not for long enough yet
    await trio.sleep(0.2)
    assert not buffer.offer(b"7")  # full for 1.1 s: the client lags
    assert buffer.statistics().dropped
    assert not buffer.offer(b"8")
    # What was queued before the drop still reaches the writer, then the stream ends.
    assert drain(buffer) == [b"%d" % n for n in range(7)]
    with pytest.raises(trio.EndOfChannel):
        await buffer.receive()


async def test_a_reader_that_keeps_up_is_never_dropped(autojump_clock: trio.abc.Clock) -> None:
    buffer = StreamBuffer(4, slow_timeout=0.5)
    for _ in range(100):  # bursts of 10 every 0.3 s for 30 s: full often, never for long
        for n in range(10):
            assert buffer.offer(b"%d" % n)
        await trio.sleep(0.3)
        assert len(drain(buffer)) == 10
    assert not buffer.statistics().dropped


async def test_the_hard_limit_bounds_memory_even_within_the_slow_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    buffer = StreamBuffer(4, slow_timeout=1e9)
    limit = buffer.statistics().hard_limit
    accepted = 0
    while buffer.offer(b"x%d" % accepted):
        accepted += 1
        assert accepted <= limit
    assert accepted == limit
    assert buffer.statistics().dropped


async def test_identical_coalescible_messages_are_queued_once(autojump_clock: trio.abc.Clock) -> None:
    buffer = StreamBuffer(4)
    tools = b'{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}'
    prompts = b'{"jsonrpc":"2.0","method":"notifications/prompts/list_changed"}'
    for _ in range(500):
        assert buffer.offer(tools, coalesce=True)
        assert buffer.offer(prompts, coalesce=True)
    assert buffer.offer(b"other")
    assert drain(buffer) == [tools, prompts, b"other"]
    # Once taken by the writer, the next one is queued again: the client hears of every later change.
    assert buffer.offer(tools, coalesce=True)
    assert drain(buffer) == [tools]


async def test_receive_waits_and_is_cancel_safe(autojump_clock: trio.abc.Clock) -> None:
    buffer = StreamBuffer(4)
    with trio.move_on_after(1):
        await buffer.receive()
    got: list[bytes] = []
    async with trio.open_nursery() as nursery:

        async def read() -> None:
            got.extend([item async for item in buffer])

        nursery.start_soon(read)
        await trio.sleep(0.1)
        buffer.offer(b"a")
        buffer.offer(b"b")
        await trio.sleep(0.1)
        buffer.close()
    assert got == [b"a", b"b"]


async def test_an_idle_writer_holds_no_exception() -> None:
    # A writer waiting on an empty buffer used to wait inside `except WouldBlock`, keeping the exception and
    # its traceback alive for as long as its stream stayed idle: one per held GET stream.
    import gc

    buffer = StreamBuffer(4)
    async with trio.open_nursery() as nursery:
        got: list[bytes] = []

        async def writer() -> None:
            got.append(await buffer.receive())

        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()  # what earlier tests left as garbage is not held by anyone: only what stays alive counts
        waiting = [
            o for o in gc.get_objects() if isinstance(o, trio.WouldBlock) and o.__traceback__ is not None
        ]
        assert waiting == []
        buffer.offer(b"one")
    assert got == [b"one"]
