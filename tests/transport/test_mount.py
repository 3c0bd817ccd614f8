"""The MCP app mounted inside a Starlette app, served by hypercorn (DESIGN.md §2 "Mounting in another ASGI app").

A mounted sub-app gets no lifespan events: the host enters `app.lifespan()` from its own lifespan. Starlette's
Mount keeps the full path in `scope["path"]` and puts the prefix in `root_path` (ASGI spec), so the app must
route on the path relative to root_path.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from _rawhttp import (
    JSON,
    assert_error,
    body_message,
    init_body,
    initialize,
    post_headers,
    rpc,
    start_app,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from examples.everything import server
from trio_mcp._transport.http import McpASGIApp


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def host_app(mcp: McpASGIApp, *, prefix: str, enter_lifespan: bool) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp.lifespan():
            yield

    return Starlette(
        routes=[Route("/health", health), Mount(prefix, app=mcp)],
        lifespan=lifespan if enter_lifespan else None,
    )


async def test_mounted_with_lifespan(nursery: trio.Nursery) -> None:
    mcp = server.asgi_app(keepalive_interval=0.2)
    target = await start_app(nursery, host_app(mcp, prefix="/tools", enter_lifespan=True), path="/tools/mcp")
    # The host's own routes still work.
    response = await target.request("GET", [], None, target="/health")
    assert (response.status, response.body) == (200, b"ok")
    # The MCP endpoint is at <prefix><path>.
    session_id = await initialize(target)
    response = await target.request("POST", post_headers(session_id), rpc("tools/list", id=2))
    assert response.status == 200
    assert body_message(response)["result"]["tools"]
    # SSE streams through Starlette's Mount: progress, then the response, then the end of the stream.
    body = rpc("tools/call", {"name": "test_tool_with_progress", "_meta": {"progressToken": "m"}}, id=3)
    async with await target.connect() as conn:
        await conn.send("POST", target.path, post_headers(session_id), body)
        head = await conn.read_head()
        assert head.status == 200
        assert head.content_type == "text/event-stream"
        with trio.fail_after(3):
            events = await conn.read_events()
    messages = [json.loads(e.data) for e in events if e.data]
    assert [m.get("method") for m in messages] == ["notifications/progress"] * 3 + [None]
    assert messages[-1]["result"]["content"][0]["text"] == "m"
    # The GET stream works, and server-wide notifications reach it (the hub was registered by lifespan()).
    async with await target.connect() as conn:
        await conn.send(
            "GET", target.path, [("accept", "text/event-stream"), ("mcp-session-id", session_id)], None
        )
        assert (await conn.read_head()).status == 200
        await server.send_tools_list_changed()
        with trio.fail_after(2):
            event = await conn.next_data_event()
        assert event is not None
        assert json.loads(event.data)["method"] == "notifications/tools/list_changed"
    # Header rules apply under the mount too.
    response = await target.request("POST", post_headers(session_id, version="1999-01-01"), rpc("ping"))
    assert_error(response, 400, -32600, "MCP-Protocol-Version")
    # Other paths under the prefix are not the endpoint.
    response = await target.request("POST", post_headers(accept=JSON), rpc("ping"), target="/tools/other")
    assert response.status == 404
    response = await target.request("POST", post_headers(accept=JSON), rpc("ping"), target="/mcp")
    assert response.status == 404
    # DELETE ends the session.
    response = await target.request("DELETE", [("mcp-session-id", session_id)], None)
    assert response.status == 200
    response = await target.request("POST", post_headers(session_id), rpc("ping"))
    assert_error(response, 404, -32001, "Session not found")


@pytest.mark.parametrize(("prefix", "path", "url"), [("/mcp", "/", "/mcp/"), ("/a/b", "/mcp", "/a/b/mcp")])
async def test_mount_prefixes(nursery: trio.Nursery, prefix: str, path: str, url: str) -> None:
    mcp = server.asgi_app(path=path)
    target = await start_app(nursery, host_app(mcp, prefix=prefix, enter_lifespan=True), path=url)
    response = await target.request("POST", post_headers(accept=JSON), rpc("ping", id="p"))
    assert response.status == 200, response
    assert response.json() == {"jsonrpc": "2.0", "id": "p", "result": {}}
    await initialize(target)


async def test_mounted_without_lifespan_is_503(nursery: trio.Nursery) -> None:
    mcp = server.asgi_app()
    target = await start_app(nursery, host_app(mcp, prefix="/tools", enter_lifespan=False), path="/tools/mcp")
    for headers, body in ((post_headers(), init_body()), (post_headers(accept=JSON), rpc("tools/list"))):
        response = await target.request("POST", headers, body)
        assert_error(response, 503, -32603, "Service Unavailable", "lifespan", "app.lifespan()")
    response = await target.request("GET", [("accept", "text/event-stream")], None)
    assert_error(response, 503, -32603, "lifespan")
    # The host app itself is fine.
    assert (await target.request("GET", [], None, target="/health")).status == 200


async def test_lifespan_cannot_be_entered_twice() -> None:
    mcp = server.asgi_app()
    async with mcp.lifespan():
        with pytest.raises(RuntimeError, match="already running"):
            async with mcp.lifespan():
                pass  # pragma: no cover
    # After it closed, it can run again (e.g. a host app restarted in the same process).
    async with mcp.lifespan() as running:
        assert running is mcp


def test_route_path_follows_root_path() -> None:
    from trio_mcp._transport.http import _route_path

    cases: list[tuple[dict[str, Any], str]] = [
        ({"path": "/mcp"}, "/mcp"),
        ({"path": "/mcp", "root_path": ""}, "/mcp"),
        ({"path": "/tools/mcp", "root_path": "/tools"}, "/mcp"),
        ({"path": "/tools", "root_path": "/tools"}, "/"),
        ({"path": "/toolsmcp", "root_path": "/tools"}, "/toolsmcp"),
        # A server that strips the prefix itself (path no longer starts with root_path).
        ({"path": "/mcp", "root_path": "/tools"}, "/mcp"),
    ]
    for scope, expected in cases:
        assert _route_path(scope) == expected, scope
