"""The cyclic garbage collector's first threshold while an app runs (the `gc_threshold` knob).

CPython starts a young collection every 700 net allocations, and each object that survives two of them counts
towards a full collection, which walks every tracked object of the process. A server holding thousands of
sessions and streams has millions of them (about 190 per held GET stream: its tasks, cancel scopes, frames),
and a fan-out to every stream keeps thousands of writers' objects alive across many young collections at once:
with 10,000 streams one `tools/list_changed` set off a ~1 s full collection, doubling its delivery time.
A larger first threshold lets the short-lived objects of a request or a delivery die before they are counted
(docs/capacity.md). It is process-wide state: apps in one process share one raise, and the last one to stop
puts back what was there before the first.
"""

from __future__ import annotations

import gc
from collections.abc import Generator
from contextlib import contextmanager

_holders = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def raised_gc_threshold(threshold: int) -> Generator[None]:
    """While inside, the first GC threshold is at least `threshold` (0: leave it as it is)."""
    global _holders, _saved
    if threshold <= 0:
        yield
        return
    if _holders == 0:
        _saved = gc.get_threshold()
    _holders += 1
    current = gc.get_threshold()
    if current[0] < threshold:
        gc.set_threshold(threshold, current[1], current[2])
    try:
        yield
    finally:
        _holders -= 1
        if _holders == 0 and _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None
