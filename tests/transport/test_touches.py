"""TouchBatch (trio_mcp/_transport/touches.py): requests mark their session; a heartbeat takes the marks (and
the sessions in use) and refreshes them in one store call, keeping them when that call fails."""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import pytest

from trio_mcp._stores._base import StoreUnavailable
from trio_mcp._stores.memory import MemorySessionStore
from trio_mcp._transport.touches import TouchBatch


@attrs.define(eq=False)
class TouchLog(MemorySessionStore):
    """A store that records each `touch` call (its ids sorted) and fails them while `failing`."""

    calls: list[list[str]] = attrs.field(factory=list[list[str]])
    failing: bool = False

    async def touch(self, session_ids: Iterable[str]) -> None:
        self.calls.append(sorted(session_ids))
        if self.failing:
            raise StoreUnavailable("the store is down")


def marked(*session_ids: str) -> TouchBatch:
    batch = TouchBatch()
    for sid in session_ids:
        batch.mark(sid)
    return batch


def test_take_returns_each_mark_and_session_in_use_once() -> None:
    taken = marked("a", "b", "a").take(in_use=["b", "c"])
    assert sorted(taken) == ["a", "b", "c"]
    assert len(taken) == 3


def test_take_clears_the_marks_but_not_what_is_in_use() -> None:
    batch = marked("a")
    batch.take(in_use=["c"])
    assert batch.take() == []
    assert batch.take(in_use=["c"]) == ["c"]


def test_discard_removes_a_mark() -> None:
    batch = marked("a", "b")
    batch.discard("a")
    batch.discard("never-marked")
    assert batch.take() == ["b"]


async def test_flush_touches_everything_taken_in_one_call() -> None:
    store = TouchLog()
    batch = marked("a", "b")
    await batch.flush(store, in_use=["c"])
    assert store.calls == [["a", "b", "c"]]
    await batch.flush(store)
    assert store.calls == [["a", "b", "c"]]


async def test_flush_with_nothing_taken_calls_no_store() -> None:
    store = TouchLog()
    await TouchBatch().flush(store, in_use=[])
    assert store.calls == []


async def test_a_failed_flush_raises_and_keeps_the_marks_for_the_next() -> None:
    store = TouchLog(failing=True)
    batch = marked("a")
    with pytest.raises(StoreUnavailable):
        await batch.flush(store, in_use=["c"])
    store.failing = False
    batch.mark("d")
    await batch.flush(store)
    assert store.calls == [["a", "c"], ["a", "c", "d"]]
    assert batch.take() == []
