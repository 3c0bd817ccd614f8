"""Error boundaries for background tasks: no task in an app-level nursery can take the app down.

A one-shot task (`guarded`) logs its failure with the traceback and ends. A long-lived task (`supervised`:
the stream manager's pump and heartbeat, the session heartbeat) is restarted after a failure with bounded,
jittered exponential backoff, so an instance never keeps answering requests while no longer hearing the
other instances. Cancellation is never caught: the owner's cancel scope still ends every task.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

log = logging.getLogger("trio_mcp.tasks")


@attrs.frozen(kw_only=True)
class Backoff:
    initial: float = 0.05
    maximum: float = 5.0
    #: a run that lasted this long was healthy: the next failure starts the backoff afresh
    reset_after: float = 30.0


async def guarded(name: str, fn: Callable[..., Awaitable[object]], *args: Any) -> None:
    """Run `fn(*args)`; an exception is logged with its traceback instead of cancelling the nursery."""
    try:
        await fn(*args)
    except Exception:
        log.exception("background task %r failed; the app keeps serving", name)


def guarded_call(name: str, fn: Callable[..., object], *args: Any) -> None:
    """The same boundary for a callback run inside another task (a stream manager's pump, a publisher)."""
    try:
        fn(*args)
    except Exception:
        log.exception("%s failed; the app keeps serving", name)


class _StartedOnce:
    """Passes the first `started()` of any run on to the caller's `nursery.start`; later runs' are dropped."""

    def __init__(self, outer: trio.TaskStatus[None]) -> None:
        self._outer = outer
        self.done = False

    def started(self, value: None = None) -> None:
        if not self.done:
            self.done = True
            self._outer.started(value)


async def supervised(
    name: str,
    fn: Callable[..., Awaitable[object]],
    *args: Any,
    backoff: Backoff = Backoff(),
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the long-lived task `fn(*args)` until cancelled, restarting it whenever it fails or returns.

    With `await nursery.start(supervised, name, fn, ...)`, `fn` gets a `task_status` too, and the start
    returns once its first run has started.
    """
    relay = None if task_status is trio.TASK_STATUS_IGNORED else _StartedOnce(task_status)
    delay = backoff.initial
    while True:
        began = trio.current_time()
        try:
            if relay is None:
                await fn(*args)
            else:
                await fn(*args, task_status=relay)
            log.error("background task %r returned; restarting it", name)
        except Exception:
            log.exception("background task %r failed; restarting it", name)
        if trio.current_time() - began >= backoff.reset_after:
            delay = backoff.initial
        await trio.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(delay * 2, backoff.maximum)
