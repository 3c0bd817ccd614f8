"""One task per app that fires the timers of POST streams answered in the request's own task (one_request.py).

A quick request needs no task of its own to watch its stream; only a handler still running when its timer is
due gets one. So a timer costs a list entry, not a task and a cancel scope. Due times are rounded up to GRAIN:
the timers of many requests share one bucket and fire in one wake-up; a bucket whose timers were all cancelled
is dropped without a wake-up (each wake-up is a cancellation delivered to this task, not free).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import trio

from .._tasks import guarded_call

GRAIN = 0.025


class Timer:
    __slots__ = ("_bucket", "callback", "cancelled")

    def __init__(self, callback: Callable[[], object], bucket: _Bucket) -> None:
        self.callback = callback
        self.cancelled = False
        self._bucket = bucket

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._bucket.cancelled_one()


class _Bucket:
    """The timers due at one GRAIN; `live` of them not cancelled. An emptied first bucket is dropped at once,
    so the task wakes only for a timer that fires (quick requests cancel theirs before it is due)."""

    __slots__ = ("live", "timers", "timers_task")

    def __init__(self, timers_task: StreamTimers) -> None:
        self.timers: list[Timer] = []
        self.live = 0
        self.timers_task = timers_task

    def cancelled_one(self) -> None:
        self.live -= 1
        if self.live == 0:
            self.timers_task.emptied()


class StreamTimers:
    def __init__(self) -> None:
        self._dues: list[float] = []  # a heap of the buckets' due times
        self._buckets: dict[float, _Bucket] = {}
        self._sleep: trio.CancelScope | None = None
        self.running = False

    def call_at(self, due: float, callback: Callable[[], object]) -> Timer:
        """`callback()` in the timers' task at `due` (trio time, rounded up to GRAIN) unless cancelled first;
        only while `running` (else the caller must watch its stream itself)."""
        due = math.ceil(due / GRAIN) * GRAIN
        bucket = self._buckets.get(due)
        if bucket is None:
            self._buckets[due] = bucket = _Bucket(self)
            heapq.heappush(self._dues, due)
            self._wake_by(self._dues[0])
        timer = Timer(callback, bucket)
        bucket.timers.append(timer)
        bucket.live += 1
        return timer

    def emptied(self) -> None:
        """A bucket's last live timer was cancelled: sleep to the next bucket with a live one."""
        self._wake_by(self.next_due)

    @property
    def next_due(self) -> float:
        """When the task wakes next: the first bucket with a live timer (empty ones in front are dropped)."""
        while self._dues and self._buckets[self._dues[0]].live == 0:
            del self._buckets[heapq.heappop(self._dues)]
        return self._dues[0] if self._dues else math.inf

    def _wake_by(self, due: float) -> None:
        if self._sleep is not None and self._sleep.deadline != due:
            self._sleep.deadline = due

    def __len__(self) -> int:
        """Timers not yet fired nor cancelled."""
        return sum(bucket.live for bucket in self._buckets.values())

    def _fire(self, bucket: _Bucket) -> None:
        for timer in bucket.timers:
            if not timer.cancelled:
                timer.cancelled = True  # fired: a cancel after this is a no-op
                guarded_call("a stream timer", timer.callback)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.running = True
        task_status.started()
        try:
            while True:
                now = trio.current_time()
                while self._dues and self._dues[0] <= now:
                    self._fire(self._buckets.pop(heapq.heappop(self._dues)))
                with trio.CancelScope(deadline=self.next_due) as self._sleep:
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
