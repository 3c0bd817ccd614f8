"""Recording one SSE stream's events in the event store, so its client can resume it on any instance.

A stream records what its writer sends, at the writer's flushes: one round trip per flush (a quick tools/call
flushes once). Recording is best effort: when the event store cannot be reached the stream goes on live and
only its resumability is lost (logged once), never the response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import cast

from .._proto.jsonrpc import RequestId
from .._streams._base import StreamError, StreamUnavailable
from .._streams.events import EventStore, StoredEvent

log = logging.getLogger("trio_mcp.http")


class StreamRecorder:
    __slots__ = ("_events", "_failed", "owner", "session_id", "started", "stream_id")

    def __init__(self, events: EventStore, session_id: str, stream_id: str, owner: str) -> None:
        self._events = events
        self.session_id = session_id
        self.stream_id = stream_id
        self.owner = owner
        self._failed = False
        self.started = False  # the log exists: a record went through

    @property
    def failed(self) -> bool:
        """Recording failed once: the log misses events from then on, so nobody can resume from it."""
        return self._failed

    async def record(self, entries: Sequence[StoredEvent]) -> None:
        if self._failed or not entries:
            return
        try:
            await self._events.record(self.session_id, self.stream_id, entries, owner=self.owner)
            self.started = True
        except (StreamUnavailable, StreamError, OSError, ValueError) as exc:
            # ValueError: the log moved on without us (a newer GET on another instance took the stream).
            self._failed = True
            log.warning(
                "stream %s of session %s is not resumable: the event store failed: %s",
                self.stream_id,
                self.session_id,
                exc,
            )


def prime_payload(request_ids: Sequence[RequestId]) -> bytes:
    """What a POST stream's priming entry keeps (never sent: the priming event has no data): the ids of the
    requests the stream answers, so a resumed stream whose instance died can answer them with an error."""
    if len(request_ids) == 1 and type(request_ids[0]) is int:  # the usual POST: one request, a number id
        return b'{"requests":[%d]}' % request_ids[0]
    return json.dumps({"requests": list(request_ids)}, separators=(",", ":")).encode()


def requests_of(prime: bytes) -> list[RequestId]:
    try:
        value: object = json.loads(prime)
    except ValueError:
        return []
    ids: object = cast(dict[str, object], value).get("requests") if isinstance(value, dict) else None
    if not isinstance(ids, list):
        return []
    return [
        i
        for i in cast(list[object], ids)
        if isinstance(i, str) or (isinstance(i, int) and not isinstance(i, bool))
    ]
