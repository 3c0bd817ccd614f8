"""The registry's operations, written once over a few backend primitives (memory, file and Redis supply them).

A backend stores each record's text under (user_id, session_id) and knows nothing of records; it offers
insert-if-absent and compare-and-swap, so a read-modify-write (`update`, `create` over an expired record) is
safe across instances without locks: a write that lost a race reads again. Expiry is decided here, from the
record (status, updated_at) and the wall clock, so the backends agree on it however they reclaim space.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import attrs

from ..._lifetime import Lifetime
from ..._stores._base import Clock, wall_clock
from ._base import (
    CHANGEABLE_FIELDS,
    DEFAULT_DORMANT_AGE,
    DEFAULT_PENDING_TTL,
    FIXED_FIELDS,
    ClientRegistryError,
    ClientSessionExists,
    ClientSessionExpiry,
    ClientSessionNotFound,
    ClientSessionRecord,
    Ids,
    Records,
    UserSessionIds,
    generate_session_id,
    validate_record,
)
from .codec import Stored, copy, decode, encode, peek
from .sealing import AuthSealer, Keys

_ATTEMPTS = 16  # compare-and-swap rounds before giving up on a record that keeps changing


class RegistryEngine(Lifetime):
    def __init__(
        self,
        *,
        pending_ttl: float = DEFAULT_PENDING_TTL,
        dormant_age: float = DEFAULT_DORMANT_AGE,
        keys: Keys = None,
        clock: Clock = wall_clock,
    ) -> None:
        self.expiry = ClientSessionExpiry(pending_ttl=pending_ttl, dormant_age=dormant_age)
        self._sealer = AuthSealer.from_keys(keys, source="keys")
        self._clock = clock

    @property
    def encrypts(self) -> bool:
        """True when `auth` is stored encrypted (a key is configured)."""
        return self._sealer is not None

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        yield

    # -- the backend's primitives: texts under (user_id, session_id) --

    async def _read(self, user_id: str, session_id: str) -> str | None:
        raise NotImplementedError

    async def _read_user(self, user_id: str, now: float) -> list[str]:
        """The texts of the user's records (expired ones may be among them)."""
        raise NotImplementedError

    async def _insert(self, user_id: str, session_id: str, text: str, deadline: float) -> bool:
        """Store `text` if nothing is stored there; False otherwise."""
        raise NotImplementedError

    async def _swap(self, user_id: str, session_id: str, old: str, new: str, deadline: float) -> bool:
        """Replace `old` by `new` if `old` is what is stored; False otherwise."""
        raise NotImplementedError

    async def _remove(self, user_id: str, session_id: str) -> str | None:
        """Remove what is stored there; its text, or None."""
        raise NotImplementedError

    async def _all_ids(self, now: float) -> UserSessionIds:
        raise NotImplementedError

    async def _clear(self) -> None:
        raise NotImplementedError

    async def _cleanup(self, now: float) -> int:
        raise NotImplementedError

    # -- ClientSessionRegistry --

    def generate_session_id(self) -> str:
        return generate_session_id()

    async def create(self, record: ClientSessionRecord) -> ClientSessionRecord:
        now = self._clock()
        stored = attrs.evolve(record, created_at=record.created_at or now, updated_at=now)
        validate_record(stored)
        user_id, session_id = stored.user_id, stored.session_id
        text = encode(stored, self._sealer)
        deadline = self.expiry.deadline(stored.status, now)
        for _ in range(_ATTEMPTS):
            old, current = await self._lookup(user_id, session_id)
            if current is not None and self._live(current, self._clock()):
                raise ClientSessionExists(
                    f"client session {session_id!r} of user {user_id!r} already exists",
                    user_id=user_id,
                    session_id=session_id,
                )
            if old is None:
                written = await self._insert(user_id, session_id, text, deadline)
            else:  # an expired (or unreadable) record still stored: replace exactly that one
                written = await self._swap(user_id, session_id, old, text, deadline)
            if written:
                return copy(stored)
        raise self._contended(user_id, session_id)

    async def update(self, user_id: str, session_id: str, /, **changes: Any) -> ClientSessionRecord:
        _check_changes(changes)
        for _ in range(_ATTEMPTS):
            now = self._clock()
            old, current = await self._lookup(user_id, session_id)
            if old is None or current is None or not self._live(current, now):
                raise ClientSessionNotFound(
                    f"no client session {session_id!r} for user {user_id!r} (never created, deleted or expired)",
                    user_id=user_id,
                    session_id=session_id,
                )
            # New auth replaces the old one unread: re-authorizing works even when the old one does not open.
            base = current.record if "auth" in changes else decode(current, self._sealer)
            changed = attrs.evolve(base, **changes, updated_at=now)
            validate_record(changed)
            deadline = self.expiry.deadline(changed.status, now)
            if await self._swap(user_id, session_id, old, encode(changed, self._sealer), deadline):
                return copy(changed)
        raise self._contended(user_id, session_id)

    async def get(self, user_id: str, session_id: str) -> ClientSessionRecord | None:
        _, current = await self._lookup(user_id, session_id)
        if current is None or not self._live(current, self._clock()):
            return None
        return decode(current, self._sealer)

    async def list(self, user_id: str) -> Records:
        return [decode(stored, self._sealer) for stored in await self._owned(user_id)]

    async def list_ids(self, user_id: str) -> Ids:
        return [stored.session_id for stored in await self._owned(user_id)]

    async def delete(self, user_id: str, session_id: str) -> bool:
        text = await self._remove(user_id, session_id)
        if text is None:
            return False
        removed = self._peek(text, user_id, session_id)
        return removed is None or self._live(removed, self._clock())  # an unreadable record counts

    async def list_all_ids(self) -> UserSessionIds:
        return sorted(await self._all_ids(self._clock()))

    async def clear_all(self) -> None:
        await self._clear()

    async def cleanup_expired(self) -> int:
        return await self._cleanup(self._clock())

    # -- internals --

    def _live(self, stored: Stored, now: float) -> bool:
        return stored.deadline(self.expiry) > now

    def _peek(self, text: str, user_id: str, session_id: str) -> Stored | None:
        where = f"{session_id!r} of user {user_id!r} in {self!r}"
        stored = peek(text, where)
        if stored is not None and (stored.user_id, stored.session_id) != (user_id, session_id):
            # Ownership is checked against the record itself, not only where it was found.
            return None
        return stored

    async def _lookup(self, user_id: str, session_id: str) -> tuple[str | None, Stored | None]:
        text = await self._read(user_id, session_id)
        if text is None:
            return None, None
        return text, self._peek(text, user_id, session_id)

    async def _owned(self, user_id: str) -> list[Stored]:
        now = self._clock()
        found: dict[str, Stored] = {}
        for text in await self._read_user(user_id, now):
            stored = peek(text, f"of user {user_id!r} in {self!r}")
            if stored is not None and stored.user_id == user_id and self._live(stored, now):
                found[stored.session_id] = stored
        # Newest first; the id breaks ties so the order is the same on every backend.
        return sorted(found.values(), key=lambda s: (-s.record.created_at, s.session_id))

    def _contended(self, user_id: str, session_id: str) -> ClientRegistryError:
        return ClientRegistryError(
            f"client session {session_id!r} of user {user_id!r} changed under {_ATTEMPTS} attempts to write "
            "it (concurrent updates); try again"
        )


def _check_changes(changes: dict[str, Any]) -> None:
    fixed = sorted(set(changes) & FIXED_FIELDS)
    if fixed:
        raise TypeError(f"update() cannot change {', '.join(fixed)}: the registry keeps them")
    unknown = sorted(set(changes) - CHANGEABLE_FIELDS)
    if unknown:
        raise TypeError(
            f"update() got unknown field(s) {', '.join(unknown)}; a client session record has "
            f"{', '.join(sorted(CHANGEABLE_FIELDS))}"
        )
