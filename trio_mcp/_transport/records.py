"""A session's state in the store and back: the one pair of conversions between ServerSession and SessionRecord.

Framework bookkeeping travels in typed fields of both (`created_at`, `stored_status`), never in the user's `extra`.
"""

from __future__ import annotations

import attrs

from .._proto.session import READY
from .._runtime.state import ServerSession
from .._stores._base import SessionRecord, wall_clock


def record_of(session: ServerSession) -> SessionRecord:
    """What another instance needs to continue `session` (its creation time kept, last access now)."""
    proto = session.protocol
    now = wall_clock()
    return SessionRecord(
        session_id=session.session_id or "",
        principal=session.principal,
        client_id=session.client_id,
        transport=session.transport,
        status="active" if proto.state is READY else "pending",
        protocol_version=proto.protocol_version,
        client_capabilities=proto.client_capabilities,
        client_info=proto.client_info,
        log_level=proto.log_level,
        subscriptions=sorted(session.subscriptions),
        created_at=session.created_at if session.created_at is not None else now,
        last_accessed_at=now,
    )


def same_state(a: SessionRecord, b: SessionRecord) -> bool:
    """Whether writing `b` over `a` would change anything but the last access (which touches refresh)."""
    return attrs.evolve(a, last_accessed_at=b.last_accessed_at) == b


def apply_record(session: ServerSession, record: SessionRecord) -> None:
    """Rebuild `session` from `record`, so this instance behaves exactly as the one that wrote it.

    A pending record applied to a copy that is already READY is older than the copy: a concurrent request on
    this copy received `notifications/initialized` and its save has not reached the store yet (the client may
    send `initialized` and its next request at once). The copy stays active; a session never goes back.
    """
    session.protocol.restore(
        active=record.status == "active" or session.protocol.state is READY,
        protocol_version=record.protocol_version,
        client_capabilities=record.client_capabilities,
        client_info=record.client_info,
        log_level=record.log_level,
    )
    session.subscriptions = set(record.subscriptions)
    session.principal = record.principal
    session.client_id = record.client_id
    session.transport = record.transport
    session.stored_status = record.status
    session.created_at = record.created_at
