"""check_event_store: ONE conformance kit for every EventStore backend (memory, Redis, yours).

Usage (pytest-trio)::

    import itertools
    from contextlib import asynccontextmanager
    from trio_mcp._streams.event_kit import check_event_store
    from trio_mcp._streams.event_redis import RedisEventStore

    async def test_redis_events(redis_url):
        counter = itertools.count()

        @asynccontextmanager
        async def factory(retention, ttl):
            store = RedisEventStore.from_url(
                redis_url, prefix=f"kit{next(counter)}:", retention=retention, ttl=ttl
            )
            async with store:
                yield store

        await check_event_store(factory)

``factory(retention, ttl)`` returns an async context manager (a store that is one itself, or an
``@asynccontextmanager`` that yields one) producing a **fresh, empty, open** store that keeps ``retention``
events per log and lets a log live ``ttl`` seconds. The kit calls it once per section with
:data:`KIT_RETENTION` and :data:`KIT_TTL`, one store open at a time.

Sections: basics, round trip (entries recorded in several calls read back exactly, in order, with
``ended``/``owner``/``last_seq``/``prime``), gone (unknown stream, unknown session, an id past an ended log's end, an
empty record; an id past the end of an open log reads as nothing yet: :class:`~.events.EventsGone`), retention (the last ``retention`` events always readable, older ids
gone, a bounded log), order (a seq not after the log's last is refused with ValueError and nothing is
written), sessions (one stream id in two sessions: two logs), delete (only that session's logs go) and wait
(at once when entries follow, not before the timeout when none do, soon after another task records).

Retention may be approximate: a Redis stream trimmed with ``MAXLEN ~`` drops whole nodes of up to 100
entries, so the kit accepts a log keeping up to :data:`RETENTION_SLACK` more than ``retention`` and records
:data:`RETENTION_ENTRIES` (more than both) to see trimming happen. It finds what was kept through ``after()``
only.

Timing: every wait is bounded (:data:`WAIT`), and the timed checks only rely on time having passed at least as
long as asked, never on it passing quickly (what must happen "at once" gets :data:`WAIT` seconds). Run it in a
normal trio test, not under ``autojump_clock`` (a Redis backend waits on sockets).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager

import attrs
import trio

from .events import EventLog, EventsGone, EventStore, StoredEvent

EventStoreFactory = Callable[[int, float], AbstractAsyncContextManager[EventStore]]

KIT_RETENTION = 5  # the events each log keeps
KIT_TTL = 60.0  # never reached while the kit runs
RETENTION_SLACK = 200  # how many events more than KIT_RETENTION a log may keep (approximate trimming)
RETENTION_ENTRIES = 300  # recorded by the retention section: more than KIT_RETENTION + RETENTION_SLACK
WAIT = 5.0  # the longest the kit waits for anything
SHORT_TIMEOUT = 0.3  # the timeout of a wait() that nothing ends early
SETTLE = 0.1  # lets a started waiter reach its wait before the kit records

__all__ = [
    "KIT_RETENTION",
    "KIT_TTL",
    "RETENTION_ENTRIES",
    "RETENTION_SLACK",
    "WAIT",
    "EventStoreFactory",
    "check_event_store",
]

PRIME = b'{"requests":[1,"two"]}'


def _prime(seq: int = 1) -> StoredEvent:
    return StoredEvent(seq=seq, kind="prime", payload=PRIME)


def _message(seq: int, payload: bytes | None = None) -> StoredEvent:
    if payload is None:
        params = f'{{"seq":{seq},"data":"é✓ ключ"}}'  # non-ASCII: payloads are UTF-8 JSON, kept byte for byte
        payload = f'{{"jsonrpc":"2.0","method":"notifications/message","params":{params}}}'.encode()
    return StoredEvent(seq=seq, kind="message", payload=payload)


def _end(seq: int) -> StoredEvent:
    return StoredEvent(seq=seq, kind="end")


def _seqs(events: Sequence[StoredEvent]) -> list[int]:
    return [event.seq for event in events]


@attrs.frozen
class _Tail:
    """What after() says of the log beyond its events."""

    ended: bool
    owner: str
    last_seq: int
    prime: bytes | None = PRIME


class _Section:
    def __init__(self, name: str, store: EventStore) -> None:
        self.name = name
        self.store = store

    def fail(self, message: str) -> AssertionError:
        return AssertionError(f"[{type(self.store).__name__} / {self.name}] {message}")

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            raise self.fail(message)

    async def read(self, session_id: str, stream_id: str, seq: int) -> EventLog:
        try:
            return await self.store.after(session_id, stream_id, seq)
        except EventsGone as exc:
            raise self.fail(f"after({session_id!r}, {stream_id!r}, {seq}) raised EventsGone: {exc}") from None

    async def readable(self, session_id: str, stream_id: str, seq: int) -> bool:
        try:
            await self.store.after(session_id, stream_id, seq)
        except EventsGone:
            return False
        return True

    async def expect(
        self,
        session_id: str,
        stream_id: str,
        seq: int,
        events: Sequence[StoredEvent],
        tail: _Tail,
    ) -> None:
        """after(seq) returns exactly `events`, and the log's state is `tail`."""
        ended, owner, last_seq, prime = tail.ended, tail.owner, tail.last_seq, tail.prime
        log = await self.read(session_id, stream_id, seq)
        what = f"after({session_id!r}, {stream_id!r}, {seq})"
        self.check(
            log.events == list(events),
            f"{what} returned the events {_seqs(log.events)}, expected {_seqs(events)}"
            + ("" if _seqs(log.events) != _seqs(events) else " (same seqs, different kinds or payloads)"),
        )
        self.check(log.ended == ended, f"{what}.ended is {log.ended}, expected {ended}")
        self.check(log.owner == owner, f"{what}.owner is {log.owner!r}, expected {owner!r}")
        self.check(log.last_seq == last_seq, f"{what}.last_seq is {log.last_seq}, expected {last_seq}")
        self.check(log.prime == prime, f"{what}.prime is {log.prime!r}, expected {prime!r}")

    async def gone(self, session_id: str, stream_id: str, seq: int, why: str, *, says: str = "") -> None:
        try:
            log = await self.store.after(session_id, stream_id, seq)
        except EventsGone as exc:
            self.check(
                says in str(exc),
                f"after({session_id!r}, {stream_id!r}, {seq}) ({why}) raised EventsGone({str(exc)!r}), "
                f"whose message does not say {says!r}",
            )
            return
        raise self.fail(
            f"after({session_id!r}, {stream_id!r}, {seq}) ({why}) did not raise EventsGone; it returned {log!r}"
        )

    async def refused(
        self, session_id: str, stream_id: str, entries: Sequence[StoredEvent], why: str
    ) -> None:
        try:
            await self.store.record(session_id, stream_id, entries, owner="kit")
        except ValueError:
            return
        except Exception as exc:
            raise self.fail(
                f"record() of {why} raised {type(exc).__name__}({exc}), expected ValueError"
            ) from exc
        raise self.fail(f"record() of {why} (seqs {_seqs(entries)}) was accepted, expected ValueError")


