"""check_client_registry: ONE conformance kit for every ClientSessionRegistry backend (memory, file, Redis, yours).

Usage (pytest-trio)::

    from contextlib import asynccontextmanager
    from trio_mcp.testing import check_client_registry

    async def test_my_registry(tmp_path):
        n = 0

        def factory(expiry, clock):
            nonlocal n
            n += 1
            return FileClientRegistry(tmp_path / f"kit-{n}.json", pending_ttl=expiry.pending_ttl,
                                      dormant_age=expiry.dormant_age, clock=clock)

        await check_client_registry(factory)

``factory(expiry, clock)`` returns an async context manager (a registry that is one itself, or an
``@asynccontextmanager`` that yields one) producing a **fresh, empty** registry that uses the given
:class:`ClientSessionExpiry` and wall ``clock``. The kit calls it once per section, one registry open at a time.
Time is the kit's clock, moved forward by hand: nothing sleeps, and a backend that also reclaims space by
itself (Redis key TTLs) is only ever behind it, never ahead.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import attrs
import trio

from ..._stores._base import Clock
from ._base import (
    ClientSessionExists,
    ClientSessionExpiry,
    ClientSessionNotFound,
    ClientSessionRecord,
    ClientSessionRegistry,
)

RegistryFactory = Callable[[ClientSessionExpiry, Clock], AbstractAsyncContextManager[ClientSessionRegistry]]

KIT_EXPIRY = ClientSessionExpiry(pending_ttl=600.0, dormant_age=3600.0)

__all__ = [
    "KIT_EXPIRY",
    "KitClock",
    "RegistryFactory",
    "check_client_registry",
    "http_record",
    "stdio_record",
]


class KitClock:
    """A wall clock that starts now and moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def http_record(session_id: str, user_id: str = "alice", **changes: Any) -> ClientSessionRecord:
    return ClientSessionRecord(
        session_id=session_id,
        user_id=user_id,
        server_id=changes.pop("server_id", "weather"),
        transport=changes.pop("transport", "http"),
        server_url=changes.pop("server_url", "https://mcp.example.com/mcp"),
        **changes,
    )


def stdio_record(session_id: str, user_id: str = "alice", **changes: Any) -> ClientSessionRecord:
    return ClientSessionRecord(
        session_id=session_id,
        user_id=user_id,
        server_id="local-files",
        transport="stdio",
        command=changes.pop("command", "uvx"),
        args=changes.pop("args", ["mcp-server-files", "--root", "/srv/ünï code"]),
        **changes,
    )


# Opaque auth state, as an OAuth client might keep it: nested, unicode, every JSON type.
AUTH: dict[str, Any] = {
    "tokens": {"access_token": "at-ключ-✓", "refresh_token": "rt", "expires_in": 3600, "scope": "a b"},
    "codeVerifier": "v" * 64,
    "state": "st@te/+=",
    "client": {"client_id": "cid", "redirect_uris": ["https://app.example.com/cb"], "secret": None},
    "numbers": [0, -1, 1.5, 1e300, True, False],
    "empty": {"list": [], "object": {}},
}


class _Section:
    def __init__(self, name: str, registry: ClientSessionRegistry, clock: KitClock) -> None:
        self.name = name
        self.registry = registry
        self.clock = clock

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            raise AssertionError(f"[{type(self.registry).__name__} / {self.name}] {message}")

    async def raises(self, kind: type[BaseException], call: Awaitable[object], what: str) -> BaseException:
        try:
            await call
        except kind as exc:
            return exc
        except Exception as exc:
            self.check(False, f"{what} raised {type(exc).__name__}: {exc}, expected {kind.__name__}")
        self.check(False, f"{what} did not raise {kind.__name__}")
        raise AssertionError  # unreachable

    async def expect_visible(self, record: ClientSessionRecord) -> None:
        user, sid = record.user_id, record.session_id
        got = await self.registry.get(user, sid)
        self.check(got == record, f"get({user!r}, {sid!r}) differs:\n  stored {record!r}\n  got    {got!r}")
        self.check(sid in await self.registry.list_ids(user), f"list_ids({user!r}) lacks {sid!r}")
        self.check((user, sid) in await self.registry.list_all_ids(), f"list_all_ids() lacks {(user, sid)!r}")

    async def expect_gone(self, user: str, sid: str, why: str) -> None:
        r = self.registry
        self.check(await r.get(user, sid) is None, f"get({user!r}, {sid!r}) returned a record after {why}")
        self.check(sid not in await r.list_ids(user), f"list_ids({user!r}) still has {sid!r} after {why}")
        listed = [rec.session_id for rec in await r.list(user)]
        self.check(sid not in listed, f"list({user!r}) still has {sid!r} after {why}")
        self.check((user, sid) not in await r.list_all_ids(), f"list_all_ids() still has it after {why}")


