"""Per-instance session runtime: records in the store, live copies only while a stream or request is active.

A session with no open stream and no request in flight costs nothing here but (at most) a touch mark: its state
is the record in the SessionStore, so any instance can pick it up. `SessionManager` coordinates four small
parts: the record cache (record_cache.py), the live copies (live_table.py), batched touches (touches.py) and
the record conversions (records.py); its own job is reading, saving and announcing records.
"""

from __future__ import annotations

import functools
import itertools
import secrets

import attrs

from .._proto.session import NEW
from .._runtime.state import ServerSession
from .._stores._base import SessionRecord, SessionStore
from .._streams._base import StreamManager
from .._streams.control import SessionChanged
from .live_table import LiveSession, LiveTable
from .record_cache import RecordCache
from .records import apply_record, record_of, same_state
from .touches import TouchBatch


def new_session_id() -> str:
    # T§Session Management: globally unique, cryptographically secure, visible ASCII only. Never with a
    # leading '-', which a command line (`trio-mcp sessions revoke SID`) would take for an option; drawing
    # again keeps every id equally likely.
    while (session_id := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return session_id


@attrs.define(eq=False)
class SessionManager:
    store: SessionStore
    streams: StreamManager
    reply_timeout: float = 300.0
    instance_id: str = attrs.field(factory=lambda: secrets.token_hex(4))
    # How long a record read from the store may be reused here (0: read on every request). Changes made on
    # any instance are announced (SessionChanged), so this only bounds staleness after a lost event.
    cache_ttl: float = 0.0
    table: LiveTable = attrs.field(factory=LiveTable)
    touches: TouchBatch = attrs.field(factory=TouchBatch)
    cache: RecordCache = attrs.field(init=False)
    _copies: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))

    def __attrs_post_init__(self) -> None:
        self.cache = RecordCache(self.cache_ttl)

    @property
    def live(self) -> dict[str, LiveSession]:
        return self.table.live

    # -- new sessions --

    def new_session(
        self, session_id: str, principal: str | None, *, client_id: str | None = None, transport: str = "http"
    ) -> ServerSession:
        # MCP basic §Requests: a request id MUST NOT be reused within a session. A session gets a new live
        # copy (and so a new id counter) whenever it becomes active here again: the copy's number keeps its
        # ids apart from every earlier copy's, so a late reply can never answer a later request.
        session = ServerSession.new(
            session_id,
            id_prefix=f"{self.instance_id}.{next(self._copies)}-",
            reply_timeout=self.reply_timeout,
        )
        session.principal = principal
        session.client_id = client_id
        session.transport = transport
        # Before each server-to-client request goes out, record that this instance waits for its reply: the
        # client may POST the answer to any instance, which forwards it here (route key, TTL 5 min).
        session.peer.on_request = functools.partial(self.streams.set_route, session_id)
        return session

    async def reserve(self, session: ServerSession, max_sessions: int) -> bool:
        """Take a place under the session cap for a new session, writing its pending record as the session
        now is, atomically across instances; False (nothing written) when the store already holds
        `max_sessions` live sessions. Before it, `save` writes nothing for the session: HTTP runs initialize
        first, so this one write (one round trip) stores the whole record."""
        record = record_of(session)
        session.created_at = record.created_at
        if not await self.store.create(record, max_sessions=max_sessions):
            return False
        self._stored(session, record)
        return True

    # -- records: read (through the cache), save and announce --

    async def record(self, session_id: str) -> SessionRecord | None:
        if self.cache.enabled:
            cached = self.cache.get(session_id)
            if cached is not None:
                return cached
        record = await self.store.get(session_id)
        if record is None:
            self.cache.forget(session_id)
        else:
            self.cache.remember(record)
        return record

    async def save(self, session: ServerSession) -> None:
        # Never stored: the session has no place under the cap yet (`reserve` writes its first record).
        if session.session_id is None or session.protocol.state is NEW or session.stored_status is None:
            return
        was_active = session.stored_status == "active"
        record = record_of(session)
        if self._only_confirms(session, record):
            return
        session.created_at = record.created_at
        self._stored(session, record)
        await self.store.set(record)
        if was_active and self.cache.enabled:
            # Other instances may hold this record in their cache: tell them it changed. (Pending records are
            # never cached by other instances, so initialize and `initialized` need no announcement.)
            await self.streams.broadcast(SessionChanged(session=record.session_id))
        self.cache.remember(record)

    def forget(self, session_id: str) -> None:
        self.cache.forget(session_id)

    def _only_confirms(self, session: ServerSession, record: SessionRecord) -> bool:
        """The store already holds `record` for this copy (the activation of `initialized`, a repeated
        setLevel): writing it would only confirm it, and could revert a newer change made elsewhere."""
        live = self.live.get(record.session_id)
        if live is None or live.session is not session or live.stored is None:
            return False
        return same_state(live.stored, record)

    def _stored(self, session: ServerSession, record: SessionRecord) -> None:
        """`record` is what the store holds of `session` now (read or written)."""
        session.stored_status = record.status
        live = self.live.get(record.session_id)
        if live is not None and live.session is session:
            live.stored = record

    # -- live copies --

    async def _activate(self, session_id: str, principal: str | None) -> SessionRecord | None:
        # Pending records are never cached anywhere, so turning one active needs no announcement.
        record = await self.store.activate(session_id, principal)
        if record is None:
            self.cache.forget(session_id)
        else:
            self.cache.remember(record)
        return record

    def hold(self, session_id: str, principal: str | None, *, activate: bool = False) -> Hold:
        """The session's live copy for the duration of a request or stream; None when unknown, expired, or
        bound to another principal than the request's.

        The record is read on every request, so a change made on another instance (log level, subscriptions)
        is seen here; the live copy keeps what only this instance has (in-flight requests, waiting replies).
        `activate`: the request is the client's `notifications/initialized`, so the read is the store's
        `activate` (one round trip that also writes the record active; the save after it then has nothing
        left to write).
        """
        return Hold(self, session_id, principal, activate)

    async def _enter(self, session_id: str, principal: str | None, activate: bool) -> LiveSession | None:
        if activate:
            record = await self._activate(session_id, principal)
        else:
            record = await self.record(session_id)
        # SBP §Session Hijacking: a session bound to a user is invisible to anyone else (the caller answers
        # 404), and such a request neither refreshes its TTL nor makes a live copy of it.
        if record is None or (record.principal is not None and record.principal != principal):
            return None
        # No await between the lookup and the registration: concurrent requests share one live copy.
        live = self.table.enter(session_id, functools.partial(self.new_session, session_id, record.principal))
        apply_record(live.session, record)
        live.stored = record
        self.touches.mark(session_id)
        return live

    def hold_new(self, session: ServerSession) -> HoldNew:
        return HoldNew(self.table, session)

    async def end(self, session_id: str) -> bool:
        """DELETE: remove the record and close the live copy here (its streams and in-flight requests)."""
        self.forget(session_id)
        removed = await self.store.delete(session_id)
        self.ended(session_id)
        return removed

    def ended(self, session_id: str) -> None:
        """The session's record is gone (`end`, or a store script that ended it): close the live copy here."""
        self.close_live(session_id, ended=True)
        self.touches.discard(session_id)

    def close_live(self, session_id: str, *, ended: bool) -> None:
        """Cancel the live copy's requests and stream; `ended`: the session is gone (DELETE), not just this copy."""
        self.forget(session_id)
        self.table.close(session_id, ended=ended)

    # -- batched liveness (one store call per heartbeat, never a write per request) --

    def take_touched(self) -> list[str]:
        # A session with a live copy here (an open GET stream, a long request) is in use even when the
        # client sends nothing: refresh it too, or it would expire under an open stream.
        return self.touches.take(self.live.keys())

    async def flush_touches(self) -> None:
        await self.touches.flush(self.store, self.live.keys())


