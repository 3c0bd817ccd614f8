"""SessionAdmin: list and end sessions across every instance sharing the store (`app.sessions`, the CLI).

Operators use it to see a user's sessions and to log a user out everywhere (a leaked credential). Listing
reads the store only. Revoking does what a DELETE does: the record goes, and a `SessionDeleted` broadcast
makes every instance close the session's live copy and streams at once, so its next request gets 404.
"""

from __future__ import annotations

from typing import TypeAlias

from .._stores._base import SessionRecord, SessionStore
from .._streams._base import StreamManager
from .._streams.control import SessionDeleted
from .._streams.events import EventStore
from .sessions import SessionManager

# `list` is a method name below: the return types are spelled here, where `list` is still the builtin.
Records: TypeAlias = list[SessionRecord]
Ids: TypeAlias = list[str]


def _newest_first(records: Records) -> Records:
    return sorted(records, key=lambda r: (r.created_at, r.session_id), reverse=True)


class SessionAdmin:
    """The session admin API over a store and a stream manager (entered and, for `revoke`, running).

    `sessions`: the serving app's SessionManager, whose live copies a revoke closes at once; None outside a
    serving app (the CLI), where the broadcast alone reaches the servers.
    """

    def __init__(
        self,
        store: SessionStore,
        streams: StreamManager,
        events: EventStore | None,
        sessions: SessionManager | None = None,
    ) -> None:
        self.store = store
        self.streams = streams
        self.events = events
        self._sessions = sessions

    # -- reading --

    async def list(self, principal: str) -> Records:
        """The live sessions bound to `principal`, newest first (one `get_many` for all of them)."""
        found = await self.store.get_many(await self.store.list_for_user(principal))
        # Checked against the records: an index may lag behind a record (re-owned, or changed meanwhile).
        return _newest_first([r for r in found.values() if r.principal == principal])

    async def list_ids(self, principal: str) -> Ids:
        """The ids of `list(principal)`, in its order."""
        return [record.session_id for record in await self.list(principal)]

    async def list_all(self) -> Records:
        """Every live session, newest first. Reads every record: an admin call, not one for a request path."""
        found = await self.store.get_many(await self.list_all_ids())
        return _newest_first(list(found.values()))

    async def list_all_ids(self) -> Ids:
        """Every live session id (the store's SCAN-style `keys()`), unbounded: an admin call."""
        return [sid async for sid in self.store.keys()]  # noqa: SIM118 (a store, not a dict)

    async def get(self, session_id: str) -> SessionRecord | None:
        """The session's record (status, principal, client, transport, times), or None when unknown."""
        return await self.store.get(session_id)

    async def count(self) -> int:
        """Live sessions in the store (all instances)."""
        return await self.store.count()

    # -- ending --

    async def revoke(self, session_id: str) -> bool:
        """End the session on every instance now; True when its record was there to delete.

        The broadcast goes out even for a record already gone: every stream of the id still closes. It also
        reaches this instance, whose fan-out closes the live copy again (a no-op) and forgets it in each hub.
        """
        if self._sessions is not None:
            removed = await self._sessions.end(session_id)  # its live copy here closes before we return
        else:
            removed = await self.store.delete(session_id)
        await self.streams.broadcast(SessionDeleted(session=session_id))
        if self.events is not None:
            await self.events.delete_session(session_id)
        return removed

    async def revoke_all(self, principal: str) -> int:
        """End every session of `principal` (log the user out everywhere); how many were removed.

        Sessions the principal opens while this runs are not included: stop the credential first.
        """
        removed = 0
        for session_id in await self.list_ids(principal):  # checked against the records: only theirs
            removed += await self.revoke(session_id)
        return removed

    async def cleanup_expired(self) -> int:
        """Remove expired records and their index entries now (`SessionStore.cleanup_expired`)."""
        return await self.store.cleanup_expired()
