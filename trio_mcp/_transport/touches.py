"""Batched liveness: sessions used since the last heartbeat get their TTL refreshed in one store call.

Never a store write per request: a request only marks its session; the heartbeat flushes the marks.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._stores._base import SessionStore


class TouchBatch:
    def __init__(self) -> None:
        self._marked: set[str] = set()

    def mark(self, session_id: str) -> None:
        self._marked.add(session_id)

    def discard(self, session_id: str) -> None:
        self._marked.discard(session_id)

    def take(self, in_use: Iterable[str] = ()) -> list[str]:
        """The marked sessions and `in_use` (sessions in use here though the client sends nothing, such as an
        open GET stream: they must not expire under it); the marks are cleared."""
        taken = list(self._marked.union(in_use))
        self._marked.clear()
        return taken

    async def flush(self, store: SessionStore, in_use: Iterable[str] = ()) -> None:
        """One `touch` of everything taken; on failure the marks are kept for the next beat."""
        taken = self.take(in_use)
        if not taken:
            return
        try:
            await store.touch(taken)
        except BaseException:
            self._marked.update(taken)
            raise
