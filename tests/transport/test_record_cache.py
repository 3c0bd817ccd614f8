"""RecordCache (trio_mcp/_transport/record_cache.py): active records reused for `ttl` seconds on the clock it
is given, pending ones never, at most `size` entries (the oldest tenth dropped past that)."""

from __future__ import annotations

import attrs
import pytest

from trio_mcp._stores._base import SessionRecord, SessionStatus
from trio_mcp._transport.record_cache import RecordCache


@attrs.define
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def record(session_id: str, status: SessionStatus = "active") -> SessionRecord:
    return SessionRecord(session_id=session_id, status=status)


def cache_of(ttl: float = 10.0, size: int = 100) -> tuple[RecordCache, FakeClock]:
    clock = FakeClock()
    return RecordCache(ttl, size=size, clock=clock), clock


def filled(count: int, ttl: float = 100.0, size: int | None = None) -> tuple[RecordCache, FakeClock]:
    """A cache of `size` (default: `count`) holding records s0, s1... remembered one second apart."""
    cache, clock = cache_of(ttl, count if size is None else size)
    for n in range(count):
        clock.now = float(n)
        cache.remember(record(f"s{n}"))
    return cache, clock


def test_a_record_is_served_while_younger_than_the_ttl() -> None:
    cache, clock = cache_of(ttl=10.0)
    stored = record("s")
    cache.remember(stored)
    clock.now = 9.99
    assert cache.get("s") is stored


@pytest.mark.parametrize("age", [10.0, 25.0])
def test_a_record_is_a_miss_once_its_age_reaches_the_ttl(age: float) -> None:
    cache, clock = cache_of(ttl=10.0)
    cache.remember(record("s"))
    clock.now = age
    assert cache.get("s") is None


def test_an_unknown_session_is_a_miss() -> None:
    cache, _ = cache_of()
    cache.remember(record("s"))
    assert cache.get("other") is None


def test_pending_records_are_never_cached() -> None:
    cache, _ = cache_of()
    cache.remember(record("s", "pending"))
    assert cache.get("s") is None
    assert len(cache) == 0


def test_a_ttl_of_zero_disables_the_cache() -> None:
    cache, _ = cache_of(ttl=0.0)
    assert not cache.enabled
    cache.remember(record("s"))
    assert len(cache) == 0
    assert cache.get("s") is None
    assert cache_of(ttl=0.5)[0].enabled


def test_the_record_past_the_bound_drops_the_oldest_tenth() -> None:
    cache, clock = filled(10)
    clock.now = 10.0
    cache.remember(record("s10"))
    assert len(cache) == 10
    assert cache.get("s0") is None
    assert all(cache.get(f"s{n}") is not None for n in range(1, 11))


def test_a_large_cache_drops_a_tenth_of_its_size_at_once() -> None:
    cache, clock = filled(50)
    clock.now = 50.0
    cache.remember(record("s50"))
    assert len(cache) == 46
    assert [n for n in range(51) if cache.get(f"s{n}") is None] == [0, 1, 2, 3, 4]


def test_remembering_a_record_again_refreshes_its_age_and_position() -> None:
    cache, clock = filled(9, ttl=100.0, size=10)
    clock.now = 9.0
    newer = record("s0")
    cache.remember(newer)
    assert cache.get("s0") is newer
    cache.remember(record("s9"))
    clock.now = 10.0
    cache.remember(record("s10"))
    assert cache.get("s0") is newer
    assert cache.get("s1") is None
    clock.now = 105.0
    assert cache.get("s0") is newer
    assert cache.get("s5") is None


def test_refreshing_a_cached_record_at_the_bound_evicts_nothing() -> None:
    cache, clock = filled(10)
    clock.now = 10.0
    cache.remember(record("s5"))
    assert len(cache) == 10
    assert cache.get("s0") is not None


def test_forget_drops_a_record() -> None:
    cache, _ = cache_of()
    cache.remember(record("s"))
    cache.remember(record("t"))
    cache.forget("s")
    cache.forget("never-cached")
    assert cache.get("s") is None
    assert cache.get("t") is not None
    assert len(cache) == 1
