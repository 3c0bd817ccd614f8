"""One verdict per message for every transport: triage, and HTTP and stdio agreeing on the same bad input."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import trio
import trio.testing
from _rawhttp import JSON, Target, initialize, post_headers, start_app

from examples.everything import server
from trio_mcp._proto.jsonrpc import ErrorResponse, parse_body
from trio_mcp._runtime.intake import triage
from trio_mcp._runtime.outbound import NoBackChannel
from trio_mcp._runtime.state import ServerSession
from trio_mcp._transport.stdio import serve_streams

VERSION = "2025-11-25"
INIT = {
    "jsonrpc": "2.0",
    "id": "init",
    "method": "initialize",
    "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
# A notification whose params are wrong, and a request whose params are wrong.
BAD_NOTIFICATION = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": {"x": 1}}}
BAD_REQUEST = {"jsonrpc": "2.0", "id": "bad", "method": "tools/call", "params": {"name": 5}}


async def test_triage_sorts_a_batch_into_one_verdict_per_message() -> None:
    session = ServerSession.new("s")
    dispatcher = server.dispatcher()
    (init,) = triage(dispatcher, session, parse_body(json.dumps(INIT))).requests
    await dispatcher.handle_request(session, init, NoBackChannel("test"))
    body = [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        BAD_REQUEST,
        BAD_NOTIFICATION,
        {"jsonrpc": "2.0", "id": "srv-1", "result": {}},
        {"jsonrpc": "1.0", "id": 9, "method": "ping"},
    ]
    intake = triage(dispatcher, session, parse_body(json.dumps(body)))
    assert [n.method for n in intake.notifications] == ["notifications/initialized"]
    assert [r.method for r in intake.requests] == ["tools/list"]
    assert [r.id for r in intake.replies] == ["bad", 9]
    assert all(isinstance(r, ErrorResponse) for r in intake.replies)
    assert [r.id for r in intake.responses] == ["srv-1"]
    assert len(intake.refused) == 1
    assert "requestId" in intake.refused[0].message or "request_id" in intake.refused[0].message


async def _over_http(target: Target, message: dict[str, Any]) -> tuple[int, Any]:
    session_id = await initialize(target, VERSION)
    response = await target.request(
        "POST", post_headers(session_id, version=VERSION, accept=JSON), json.dumps(message).encode()
    )
    return response.status, (response.json() if response.body else None)


async def _over_stdio(messages: list[dict[str, Any]], until_id: str) -> list[dict[str, Any]]:
    client, server_end = trio.testing.memory_stream_pair()
    out: list[dict[str, Any]] = []
    buffer = b""

    async def serve() -> None:
        await serve_streams(server, server_end, server_end)
        await server_end.aclose()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            for message in [INIT, {"jsonrpc": "2.0", "method": "notifications/initialized"}, *messages]:
                await client.send_all(json.dumps(message).encode() + b"\n")
            await client.send_all(
                json.dumps({"jsonrpc": "2.0", "id": until_id, "method": "ping"}).encode() + b"\n"
            )
            while not any(m.get("id") == until_id for m in out):
                chunk = await client.receive_some(65536)
                assert chunk
                buffer += chunk
                *lines, rest = buffer.split(b"\n")
                buffer = rest
                out += [json.loads(line) for line in lines if line]
            await client.send_eof()
    return [m for m in out if m.get("id") not in ("init", until_id)]


@pytest.fixture
async def target(nursery: trio.Nursery) -> Target:
    return await start_app(nursery, server.asgi_app())


async def test_a_bad_notification_gets_the_same_verdict_over_http_and_stdio(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    status, body = await _over_http(target, BAD_NOTIFICATION)
    assert status == 400
    http_message = body["error"]["message"]
    with caplog.at_level(logging.WARNING, logger="trio_mcp"):
        answers = await _over_stdio([BAD_NOTIFICATION], "after")
    # JSON-RPC never answers a notification: stdio says nothing on the wire and logs the same verdict.
    assert answers == []
    assert any(http_message in record.getMessage() for record in caplog.records), http_message


async def test_a_bad_request_gets_the_same_error_over_http_and_stdio(target: Target) -> None:
    status, body = await _over_http(target, BAD_REQUEST)
    assert status == 200
    answers = await _over_stdio([BAD_REQUEST], "after")
    assert answers == [body]
    assert body["error"]["code"] == -32602