_METHODS = (
    "generate_session_id",
    "create",
    "update",
    "get",
    "list",
    "list_ids",
    "delete",
    "list_all_ids",
    "clear_all",
    "cleanup_expired",
    "aclose",
)


async def _basics(s: _Section) -> None:
    r = s.registry
    missing = [name for name in _METHODS if not callable(getattr(r, name, None))]
    s.check(not missing, f"does not implement the ClientSessionRegistry protocol: no {', '.join(missing)}")
    s.check(r.expiry == KIT_EXPIRY, f"registry.expiry is {r.expiry!r}, expected the factory's {KIT_EXPIRY!r}")
    ids = {r.generate_session_id() for _ in range(200)}
    s.check(len(ids) == 200, "generate_session_id() repeated itself")
    s.check(
        all(isinstance(i, str) and len(i) >= 22 and not i.startswith("-") for i in ids),
        f"generate_session_id() made an id that is short or starts with '-': {sorted(ids)[:3]}",
    )
    s.check(await r.get("alice", "nope") is None, "get() of an unknown id is not None")
    s.check(not await r.delete("alice", "nope"), "delete() of an unknown id returned True")
    s.check(await r.list("alice") == [], "list() of a user with no sessions is not []")
    s.check(await r.list_ids("alice") == [], "list_ids() of a user with no sessions is not []")
    s.check(await r.list_all_ids() == [], "list_all_ids() of an empty registry is not []")
    await s.raises(
        ClientSessionNotFound, r.update("alice", "nope", status="active"), "update() of an unknown id"
    )


async def _round_trip(s: _Section) -> None:
    r = s.registry
    before = s.clock()
    records = [
        http_record(
            "full-http",
            server_name="Weather ☀",
            callback_url="https://app.example.com/oauth/callback?x=1",
            status="active",
            mcp_session_id="srv-session-1",
            auth=AUTH,
            created_at=1_700_000_000.25,
        ),
        http_record("ws", transport="ws", server_url="wss://mcp.example.com/mcp"),
        stdio_record("stdio", env={"PATH": "/usr/bin", "TOKEN": "ü"}, auth={"k": "v"}),
        stdio_record("stdio-bare", args=[]),
        http_record("sid with spaces/and:colons%2F*?[]", user_id="user:with:colons%3A*"),
    ]
    for record in records:
        created = await r.create(record)
        expected = attrs.evolve(record, created_at=record.created_at or before, updated_at=before)
        s.check(created == expected, f"create() returned\n  {created!r}\nexpected\n  {expected!r}")
        await s.expect_visible(expected)
    stored = await r.get("alice", "full-http")
    s.check(stored is not None and stored.auth == AUTH, f"auth did not round-trip exactly: {stored!r}")
    # The registry keeps its own copy: changing what was passed in or handed out changes nothing stored.
    mine = http_record("copy", auth={"tokens": {"a": "1"}})
    handed = await r.create(mine)
    assert mine.auth is not None
    assert handed.auth is not None
    mine.auth["tokens"]["a"] = "changed by the caller"
    handed.auth["tokens"]["a"] = "changed by the caller"
    got = await r.get("alice", "copy")
    s.check(got is not None and got.auth == {"tokens": {"a": "1"}}, f"the stored record changed: {got!r}")
    if got is not None:
        got.args.append("x")
    again = await r.get("alice", "copy")
    s.check(again is not None and again.args == [], "a record get() handed out shares its lists")