async def _basics(s: _Section) -> None:
    s.check(isinstance(s.store, EventStore), "does not implement the EventStore protocol")
    s.check(
        s.store.retention == KIT_RETENTION,
        f"store.retention is {s.store.retention!r}, expected the factory's {KIT_RETENTION}",
    )


async def _round_trip(s: _Section) -> None:
    store = s.store
    big = ('{"result":"' + "ünïcode ✓ " * 6_000 + '"}').encode()
    unicode, empty, large = _message(2), _message(3, b""), _message(4, big)
    await store.record("rt", "s1", [_prime(), unicode, empty], owner="instance-a")
    open_tail = _Tail(ended=False, owner="instance-a", last_seq=3)
    await s.expect("rt", "s1", 0, [unicode, empty], open_tail)
    await s.expect("rt", "s1", 1, [unicode, empty], open_tail)
    await s.expect("rt", "s1", 2, [empty], open_tail)
    await s.expect("rt", "s1", 3, [], open_tail)

    # A second call appends (another owner: the last writer is the owner); the end marker is not an event.
    await store.record("rt", "s1", [large, _end(5)], owner="instance-b")
    ended = _Tail(ended=True, owner="instance-b", last_seq=5)
    await s.expect("rt", "s1", 0, [unicode, empty, large], ended)
    await s.expect("rt", "s1", 3, [large], ended)
    await s.expect("rt", "s1", 4, [], ended)
    await s.expect("rt", "s1", 5, [], ended)

    # A stream without a priming entry has no prime.
    await store.record("rt", "s2", [_message(1)], owner="instance-a")
    await s.expect(
        "rt", "s2", 0, [_message(1)], _Tail(ended=False, owner="instance-a", last_seq=1, prime=None)
    )


