"""One session over WebSocket and HTTP on three REAL hypercorn processes sharing the test Redis.

The websocket is held on B; HTTP requests of the same session go to A: a notification A triggers reaches the
socket on B, and an elicitation a tool on A sends is answered over the socket on B (the reply forwarded back to
A). A session whose socket closed resumes on C with `Mcp-Session-Id`, and what was announced meanwhile is
delivered first. Our client, `open_client("ws://…")`, works against the cluster as well.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trio
import trio_websocket
from _instances import Instance, bounded, run_cluster
from _rawhttp import JSON, body_message, post_headers, rpc
from _redis_server import RedisServer
from _ws import open_ws

from trio_mcp import open_client
from trio_mcp import types as t

pytestmark = [pytest.mark.multiprocess, pytest.mark.redis]

VERSION = "2025-11-25"
PREFIX = "wsx:"
WAIT = 10.0
TOOLS_CHANGED = "notifications/tools/list_changed"


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Instance]]:
    logs = tmp_path_factory.mktemp("websocket-cluster")
    with run_cluster(redis_server, logs, PREFIX) as instances:
        yield instances


def ws_url(instance: Instance) -> str:
    return f"ws://127.0.0.1:{instance.port}/mcp"


class Socket:
    """A raw websocket of one session: send JSON-RPC, read until a message matches, keep the rest."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    @property
    def session_id(self) -> str:
        return dict(self.ws.handshake_headers)[b"mcp-session-id"].decode()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_message(json.dumps({"jsonrpc": "2.0", **message}))

    async def until(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        with trio.fail_after(WAIT):
            for message in self.seen:
                if match(message):
                    self.seen.remove(message)
                    return message
            while True:
                message = json.loads(await self.ws.get_message())
                if match(message):
                    return message
                self.seen.append(message)

    async def initialize(self, capabilities: dict[str, Any] | None = None) -> None:
        await self.send(
            {
                "id": "init",
                "method": "initialize",
                "params": {
                    "protocolVersion": VERSION,
                    "capabilities": capabilities or {},
                    "clientInfo": {"name": "cluster-test", "version": "1"},
                },
            }
        )
        reply = await self.until(lambda m: m.get("id") == "init")
        assert reply["result"]["protocolVersion"] == VERSION
        await self.send({"method": "notifications/initialized"})


async def http_tool(instance: Instance, session_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    """tools/call over HTTP in JSON mode: its own messages go to the session's stream (the websocket)."""
    response = await instance.target.request(
        "POST",
        post_headers(session_id, accept=JSON, version=VERSION),
        rpc("tools/call", {"name": name, "arguments": arguments}, id=7),
    )
    assert response.status == 200, (instance.name, response.status, response.body)
    message = body_message(response)
    assert "result" in message, message
    result: dict[str, Any] = message["result"]
    return result


@bounded(60)
async def test_a_notification_triggered_over_http_on_a_reaches_the_websocket_on_b(
    cluster: list[Instance],
) -> None:
    a, b, _ = cluster
    async with open_ws(ws_url(b)) as ws:
        socket = Socket(ws)
        await socket.initialize()
        await http_tool(a, socket.session_id, "trigger_tools_list_changed")
        note = await socket.until(lambda m: m.get("method") == TOOLS_CHANGED)
        assert "id" not in note


@bounded(60)
async def test_an_elicitation_by_a_tool_on_a_is_answered_over_the_websocket_on_b(
    cluster: list[Instance],
) -> None:
    a, b, _ = cluster
    async with open_ws(ws_url(b)) as ws:
        socket = Socket(ws)
        await socket.initialize({"elicitation": {}})
        result: list[dict[str, Any]] = []

        async def call_on_a() -> None:
            result.append(await http_tool(a, socket.session_id, "test_elicitation", message="who are you?"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call_on_a)
            request = await socket.until(lambda m: m.get("method") == "elicitation/create")
            assert request["params"]["message"] == "who are you?"
            await socket.send(
                {
                    "id": request["id"],
                    "result": {
                        "action": "accept",
                        "content": {"username": "ws-user", "email": "u@example.org"},
                    },
                }
            )
        (text,) = result[0]["content"]
        assert "ws-user" in text["text"]


@bounded(60)
async def test_a_session_resumes_on_another_instance_and_gets_what_was_announced_meanwhile(
    cluster: list[Instance],
) -> None:
    a, b, c = cluster
    async with open_ws(ws_url(b)) as ws:
        socket = Socket(ws)
        await socket.initialize()
        session_id = socket.session_id
    # No socket holds the session now: a list_changed announced on A is kept for it (B saw its socket end).
    await trio.sleep(0.3)
    await http_tool(a, session_id, "trigger_tools_list_changed")
    await trio.sleep(0.3)
    headers = [(b"mcp-session-id", session_id.encode())]
    async with open_ws(ws_url(c), headers=headers) as ws:
        socket = Socket(ws)
        await socket.until(lambda m: m.get("method") == TOOLS_CHANGED)
        # The session goes on without a new initialize.
        await socket.send({"id": 1, "method": "tools/call", "params": {"name": "test_simple_text"}})
        reply = await socket.until(lambda m: m.get("id") == 1)
        assert reply["result"]["content"][0]["text"] == "This is a simple text response for testing."


@bounded(60)
async def test_our_client_over_a_websocket_on_b_gets_notifications_triggered_on_a(
    cluster: list[Instance],
) -> None:
    a, b, _ = cluster
    notes: list[str] = []

    async def on_note(method: str, params: Any) -> None:
        notes.append(method)

    async with open_client(ws_url(b), notification_callback=on_note) as client:
        tools = await client.list_all_tools()
        assert any(tool.name == "count_slowly" for tool in tools)
        result = await client.call_tool("count_slowly", {"n": 2, "interval_ms": 1})
        assert isinstance(result, t.CallToolResult)
        assert result.structured_content == {"count": 2}
        assert client.session_id is not None
        await http_tool(a, client.session_id, "trigger_tools_list_changed")
        with trio.fail_after(WAIT):
            while TOOLS_CHANGED not in notes:
                await trio.sleep(0.02)