async def _exists(s: _Section) -> None:
    r = s.registry
    await r.create(http_record("dup"))
    exc = await s.raises(
        ClientSessionExists, r.create(http_record("dup", server_id="other")), "a second create()"
    )
    s.check(
        getattr(exc, "user_id", None) == "alice" and getattr(exc, "session_id", None) == "dup",
        "ClientSessionExists does not carry user_id and session_id",
    )
    got = await r.get("alice", "dup")
    s.check(got is not None and got.server_id == "weather", "a refused create() changed the record")
    # The same session id under another user is another record.
    await r.create(http_record("dup", user_id="bob"))
    s.check(await r.list_ids("bob") == ["dup"], "a session id taken by alice could not be used by bob")
    # Twenty concurrent creates of one id: exactly one wins.
    wins: list[int] = []

    async def attempt(n: int) -> None:
        try:
            await r.create(http_record("race", server_id=f"s{n}"))
        except ClientSessionExists:
            return
        wins.append(n)

    async with trio.open_nursery() as nursery:
        for n in range(20):
            nursery.start_soon(attempt, n)
    s.check(len(wins) == 1, f"20 concurrent create() of one id: {len(wins)} succeeded, expected 1")
    got = await r.get("alice", "race")
    s.check(got is not None and got.server_id == f"s{wins[0]}", "the stored record is not the winner's")


async def _update(s: _Section) -> None:
    r = s.registry
    created = await r.create(http_record("upd", auth={"state": "xyz", "codeVerifier": "v"}))
    s.clock.advance(5)
    updated = await r.update(
        "alice", "upd", status="active", mcp_session_id="m-1", auth={"tokens": {"access_token": "t"}}
    )
    expected = attrs.evolve(
        created,
        status="active",
        mcp_session_id="m-1",
        auth={"tokens": {"access_token": "t"}},
        updated_at=s.clock(),
    )
    s.check(updated == expected, f"update() returned\n  {updated!r}\nexpected\n  {expected!r}")
    await s.expect_visible(expected)
    s.clock.advance(1)
    touched = await r.update("alice", "upd")
    s.check(touched.updated_at == s.clock(), "update() with no changes did not stamp updated_at")
    s.check(
        attrs.evolve(touched, updated_at=expected.updated_at) == expected, "update() changed other fields"
    )
    for bad in ({"nonsense": 1}, {"session_id": "x"}, {"user_id": "mallory"}, {"created_at": 1.0}):
        await s.raises(TypeError, r.update("alice", "upd", **bad), f"update(**{bad!r})")
    await s.raises(
        ValueError, r.update("alice", "upd", transport="ws"), "update(transport='ws') of an https URL"
    )
    await s.raises(ValueError, r.update("alice", "upd", server_url=None), "update(server_url=None) of http")
    await s.raises(ValueError, r.update("alice", "upd", status="gone"), "update(status='gone')")
    got = await r.get("alice", "upd")
    s.check(got == touched, f"a refused update() changed the record: {got!r}")
    switched = await r.update("alice", "upd", transport="ws", server_url="ws://localhost:8000/mcp")
    s.check(switched.transport == "ws", "a coherent transport change was refused")
    exc = await s.raises(
        ClientSessionNotFound, r.update("bob", "upd", status="active"), "update() by another user"
    )
    s.check(isinstance(exc, LookupError), "ClientSessionNotFound is not a LookupError")
    # Concurrent updates of different fields all land (no lost update).
    fields: list[dict[str, Any]] = [
        {"server_name": "n"},
        {"mcp_session_id": "m-2"},
        {"callback_url": "https://app.example.com/cb"},
        {"auth": {"tokens": {"access_token": "t2"}}},
    ]
    async with trio.open_nursery() as nursery:
        for change in fields:
            nursery.start_soon(lambda c=change: r.update("alice", "upd", **c))
    final = await r.get("alice", "upd")
    s.check(final is not None, "the record vanished under concurrent updates")
    assert final is not None
    lost = [c for c in fields if any(getattr(final, k) != v for k, v in c.items())]
    s.check(not lost, f"concurrent update() lost {lost}: {final!r}")