# Plain classes rather than @asynccontextmanager: every request and every held GET stream is inside one for its
# whole life, and a generator-based one keeps a generator, its frame and a wrapper per stream (docs/architecture.md §4).


class Hold:
    """`SessionManager.hold`: the live copy (or None) while entered."""

    __slots__ = ("_activate", "_live", "_manager", "_principal", "_session_id")

    def __init__(
        self, manager: SessionManager, session_id: str, principal: str | None, activate: bool
    ) -> None:
        self._manager = manager
        self._session_id = session_id
        self._principal = principal
        self._activate = activate
        self._live: LiveSession | None = None

    async def __aenter__(self) -> LiveSession | None:
        self._live = await self._manager._enter(  # pyright: ignore[reportPrivateUsage]
            self._session_id, self._principal, self._activate
        )
        return self._live

    async def __aexit__(self, *exc: object) -> None:
        if self._live is not None:
            self._manager.table.leave(self._live)


class HoldNew:
    """`SessionManager.hold_new`: a session just created here, as its live copy while entered."""

    __slots__ = ("_live", "_session", "_table")

    def __init__(self, table: LiveTable, session: ServerSession) -> None:
        self._table = table
        self._session = session
        self._live: LiveSession | None = None

    async def __aenter__(self) -> LiveSession:
        assert self._session.session_id is not None
        self._live = self._table.enter_new(self._session.session_id, self._session)
        return self._live

    async def __aexit__(self, *exc: object) -> None:
        if self._live is not None:
            self._table.leave(self._live)
