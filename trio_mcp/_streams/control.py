"""Typed control events: what every instance of a deployment must hear, and their one wire form.

A stream manager's `broadcast(event)` reaches the `on_broadcast(event)` of every instance, the sender's
included. On Redis they travel as JSON on the control channel, ``{"kind": ..., <fields>}``; `to_wire` and
`from_wire` are the only encoder and decoder (an unknown kind or a malformed field decodes to None and is
ignored, so instances of different versions can share one channel).
"""

from __future__ import annotations

from typing import Any, TypeAlias, cast

import attrs


@attrs.frozen(kw_only=True)
class Notify:
    """A parameterless server-wide notification (``notifications/*/list_changed``) for every session."""

    method: str


@attrs.frozen(kw_only=True)
class ResourceUpdated:
    """``notifications/resources/updated`` for the sessions subscribed to `uri`."""

    uri: str


@attrs.frozen(kw_only=True)
class SessionChanged:
    """A session's record changed: drop cached copies of it."""

    session: str


@attrs.frozen(kw_only=True)
class SessionDeleted:
    """The session was deleted (DELETE on any instance): every instance closes its live copy and streams."""

    session: str


@attrs.frozen(kw_only=True)
class StreamTaken:
    """The session's GET stream is now the one named `token`: any other instance ends its own, unless its own
    is newer.

    `order` is the stream's hold in the stream manager's order of that session's holds (`StreamBuffer.order`:
    a later hold has a greater one; 0: unknown, as from older versions). It decides which of two streams
    wins however late this event arrives: a GET taken on B, then one on A, ends B's, even when B's own
    `StreamTaken` reaches A after A's stream began.
    """

    session: str
    token: str
    order: int = 0


@attrs.frozen(kw_only=True)
class CancelRequest:
    """``notifications/cancelled`` for a request of `session` that may run on any instance."""

    session: str
    request_id: str | int


ControlEvent: TypeAlias = (
    Notify | ResourceUpdated | SessionChanged | SessionDeleted | StreamTaken | CancelRequest
)

_KINDS: dict[str, type[ControlEvent]] = {
    "notify": Notify,
    "resource_updated": ResourceUpdated,
    "session_changed": SessionChanged,
    "session_deleted": SessionDeleted,
    "stream_taken": StreamTaken,
    "cancel": CancelRequest,
}
_NAMES = {kind: name for name, kind in _KINDS.items()}


def kind_of(event: ControlEvent) -> str:
    """The event's wire name ("notify", "session_changed", ...), also used to name it in logs."""
    return _NAMES[type(event)]


def to_wire(event: ControlEvent) -> dict[str, Any]:
    return {"kind": kind_of(event), **attrs.asdict(event)}


def _field_ok(value: Any, annotation: Any) -> bool:
    if annotation == "str":
        return isinstance(value, str)
    if annotation == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    # "str | int": a JSON-RPC request id (never a bool)
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def from_wire(obj: Any) -> ControlEvent | None:
    """The event `obj` encodes, or None when it is not one this version knows."""
    if not isinstance(obj, dict):
        return None
    fields = cast(dict[str, Any], obj)
    kind = _KINDS.get(str(fields.get("kind")))
    if kind is None:
        return None
    values: dict[str, Any] = {}
    for field in attrs.fields(kind):
        if field.name not in fields and field.default is not attrs.NOTHING:
            continue  # a field added later (an older sender): its default
        value = fields.get(field.name)
        if not _field_ok(value, field.type):
            return None
        values[field.name] = value
    return kind(**values)
