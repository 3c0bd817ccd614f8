"""Stateless edges end to end (hypercorn on 127.0.0.1:0): what the Accept header and `stateless` decide.

`stateless="auto"` (the default) serves a sessionless POST statelessly only when its Accept lacks
text/event-stream; no Accept at all accepts everything (RFC 9110 §12.5.1), so it counts as a client that takes
SSE. `stateless=False` never serves sessionless requests; `stateless=True` always does, and has no GET or DELETE.
TRIO_MCP_STATELESS is the environment twin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from _rawhttp import (
    ACCEPT_BOTH,
    JSON,
    HeaderList,
    RawResponse,
    Target,
    assert_error,
    body_message,
    init_body,
    rpc,
)

from examples.everything import server
from trio_mcp._transport.config import ConfigError

INVALID_REQUEST = -32600
SSE = "text/event-stream"
VERSION = "2025-11-25"

Start = Callable[..., Awaitable[Target]]


def headers(accept: str | None, session_id: str | None = None) -> HeaderList:
    """POST headers with exactly this Accept (None: no Accept header at all)."""
    out: list[tuple[str | bytes, str | bytes]] = [("content-type", JSON)]
    if accept is not None:
        out.append(("accept", accept))
    if session_id is not None:
        out += [("mcp-session-id", session_id), ("mcp-protocol-version", VERSION)]
    return out


def answer(response: RawResponse) -> dict[str, Any]:
    assert response.status == 200, (response.status, response.body)
    message = body_message(response)
    if isinstance(message, list):  # SSE: the response is the last message
        message = message[-1]
    assert isinstance(message, dict)
    return message


async def assert_missing_session_id(target: Target, accept: str | None) -> None:
    response = await target.request("POST", headers(accept), rpc("tools/list"))
    assert_error(response, 400, INVALID_REQUEST, "Mcp-Session-Id")


async def assert_served_statelessly(target: Target, accept: str | None) -> None:
    response = await target.request("POST", headers(accept), rpc("tools/list", id="sl"))
    assert response.content_type == "application/json", response.headers
    assert response.header("mcp-session-id") is None
    message = answer(response)
    assert message["id"] == "sl"
    assert any(tool["name"] == "test_simple_text" for tool in message["result"]["tools"])


async def new_session(target: Target, accept: str | None) -> tuple[str, RawResponse]:
    response = await target.request("POST", headers(accept), init_body(VERSION))
    assert response.status == 200, response.body
    session_id = response.header("mcp-session-id")
    assert session_id, response.headers
    assert answer(response)["result"]["protocolVersion"] == VERSION
    return session_id, response


# -- no Accept header --


async def test_a_post_without_accept_counts_as_accepting_sse(start: Start) -> None:
    """No Accept: a sessionless request is refused with 400 naming Mcp-Session-Id (not served statelessly),
    and an initialize starts a session whose requests are answered."""
    target = await start()
    await assert_missing_session_id(target, None)
    session_id, _ = await new_session(target, None)
    assert await target.app.store.count() == 1
    ack = await target.request(
        "POST", headers(None, session_id), b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
    )
    assert ack.status == 202, ack.body
    message = answer(await target.request("POST", headers(None, session_id), rpc("tools/list", id=4)))
    assert message["id"] == 4
    assert message["result"]["tools"]


async def test_a_post_without_accept_on_a_stateless_server_gets_json(start: Start) -> None:
    target = await start(stateless=True)
    await assert_served_statelessly(target, None)
    assert await target.app.store.count() == 0


# -- an SSE-only Accept --


async def test_an_sse_only_accept_is_never_served_statelessly(start: Start) -> None:
    """Accept: text/event-stream alone: sessionless requests need a session (400), initialize answers as
    SSE, and in-session requests are answered as SSE."""
    target = await start()
    await assert_missing_session_id(target, SSE)
    session_id, init = await new_session(target, SSE)
    assert init.content_type == SSE
    response = await target.request("POST", headers(SSE, session_id), rpc("ping", id=5))
    assert response.content_type == SSE
    assert answer(response) == {"jsonrpc": "2.0", "id": 5, "result": {}}


# -- stateless=False and stateless=True --


@pytest.mark.parametrize("accept", [JSON, ACCEPT_BOTH, None])
async def test_stateless_false_refuses_every_sessionless_post(start: Start, accept: str | None) -> None:
    """stateless=False: even a JSON-only client gets 400 naming Mcp-Session-Id without a session; an
    initialize creates a session (answered in a type the client accepts)."""
    target = await start(stateless=False)
    await assert_missing_session_id(target, accept)
    session_id, init = await new_session(target, accept)
    if accept == JSON:
        assert init.content_type == "application/json"
    assert await target.app.store.get(session_id) is not None


async def test_stateless_true_has_no_get_delete_or_back_channel(start: Start) -> None:
    """stateless=True: GET and DELETE are 405 (Allow: POST); initialize hands out no session id; a tool that
    elicits gets an error result saying the client is stateless, even when it accepts SSE."""
    target = await start(stateless=True)
    for method in ("GET", "DELETE"):
        response = await target.request(method, [("accept", SSE), ("mcp-session-id", "x")], None)
        assert_error(response, 405, INVALID_REQUEST, "stateless")
        assert response.header("allow") == "POST"
    response = await target.request("POST", headers(ACCEPT_BOTH), init_body(VERSION))
    assert response.header("mcp-session-id") is None
    assert answer(response)["result"]["serverInfo"]["name"] == "trio-mcp-everything"
    body = rpc("tools/call", {"name": "test_elicitation", "arguments": {"message": "who?"}}, id=8)
    result = answer(await target.request("POST", headers(ACCEPT_BOTH), body))["result"]
    assert result["isError"] is True
    assert "statelessly" in result["content"][0]["text"]
    assert await target.app.store.count() == 0


# -- the environment twin --


@pytest.mark.parametrize("value", ["true", "1", "yes", "ON"])
async def test_trio_mcp_stateless_true_from_the_environment(
    start: Start, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TRIO_MCP_STATELESS", value)
    target = await start()
    assert target.app.config.stateless is True
    response = await target.request("GET", [("accept", SSE), ("mcp-session-id", "x")], None)
    assert_error(response, 405, INVALID_REQUEST, "stateless")
    await assert_served_statelessly(target, ACCEPT_BOTH)


@pytest.mark.parametrize("value", ["false", "0", "no", "Off"])
async def test_trio_mcp_stateless_false_from_the_environment(
    start: Start, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TRIO_MCP_STATELESS", value)
    target = await start()
    assert target.app.config.stateless is False
    await assert_missing_session_id(target, JSON)


async def test_trio_mcp_stateless_auto_from_the_environment(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIO_MCP_STATELESS", "auto")
    target = await start()
    assert target.app.config.stateless == "auto"
    await assert_served_statelessly(target, JSON)
    await assert_missing_session_id(target, ACCEPT_BOTH)


async def test_an_explicit_stateless_argument_wins_over_the_environment(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIO_MCP_STATELESS", "true")
    target = await start(stateless=False)
    await assert_missing_session_id(target, JSON)
    session_id, _ = await new_session(target, ACCEPT_BOTH)
    async with await target.connect() as conn:
        get = [("accept", SSE), ("mcp-session-id", session_id), ("mcp-protocol-version", VERSION)]
        await conn.send("GET", "/mcp", get, None)
        with trio.fail_after(10):
            head = await conn.read_head()  # the stream stays open: its head is enough
    assert head.status == 200, head
    assert head.content_type == SSE


def test_a_bad_trio_mcp_stateless_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_STATELESS", "sometimes")
    with pytest.raises(ConfigError, match="TRIO_MCP_STATELESS='sometimes'"):
        server.asgi_app()
