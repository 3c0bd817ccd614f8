"""Text on the wire is always valid UTF-8, over a real socket: bad input is a 400, bad output is repaired."""

from __future__ import annotations

import json

import trio
from _rawhttp import JSON, Target, assert_error, body_message, initialize, post_headers, rpc, start_app

from trio_mcp import Server

PARSE_ERROR = -32700


async def test_a_lone_surrogate_in_a_request_is_a_400_parse_error(target: Target) -> None:
    # The curl line of the report: `-d '{"jsonrpc":"2.0","id":"\ud800","method":"ping"}'` answered 500.
    response = await target.request(
        "POST", post_headers(accept=JSON), b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}'
    )
    assert_error(response, 400, PARSE_ERROR, "id contains a lone UTF-16 surrogate")
    raw = await target.request(
        "POST", post_headers(accept=JSON), b'{"jsonrpc":"2.0","id":"\xed\xa0\x80","method":"ping"}'
    )
    assert_error(raw, 400, PARSE_ERROR, "not valid UTF-8")


async def test_an_initialize_with_a_lone_surrogate_creates_no_session(target: Target) -> None:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "\ud800", "version": "0"},
            },
        }
    ).encode()
    response = await target.request("POST", post_headers(), body)
    assert_error(response, 400, PARSE_ERROR, "params.clientInfo.name")
    assert response.header("mcp-session-id") is None


def _surrogate_server() -> Server:
    server = Server("surrogates")

    @server.tool
    async def broken_text() -> str:
        """Returns text that is not valid Unicode."""
        return "before \ud800 after"

    return server


async def test_a_tool_returning_a_lone_surrogate_is_answered_with_u_fffd(nursery: trio.Nursery) -> None:
    target = await start_app(nursery, _surrogate_server().asgi_app())
    session_id = await initialize(target)
    call = rpc("tools/call", {"name": "broken_text", "arguments": {}}, id=7)
    over_sse = await target.request("POST", post_headers(session_id), call)
    assert over_sse.status == 200
    message = body_message(over_sse)
    assert message["id"] == 7
    assert message["result"]["content"][0]["text"] == "before \ufffd after"
    over_json = await target.request("POST", post_headers(accept=JSON), call)
    assert over_json.status == 200
    assert over_json.json()["result"]["content"][0]["text"] == "before \ufffd after"
