"""check_session_store: ONE conformance kit for every SessionStore backend (memory, file, Redis, yours).

Usage (pytest-trio)::

    from contextlib import asynccontextmanager
    from trio_mcp.testing import check_session_store

    async def test_my_store(tmp_path):
        n = 0

        def factory(policy, clock):
            nonlocal n
            n += 1
            return FileSessionStore(tmp_path / f"kit-{n}.json", policy=policy, clock=clock)

        await check_session_store(factory)

``factory(policy, clock)`` returns an async context manager (a store that is one itself, or an
``@asynccontextmanager`` that yields one) producing a **fresh, empty** store that uses the given
:class:`ExpiryPolicy` and wall clock. The kit calls it once per section, one store open at a time.

Timing: TTL checks use short real TTLs and ONE ``trio.sleep`` (about 1 s in all), because the three built-in
backends keep time three ways (trio clock, injectable wall clock, the Redis server's clock). Every timed
assertion only relies on time having passed at least as long as slept, never on it passing quickly, so a
loaded machine cannot make the kit fail spuriously. Run it in a normal (not ``autojump_clock``) trio test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import attrs
import trio

from .._proto import types as t
from ._base import Clock, ExpiryPolicy, SessionRecord, SessionStore, wall_clock

StoreFactory = Callable[[ExpiryPolicy, Clock], AbstractAsyncContextManager[SessionStore]]

SHORT_TTL = 1.0  # the pending timeout and the explicit short TTLs of the expiry section
LONG_TTL = 120.0  # the idle timeout: never reached while the kit runs
SLEEP = SHORT_TTL + 0.5  # the checks before it run in well under SHORT_TTL, even on a loaded machine
KIT_POLICY = ExpiryPolicy(idle_timeout=LONG_TTL, pending_timeout=SHORT_TTL)

__all__ = ["KIT_POLICY", "StoreFactory", "check_session_store", "full_record"]


class _Section:
    def __init__(self, name: str, store: SessionStore) -> None:
        self.name = name
        self.store = store

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            raise AssertionError(f"[{type(self.store).__name__} / {self.name}] {message}")

    async def ids(self) -> list[str]:
        found = [sid async for sid in self.store.keys()]  # noqa: SIM118 (a store, not a dict)
        self.check(len(found) == len(set(found)), f"keys() yielded duplicates: {sorted(found)}")
        return sorted(found)

    async def expect_present(self, record: SessionRecord) -> None:
        sid = record.session_id
        got = await self.store.get(sid)
        self.check(got is not None, f"get({sid!r}) returned None for a live session")
        self.check(
            got == record,
            f"get({sid!r}) differs from what was stored:\n  stored {record!r}\n  got    {got!r}",
        )
        self.check(await self.store.has(sid), f"has({sid!r}) is False for a live session")

    async def expect_absent(self, sid: str, why: str) -> None:
        got = await self.store.get(sid)
        self.check(got is None, f"get({sid!r}) returned a record after {why}: {got!r}")
        self.check(not await self.store.has(sid), f"has({sid!r}) is True after {why}")
        self.check(sid not in await self.ids(), f"keys() still yields {sid!r} after {why}")


def full_record(
    session_id: str, *, principal: str | None = "alice", token: str | int | None = 7
) -> SessionRecord:
    """A record with every field set to a non-default value (the round-trip check)."""
    return SessionRecord(
        session_id=session_id,
        principal=principal,
        client_id="kit-oauth-client",
        status="active",
        protocol_version="2025-11-25",
        client_capabilities=t.ClientCapabilities(
            experimental={"x-trio-mcp": {"flag": True, "level": 3, "names": ["a", "b"]}},
            roots=t.RootsCapability(list_changed=True),
            sampling=t.SamplingCapability(context={}, tools={}),
            elicitation=t.ElicitationCapability(form={}, url={}),
            tasks={"requests": {"tools": {"call": {}}}},
        ),
        client_info=t.Implementation(
            name="kit-client",
            version="1.2.3",
            title="Conformance kit client",
            description="exercises every field",
            website_url="https://example.com/kit",
            icons=[
                t.Icon(
                    src="https://example.com/icon.png", mime_type="image/png", sizes=["48x48"], theme="light"
                ),
                t.Icon(src="data:image/svg+xml;base64,PHN2Zy8+", sizes=["any"], theme="dark"),
            ],
        ),
        log_level="debug",
        subscriptions=["file:///a.txt", "weather://oslo/today", "ünïcode://ключ"],
        last_progress_token=token,
        created_at=1_700_000_000.123456,
        last_accessed_at=1_700_000_123.654321,
        transport="websocket",
    )


def _minimal(session_id: str, **changes: Any) -> SessionRecord:
    return SessionRecord(session_id=session_id, **changes)


async def _basics(s: _Section) -> None:
    store = s.store
    missing = [name for name in _PROTOCOL_METHODS if not callable(getattr(store, name, None))]
    s.check(not missing, f"does not implement the SessionStore protocol: no {', '.join(missing)}")
    s.check(isinstance(store, SessionStore), "does not implement the SessionStore protocol")
    s.check(
        store.policy == KIT_POLICY, f"store.policy is {store.policy!r}, expected the factory's {KIT_POLICY!r}"
    )
    s.check(await store.get("nope") is None, "get() of an unknown id is not None")
    s.check(not await store.has("nope"), "has() of an unknown id is True")
    s.check(not await store.delete("nope"), "delete() of an unknown id returned True")
    await store.touch([])
    await store.touch(["nope"])
    s.check(not await store.has("nope"), "touch() created a record for an unknown id")

    a, b = _minimal("a", status="active"), _minimal("b")
    await store.set(a)
    await store.set(b)
    await s.expect_present(a)
    await s.expect_present(b)
    s.check(await s.ids() == ["a", "b"], f"keys() yields {await s.ids()}, expected ['a', 'b']")
    s.check(await store.count() == 2, f"count() is {await store.count()}, expected 2")

    # Replacing keeps one entry and returns the new version.
    a2 = attrs.evolve(a, log_level="warning", subscriptions=["x://1"])
    await store.set(a2)
    await s.expect_present(a2)
    s.check(
        await store.count() == 2, f"count() is {await store.count()} after replacing a record, expected 2"
    )

    # The store keeps its own copy: later changes to the caller's object do not leak in.
    c = _minimal("c", subscriptions=["x://c"])
    await store.set(c)
    c.subscriptions.append("x://changed-later")
    c.log_level = "error"
    got = await store.get("c")
    s.check(
        got is not None and got.subscriptions == ["x://c"] and got.log_level is None,
        f"the stored record changed with the caller's object: {got!r}",
    )


async def _get_many(s: _Section) -> None:
    store = s.store
    s.check(await store.get_many([]) == {}, "get_many([]) is not {}")
    records = [full_record(f"many{n}", principal=None) for n in range(3)]
    for record in records:
        await store.set(record)
    got = await store.get_many(["many2", "unknown", "many0", "many0"])
    s.check(
        got == {"many2": records[2], "many0": records[0]},
        f"get_many returned {got!r}, expected the records of the live ids asked for: many0 and many2",
    )
    many = [f"bulk{n}" for n in range(1200)]  # more than one MGET chunk on Redis
    for sid in many:
        await store.set(_minimal(sid, status="active"))
    bulk = await store.get_many(many)
    s.check(sorted(bulk) == sorted(many), f"get_many of 1200 live ids returned {len(bulk)} records")
    s.check(all(bulk[sid].session_id == sid for sid in many), "get_many returned a record under another id")


async def _round_trip(s: _Section) -> None:
    records = [
        full_record("full-int", token=7),
        full_record("full-str", token="progress-token-é"),
        full_record("full-none", principal=None, token=None),
        full_record("full-zero", token=0),
        _minimal("minimal"),
        _minimal("sid with spaces/and:colons*?[]", principal="user:with:colons*"),
    ]
    for record in records:
        await s.store.set(record)
    for record in records:
        await s.expect_present(record)
        got = await s.store.get(record.session_id)
        assert got is not None
        s.check(
            type(got.last_progress_token) is type(record.last_progress_token),
            f"last_progress_token {record.last_progress_token!r} came back as {got.last_progress_token!r}",
        )
        s.check(got.schema_version == record.schema_version, "schema_version changed in a round trip")
    expected = sorted(r.session_id for r in records)
    s.check(await s.ids() == expected, f"keys() yields {await s.ids()}, expected {expected}")


async def _delete(s: _Section) -> None:
    store = s.store
    record = full_record("gone", principal="dora")
    keep = full_record("kept", principal="dora")
    await store.set(record)
    await store.set(keep)
    await s.expect_present(record)
    s.check(await store.delete("gone"), "delete() of a live session returned False")
    await s.expect_absent("gone", "delete()")
    s.check(
        await store.count() == 1, f"count() is {await store.count()} after deleting one of two, expected 1"
    )
    users = await store.list_for_user("dora")
    s.check(users == ["kept"], f"list_for_user('dora') is {users} after delete, expected ['kept']")
    await store.touch(["gone", "kept"])
    await s.expect_absent("gone", "delete() and a touch()")
    s.check(not await store.delete("gone"), "a second delete() returned True")
    # No tombstone: the id can be used again.
    await store.set(record)
    await s.expect_present(record)


async def _activate(s: _Section) -> None:
    """`notifications/initialized`: pending turns active for the session's own principal only."""
    store = s.store
    record = _minimal("init", principal="hal", created_at=1_700_000_000.25)
    await store.set(record)
    refused = await store.activate("init", "mallory")
    s.check(refused is None, f"activate() for another principal returned {refused!r}")
    s.check(await store.activate("init", None) is None, "activate() without a principal took hal's session")
    await s.expect_present(record)  # refused: nothing written
    got = await store.activate("init", "hal")
    s.check(got is not None, "activate() of a pending record for its principal returned None")
    assert got is not None
    expected = attrs.evolve(record, status="active", last_accessed_at=got.last_accessed_at)
    s.check(got == expected, f"activate() returned {got!r}, expected {expected!r}")
    s.check(got.last_accessed_at > record.last_accessed_at, "activate() did not refresh the last access")
    await s.expect_present(got)
    again = await store.activate("init", "hal")
    s.check(again is not None and again.status == "active", "a repeated activate() lost the record")
    s.check(await store.activate("missing", "hal") is None, "activate() of an unknown id returned a record")
    s.check(not await store.has("missing"), "activate() created a record for an unknown id")
    await store.set(_minimal("unbound", principal=None))
    unbound = await store.activate("unbound", "anyone")
    s.check(unbound is not None and unbound.status == "active", "activate() of an unbound record failed")
    users = await store.list_for_user("hal")
    s.check(users == ["init"], f"list_for_user('hal') is {users} after activate(), expected ['init']")


