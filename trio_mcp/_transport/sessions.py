"""Per-instance session runtime: records in the store, live copies only while a stream or request is active.

A session with no open stream and no request in flight costs nothing here but (at most) a touch mark: its state
is the record in the SessionStore, so any instance can pick it up.
"""

from __future__ import annotations

import functools
import itertools
import logging
import secrets
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import attrs
import trio

from .._proto.session import CLOSED, NEW, READY
from .._runtime.state import ServerSession
from .._stores._base import SessionRecord, SessionStore, wall_clock
from .._streams._base import StreamManager
from .._streams.control import SessionChanged

log = logging.getLogger("trio_mcp.http")


CACHE_SIZE = 10_000


def new_session_id() -> str:
    # T§Session Management: globally unique, cryptographically secure, visible ASCII only.
    return secrets.token_urlsafe(24)


@attrs.define(eq=False)
class StandaloneStream:
    """The session's GET stream on this instance: the scope that ends it and a token naming it.

    A stream that ends for any reason but the session's end tells the client when to reconnect (`retry:`):
    superseded by a newer GET, dropped because the client lagged, or this instance shutting down.
    """

    scope: trio.CancelScope
    token: str
    session_ended: bool = False


@attrs.define(eq=False)
class LiveSession:
    session: ServerSession
    users: int = 0
    standalone: StandaloneStream | None = None


