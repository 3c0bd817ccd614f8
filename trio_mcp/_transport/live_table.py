"""Live copies: the sessions this instance is serving right now (a request in flight, or a GET stream held).

A copy exists only while someone uses it; concurrent requests of one session share it. Everything else about
a session is its record in the store.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import trio

from .._proto.session import CLOSED
from .._runtime.state import ServerSession
from .._stores._base import SessionRecord


@attrs.define(eq=False)
class StandaloneStream:
    """The session's GET stream on this instance: the scope that ends it and a token naming it.

    A stream that ends for any reason but the session's end tells the client when to reconnect (`retry:`):
    superseded by a newer GET, dropped because the client lagged, or this instance shutting down.
    """

    scope: trio.CancelScope
    token: str
    session_ended: bool = False
    #: ended because a newer GET took the session's stream (here or on another instance)
    superseded: bool = False
    #: its hold's order once subscribed (`StreamBuffer.order`, 0: unknown); None while it subscribes
    order: int | None = None
    #: the newest order another instance announced (`StreamTaken`) while this one subscribed
    _taken_meanwhile: int = 0

    def supersede(self) -> None:
        self.superseded = True
        self.scope.cancel()

    def taken_elsewhere(self, order: int) -> None:
        """Another instance took the session's stream as hold `order` (0: unknown). This one ends unless it
        is known to be the newer: then that instance ends its own when our `StreamTaken` reaches it. Their
        announcements may arrive in either order, so the orders decide, not the arrival. (T§Multiple
        Connections: each message goes on one stream; which stream is ours to choose: the newest GET.)"""
        if self.order is None and order > 0:
            self._taken_meanwhile = max(self._taken_meanwhile, order)  # decided once ours is known (held)
        elif not (order > 0 and self.order is not None and self.order > order):
            self.supersede()

    def held(self, order: int) -> None:
        """Its subscription is in place as hold `order`: a newer hold announced meanwhile ends it now."""
        self.order = order
        if self._taken_meanwhile and not order > self._taken_meanwhile:
            self.supersede()


@attrs.define(eq=False)
class LiveSession:
    session: ServerSession
    users: int = 0
    standalone: StandaloneStream | None = None
    #: the record this copy was last read from or written as: a save that would write the same state again
    #: is skipped (SessionManager.save)
    stored: SessionRecord | None = None


@attrs.define(eq=False)
class LiveTable:
    live: dict[str, LiveSession] = attrs.field(factory=dict[str, LiveSession])

    def enter(self, session_id: str, make: Callable[[], ServerSession]) -> LiveSession:
        """Use the session's live copy, made by `make()` when there is none (or only a closed one still
        unwinding). Synchronous: concurrent users of one session find the same copy."""
        live = self.live.get(session_id)
        if live is None or live.session.protocol.state is CLOSED:
            live = self.live[session_id] = LiveSession(session=make())
        live.users += 1
        return live

    def enter_new(self, session_id: str, session: ServerSession) -> LiveSession:
        """Use `session`, just created here, as the session's live copy."""
        live = self.live[session_id] = LiveSession(session=session, users=1)
        return live

    def leave(self, live: LiveSession) -> None:
        """The last user gone, the copy goes (unless a newer copy already replaced it)."""
        live.users -= 1
        sid = live.session.session_id
        if live.users == 0 and sid is not None and self.live.get(sid) is live:
            del self.live[sid]

    def close(self, session_id: str, *, ended: bool) -> None:
        """Cancel the copy's requests and stream; `ended`: the session is gone (DELETE), not just this copy."""
        live = self.live.get(session_id)
        if live is None:
            return
        for scope in list(live.session.in_flight.values()):
            scope.cancel()
        if live.standalone is not None:
            live.standalone.session_ended = ended
            live.standalone.scope.cancel()
        live.session.protocol.close()