async def _users(s: _Section) -> None:
    store = s.store
    for sid, principal in (("a1", "alice"), ("a2", "alice"), ("b1", "bob"), ("n1", None), ("c1", "alice:x")):
        await store.set(full_record(sid, principal=principal))
    checks = {"alice": ["a1", "a2"], "bob": ["b1"], "alice:x": ["c1"], "nobody": [], "": []}
    for principal, expected in checks.items():
        got = sorted(await store.list_for_user(principal))
        s.check(got == expected, f"list_for_user({principal!r}) is {got}, expected {expected}")
    s.check(await store.count() == 5, f"count() is {await store.count()}, expected 5")


async def _touch(s: _Section) -> None:
    store = s.store
    record = full_record("touched")
    other = full_record("untouched", principal="erin")
    await store.set(record)
    await store.set(other)
    before = wall_clock()
    await store.touch(["touched", "touched", "missing"])
    after = wall_clock()
    got = await store.get("touched")
    s.check(got is not None, "touch() lost the record")
    assert got is not None
    s.check(
        before <= got.last_accessed_at <= after,
        f"touch() did not set last_accessed_at to the clock: {got.last_accessed_at!r} not in [{before}, {after}]",
    )
    s.check(
        attrs.evolve(got, last_accessed_at=record.last_accessed_at) == record,
        f"touch() changed more than last_accessed_at:\n  stored {record!r}\n  got    {got!r}",
    )
    await s.expect_present(other)
    s.check(not await store.has("missing"), "touch() created a record for an unknown id")


