"""What one Redis backend's script needs from the others, so a session's end costs one round trip.

A DELETE removes the session's record (the session store), its event logs (the event store) and tells every
instance (the stream manager's control channel). On one Redis those are one Lua script of the session store
(`RedisSessionStore.end`): the event store hands it the names of the session's keys (`SessionEventKeys`), the
stream manager the exact message its `broadcast` would publish (`Publication`). The backends never import one
another; the transport (`SessionAdmin`) puts the pieces together when all of them talk to the same Redis.
"""

from __future__ import annotations

from typing import Literal

import attrs


@attrs.frozen
class Publication:
    """A PUBLISH of `message` on `channel`, sent by another backend's script in its own round trip."""

    channel: str
    message: str


@attrs.frozen
class SessionEventKeys:
    """A session's event-store keys: the SET of its logged stream ids, the parked LIST, and the head a
    stream id completes into its log's key (``log_head + stream_id``)."""

    logs: str
    parked: str
    log_head: str


@attrs.frozen
class Caller:
    """Who asks to end a session (a DELETE's principal, None without auth): a record bound to another
    principal is left alone. An admin ending any session passes no Caller."""

    principal: str | None


#: removed: the record was there and is gone; absent: there was none; refused: it belongs to another principal
EndOutcome = Literal["removed", "absent", "refused"]
