"""Session records read from the store, reused on this instance for a short time (a hit saves a round trip).

Bounded: past `size` entries the oldest tenth is dropped. Only active records are kept (see `remember`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import trio

from .._stores._base import SessionRecord

CACHE_SIZE = 10_000


class RecordCache:
    def __init__(
        self, ttl: float, *, size: int = CACHE_SIZE, clock: Callable[[], float] = trio.current_time
    ) -> None:
        self.ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: dict[str, tuple[SessionRecord, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, session_id: str) -> SessionRecord | None:
        """The cached record while it is younger than `ttl`, else None."""
        cached = self._entries.get(session_id)
        if cached is not None and self._clock() - cached[1] < self.ttl:
            return cached[0]
        return None

    def remember(self, record: SessionRecord) -> None:
        # Only active records are cached, even our own: a pending one may turn active on any instance (the
        # client may send `notifications/initialized` anywhere) without an announcement, and a stale pending
        # copy would be written back over the active record (wrong status, the short pending TTL).
        if not self.enabled or record.status != "active":
            return
        if record.session_id not in self._entries and len(self._entries) >= self._size:
            # Drop the oldest tenth: insertion order is age order for a dict.
            for sid in list(itertools.islice(self._entries, max(1, self._size // 10))):
                del self._entries[sid]
        self._entries.pop(record.session_id, None)
        self._entries[record.session_id] = (record, self._clock())

    def forget(self, session_id: str) -> None:
        self._entries.pop(session_id, None)