async def _clear(s: _Section) -> None:
    store = s.store
    for i in range(5):
        await store.set(full_record(f"c{i}", principal="frank"))
    await store.clear()
    s.check(await s.ids() == [], f"keys() yields {await s.ids()} after clear()")
    s.check(await store.count() == 0, f"count() is {await store.count()} after clear()")
    s.check(await store.list_for_user("frank") == [], "list_for_user() is not empty after clear()")
    await s.expect_absent("c0", "clear()")
    await store.set(full_record("after-clear"))
    await s.expect_present(full_record("after-clear"))


async def _expiry(s: _Section) -> None:
    """Pending vs active TTLs, explicit TTLs, touch extending (or shortening) life: one sleep for all."""
    store = s.store
    short_lived = {
        "pending": _minimal("pending", principal="gus"),  # policy: pending_timeout
        "explicit-short": _minimal("explicit-short", status="active", principal="gus"),
        "pending-touched": _minimal("pending-touched", principal="gus"),  # explicit long TTL, then touch
    }
    long_lived = {
        "active": _minimal("active", status="active", principal="gus"),  # policy: idle_timeout
        "explicit-long": _minimal("explicit-long", principal="gus"),  # pending with an explicit long TTL
        "active-touched": _minimal("active-touched", status="active", principal="gus"),  # short TTL, touched
        "promoted": _minimal("promoted", principal="gus"),  # set pending, then set again active
        "activated": _minimal("activated", principal="gus"),  # set pending, then activate()
    }
    await store.set(short_lived["pending"])
    await store.set(short_lived["explicit-short"], ttl=SHORT_TTL)
    await store.set(short_lived["pending-touched"], ttl=LONG_TTL)
    await store.set(long_lived["active"])
    await store.set(long_lived["explicit-long"], ttl=LONG_TTL)
    await store.set(long_lived["active-touched"], ttl=SHORT_TTL)
    await store.set(long_lived["promoted"])
    long_lived["promoted"] = attrs.evolve(long_lived["promoted"], status="active")
    await store.set(long_lived["promoted"])
    await store.set(long_lived["activated"])
    activated = await store.activate("activated", "gus")
    s.check(activated is not None, "activate() of a pending record returned None")
    assert activated is not None
    long_lived["activated"] = activated
    await store.touch(["pending-touched", "active-touched"])

    everything = sorted([*short_lived, *long_lived])
    present = await s.ids()
    s.check(present == everything, f"right after set(), keys() yields {present}, expected {everything}")
    s.check(await store.count() == 8, f"right after set(), count() is {await store.count()}, expected 8")

    await trio.sleep(SLEEP)

    # First, before any read sweeps them: the expired ones go now, and nothing live goes with them. (A
    # backend that drops expired records by itself may have fewer left to remove.)
    removed = await store.cleanup_expired()
    s.check(
        isinstance(removed, int) and 0 <= removed <= len(short_lived),
        f"cleanup_expired() returned {removed!r}: expected the number of expired sessions it removed, "
        f"between 0 and {len(short_lived)}",
    )
    again = await store.cleanup_expired()
    s.check(again == 0, f"a second cleanup_expired() right after the first returned {again!r}, expected 0")

    reasons = {
        "pending": f"a pending record outlived pending_timeout ({SHORT_TTL} s)",
        "explicit-short": f"a record set with ttl={SHORT_TTL} outlived it",
        "pending-touched": "touch() of a pending record must reset its TTL to pending_timeout",
    }
    many = await store.get_many([*short_lived, *long_lived])
    s.check(
        sorted(many) == sorted(long_lived),
        f"after expiry get_many of every id returns {sorted(many)}, expected {sorted(long_lived)}",
    )
    for sid in short_lived:
        got = await store.get(sid)
        s.check(got is None, f"{reasons[sid]}: get({sid!r}) still returns it")
        s.check(not await store.has(sid), f"{reasons[sid]}: has({sid!r}) is still True")
    alive_reasons = {
        "active": "an active record must live for idle_timeout",
        "explicit-long": "an explicit ttl must override the pending timeout",
        "active-touched": "touch() of an active record must extend it to idle_timeout",
        "promoted": "set() of a record that became active must give it the idle timeout",
        "activated": "activate() must give the record the idle timeout",
    }
    for sid, record in long_lived.items():
        got = await store.get(sid)
        s.check(got is not None, f"{alive_reasons[sid]}, but {sid!r} expired after {SLEEP:g} s")
        assert got is not None
        if sid != "active-touched":
            s.check(got == record, f"get({sid!r}) differs from what was stored: {got!r}")
    expected = sorted(long_lived)
    present = await s.ids()
    s.check(present == expected, f"after expiry keys() yields {present}, expected {expected}")
    s.check(await store.count() == 5, f"after expiry count() is {await store.count()}, expected 5")
    users = sorted(await store.list_for_user("gus"))
    s.check(users == expected, f"after expiry list_for_user('gus') is {users}, expected {expected}")
    await store.touch(list(short_lived))
    for sid in short_lived:
        s.check(not await store.has(sid), f"touch() resurrected the expired session {sid!r}")
    # Expired sessions hold no place under the cap: 5 live, so a cap of 6 admits exactly one more.
    s.check(
        await store.create(_minimal("after-expiry"), max_sessions=6),
        "create() counted expired sessions against the cap",
    )
    s.check(not await store.create(_minimal("over"), max_sessions=6), "create() went past the cap")


