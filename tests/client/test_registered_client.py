"""`open_client(url, registry=..., user_id=..., server_id=...)` (trio_mcp/_client/registered.py): the user's
connection kept in a client session registry: resumed from the record, followed to a new session after a
404, kept open on exit, its OAuth state in the record, finished by `complete_authorization`."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
import trio
from _oauth_servers import REDIRECT_URI, start_authorization_server, start_resource
from _rawhttp import Target, start_app

from examples.everything import server
from trio_mcp import ClientSession, McpError, TransportError, open_client, open_stdio_client
from trio_mcp import types as t
from trio_mcp._transport.http import McpASGIApp
from trio_mcp.client_auth import AuthorizationRequired, AuthorizationResponse, OAuthClient, OAuthState
from trio_mcp.client_sessions import MemoryClientRegistry, complete_authorization


@pytest.fixture
async def app() -> McpASGIApp:
    return server.asgi_app()


@pytest.fixture
async def target(nursery: trio.Nursery, app: McpASGIApp) -> Target:
    return await start_app(nursery, app)


async def simple_text(client: ClientSession) -> str:
    item = (await client.call_tool("test_simple_text", {})).content[0]
    assert isinstance(item, t.TextContent)
    return item.text


async def test_a_connection_is_recorded_kept_open_and_resumed_by_the_next_open(
    target: Target, app: McpASGIApp
) -> None:
    registry = MemoryClientRegistry()
    async with open_client(
        target.url, registry=registry, user_id="alice", server_id="everything", server_name="Everything"
    ) as client:
        first = client.session_id
        assert first is not None
        assert await simple_text(client)
    (record,) = await registry.list("alice")
    assert record.status == "active"
    assert record.transport == "http"
    assert record.server_url == target.url
    assert record.server_name == "Everything"
    assert record.mcp_session_id == first
    assert record.protocol_version == "2025-11-25"
    assert await app.sessions.get(first) is not None  # left open on the server for the next process
    sessions_before = await app.sessions.count()
    async with open_client(target.url, registry=registry, user_id="alice", server_id="everything") as client:
        assert client.session_id == first  # resumed: no new initialize
        assert await simple_text(client)
    assert await app.sessions.count() == sessions_before
    assert [r.session_id for r in await registry.list("alice")] == [record.session_id]


async def test_a_session_gone_on_the_server_is_replaced_and_the_record_follows(
    target: Target, app: McpASGIApp
) -> None:
    registry = MemoryClientRegistry()
    async with open_client(target.url, registry=registry, user_id="bob", server_id="s") as client:
        old = client.session_id
    assert old is not None
    await app.sessions.revoke(old)
    replaced: list[tuple[str, str]] = []

    async def told(before: str, after: str) -> None:
        replaced.append((before, after))

    async with open_client(
        target.url, registry=registry, user_id="bob", server_id="s", on_session_replaced=told
    ) as client:
        new = client.session_id
        assert new is not None
        assert new != old
        assert await simple_text(client)
    assert replaced == [(old, new)]
    (record,) = await registry.list("bob")
    assert record.mcp_session_id == new


async def test_a_websocket_connection_is_resumed_too(target: Target, app: McpASGIApp) -> None:
    registry = MemoryClientRegistry()
    url = target.url.replace("http://", "ws://")
    async with open_client(url, registry=registry, user_id="carol", server_id="s") as client:
        first = client.session_id
    async with open_client(url, registry=registry, user_id="carol", server_id="s") as client:
        assert client.session_id == first
        assert await simple_text(client)
    (record,) = await registry.list("carol")
    assert record.transport == "ws"
    assert record.mcp_session_id == first


async def test_the_urls_scheme_must_be_the_records_transport(target: Target) -> None:
    registry = MemoryClientRegistry()
    async with open_client(target.url, registry=registry, user_id="dave", server_id="s"):
        pass
    with pytest.raises(ValueError, match="is over http, but 'ws://"):
        async with open_client(
            target.url.replace("http://", "ws://"), registry=registry, user_id="dave", server_id="s"
        ):
            pytest.fail("a ws:// URL opened an http record")
    with pytest.raises(ValueError, match="user_id= and server_id="):
        async with open_client(target.url, registry=registry, user_id="dave"):
            pytest.fail("opened without a server_id")


async def test_an_app_finishes_the_oauth_flow_in_the_record_and_the_next_open_is_authorized(
    nursery: trio.Nursery,
) -> None:
    authorization_server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, authorization_server)
    registry = MemoryClientRegistry()
    # The web app's request handler: no callback handler, so the flow stops with the URL for its user.
    with pytest.raises(AuthorizationRequired) as info:
        async with open_client(
            resource.url,
            registry=registry,
            user_id="erin",
            server_id="notes",
            callback_url=REDIRECT_URI,
            auth=OAuthClient(redirect_uri=REDIRECT_URI),
        ):
            pytest.fail("opened before the user authorized")
    (record,) = await registry.list("erin")
    assert record.status == "pending"
    assert record.callback_url == REDIRECT_URI
    assert record.auth is not None
    pending = OAuthState.from_json(record.auth).pending
    assert pending is not None
    assert pending.state == info.value.state
    # The user approves; the browser comes back to the app's callback URL (possibly on another instance).
    async with httpx.AsyncClient() as http:
        redirect = (await http.get(info.value.authorization_url)).headers["location"]
    response = AuthorizationResponse.from_url(redirect)
    assert response.code is not None
    assert response.state is not None
    await complete_authorization(
        registry, "erin", record.session_id, code=response.code, state=response.state, iss=response.iss
    )
    done = await registry.get("erin", record.session_id)
    assert done is not None
    assert done.status == "active"
    assert done.auth is not None
    assert OAuthState.from_json(done.auth).tokens is not None
    # A later request of the app (a fresh OAuthClient): the tokens come from the record.
    async with open_client(
        resource.url,
        registry=registry,
        user_id="erin",
        server_id="notes",
        auth=OAuthClient(redirect_uri=REDIRECT_URI),
    ) as client:
        assert (await client.list_tools()).tools


async def test_a_stdio_connection_records_its_command_instead_of_a_url() -> None:
    registry = MemoryClientRegistry()
    script = str(Path(__file__).with_name("servers") / "sdk_stdio.py")
    with trio.fail_after(30):
        async with open_stdio_client(
            sys.executable, [script], env={"X_TEST": "1"}, registry=registry, user_id="fay", server_id="local"
        ) as client:
            assert (await client.list_tools()).tools
    (record,) = await registry.list("fay")
    assert record.transport == "stdio"
    assert record.status == "active"
    assert (record.command, record.args, record.env, record.server_url) == (
        sys.executable,
        [script],
        {"X_TEST": "1"},
        None,
    )
    with pytest.raises(ValueError, match="is over stdio"):
        async with open_client("http://127.0.0.1:1/mcp", registry=registry, user_id="fay", server_id="local"):
            pytest.fail("an http URL opened a stdio record")


async def test_without_recovery_a_lost_session_is_not_replaced(target: Target, app: McpASGIApp) -> None:
    for url in (target.url, target.url.replace("http://", "ws://")):
        registry = MemoryClientRegistry()
        async with open_client(url, registry=registry, user_id="gus", server_id="s") as client:
            old = client.session_id
        assert old is not None
        await app.sessions.revoke(old)
        with pytest.raises((McpError, TransportError)):
            async with open_client(url, registry=registry, user_id="gus", server_id="s", recover=False):
                pytest.fail("a lost session was replaced without recovery")
