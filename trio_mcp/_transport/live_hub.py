"""The HTTP sessions this instance serves, as a LocalHub: control events reach them on their GET streams."""

from __future__ import annotations

import logging
from typing import Any

from .._proto import types as t
from .._proto.jsonrpc import encode
from .._proto.session import INITIALIZING, READY
from .._stores._base import SessionStore, StoreUnavailable
from .._streams._base import StreamManager
from .live_table import LiveSession
from .sessions import SessionManager

log = logging.getLogger("trio_mcp.http")


class HttpSessionsHub:
    """Notifications for the live HTTP sessions here go onto the GET stream this instance holds for them."""

    def __init__(self, sessions: SessionManager, streams: StreamManager, store: SessionStore) -> None:
        self._sessions = sessions
        self._streams = streams
        self._store = store

    def notify_all(self, method: str) -> None:
        for sid, live in list(self._sessions.live.items()):
            # A burst of the same list_changed tells a client nothing new: keep one queued.
            self._notify(sid, live, method, None, coalesce=True)

    async def resource_updated(self, uri: str) -> None:
        held = [sid for sid, live in self._sessions.live.items() if live.standalone is not None]
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
        for sid, record in records.items():
            live = self._sessions.live.get(sid)  # the read awaited: the session may have gone meanwhile
            if live is not None and uri in record.subscriptions:
                self._notify(sid, live, "notifications/resources/updated", params, coalesce=False)

    def _notify(self, sid: str, live: LiveSession, method: str, params: Any, *, coalesce: bool) -> None:
        """One session's share of a fan-out, onto its GET stream if this instance holds one. Its own error
        boundary (cheap on the hot path: a try costs nothing until it catches), so one session that cannot
        take a notification never stops the others."""
        if live.standalone is None or live.session.protocol.state not in (INITIALIZING, READY):
            return  # no stream here, or the session just closed (DELETE) and is unwinding
        try:
            note = live.session.protocol.send_notification(method, params)
            self._streams.deliver_local(sid, encode(note), coalesce=coalesce)
        except Exception:
            log.exception("notifying session %s failed; the app keeps serving", sid)
