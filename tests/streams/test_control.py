"""Control events: one wire form, and anything else decodes to None (ignored, never a crash)."""

from __future__ import annotations

from typing import Any

import pytest

from trio_mcp._streams.control import from_wire, to_wire
from trio_mcp.streams import CancelRequest, ControlEvent, Notify, ResourceUpdated, SessionChanged, StreamTaken

EVENTS: list[ControlEvent] = [
    Notify(method="notifications/tools/list_changed"),
    ResourceUpdated(uri="file:///a"),
    SessionChanged(session="s"),
    StreamTaken(session="s", token="t"),
    StreamTaken(session="s", token="t", order=1764700000123456),
    CancelRequest(session="s", request_id=3),
    CancelRequest(session="s", request_id="x-1"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_round_trips(event: ControlEvent) -> None:
    assert from_wire(to_wire(event)) == event


def test_the_wire_form_is_the_one_earlier_versions_sent() -> None:
    # Instances of different versions share one control channel during a rolling deploy.
    assert to_wire(Notify(method="m")) == {"kind": "notify", "method": "m"}
    assert to_wire(CancelRequest(session="s", request_id=1)) == {
        "kind": "cancel",
        "session": "s",
        "request_id": 1,
    }


def test_an_older_versions_stream_taken_without_order_decodes_with_order_unknown() -> None:
    assert from_wire({"kind": "stream_taken", "session": "s", "token": "t"}) == StreamTaken(
        session="s", token="t", order=0
    )


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        {"kind": "unknown", "method": "m"},
        {"kind": "notify"},
        {"kind": "notify", "method": 5},
        {"kind": "cancel", "session": "s", "request_id": True},
        {"kind": "cancel", "session": "s", "request_id": None},
        {"kind": "stream_taken", "session": "s"},
        {"kind": "stream_taken", "session": "s", "token": "t", "order": "5"},
        {"kind": "stream_taken", "session": "s", "token": "t", "order": True},
    ],
)
def test_anything_else_decodes_to_none(obj: Any) -> None:
    assert from_wire(obj) is None