async def _create(s: _Section) -> None:
    store = s.store
    first = _minimal("c1", principal="ivy", created_at=1_700_000_000.5)
    s.check(await store.create(first, max_sessions=2), "create() under the cap returned False")
    s.check(await store.get("c1") == first, f"create() stored {await store.get('c1')!r}, not {first!r}")
    s.check(await store.list_for_user("ivy") == ["c1"], "create() did not index the record under its user")
    s.check(await store.create(_minimal("c2"), max_sessions=2), "the second create() under a cap of 2 failed")
    s.check(not await store.create(_minimal("c3"), max_sessions=2), "create() at the cap returned True")
    s.check(not await store.has("c3"), "create() at the cap stored the record anyway")
    await store.delete("c1")
    s.check(
        await store.create(_minimal("c3"), max_sessions=2), "create() after a delete freed a place failed"
    )
    await store.clear()
    # Concurrent creates never overshoot: the count and the write are one step.
    admitted: list[str] = []

    async def attempt(n: int) -> None:
        if await store.create(_minimal(f"race{n}"), max_sessions=5):
            admitted.append(f"race{n}")

    async with trio.open_nursery() as nursery:
        for n in range(20):
            nursery.start_soon(attempt, n)
    s.check(len(admitted) == 5, f"20 concurrent create() with a cap of 5 admitted {len(admitted)}")
    s.check(await store.count() == 5, f"after the race count() is {await store.count()}, expected 5")
    s.check(await s.ids() == sorted(admitted), "the admitted records are not exactly the stored ones")