@attrs.define(eq=False)
class SessionManager:
    store: SessionStore
    streams: StreamManager
    reply_timeout: float = 300.0
    instance_id: str = attrs.field(factory=lambda: secrets.token_hex(4))
    # How long a record read from the store may be reused here (0: read on every request). Changes made on
    # any instance are announced ("session_changed"), so this only bounds staleness after a lost event.
    cache_ttl: float = 0.0
    live: dict[str, LiveSession] = attrs.field(factory=dict[str, LiveSession])
    _touched: set[str] = attrs.field(factory=set[str])
    _copies: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    _cache: dict[str, tuple[SessionRecord, float]] = attrs.field(
        factory=dict[str, "tuple[SessionRecord, float]"]
    )

    # -- records <-> sessions --

    def to_record(self, session: ServerSession, *, created_at: float | None = None) -> SessionRecord:
        proto = session.protocol
        now = wall_clock()
        return SessionRecord(
            session_id=session.session_id or "",
            principal=session.principal,
            status="active" if proto.state is READY else "pending",
            protocol_version=proto.protocol_version,
            client_capabilities=proto.client_capabilities,
            client_info=proto.client_info,
            log_level=proto.log_level,
            subscriptions=sorted(session.subscriptions),
            created_at=created_at if created_at is not None else now,
            last_accessed_at=now,
        )

    def new_session(self, session_id: str, principal: str | None) -> ServerSession:
        # MCP basic §Requests: a request id MUST NOT be reused within a session. A session gets a new live
        # copy (and so a new id counter) whenever it becomes active here again: the copy's number keeps its
        # ids apart from every earlier copy's, so a late reply can never answer a later request.
        session = ServerSession.new(
            session_id,
            id_prefix=f"{self.instance_id}.{next(self._copies)}-",
            reply_timeout=self.reply_timeout,
        )
        session.principal = principal
        # Before each server-to-client request goes out, record that this instance waits for its reply: the
        # client may POST the answer to any instance, which forwards it here (route key, TTL 5 min).
        session.peer.on_request = functools.partial(self.streams.set_route, session_id)
        return session

    async def reserve(self, session: ServerSession, max_sessions: int) -> bool:
        """Take a place under the session cap for a new session (its pending record), atomically across
        instances; False when the store already holds `max_sessions` live sessions."""
        record = self.to_record(session)
        session.created_at = record.created_at
        return await self.store.create(record, max_sessions=max_sessions)

    def apply_record(self, session: ServerSession, record: SessionRecord) -> None:
        """Rebuild protocol state from the record, so this instance behaves exactly as the origin did."""
        session.protocol.restore(
            active=record.status == "active",
            protocol_version=record.protocol_version,
            client_capabilities=record.client_capabilities,
            client_info=record.client_info,
            log_level=record.log_level,
        )
        session.subscriptions = set(record.subscriptions)
        session.principal = record.principal
        session.stored_status = record.status

    async def save(self, session: ServerSession) -> None:
        if session.session_id is None or session.protocol.state is NEW:
            return
        was_active = session.stored_status == "active"
        record = self.to_record(session, created_at=session.created_at)
        session.created_at = record.created_at
        session.stored_status = record.status
        await self.store.set(record)
        if was_active and self.cache_ttl > 0:
            # Other instances may hold this record in their cache: tell them it changed. (Pending records are
            # never cached by other instances, so initialize and `initialized` need no announcement.)
            await self.streams.broadcast(SessionChanged(session=record.session_id))
        self._remember(record)

    # -- the record cache (bounded; a hit saves the store round trip on the hot path) --

    async def record(self, session_id: str) -> SessionRecord | None:
        if self.cache_ttl > 0:
            cached = self._cache.get(session_id)
            if cached is not None and trio.current_time() - cached[1] < self.cache_ttl:
                return cached[0]
        record = await self.store.get(session_id)
        if record is None:
            self._cache.pop(session_id, None)
        else:
            self._remember(record)
        return record

    def _remember(self, record: SessionRecord) -> None:
        # Only active records are cached, even our own: a pending one may turn active on any instance (the
        # client may send `notifications/initialized` anywhere) without an announcement, and a stale pending
        # copy would be written back over the active record (wrong status, the short pending TTL).
        if self.cache_ttl <= 0 or record.status != "active":
            return
        if len(self._cache) >= CACHE_SIZE:
            # Drop the oldest tenth: insertion order is age order for a dict.
            for sid in list(itertools.islice(self._cache, CACHE_SIZE // 10)):
                del self._cache[sid]
        self._cache.pop(record.session_id, None)
        self._cache[record.session_id] = (record, trio.current_time())

    def forget(self, session_id: str) -> None:
        self._cache.pop(session_id, None)

    # -- live copies --

    @asynccontextmanager
    async def hold(self, session_id: str, principal: str | None) -> AsyncGenerator[LiveSession | None]:
        """The session's live copy for the duration of a request or stream; None when unknown, expired, or
        bound to another principal than the request's.

        The record is read on every request, so a change made on another instance (log level, subscriptions)
        is seen here; the live copy keeps what only this instance has (in-flight requests, waiting replies).
        """
        record = await self.record(session_id)
        # SBP §Session Hijacking: a session bound to a user is invisible to anyone else (the caller answers
        # 404), and such a request neither refreshes its TTL nor makes a live copy of it.
        if record is None or (record.principal is not None and record.principal != principal):
            yield None
            return
        # No await between the lookup and the registration: concurrent requests share one live copy.
        live = self.live.get(session_id)
        if live is None or live.session.protocol.state is CLOSED:  # a closed copy still unwinding
            session = self.new_session(session_id, record.principal)
            session.created_at = record.created_at
            live = self.live[session_id] = LiveSession(session=session)
        self.apply_record(live.session, record)
        self._touched.add(session_id)
        live.users += 1
        try:
            yield live
        finally:
            self._release(live)

    @asynccontextmanager
    async def hold_new(self, session: ServerSession) -> AsyncGenerator[LiveSession]:
        assert session.session_id is not None
        live = self.live[session.session_id] = LiveSession(session=session, users=1)
        try:
            yield live
        finally:
            self._release(live)

    def _release(self, live: LiveSession) -> None:
        live.users -= 1
        sid = live.session.session_id
        if live.users == 0 and sid is not None and self.live.get(sid) is live:
            del self.live[sid]

    async def end(self, session_id: str) -> bool:
        """DELETE: remove the record and close the live copy here (its streams and in-flight requests)."""
        self.forget(session_id)
        removed = await self.store.delete(session_id)
        self.close_live(session_id, ended=True)
        self._touched.discard(session_id)
        return removed

    def close_live(self, session_id: str, *, ended: bool) -> None:
        """Cancel the live copy's requests and stream; `ended`: the session is gone (DELETE), not just this copy."""
        self.forget(session_id)
        live = self.live.get(session_id)
        if live is None:
            return
        for scope in list(live.session.in_flight.values()):
            scope.cancel()
        if live.standalone is not None:
            live.standalone.session_ended = ended
            live.standalone.scope.cancel()
        live.session.protocol.close()

    # -- batched liveness (one store call per heartbeat, never a write per request) --

    def take_touched(self) -> list[str]:
        # A session with a live copy here (an open GET stream, a long request) is in use even when the
        # client sends nothing: refresh it too, or it would expire under an open stream.
        touched = list(self._touched | self.live.keys())
        self._touched.clear()
        return touched

    async def flush_touches(self) -> None:
        touched = self.take_touched()
        if touched:
            try:
                await self.store.touch(touched)
            except BaseException:
                self._touched.update(touched)  # refreshed at the next beat instead
                raise
