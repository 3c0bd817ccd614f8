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

    def supersede(self) -> None:
        self.superseded = True
        self.scope.cancel()


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
