"""The app's sessions this instance serves, as a LocalHub: control events reach them on the stream held here
(a GET stream, or a WebSocket: docs/architecture.md §8).

A session whose GET stream just ended here (the client went away, not the session) stays known for a while
(`RECENT_STREAM_TTL`): what a fan-out has for it meanwhile is parked in the event store, so the GET that
resumes the stream with Last-Event-ID, on any instance, receives it (T§Resumability).
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from .._proto import types as t
from .._proto.jsonrpc import Notification, encode
from .._proto.session import INITIALIZING, READY
from .._stores._base import SessionStore, StoreUnavailable
from .._streams._base import StreamManager, StreamUnavailable
from .._streams.events import ENDED_LOG_TTL, EventStore
from .._tasks import guarded
from .live_table import LiveSession
from .sessions import SessionManager

log = logging.getLogger("trio_mcp.http")


RECENT_STREAM_TTL = ENDED_LOG_TTL  # how long a session whose GET ended here still gets its fan-outs parked
MAX_RECENT_STREAMS = 10_000


class HttpSessionsHub:
    """Notifications for the live sessions here go onto the stream this instance holds for them (GET or
    WebSocket); those for a session whose stream ended here lately are parked for its resumption."""

    def __init__(
        self, sessions: SessionManager, streams: StreamManager, store: SessionStore, events: EventStore | None
    ) -> None:
        self._sessions = sessions
        self._streams = streams
        self._store = store
        self._events = events
        # session id -> until when (trio clock); insertion order is age order
        self._recent: dict[str, float] = {}
        self.nursery: trio.Nursery | None = None  # the app's, for parking

    def stream_opened(self, session_id: str) -> None:
        self._recent.pop(session_id, None)

    def stream_closed(self, session_id: str) -> None:
        """The session's GET stream here ended while the session lives on: its client may resume it."""
        if self._events is None:
            return
        self._recent.pop(session_id, None)
        if len(self._recent) >= MAX_RECENT_STREAMS:
            del self._recent[next(iter(self._recent))]
        self._recent[session_id] = trio.current_time() + RECENT_STREAM_TTL

    def forget(self, session_id: str) -> None:
        self._recent.pop(session_id, None)

    def _recently_closed(self) -> list[str]:
        now = trio.current_time()
        while self._recent and next(iter(self._recent.values())) <= now:
            del self._recent[next(iter(self._recent))]
        live = self._sessions.live
        return [sid for sid in self._recent if sid not in live or live[sid].standalone is None]

    def _park(self, session_ids: list[str], method: str, params: dict[str, Any] | None) -> None:
        if not session_ids or self._events is None or self.nursery is None:
            return
        payload = encode(Notification(method=method, params=params))
        self.nursery.start_soon(
            guarded, "parking notifications", self._park_all, self._events, session_ids, payload
        )

    async def _park_all(self, events: EventStore, session_ids: list[str], payload: bytes) -> None:
        for sid in session_ids:
            try:
                await events.park(sid, payload)
            except StreamUnavailable as exc:
                log.warning("could not keep a notification for session %s: %s", sid, exc)
                return

    def notify_all(self, method: str) -> None:
        encoded: dict[str | None, bytes] = {}
        for sid, live in list(self._sessions.live.items()):
            # A burst of the same list_changed tells a client nothing new: keep one queued.
            self._notify(sid, live, method, None, coalesce=True, encoded=encoded)
        self._park(self._recently_closed(), method, None)

    async def resource_updated(self, uri: str) -> None:
        held = [sid for sid, live in self._sessions.live.items() if live.standalone is not None]
        recent = self._recently_closed()
        held += recent
        if not held:
            return
        # Subscriptions live in the record (any instance may have changed them): read the records, not our
        # copies, and all of them in one round trip.
        try:
            records = await self._store.get_many(held)
        except StoreUnavailable as exc:
            log.warning("could not send resource updates for %s: %s", uri, exc)
            return
        params = t.ResourceUpdatedNotificationParams(uri=uri)
        encoded: dict[str | None, bytes] = {}
        parked: list[str] = []
        for sid, record in records.items():
            if uri not in record.subscriptions:
                continue
            live = self._sessions.live.get(sid)  # the read awaited: the session may have gone meanwhile
            if live is not None and live.standalone is not None:
                self._notify(
                    sid, live, "notifications/resources/updated", params, coalesce=False, encoded=encoded
                )
            elif sid in recent:
                parked.append(sid)
        self._park(parked, "notifications/resources/updated", {"uri": uri})

    def _notify(
        self,
        sid: str,
        live: LiveSession,
        method: str,
        params: Any,
        *,
        coalesce: bool,
        encoded: dict[str | None, bytes],
    ) -> None:
        """One session's share of a fan-out, onto its GET stream if this instance holds one. Its own error
        boundary (cheap on the hot path: a try costs nothing until it catches), so one session that cannot
        take a notification never stops the others.

        A notification has no id: every session of one protocol version gets the same bytes, so a fan-out
        encodes it once per version (`encoded`), not once per session (10,000 JSON encodings were a third of
        a fan-out's time)."""
        protocol = live.session.protocol
        if live.standalone is None or protocol.state not in (INITIALIZING, READY):
            return  # no stream here, or the session just closed (DELETE) and is unwinding
        try:
            payload = encoded.get(protocol.protocol_version)
            if payload is None:
                payload = encode(protocol.send_notification(method, params))
                encoded[protocol.protocol_version] = payload
            self._streams.deliver_local(sid, payload, coalesce=coalesce)
        except Exception:
            log.exception("notifying session %s failed; the app keeps serving", sid)