async def _gone(s: _Section) -> None:
    store = s.store
    await s.gone("nobody", "nothing", 0, "an unknown session and stream")
    await store.record("g", "s1", [_prime(), _message(2)], owner="kit")
    await s.gone("g", "s2", 0, "an unknown stream of a known session")
    await s.gone("other", "s1", 0, "a stream id known only in another session")
    # An id past the end of a log still open: sent before it was recorded, the stream goes on after it.
    open_tail = _Tail(ended=False, owner="kit", last_seq=3)
    await s.expect("g", "s1", 3, [], open_tail)
    await s.expect("g", "s1", 100, [], attrs.evolve(open_tail, last_seq=100))
    await store.record("g", "s1", [_end(3)], owner="kit")
    await s.gone("g", "s1", 4, "an id after the end of an ended log", says="never sent")
    await s.gone("g", "s1", 100, "an id long after the end of an ended log", says="never sent")
    await store.record("g", "empty", [], owner="kit")
    await s.gone("g", "empty", 0, "a stream recorded with no entries")


async def _retention(s: _Section) -> None:
    store = s.store
    total = RETENTION_ENTRIES
    entries = [_prime(), *(_message(seq) for seq in range(2, total + 1))]
    for start in range(0, total, 100):
        await store.record("r", "s1", entries[start : start + 100], owner="kit")

    # The last `retention` events are always there.
    newest = total - KIT_RETENTION
    log = await s.read("r", "s1", newest)
    expected = list(range(newest + 1, total + 1))
    s.check(
        _seqs(log.events) == expected, f"after({newest}) returned {_seqs(log.events)}, expected {expected}"
    )
    s.check(
        not await s.readable("r", "s1", 0),
        f"after(0) still works after {total} events with retention {KIT_RETENTION}: nothing was trimmed",
    )

    # The oldest readable id, by bisection (readable ids are exactly those from the first kept one - 1 on).
    low, high = 0, newest  # after(low) is gone, after(high) works
    while high - low > 1:
        middle = (low + high) // 2
        if await s.readable("r", "s1", middle):
            high = middle
        else:
            low = middle
    kept = total - high
    s.check(
        kept <= KIT_RETENTION + RETENTION_SLACK,
        f"the log keeps {kept} events with retention {KIT_RETENTION} (at most {KIT_RETENTION + RETENTION_SLACK} "
        "allowed): it is not bounded",
    )
    log = await s.read("r", "s1", high)
    expected = list(range(high + 1, total + 1))
    s.check(
        _seqs(log.events) == expected,
        f"after({high}), the oldest readable id, returned {_seqs(log.events)[:5]}... ({len(log.events)} events), "
        f"expected {high + 1}..{total}",
    )
    s.check(log.prime is None, f"the priming entry was trimmed, yet after({high}).prime is {log.prime!r}")
    s.check(log.last_seq == total, f"after({high}).last_seq is {log.last_seq}, expected {total}")
    await s.gone("r", "s1", high - 1, "the id before the oldest kept one", says="no longer available")
    await s.gone("r", "s1", 1, "the priming id, trimmed", says="no longer available")


async def _order(s: _Section) -> None:
    store = s.store
    await store.record("o", "s1", [_prime(), _message(2), _message(3)], owner="kit")
    await s.refused("o", "s1", [_message(3)], "the last seq again")
    await s.refused("o", "s1", [_message(2)], "a seq before the last one")
    await s.refused("o", "s1", [_message(3), _message(4)], "a call starting at the last seq")
    await s.expect("o", "s1", 0, [_message(2), _message(3)], _Tail(ended=False, owner="kit", last_seq=3))
    await store.record("o", "s1", [_message(4)], owner="kit")
    await s.expect("o", "s1", 3, [_message(4)], _Tail(ended=False, owner="kit", last_seq=4))


async def _sessions(s: _Section) -> None:
    store = s.store
    alice = [_prime(), _message(2, b'{"for":"alice"}'), _message(3, b'{"for":"alice","n":2}')]
    bob = [_prime(), _message(2, b'{"for":"bob"}')]
    await store.record("alice", "shared", alice, owner="instance-a")
    await store.record("bob", "shared", bob, owner="instance-b")
    await s.expect("alice", "shared", 0, alice[1:], _Tail(ended=False, owner="instance-a", last_seq=3))
    await s.expect("bob", "shared", 0, bob[1:], _Tail(ended=False, owner="instance-b", last_seq=2))
    # Each session's log has its own sequence: bob's next seq is 3, even though alice already has a 3.
    await store.record("bob", "shared", [_message(3, b'{"for":"bob","n":2}')], owner="instance-b")
    await s.expect("alice", "shared", 2, alice[2:], _Tail(ended=False, owner="instance-a", last_seq=3))
    await s.expect(
        "bob",
        "shared",
        2,
        [_message(3, b'{"for":"bob","n":2}')],
        _Tail(ended=False, owner="instance-b", last_seq=3),
    )


