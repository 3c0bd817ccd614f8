"""Apps in this process serving the conformance fixture, as a small cluster, and helpers to watch their streams.

A `Cluster` is instance A (which sends) and instance B (which holds the GET stream): two apps on one Redis, or
one app that is both on the memory backends.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio
from _rawhttp import RawConnection, Target, body_message, post_headers, rpc, start_app

from examples.everything import server
from trio_mcp._transport.http import McpASGIApp

VERSION = "2025-11-25"
TOOLS_CHANGED = "notifications/tools/list_changed"
RESOURCES_CHANGED = "notifications/resources/list_changed"
RESOURCE_UPDATED = "notifications/resources/updated"
WAIT = 20.0


@attrs.define
class Cluster:
    """Instance A sends; instance B holds the GET stream. The memory backends: one app is both."""

    kind: str
    a: McpASGIApp
    target_a: Target
    b: McpASGIApp
    target_b: Target

    @property
    def apps(self) -> list[McpASGIApp]:
        return [self.a] if self.a is self.b else [self.a, self.b]

    @property
    def targets(self) -> list[Target]:
        return [self.target_a] if self.a is self.b else [self.target_a, self.target_b]


CONFIG: dict[str, Any] = {"heartbeat_interval": 0.2}


async def memory_cluster(nursery: trio.Nursery) -> Cluster:
    app = server.asgi_app(**CONFIG)
    target = await start_app(nursery, app)
    return Cluster("memory", app, target, app, target)


async def redis_cluster(nursery: trio.Nursery, redis_url: str) -> Cluster:
    """Two apps in this process on one Redis, with the same prefix (unique to the test)."""
    config = {**CONFIG, "store": "redis", "redis_url": redis_url, "redis_prefix": f"t{secrets.token_hex(4)}:"}
    a, b = server.asgi_app(**config), server.asgi_app(**config)
    return Cluster("redis", a, await start_app(nursery, a), b, await start_app(nursery, b))


async def eventually(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    with trio.move_on_after(timeout):
        while not condition():
            await trio.sleep(0.01)
        return
    raise AssertionError(f"{what} within {timeout:g} s")


async def open_get(
    target: Target, session_id: str, extra: Sequence[tuple[str | bytes, str | bytes]] = ()
) -> RawConnection:
    """The session's GET stream on `target` (asserts the 200); `extra`: more headers (a user, a token)."""
    conn = await target.connect()
    headers = [
        ("accept", "text/event-stream"),
        ("mcp-session-id", session_id),
        ("mcp-protocol-version", VERSION),
        *extra,
    ]
    await conn.send("GET", target.path, headers, None)
    head = await conn.read_head()
    assert head.status == 200, head
    return conn


async def next_message(conn: RawConnection, method: str, timeout: float = WAIT) -> dict[str, Any]:
    """The next message with `method` on an open GET stream (others are skipped); fails if the stream ends."""
    with trio.fail_after(timeout):
        while True:
            event = await conn.next_event()
            assert event is not None, f"the GET stream ended while waiting for {method}"
            if event.data:
                message = json.loads(event.data)
                if message.get("method") == method:
                    return message


async def subscribe(target: Target, session_id: str, uri: str) -> None:
    response = await target.request(
        "POST", post_headers(session_id, version=VERSION), rpc("resources/subscribe", {"uri": uri})
    )
    assert response.status == 200, (response.status, response.body)
    assert "result" in body_message(response), response.body
