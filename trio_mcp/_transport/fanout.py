"""Control events from any instance, handled on this one: the app's StreamEvents (docs/architecture.md §3).

Every callback is an error boundary: it runs inside the stream manager's pump or a publisher's task, and a
failure must neither stop delivery to other sessions nor fail the caller; each session's share of a fan-out
has its own boundary too.
"""

from __future__ import annotations

import functools
from typing import Any

import trio

from .._proto import types as t
from .._proto.errors import RemoteProtocolError
from .._proto.jsonrpc import ErrorResponse, Response, encode, parse_body
from .._proto.session import INITIALIZING, READY
from .._runtime.dispatcher import Dispatcher
from .._stores._base import SessionStore, StoreUnavailable
from .._streams._base import StreamManager
from .._streams.control import (
    CancelRequest,
    ControlEvent,
    Notify,
    ResourceUpdated,
    SessionChanged,
    StreamTaken,
    kind_of,
)
from .._tasks import guarded, guarded_call
from .sessions import LiveSession, SessionManager, log


class ControlFanout:
    """Hands control events to this instance's live sessions; `nursery` (the app's) runs the async fan-outs."""

    def __init__(
        self, sessions: SessionManager, streams: StreamManager, store: SessionStore, dispatcher: Dispatcher
    ) -> None:
        self.sessions = sessions
        self.streams = streams
        self.store = store
        self.dispatcher = dispatcher
        self.nursery: trio.Nursery | None = None

    def on_broadcast(self, event: ControlEvent) -> None:
        guarded_call(f"the control event {kind_of(event)!r}", self._on_broadcast, event)

    def _on_broadcast(self, event: ControlEvent) -> None:
        match event:
            case Notify(method=method):
                for sid, live in list(self.sessions.live.items()):
                    # A burst of the same list_changed tells a client nothing new: keep one queued.
                    self._notify_stream(sid, live, method, None, coalesce=True)
            case ResourceUpdated(uri=uri):
                if self.nursery is not None:
                    self.nursery.start_soon(guarded, "resource update fan-out", self._resource_updated, uri)
            case CancelRequest(session=sid, request_id=request_id):
                live = self.sessions.live.get(sid)
                scope = live.session.in_flight.get(request_id) if live is not None else None
                if scope is not None:
                    scope.cancel()
            case SessionChanged(session=sid):
                self.sessions.forget(sid)
            case StreamTaken(session=sid, token=token):
                live = self.sessions.live.get(sid)
                standalone = live.standalone if live is not None else None
                if standalone is not None and standalone.token != token:
                    # Another instance now holds this session's GET stream: each message on one stream (T§Multiple Connections).
                    standalone.scope.cancel()

    async def _resource_updated(self, uri: str) -> None:
        params = t.ResourceUpdatedNotificationParams(uri=uri)
        for sid, live in list(self.sessions.live.items()):
            if live.standalone is None:
                continue
            # Subscriptions live in the record (any instance may have changed them): read it, not our copy.
            try:
                record = await self.store.get(sid)
            except StoreUnavailable as exc:
                log.warning("could not send resource updates for %s: %s", uri, exc)
                return
            if record is not None and uri in record.subscriptions:
                self._notify_stream(sid, live, "notifications/resources/updated", params, coalesce=False)

    def _notify_stream(
        self, sid: str, live: LiveSession, method: str, params: Any, *, coalesce: bool
    ) -> None:
        """One session's share of a fan-out, onto its GET stream if this instance holds one. Its own error
        boundary (cheap on the hot path: a try costs nothing until it catches), so one session that cannot
        take a notification never stops the others."""
        if live.standalone is None or live.session.protocol.state not in (INITIALIZING, READY):
            return  # no stream here, or the session just closed (DELETE) and is unwinding
        try:
            note = live.session.protocol.send_notification(method, params)
            self.streams.deliver_local(sid, encode(note), coalesce=coalesce)
        except Exception:
            log.exception("notifying session %s failed; the app keeps serving", sid)

    def on_session_deleted(self, session_id: str) -> None:
        guarded_call(
            "closing a deleted session", functools.partial(self.sessions.close_live, ended=True), session_id
        )

    def on_reply(self, session_id: str, payload: bytes) -> None:
        guarded_call("delivering a forwarded reply", self._on_reply, session_id, payload)

    def _on_reply(self, session_id: str, payload: bytes) -> None:
        live = self.sessions.live.get(session_id)
        if live is None:
            return
        try:
            messages = parse_body(payload).messages
        except RemoteProtocolError:
            return
        for message in messages:
            if isinstance(message, Response | ErrorResponse):
                self.dispatcher.deliver_reply(live.session, message)
