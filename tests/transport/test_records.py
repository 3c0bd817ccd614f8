"""record_of / apply_record (trio_mcp/_transport/records.py): a ServerSession to its SessionRecord and back,
so another instance continues the session exactly as the one that stored it."""

from __future__ import annotations

import time

from trio_mcp._proto import types as t
from trio_mcp._proto.session import INITIALIZING, READY
from trio_mcp._runtime.state import ServerSession
from trio_mcp._stores._base import SessionRecord
from trio_mcp._transport.records import apply_record, record_of

VERSION = "2025-06-18"
CAPABILITIES = t.ClientCapabilities(roots=t.RootsCapability(list_changed=True))
CLIENT = t.Implementation(name="probe-client", version="1.2.3")


def new_session(session_id: str = "s-1") -> ServerSession:
    return ServerSession.new(session_id, id_prefix="t-", reply_timeout=1.0)


def ready_session(created_at: float | None = 1234.5) -> ServerSession:
    session = new_session()
    session.protocol.restore(
        active=True,
        protocol_version=VERSION,
        client_capabilities=CAPABILITIES,
        client_info=CLIENT,
        log_level="warning",
    )
    session.subscriptions = {"res://b", "res://a", "res://c"}
    session.principal = "alice"
    session.created_at = created_at
    return session


def test_the_record_of_a_ready_session() -> None:
    before = time.time()
    record = record_of(ready_session())
    after = time.time()
    assert record.session_id == "s-1"
    assert record.status == "active"
    assert record.principal == "alice"
    assert (record.protocol_version, record.client_capabilities, record.client_info) == (
        VERSION,
        CAPABILITIES,
        CLIENT,
    )
    assert record.log_level == "warning"
    assert record.subscriptions == ["res://a", "res://b", "res://c"]
    assert record.created_at == 1234.5
    assert before <= record.last_accessed_at <= after


def test_a_session_never_stored_is_created_now() -> None:
    before = time.time()
    record = record_of(ready_session(created_at=None))
    after = time.time()
    assert before <= record.created_at <= after
    assert record.created_at == record.last_accessed_at


def test_a_session_awaiting_initialized_is_pending() -> None:
    session = new_session()
    session.protocol.restore(active=False, protocol_version=VERSION)
    assert record_of(session).status == "pending"


def test_apply_record_reproduces_the_session_that_wrote_it() -> None:
    fresh = new_session()
    fresh.subscriptions = {"res://stale"}
    apply_record(fresh, record_of(ready_session()))
    proto = fresh.protocol
    assert proto.state is READY
    assert (proto.protocol_version, proto.client_capabilities, proto.client_info) == (
        VERSION,
        CAPABILITIES,
        CLIENT,
    )
    assert proto.log_level == "warning"
    assert fresh.subscriptions == {"res://a", "res://b", "res://c"}
    assert fresh.principal == "alice"
    assert fresh.stored_status == "active"
    assert fresh.created_at == 1234.5


def test_a_pending_record_restores_a_pending_session() -> None:
    fresh = new_session()
    fresh.principal = "someone-else"
    record = SessionRecord(session_id="s-1", status="pending", protocol_version=VERSION, created_at=99.0)
    apply_record(fresh, record)
    assert fresh.protocol.state is INITIALIZING
    assert fresh.protocol.protocol_version == VERSION
    assert fresh.stored_status == "pending"
    assert fresh.principal is None
    assert fresh.created_at == 99.0
    assert record_of(fresh).status == "pending"
