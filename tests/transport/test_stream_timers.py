"""StreamTimers: one task fires the timers of many streams, in order, rounded up to GRAIN; cancelled ones never."""

from __future__ import annotations

import logging
import math

import pytest
import trio

from trio_mcp._transport.stream_timers import GRAIN, StreamTimers


async def test_timers_fire_in_order_and_cancelled_ones_never(autojump_clock: trio.abc.Clock) -> None:
    timers = StreamTimers()
    fired: list[tuple[str, float]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(timers.run)
        start = trio.current_time()
        timers.call_at(start + 1.0, lambda: fired.append(("late", trio.current_time() - start)))
        await trio.sleep(0.1)
        # Set while the task sleeps towards a later one: it wakes for this one first.
        timers.call_at(start + 0.2, lambda: fired.append(("early", trio.current_time() - start)))
        timers.call_at(start + 0.2, lambda: fired.append(("early too", trio.current_time() - start)))
        timers.call_at(start + 0.3, lambda: fired.append(("cancelled", 0.0))).cancel()
        await trio.sleep(2)
        assert len(timers) == 0
        nursery.cancel_scope.cancel()
    assert [name for name, _ in fired] == ["early", "early too", "late"]
    early, late = fired[0][1], fired[2][1]
    assert 0.2 <= early < 0.2 + GRAIN + 1e-9
    assert 1.0 <= late < 1.0 + GRAIN + 1e-9


async def test_a_failing_callback_is_logged_and_the_task_goes_on(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    timers = StreamTimers()
    fired: list[str] = []

    def fails() -> None:
        raise RuntimeError("boom")

    async with trio.open_nursery() as nursery:
        await nursery.start(timers.run)
        timers.call_at(trio.current_time() + 0.1, fails)
        timers.call_at(trio.current_time() + 0.2, lambda: fired.append("after"))
        with caplog.at_level(logging.ERROR, logger="trio_mcp.tasks"):
            await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert fired == ["after"]
    assert "a stream timer failed" in caplog.text


async def test_when_the_task_stops_what_waits_fires_at_once(autojump_clock: trio.abc.Clock) -> None:
    # A request still waiting for its timer must not wait forever: it watches its stream itself from then on.
    timers = StreamTimers()
    fired: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(timers.run)
        assert timers.running
        timers.call_at(trio.current_time() + 60, lambda: fired.append("waiting"))
        await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    assert fired == ["waiting"]
    assert not timers.running


async def test_a_bucket_cancelled_before_its_due_costs_no_wake_up(autojump_clock: trio.abc.Clock) -> None:
    # Quick requests cancel their timers long before they are due: the task then sleeps on, to the next live one.
    timers = StreamTimers()
    fired: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(timers.run)
        now = trio.current_time()
        quick = [timers.call_at(now + 0.05, lambda: fired.append("quick")) for _ in range(3)]
        slow = timers.call_at(now + 0.5, lambda: fired.append("slow"))
        assert timers.next_due == pytest.approx(math.ceil((now + 0.05) / GRAIN) * GRAIN)
        for timer in quick:
            timer.cancel()
        assert timers.next_due == pytest.approx(math.ceil((now + 0.5) / GRAIN) * GRAIN)
        slow.cancel()
        assert timers.next_due == math.inf
        assert len(timers) == 0
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert fired == []
