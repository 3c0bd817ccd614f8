"""MemorySessionStore: one process, TTLs on the trio clock (so autojump_clock drives expiry in tests)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from contextlib import asynccontextmanager

import attrs
import trio

from .._lifetime import Lifetime
from ._base import Clock, ExpiryPolicy, SessionRecord, activate_read, get_each, wall_clock


@attrs.define(eq=False)
class _Entry:
    record: SessionRecord
    deadline: float


@attrs.define(eq=False)
class MemorySessionStore(Lifetime):
    policy: ExpiryPolicy = attrs.field(factory=ExpiryPolicy)
    clock: Clock = wall_clock
    _entries: dict[str, _Entry] = attrs.field(factory=dict[str, _Entry])

    def _live(self, session_id: str) -> _Entry | None:
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        if entry.deadline <= trio.current_time():
            del self._entries[session_id]
            return None
        return entry

    def _sweep(self) -> int:
        now = trio.current_time()
        dead = [sid for sid, e in self._entries.items() if e.deadline <= now]
        for sid in dead:
            del self._entries[sid]
        return len(dead)

    async def get(self, session_id: str) -> SessionRecord | None:
        entry = self._live(session_id)
        return (
            attrs.evolve(entry.record, subscriptions=list(entry.record.subscriptions))
            if entry is not None
            else None
        )

    async def get_many(self, session_ids: Iterable[str]) -> dict[str, SessionRecord]:
        return await get_each(self.get, session_ids)  # in-process: no round trip to save

    async def set(self, record: SessionRecord, *, ttl: float | None = None) -> None:
        lifetime = self.policy.ttl_for(record) if ttl is None else ttl
        # Copy so later changes by the caller never leak into the stored record.
        stored = attrs.evolve(record, subscriptions=list(record.subscriptions))
        self._entries[record.session_id] = _Entry(stored, trio.current_time() + lifetime)

    async def delete(self, session_id: str) -> bool:
        return self._entries.pop(session_id, None) is not None

    async def has(self, session_id: str) -> bool:
        return self._live(session_id) is not None

    async def keys(self) -> AsyncGenerator[str]:
        self._sweep()
        for sid in list(self._entries):
            yield sid

    async def touch(self, session_ids: Iterable[str]) -> None:
        now_wall = self.clock()
        now = trio.current_time()
        for sid in session_ids:
            entry = self._live(sid)
            if entry is not None:
                entry.record.last_accessed_at = now_wall
                entry.deadline = now + self.policy.ttl_for(entry.record)

    async def clear(self) -> None:
        self._entries.clear()

    async def list_for_user(self, principal: str) -> list[str]:
        self._sweep()
        return [sid for sid, e in self._entries.items() if e.record.principal == principal]

    async def count(self) -> int:
        self._sweep()
        return len(self._entries)

    async def cleanup_expired(self) -> int:
        return self._sweep()  # the one index is the dict itself

    async def activate(self, session_id: str, principal: str | None) -> SessionRecord | None:
        return await activate_read(self, session_id, principal, self.clock())  # no checkpoint between: atomic

    async def create(self, record: SessionRecord, *, max_sessions: int) -> bool:
        self._sweep()  # no checkpoint between the count and the write: atomic within the process
        if len(self._entries) >= max_sessions:
            return False
        await self.set(record)
        return True

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        yield  # nothing to open: usable without `async with` too