async def _users(s: _Section) -> None:
    r = s.registry
    users = ["alice", "bob", "a:b", "a", "Ünï/code %41", "alice "]
    for user in users:
        for k in range(2):
            await r.create(http_record(f"{user}-s{k}" if user != "a" else f"b:c-s{k}", user_id=user))
            s.clock.advance(1)
    for user in users:
        expected = [f"{user}-s1", f"{user}-s0"] if user != "a" else ["b:c-s1", "b:c-s0"]
        got = await r.list_ids(user)
        s.check(got == expected, f"list_ids({user!r}) is {got}, expected {expected} (newest first)")
        records = await r.list(user)
        s.check(
            [rec.session_id for rec in records] == expected and all(rec.user_id == user for rec in records),
            f"list({user!r}) is {records!r}",
        )
    s.check(await r.get("bob", "alice-s0") is None, "get() showed alice's session to bob")
    s.check(not await r.delete("bob", "alice-s0"), "bob deleted alice's session")
    s.check(await r.get("alice", "alice-s0") is not None, "alice's session went when bob deleted it")
    await s.raises(ClientSessionNotFound, r.update("bob", "alice-s0"), "update() of alice's session by bob")
    s.check(await r.list_ids("nobody") == [], "list_ids() of an unknown user is not []")
    everything = await r.list_all_ids()
    expected_all: list[tuple[str, str]] = []
    for user in users:
        expected_all.extend((user, sid) for sid in await r.list_ids(user))
    expected_all.sort()
    s.check(everything == expected_all, f"list_all_ids() is {everything}, expected {expected_all}")
    # Newest first by created_at, not by the order of writes.
    s.clock.advance(10)
    await r.create(http_record("old", user_id="carol", created_at=1_000.0))
    await r.create(http_record("new", user_id="carol"))
    await r.update("carol", "old", status="active")
    s.check(await r.list_ids("carol") == ["new", "old"], "list() is not ordered by created_at, newest first")


async def _delete(s: _Section) -> None:
    r = s.registry
    await r.create(http_record("gone", auth=AUTH))
    await r.create(http_record("kept"))
    s.check(await r.delete("alice", "gone"), "delete() of a live session returned False")
    await s.expect_gone("alice", "gone", "delete()")
    s.check(not await r.delete("alice", "gone"), "a second delete() returned True")
    s.check(await r.list_ids("alice") == ["kept"], "delete() removed another session")
    await s.raises(ClientSessionNotFound, r.update("alice", "gone"), "update() after delete()")
    again = await r.create(http_record("gone"))  # no tombstone: the id can be used again
    await s.expect_visible(again)