async def _delete(s: _Section) -> None:
    store = s.store
    await store.record("a", "x", [_prime(), _message(2)], owner="kit")
    await store.record("a", "y", [_prime(), _message(2), _end(3)], owner="kit")
    await store.record("b", "x", [_prime(), _message(2)], owner="kit")
    await store.delete_session("a")
    await s.gone("a", "x", 0, "delete_session('a')")
    await s.gone("a", "y", 0, "delete_session('a')")
    await s.expect("b", "x", 0, [_message(2)], _Tail(ended=False, owner="kit", last_seq=2))
    await store.delete_session("a")  # again: nothing left, no error
    await store.delete_session("never-seen")
    # No tombstone: the session's streams can be logged again, from seq 1.
    await store.record("a", "x", [_prime(), _message(2, b'{"again":true}')], owner="kit")
    await s.expect("a", "x", 0, [_message(2, b'{"again":true}')], _Tail(ended=False, owner="kit", last_seq=2))


async def _parked(s: _Section) -> None:
    """park() keeps messages for a standalone stream nobody holds; take_parked() hands them over once."""
    store = s.store
    s.check(await store.take_parked("p") == [], "take_parked() of a session with nothing parked is not []")
    await store.park("p", b'{"n":1}')
    await store.park("p", b'{"n":2}')
    await store.park("q", b'{"other":true}')
    got = await store.take_parked("p")
    s.check(got == [b'{"n":1}', b'{"n":2}'], f"take_parked() returned {got!r}, not the two parked in order")
    s.check(await store.take_parked("p") == [], "take_parked() handed the same messages over twice")
    for n in range(KIT_RETENTION + 3):
        await store.park("r", f'{{"n":{n}}}'.encode())
    kept = await store.take_parked("r")
    expected = [f'{{"n":{n}}}'.encode() for n in range(3, KIT_RETENTION + 3)]
    s.check(kept == expected, f"parked past retention keeps {kept!r}, not the last {KIT_RETENTION}")
    await store.delete_session("q")
    s.check(await store.take_parked("q") == [], "delete_session() left the session's parked messages")


async def _wait(s: _Section) -> None:
    store = s.store
    await store.record("w", "s1", [_prime(), _message(2)], owner="kit")
    long = 10 * WAIT

    for seq in (0, 1):
        with trio.move_on_after(WAIT) as scope:
            await store.wait("w", "s1", seq, long)
        s.check(
            not scope.cancelled_caught,
            f"wait(seq={seq}, timeout={long:g}) with entries after the id did not return within {WAIT:g} s",
        )

    start = trio.current_time()
    with trio.move_on_after(WAIT + SHORT_TIMEOUT) as scope:
        await store.wait("w", "s1", 2, SHORT_TIMEOUT)
    elapsed = trio.current_time() - start
    s.check(
        not scope.cancelled_caught, f"wait(timeout={SHORT_TIMEOUT:g}) did not return within {WAIT:g} s more"
    )
    s.check(
        elapsed >= SHORT_TIMEOUT,
        f"wait(timeout={SHORT_TIMEOUT:g}) with nothing after the id returned after {elapsed:.3f} s",
    )

    # Another task records: the waiter returns long before its timeout.
    returned = early = False

    async def waiter(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal returned
        task_status.started()
        await store.wait("w", "s1", 2, long)
        returned = True

    with trio.move_on_after(WAIT + SETTLE):
        async with trio.open_nursery() as nursery:
            await nursery.start(waiter)
            await trio.sleep(SETTLE)
            early = returned
            await store.record("w", "s1", [_message(3)], owner="kit")
    s.check(not early, f"wait(timeout={long:g}) returned before anything was recorded")
    s.check(
        returned,
        f"wait(timeout={long:g}) did not return within {WAIT:g} s of another task recording an entry",
    )


_SECTIONS: tuple[tuple[str, Callable[[_Section], Awaitable[None]]], ...] = (
    ("basics", _basics),
    ("round trip", _round_trip),
    ("gone", _gone),
    ("retention", _retention),
    ("order", _order),
    ("sessions", _sessions),
    ("delete", _delete),
    ("parked", _parked),
    ("wait", _wait),
)


async def check_event_store(factory: EventStoreFactory) -> None:
    """Run the conformance kit; raises AssertionError naming the backend, the section and what differs.

    ``factory(retention, ttl)`` must return an async context manager yielding a fresh, empty, open store that
    uses them (see the module docstring). Takes well under a second on a healthy backend.
    """
    for name, section in _SECTIONS:
        async with factory(KIT_RETENTION, KIT_TTL) as store:
            await section(_Section(name, store))
