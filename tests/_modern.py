"""2026-07-28 requests for tests: the era's headers, one request and its JSON-RPC answer, a listen stream."""

from __future__ import annotations

import json
from typing import Any

import trio
from _rawhttp import RawConnection, RawResponse, Target, assert_no_traceback, rpc

MODERN = "2026-07-28"
WAIT = 20.0
Json = dict[str, Any]
Headers = list[tuple[str | bytes, str | bytes]]
ALL_CAPABILITIES: Json = {"elicitation": {}, "sampling": {}, "roots": {}}
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"


def meta(capabilities: Json | None = None) -> Json:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {} if capabilities is None else capabilities,
    }


def headers(method: str, name: str | None = None, extra: Headers = ()) -> Headers:
    h: Headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", MODERN),
        ("mcp-method", method),
    ]
    if name is not None:
        h.append(("mcp-name", name))
    return h + list(extra)


async def send(
    target: Target, method: str, params: Json, *, id: int = 1, m: Json | None = None, extra: Headers = ()
) -> Json:
    """One 2026-07-28 request (its `_meta`: `m`, or every capability); its JSON-RPC answer (result or error)."""
    name = params.get("uri" if method == "resources/read" else "name")
    body = rpc(method, {**params, "_meta": meta(ALL_CAPABILITIES) if m is None else m}, id=id)
    with trio.fail_after(WAIT):
        response: RawResponse = await target.request(
            "POST", headers(method, name if isinstance(name, str) else None, extra), body
        )
    assert_no_traceback(response)
    message: Json = json.loads(response.body)
    assert message["id"] == id, message
    return message


async def listen(target: Target, notifications: Json, id: Any = 77) -> RawConnection:
    conn = await target.connect()
    body = rpc("subscriptions/listen", {"_meta": meta(), "notifications": notifications}, id=id)
    await conn.send("POST", target.path, headers("subscriptions/listen"), body)
    head = await conn.read_head()
    assert head.status == 200, head
    assert head.content_type == "text/event-stream"
    return conn


async def next_message(conn: RawConnection) -> Json | None:
    event = await conn.next_data_event()
    if event is None:
        return None
    message: Json = json.loads(event.data)
    return message