async def _expiry(s: _Section) -> None:
    r = s.registry
    pending, dormant = KIT_EXPIRY.pending_ttl, KIT_EXPIRY.dormant_age
    await r.create(http_record("pending"))
    await r.create(http_record("pending-refreshed"))
    await r.create(http_record("active", status="active"))
    await r.create(http_record("promoted"))
    await r.create(http_record("kept-active", status="active"))
    s.clock.advance(pending - 10)  # t = pending - 10
    await r.update("alice", "pending-refreshed")  # a pending record lives pending_ttl from its last write
    await r.update("alice", "promoted", status="active")  # now active: dormant_age from now
    await r.update("alice", "kept-active")
    s.clock.advance(20)  # t = pending + 10
    await s.expect_gone("alice", "pending", f"pending_ttl ({pending:g} s) passed")
    await s.raises(ClientSessionNotFound, r.update("alice", "pending"), "update() of an expired record")
    for sid in ("pending-refreshed", "active", "promoted", "kept-active"):
        s.check(await r.get("alice", sid) is not None, f"{sid!r} expired too early")
    s.clock.advance(pending)  # t = 2 * pending + 10
    await s.expect_gone("alice", "pending-refreshed", "pending_ttl passed since its last update")
    s.clock.advance(dormant - 2 * pending - 20)  # t = dormant - 10
    s.check(await r.get("alice", "active") is not None, "an active record expired before dormant_age")
    await r.update("alice", "kept-active")  # updated: not dormant
    s.clock.advance(20)  # t = dormant + 10
    await s.expect_gone("alice", "active", f"dormant_age ({dormant:g} s) without an update")
    s.check(await r.get("alice", "promoted") is not None, "dormant_age must count from the last update")
    s.clock.advance(pending)  # t = dormant + pending + 10
    await s.expect_gone("alice", "promoted", f"dormant_age ({dormant:g} s) since its last update")
    s.check(await r.list_ids("alice") == ["kept-active"], f"list_ids() is {await r.list_ids('alice')}")

    removed = await r.cleanup_expired()
    s.check(
        isinstance(removed, int) and 0 <= removed <= 4,
        f"cleanup_expired() returned {removed!r}: expected how many of the 4 expired records it removed",
    )
    again = await r.cleanup_expired()
    s.check(again == 0, f"a second cleanup_expired() returned {again!r}, expected 0")
    s.check(await r.list_all_ids() == [("alice", "kept-active")], "cleanup_expired() removed a live record")
    # An expired id can be created again.
    fresh = await r.create(http_record("pending"))
    await s.expect_visible(fresh)


async def _validation(s: _Section) -> None:
    r = s.registry
    bad = {
        "http without server_url": http_record("v1", server_url=None),
        "http with a ws:// URL": http_record("v2", server_url="ws://x/mcp"),
        "ws with an https:// URL": http_record("v3", transport="ws"),
        "an unknown transport": http_record("v4", transport="sse"),
        "stdio without command": stdio_record("v5", command=None),
        "stdio with a server_url": stdio_record("v6", server_url="https://x/mcp"),
        "http with a command": http_record("v7", command="uvx"),
        "an empty user_id": http_record("v8", user_id=""),
        "an empty session_id": http_record(""),
        "an unknown status": http_record("v9", status="done"),
        "a relative callback_url": http_record("v10", callback_url="/cb"),
    }
    for why, record in bad.items():
        await s.raises(ValueError, r.create(record), f"create() of {why}")
    s.check(await r.list_all_ids() == [], f"a refused create() stored something: {await r.list_all_ids()}")


async def _clear(s: _Section) -> None:
    r = s.registry
    for n in range(5):
        await r.create(http_record(f"c{n}", user_id=f"u{n % 2}"))
    await r.clear_all()
    s.check(await r.list_all_ids() == [], "list_all_ids() is not empty after clear_all()")
    s.check(await r.list_ids("u0") == [], "list_ids() is not empty after clear_all()")
    await s.expect_gone("u0", "c0", "clear_all()")
    await r.create(http_record("c0", user_id="u0"))
    s.check(await r.list_ids("u0") == ["c0"], "the registry is not usable after clear_all()")


_SECTIONS: tuple[tuple[str, Callable[[_Section], Awaitable[None]]], ...] = (
    ("basics", _basics),
    ("round trip", _round_trip),
    ("exists", _exists),
    ("update", _update),
    ("users", _users),
    ("delete", _delete),
    ("expiry", _expiry),
    ("validation", _validation),
    ("clear", _clear),
)


async def check_client_registry(factory: RegistryFactory) -> None:
    """Run every section against a fresh registry from `factory`; an AssertionError names the first failure."""
    for name, section in _SECTIONS:
        clock = KitClock()
        async with factory(KIT_EXPIRY, clock) as registry:
            await section(_Section(name, registry, clock))
