"""The OAuth resource server on the WebSocket transport (trio_mcp/_transport/websocket.py, docs §8 and §10): the
upgrade needs a token (refused with the HTTP challenge), the socket's session is bound to the token's
principal, a request beyond the token's scopes gets the challenge as its JSON-RPC error, and the socket closes
when the token expires."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from _issuer import ISSUER, Issuer, parse_challenge, start_issuer
from _rawhttp import Target, start_app
from _ws import open_ws, rejected_upgrade
from test_auth_http import server
from trio_websocket import ConnectionClosed, WebSocketConnection

from trio_mcp._proto.errors import INSUFFICIENT_SCOPE
from trio_mcp._proto.websocket import Close
from trio_mcp._transport.http import McpASGIApp

Json = dict[str, Any]
WAIT = 10.0
INITIALIZE: Json = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "ws", "version": "1"},
    },
}


@pytest.fixture
async def issuer(nursery: trio.Nursery) -> Issuer:
    return await start_issuer(nursery)


@pytest.fixture
async def app(issuer: Issuer) -> McpASGIApp:
    return server.asgi_app(auth_issuer=ISSUER, auth_jwks_url=issuer.jwks_url, auth_scopes=["mcp"])


@pytest.fixture
async def target(nursery: trio.Nursery, app: McpASGIApp) -> Target:
    return await start_app(nursery, app)


def ws_url(target: Target) -> str:
    return f"ws://{target.host}:{target.port}/mcp"


def bearer(token: str, sid: str | None = None) -> list[tuple[bytes, bytes]]:
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return headers if sid is None else [*headers, (b"mcp-session-id", sid.encode())]


async def exchange(ws: WebSocketConnection, message: Json) -> Json:
    await ws.send_message(json.dumps(message))
    while True:
        answer: Json = json.loads(await ws.get_message())
        if answer.get("id") == message.get("id"):
            return answer


async def read_until_closed(ws: WebSocketConnection) -> None:
    while True:
        await ws.get_message()


async def start_session(ws: WebSocketConnection) -> None:
    assert "result" in await exchange(ws, INITIALIZE)
    await ws.send_message(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))


async def test_an_upgrade_without_a_token_is_refused_with_the_http_challenge(target: Target) -> None:
    with trio.fail_after(WAIT):
        rejection = await rejected_upgrade(target.host, target.port)
    assert rejection.status_code == 401
    headers = {k.decode().lower(): v.decode() for k, v in rejection.headers}
    challenge = parse_challenge(headers["www-authenticate"])
    assert (
        challenge["resource_metadata"]
        == f"http://{target.host}:{target.port}/.well-known/oauth-protected-resource/mcp"
    )
    assert challenge["scope"] == "mcp"
    assert json.loads(rejection.body)["error"] == "invalid_token"


async def test_a_socket_session_is_bound_to_its_token_and_scopes_are_enforced_per_request(
    target: Target, issuer: Issuer, app: McpASGIApp
) -> None:
    alice = issuer.mint("alice", audience=target.url)
    with trio.fail_after(WAIT):
        async with open_ws(ws_url(target), headers=bearer(alice)) as ws:
            await start_session(ws)
            refused = await exchange(
                ws, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "deploy"}}
            )
            assert refused["error"]["code"] == INSUFFICIENT_SCOPE
            assert refused["error"]["data"]["error"] == "insufficient_scope"
            assert refused["error"]["data"]["scope"] == "deploy mcp"
            assert refused["error"]["data"]["resource_metadata"].endswith(
                "/.well-known/oauth-protected-resource/mcp"
            )
            listed = await exchange(ws, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
            assert [tool["name"] for tool in listed["result"]["tools"]] == ["whoami"]
            (sid,) = await app.sessions.list_ids(f"{ISSUER}#alice")
        record = await app.sessions.get(sid)
        assert record is not None
        assert record.transport == "websocket"
        assert record.client_id == "test-client"
        # Another user's token cannot resume it: unknown to them (4404), as over HTTP.
        mallory = issuer.mint("mallory", audience=target.url)
        async with open_ws(ws_url(target), headers=bearer(mallory, sid)) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
            assert closed.value.reason.code == Close.SESSION_NOT_FOUND
        deployer = issuer.mint("alice", audience=target.url, scopes=["mcp", "deploy"])
        async with open_ws(ws_url(target), headers=bearer(deployer, sid)) as ws:
            answer = await exchange(
                ws, {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "deploy"}}
            )
            assert answer["result"]["content"][0]["text"] == "deployed"


async def test_the_socket_closes_when_its_token_expires(target: Target, issuer: Issuer) -> None:
    short = issuer.mint(audience=target.url, ttl=2)
    with trio.fail_after(WAIT):
        async with open_ws(ws_url(target), headers=bearer(short)) as ws:
            await start_session(ws)
            with pytest.raises(ConnectionClosed) as closed:
                await read_until_closed(ws)
    assert closed.value.reason.code == Close.POLICY
    assert "expired" in (closed.value.reason.reason or "")
