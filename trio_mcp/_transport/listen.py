"""`subscriptions/listen` (2026-07-28, SEP-2575): a long-lived SSE response that carries the change notifications
a client opted in to, fed by the control events of every instance (docs/architecture.md §9).

The first frame acknowledges the subscription with the filter the server honours; every notification after it
carries the subscription id (the listen request's JSON-RPC id) in `_meta`. Each listener has a bounded
`StreamBuffer` (a listener that stops reading is dropped, as a GET stream is); a drain ends every listen
stream with its result, so the client listens again elsewhere.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

from .._proto import sse
from .._proto import types as t
from .._proto.jsonrpc import Notification, RequestId, Response, encode
from .._streams._base import StreamBuffer

META_SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
ACKNOWLEDGED = "notifications/subscriptions/acknowledged"
# Which filter field opts in to which list_changed notification.
_LIST_CHANGED = {
    "notifications/tools/list_changed": "tools",
    "notifications/prompts/list_changed": "prompts",
    "notifications/resources/list_changed": "resources",
}


@attrs.frozen
class Filter:
    """What a listener asked for, cut to what the server offers (SubscriptionFilter)."""

    tools: bool = False
    prompts: bool = False
    resources: bool = False
    uris: frozenset[str] = frozenset()

    @classmethod
    def honoured(cls, requested: object, capabilities: t.ServerCapabilities) -> Filter:
        asked: dict[str, Any] = requested if isinstance(requested, dict) else {}  # pyright: ignore[reportUnknownVariableType]
        uris = asked.get("resourceSubscriptions")
        tools, prompts, resources = capabilities.tools, capabilities.prompts, capabilities.resources
        return cls(
            tools=asked.get("toolsListChanged") is True and tools is not None and bool(tools.list_changed),
            prompts=asked.get("promptsListChanged") is True
            and prompts is not None
            and bool(prompts.list_changed),
            resources=asked.get("resourcesListChanged") is True
            and resources is not None
            and bool(resources.list_changed),
            uris=frozenset(u for u in uris if isinstance(u, str))  # pyright: ignore[reportUnknownVariableType]
            if isinstance(uris, list) and resources is not None and resources.subscribe
            else frozenset(),
        )

    def wants(self, method: str) -> bool:
        field = _LIST_CHANGED.get(method)
        return field is not None and bool(getattr(self, field))

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {}
        if self.tools:
            wire["toolsListChanged"] = True
        if self.prompts:
            wire["promptsListChanged"] = True
        if self.resources:
            wire["resourcesListChanged"] = True
        if self.uris:
            wire["resourceSubscriptions"] = sorted(self.uris)
        return wire


@attrs.define(eq=False)
class Listener:
    subscription_id: RequestId
    filter: Filter
    buffer: StreamBuffer

    def offer(self, method: str, params: dict[str, Any] | None = None, *, coalesce: bool = False) -> None:
        tagged = {**(params or {}), "_meta": {META_SUBSCRIPTION_ID: self.subscription_id}}
        self.buffer.offer(encode(Notification(method=method, params=tagged)), coalesce=coalesce)


class ListenHub:
    """The listen streams open on this instance, as a LocalHub: the control fan-out hands it every
    list_changed and resource update, from whichever instance it came. Never blocks (it runs in the pump)."""

    def __init__(self) -> None:
        self.listeners: set[Listener] = set()

    def notify_all(self, method: str) -> None:
        for listener in list(self.listeners):
            if listener.filter.wants(method):
                listener.offer(method, coalesce=True)

    async def resource_updated(self, uri: str) -> None:
        for listener in list(self.listeners):
            if uri in listener.filter.uris:
                listener.offer("notifications/resources/updated", {"uri": uri})

    def forget(self, session_id: str) -> None:
        return None  # listen streams belong to no session


def acknowledgement(listener: Listener) -> bytes:
    params = {
        "notifications": listener.filter.to_wire(),
        "_meta": {META_SUBSCRIPTION_ID: listener.subscription_id},
    }
    return sse.encode_event(encode(Notification(method=ACKNOWLEDGED, params=params)))


def ended(listener: Listener) -> bytes:
    """SubscriptionsListenResult: the server tore the subscription down (a drain, a slow client)."""
    return sse.encode_event(encode(Response(id=listener.subscription_id, result={"resultType": "complete"})))


async def follow(listener: Listener, send: Any, keepalive: float) -> None:
    """Write what the listener's buffer takes until it ends; a comment after `keepalive` seconds of quiet."""
    while True:
        payload = b""
        with trio.move_on_after(keepalive) as quiet:
            try:
                payload = await listener.buffer.receive()
            except trio.EndOfChannel:
                return
        if quiet.cancelled_caught:
            await send({"type": "http.response.body", "body": sse.encode_comment(), "more_body": True})
            continue
        await send({"type": "http.response.body", "body": sse.encode_event(payload), "more_body": True})
