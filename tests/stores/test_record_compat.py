"""Session records written before a field existed still load: the field takes its default (cattrs)."""

from __future__ import annotations

import json

import attrs

from trio_mcp._stores._base import record_from_json, record_to_json
from trio_mcp._stores.kit import full_record
from trio_mcp._stores.redis import dump_record, load_record

# A record as a version before `clientId` and `transport` wrote it.
OLD_RECORD = json.dumps(
    {
        "lastAccessedAt": 1_700_000_100.5,
        "sessionId": "old-1",
        "principal": "https://issuer.example#alice",
        "status": "active",
        "protocolVersion": "2025-11-25",
        "clientInfo": {"name": "old-client", "version": "0.9"},
        "subscriptions": ["file:///a.txt"],
        "createdAt": 1_700_000_000.25,
        "schemaVersion": 1,
    }
)


def test_a_record_without_client_id_and_transport_loads_with_their_defaults() -> None:
    for load in (record_from_json, load_record):
        record = load(OLD_RECORD)
        assert record.session_id == "old-1"
        assert record.principal == "https://issuer.example#alice"
        assert record.client_id is None
        assert record.transport == "http"
        assert record.status == "active"
        assert record.client_info is not None
        assert record.client_info.name == "old-client"
        assert record.created_at == 1_700_000_000.25


def test_client_id_and_transport_round_trip_under_their_wire_names() -> None:
    record = full_record("new-1")
    assert (record.client_id, record.transport) == ("kit-oauth-client", "websocket")
    for dump, load in ((record_to_json, record_from_json), (dump_record, load_record)):
        text = dump(record)
        wire = json.loads(text)
        assert (wire["clientId"], wire["transport"]) == ("kit-oauth-client", "websocket")
        assert load(text) == record


def test_an_unknown_transport_of_a_newer_version_still_loads() -> None:
    text = record_to_json(attrs.evolve(full_record("newer"), transport="carrier-pigeon"))
    assert record_from_json(text).transport == "carrier-pigeon"
