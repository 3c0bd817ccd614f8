"""SessionAdmin: list and end sessions across every instance sharing the store (`app.sessions`, the CLI).

Operators use it to see a user's sessions and to log a user out everywhere (a leaked credential). Listing
reads the store only. Revoking does what a DELETE does: the record goes, and a `SessionDeleted` broadcast
makes every instance close the session's live copy and streams at once, so its next request gets 404.

When the session store, the stream manager and the event store all talk to one Redis, a session's end is
ONE round trip: the store's end script also checks the caller's principal, removes the event logs and
publishes the broadcast (`_redis_lifecycle.py`, `RedisOneTrip`); otherwise the steps go one by one.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from .._redis_lifecycle import Caller, EndOutcome
from .._stores._base import SessionRecord, SessionStore
from .._stores.redis import RedisSessionStore
from .._streams._base import StreamManager
from .._streams.control import SessionDeleted
from .._streams.event_redis import RedisEventStore
from .._streams.events import EventStore
from .._streams.redis import RedisStreamManager
from .sessions import SessionManager

# `list` is a method name below: the return types are spelled here, where `list` is still the builtin.
Records: TypeAlias = list[SessionRecord]
Ids: TypeAlias = list[str]


def _newest_first(records: Records) -> Records:
    return sorted(records, key=lambda r: (r.created_at, r.session_id), reverse=True)


@attrs.frozen
class RedisOneTrip:
    """The three backends on one Redis: a session's end is the store's one script (`RedisSessionStore.end`)."""

    store: RedisSessionStore
    streams: RedisStreamManager
    events: RedisEventStore | None

    @classmethod
    def of(
        cls, store: SessionStore, streams: StreamManager, events: EventStore | None
    ) -> RedisOneTrip | None:
        """The one-trip path when every backend is a Redis one on the store's Redis, else None."""
        if not isinstance(store, RedisSessionStore) or not isinstance(streams, RedisStreamManager):
            return None
        if not store.connection.same_server(streams.connection):
            return None
        if events is None:
            return cls(store, streams, None)
        if isinstance(events, RedisEventStore) and store.connection.same_server(events.connection):
            return cls(store, streams, events)
        return None

    async def end(self, session_id: str, caller: Caller | None) -> EndOutcome:
        """Ended on Redis and announced to every other instance; this instance's copy of the broadcast is
        the caller's to deliver (after closing its live copy, as `revoke` does)."""
        keys = self.events.session_keys(session_id) if self.events is not None else None
        announce = self.streams.publication(SessionDeleted(session=session_id))
        return await self.store.end(session_id, caller=caller, announce=announce, events=keys)


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
        self._one_trip = RedisOneTrip.of(store, streams, events)

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

    async def end(self, session_id: str, principal: str | None) -> bool:
        """What a DELETE does: `revoke`, if the session exists and `principal` may end it (the record is bound
        to no principal or to this one); False, with nothing done, otherwise (the caller answers 404)."""
        if self._one_trip is not None:
            outcome = await self._one_trip.end(session_id, Caller(principal))
            if outcome == "removed":
                self._ended_here(session_id)
            return outcome == "removed"
        if self._sessions is not None:
            record = await self._sessions.record(session_id)  # through the cache
        else:
            record = await self.store.get(session_id)
        if record is None or (record.principal is not None and record.principal != principal):
            return False
        await self.revoke(session_id)
        return True

    def _ended_here(self, session_id: str) -> None:
        """After the one-trip end: this instance's live copy closes, then its own copy of the broadcast."""
        if self._sessions is not None:
            self._sessions.forget(session_id)
            self._sessions.ended(session_id)
        assert self._one_trip is not None
        self._one_trip.streams.deliver_own(SessionDeleted(session=session_id))

    async def revoke(self, session_id: str) -> bool:
        """End the session on every instance now; True when its record was there to delete.

        The broadcast goes out even for a record already gone: every stream of the id still closes. It also
        reaches this instance, whose fan-out closes the live copy again (a no-op) and forgets it in each hub.
        """
        if self._one_trip is not None:
            removed = await self._one_trip.end(session_id, None) == "removed"
            self._ended_here(session_id)
            return removed
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
