"""MemoryClientRegistry: one process, nothing kept across restarts (tests, development, a single worker)."""

from __future__ import annotations

from ..._stores._base import Clock, wall_clock
from ._base import DEFAULT_DORMANT_AGE, DEFAULT_PENDING_TTL
from .engine import RegistryEngine
from .sealing import Keys
from .table import RecordTable


class MemoryClientRegistry(RegistryEngine):
    """Records in this process. Usable without `async with` (nothing to open); expiry on the wall `clock`."""

    def __init__(
        self,
        *,
        pending_ttl: float = DEFAULT_PENDING_TTL,
        dormant_age: float = DEFAULT_DORMANT_AGE,
        keys: Keys = None,
        clock: Clock = wall_clock,
    ) -> None:
        super().__init__(pending_ttl=pending_ttl, dormant_age=dormant_age, keys=keys, clock=clock)
        self._records = RecordTable()

    def __repr__(self) -> str:
        return "<MemoryClientRegistry>"

    async def _read(self, user_id: str, session_id: str) -> str | None:
        return self._records.read(user_id, session_id)

    async def _read_user(self, user_id: str, now: float) -> list[str]:
        return self._records.read_user(user_id)

    async def _insert(self, user_id: str, session_id: str, text: str, deadline: float) -> bool:
        return self._records.insert(user_id, session_id, text, deadline)

    async def _swap(self, user_id: str, session_id: str, old: str, new: str, deadline: float) -> bool:
        return self._records.swap(user_id, session_id, old, new, deadline)

    async def _remove(self, user_id: str, session_id: str) -> str | None:
        return self._records.remove(user_id, session_id)

    async def _all_ids(self, now: float) -> list[tuple[str, str]]:
        return self._records.live_ids(now)

    async def _clear(self) -> None:
        self._records.clear()

    async def _cleanup(self, now: float) -> int:
        return self._records.sweep(now)
