"""Control events from any instance, handled on this one: the app's StreamEvents (docs/architecture.md §3).

Every callback is an error boundary: it runs inside the stream manager's pump or a publisher's task, and a
failure must neither stop delivery to other sessions nor fail the caller; each session's share of a fan-out
has its own boundary too.
"""

from __future__ import annotations

from collections.abc import Iterable

import trio

from .._proto.errors import RemoteProtocolError
from .._proto.jsonrpc import ErrorResponse, Response, parse_body
from .._runtime.dispatcher import Dispatcher
from .._runtime.hub import LocalHub
from .._streams.control import (
    CancelRequest,
    ControlEvent,
    Notify,
    ResourceUpdated,
    SessionChanged,
    SessionDeleted,
    StreamTaken,
    kind_of,
)
from .._tasks import guarded, guarded_call
from .sessions import SessionManager


class ControlFanout:
    """Hands control events to this instance's sessions: every local hub (one per transport the app serves)
    gets each list_changed and resource update; `nursery` (the app's) runs the async fan-outs."""

    def __init__(self, sessions: SessionManager, dispatcher: Dispatcher, hubs: Iterable[LocalHub]) -> None:
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.hubs = list(hubs)
        self.nursery: trio.Nursery | None = None

    def add_hub(self, hub: LocalHub) -> None:
        self.hubs.append(hub)

    def on_broadcast(self, event: ControlEvent) -> None:
        guarded_call(f"the control event {kind_of(event)!r}", self._on_broadcast, event)

    def _on_broadcast(self, event: ControlEvent) -> None:
        match event:
            case Notify(method=method):
                for hub in self.hubs:
                    guarded_call(f"notifying {method}", hub.notify_all, method)
            case ResourceUpdated(uri=uri):
                if self.nursery is not None:
                    for hub in self.hubs:
                        self.nursery.start_soon(guarded, "resource update fan-out", hub.resource_updated, uri)
            case CancelRequest(session=sid, request_id=request_id):
                live = self.sessions.live.get(sid)
                scope = live.session.in_flight.get(request_id) if live is not None else None
                if scope is not None:
                    scope.cancel()
            case SessionChanged(session=sid):
                self.sessions.forget(sid)
            case SessionDeleted(session=sid):
                self.sessions.close_live(sid, ended=True)
                for hub in self.hubs:
                    hub.forget(sid)
            case StreamTaken(session=sid, token=token, order=order):
                for hub in self.hubs:
                    hub.forget(sid)  # a GET stream is open again (somewhere): nothing more to keep for it
                live = self.sessions.live.get(sid)
                standalone = live.standalone if live is not None else None
                if standalone is not None and standalone.token != token:
                    # Another instance holds this session's GET stream too: each message on one stream
                    # (T§Multiple Connections). The newer of the two stays, whichever announcement came last.
                    standalone.taken_elsewhere(order)

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