_PROTOCOL_METHODS = (
    "get",
    "get_many",
    "set",
    "delete",
    "has",
    "keys",
    "touch",
    "clear",
    "list_for_user",
    "count",
    "cleanup_expired",
    "create",
    "activate",
)

_SECTIONS: tuple[tuple[str, Callable[[_Section], Awaitable[None]]], ...] = (
    ("basics", _basics),
    ("round trip", _round_trip),
    ("get_many", _get_many),
    ("delete", _delete),
    ("list_for_user", _users),
    ("create", _create),
    ("activate", _activate),
    ("touch", _touch),
    ("clear", _clear),
    ("expiry", _expiry),
)


async def check_session_store(factory: StoreFactory) -> None:
    """Run the conformance kit; raises AssertionError naming the backend, the section and what differs.

    ``factory(policy, clock)`` must return an async context manager yielding a fresh, empty store that uses
    ``policy`` and ``clock`` (see the module docstring). Takes about 2 s, most of it one sleep.
    """
    for name, section in _SECTIONS:
        async with factory(KIT_POLICY, wall_clock) as store:
            s = _Section(name, store)
            leftover = await s.ids()
            s.check(not leftover, f"the factory must produce an empty store; it holds {leftover}")
            s.check(
                await store.count() == 0,
                f"the factory must produce an empty store; count() is {await store.count()}",
            )
            await section(s)
