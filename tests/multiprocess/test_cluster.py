"""Three REAL hypercorn processes sharing the test Redis: any instance serves any session, and what a request on
one instance sends reaches the client's GET stream held by another.

The processes run ``examples.cluster:app`` (the conformance fixture plus two tools that send server-wide
notifications) with ``TRIO_MCP_STORE=redis`` (which selects the Redis stream manager too), a 1 s heartbeat and
a 1 s SSE keep-alive. They are started once for the module; every test uses its own sessions.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from _instances import Instance, answer_elicitation, open_stream, run_cluster
from _instances import bounded as _bounded
from _rawhttp import (
    ACCEPT_BOTH,
    JSON,
    assert_error,
    body_message,
    init_body,
    initialize,
    note,
    post_headers,
    rpc,
)
from _redis_server import RedisServer

pytestmark = [pytest.mark.multiprocess, pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]
VERSION = "2025-11-25"
PREFIX = "mp:"
WATCHED = "test://watched-resource"
SESSION_NOT_FOUND = -32001
WAIT = 10.0
TEST_TIMEOUT = 60.0


bounded = _bounded(TEST_TIMEOUT)


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Instance]]:
    with run_cluster(redis_server, tmp_path_factory.mktemp("cluster"), PREFIX) as instances:
        yield instances


# -- helpers --


async def call(
    instance: Instance,
    session_id: str,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    accept: str = JSON,
) -> dict[str, Any]:
    """One request in the session; JSON mode by default (notifications go to the session's GET stream)."""
    response = await instance.target.request(
        "POST", post_headers(session_id, accept=accept, version=VERSION), rpc(method, params, id=1)
    )
    assert response.status == 200, (instance.name, response.status, response.body)
    message = body_message(response)
    if isinstance(message, list):  # an SSE answer: notifications first, the response last
        message = message[-1]
    assert "result" in message, message
    return message


def _text(result: dict[str, Any]) -> str:
    content = result["result"]["content"]
    assert content[0]["type"] == "text", content
    return str(content[0]["text"])


# -- the streams issue --


@bounded
async def test_notifications_of_a_json_request_on_b_reach_the_get_stream_on_a(
    cluster: list[Instance], redis_server: RedisServer
) -> None:
    a, b, _ = cluster
    session_id = await initialize(a.target)
    async with open_stream(a, session_id) as stream:
        # The instance holding the stream is recorded, and alive (one heartbeat per instance).
        holder = redis_server.command("GET", f"{PREFIX}holder:{session_id}")
        assert isinstance(holder, bytes)
        assert redis_server.command("EXISTS", f"{PREFIX}alive:{holder.decode()}") == 1
        await call(b, session_id, "logging/setLevel", {"level": "debug"})
        result = await call(b, session_id, "tools/call", {"name": "test_tool_with_logging", "arguments": {}})
        assert _text(result) == "Tool with logging executed successfully"
        logs = [(await stream.next_message("notifications/message"))["params"] for _ in range(3)]
    assert [entry["data"] for entry in logs] == [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ]
    assert {entry["level"] for entry in logs} == {"info"}


@bounded
async def test_a_resource_update_reaches_a_subscriber_whose_stream_is_elsewhere(
    cluster: list[Instance],
) -> None:
    a, b, c = cluster
    session_id = await initialize(a.target)
    async with open_stream(a, session_id) as stream:
        await call(b, session_id, "resources/subscribe", {"uri": WATCHED})
        await call(
            c, session_id, "tools/call", {"name": "trigger_resource_update", "arguments": {"uri": WATCHED}}
        )
        note = await stream.next_message("notifications/resources/updated")
    assert note["params"] == {"uri": WATCHED}


@bounded
async def test_elicitation_from_b_is_answered_through_c(cluster: list[Instance]) -> None:
    a, b, c = cluster
    session_id = await initialize(a.target, capabilities={"elicitation": {}})
    result: dict[str, Any] = {}

    async def call_tool() -> None:
        arguments = {"message": "Who are you?"}
        result.update(
            await call(b, session_id, "tools/call", {"name": "test_elicitation", "arguments": arguments})
        )

    with trio.fail_after(2 * WAIT):
        async with open_stream(a, session_id) as stream, trio.open_nursery() as nursery:
            nursery.start_soon(call_tool)
            request = await stream.next_message("elicitation/create")
            assert request["params"]["message"] == "Who are you?"
            await answer_elicitation(c, session_id, VERSION, request)
    assert (
        _text(result) == 'User response: action=accept, content={"username":"ada","email":"ada@example.org"}'
    )


@bounded
async def test_tools_list_changed_reaches_sessions_on_every_instance(cluster: list[Instance]) -> None:
    a, b, c = cluster
    sessions = [await initialize(instance.target) for instance in cluster]
    async with (
        open_stream(a, sessions[0]) as on_a,
        open_stream(b, sessions[1]) as on_b,
        open_stream(c, sessions[2]) as on_c,
    ):
        await call(b, sessions[1], "tools/call", {"name": "trigger_tools_list_changed", "arguments": {}})
        for stream in (on_a, on_b, on_c):
            note = await stream.next_message("notifications/tools/list_changed")
            assert note["jsonrpc"] == "2.0"
            assert "id" not in note


@bounded
async def test_delete_on_c_closes_the_stream_on_a_and_b_answers_404(
    cluster: list[Instance], redis_server: RedisServer
) -> None:
    a, b, c = cluster
    session_id = await initialize(a.target)
    async with open_stream(a, session_id) as stream:
        headers = [("mcp-session-id", session_id), ("mcp-protocol-version", VERSION)]
        response = await c.target.request("DELETE", headers, None)
        assert response.status == 200, response.body
        await stream.expect_end()
    response = await b.target.request("POST", post_headers(session_id, version=VERSION), rpc("tools/list"))
    assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")
    with trio.fail_after(WAIT):  # the stream's holder key went with it
        while redis_server.command("EXISTS", f"{PREFIX}holder:{session_id}"):
            await trio.sleep(0.05)


# -- the session stores issue: any instance serves any session --


@bounded
async def test_a_session_started_on_a_is_served_and_ended_on_b(cluster: list[Instance]) -> None:
    a, b, c = cluster
    session_id = await initialize(a.target)
    result = await call(
        b, session_id, "tools/call", {"name": "test_simple_text", "arguments": {}}, accept=ACCEPT_BOTH
    )
    assert _text(result) == "This is a simple text response for testing."
    await call(b, session_id, "logging/setLevel", {"level": "error"}, accept=ACCEPT_BOTH)
    await call(b, session_id, "resources/subscribe", {"uri": WATCHED}, accept=ACCEPT_BOTH)
    # C follows the log level B stored: an info log is not sent at level error.
    response = await c.target.request(
        "POST",
        post_headers(session_id, version=VERSION),
        rpc("tools/call", {"name": "test_tool_with_logging", "arguments": {}}),
    )
    messages = body_message(response)
    messages = messages if isinstance(messages, list) else [messages]
    assert [m.get("method") for m in messages[:-1]] == [], messages
    assert _text(messages[-1]) == "Tool with logging executed successfully"
    headers = [("mcp-session-id", session_id), ("mcp-protocol-version", VERSION)]
    response = await b.target.request("DELETE", headers, None)
    assert response.status == 200, response.body
    response = await a.target.request("POST", post_headers(session_id, version=VERSION), rpc("tools/list"))
    assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")
    response = await a.target.request("GET", [*headers, ("accept", "text/event-stream")], None)
    assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")


@bounded
async def test_a_handshake_split_across_instances_keeps_the_session_active(
    cluster: list[Instance], redis_server: RedisServer
) -> None:
    # initialize, notifications/initialized and the next request (a setLevel, which rewrites the record) on
    # any instances, in every combination: the session must end up active with the idle TTL, never pending.
    for first, second, third in itertools.product(cluster, repeat=3):
        where = f"{first.name}{second.name}{third.name}"
        response = await first.target.request("POST", post_headers(), init_body(VERSION))
        assert response.status == 200, (where, response.body)
        session_id = response.header("mcp-session-id")
        assert session_id, where
        ack = await second.target.request(
            "POST", post_headers(session_id, version=VERSION), note("notifications/initialized")
        )
        assert ack.status == 202, (where, ack.body)
        level = await third.target.request(
            "POST",
            post_headers(session_id, version=VERSION, accept=JSON),
            rpc("logging/setLevel", {"level": "debug"}),
        )
        assert level.status == 200, (where, level.body)
        for instance in (first, third):  # the instances that saw the session pending
            tools = await instance.target.request(
                "POST", post_headers(session_id, version=VERSION, accept=JSON), rpc("tools/list")
            )
            assert tools.status == 200, (where, tools.body)
        stored = json.loads(redis_server.command("GET", f"{PREFIX}session:{session_id}"))
        assert stored["status"] == "active", (where, stored)
        assert stored["logLevel"] == "debug", (where, stored)
        # The idle timeout (1 day), not the pending one (10 min).
        assert int(redis_server.command("PTTL", f"{PREFIX}session:{session_id}")) > 600_000, where
