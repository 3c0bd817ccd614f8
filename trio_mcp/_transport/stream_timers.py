"""One task per app that fires the timers of POST streams answered in the request's own task (one_request.py).

A quick request needs no task of its own to watch its stream; only a handler still running when its timer is
due gets one. So a timer costs a list entry, not a task and a cancel scope. Due times are rounded up to GRAIN:
the timers of many requests share one bucket and fire in one wake-up, and a timer cancelled before it is due is
dropped when it is.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import trio

from .._tasks import guarded_call

GRAIN = 0.025


class Timer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class StreamTimers:
    def __init__(self) -> None:
        self._dues: list[float] = []  # a heap of the buckets' due times
        self._buckets: dict[float, list[Timer]] = {}  # each in the order its timers were set
        self._sleep: trio.CancelScope | None = None
        self.running = False

    def call_at(self, due: float, callback: Callable[[], object]) -> Timer:
        """`callback()` in the timers' task at `due` (trio time, rounded up to GRAIN) unless cancelled first;
        only while `running` (else the caller must watch its stream itself)."""
        due = math.ceil(due / GRAIN) * GRAIN
        timer = Timer(callback)
        bucket = self._buckets.get(due)
        if bucket is None:
            self._buckets[due] = bucket = []
            heapq.heappush(self._dues, due)
            if self._sleep is not None and due < self._sleep.deadline:
                self._sleep.deadline = due
        bucket.append(timer)
        return timer

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._buckets.values())

    def _fire(self, timers: list[Timer]) -> None:
        for timer in timers:
            if not timer.cancelled:
                guarded_call("a stream timer", timer.callback)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.running = True
        task_status.started()
        try:
            while True:
                now = trio.current_time()
                while self._dues and self._dues[0] <= now:
                    self._fire(self._buckets.pop(heapq.heappop(self._dues)))
                with trio.CancelScope(deadline=self._dues[0] if self._dues else math.inf) as self._sleep:
                    await trio.sleep_forever()
                self._sleep = None
        finally:
            self.running = False
            self._sleep = None
            buckets = [self._buckets[due] for due in sorted(self._dues)]
            self._dues.clear()
            self._buckets.clear()
            for bucket in buckets:  # a request still waiting on one watches its stream from now on
                self._fire(bucket)
