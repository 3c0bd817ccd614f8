"""Our client against a protected server (examples/auth.py in-process): a refusal is one McpError whose data
carries the challenge (HTTP 401/403 over HTTP, -32005 over a WebSocket); a token in `headers=` opens it."""

from __future__ import annotations

import pytest
import trio
from _rawhttp import Target, start_app

import examples.auth as example
from trio_mcp import McpError, open_client
from trio_mcp._proto.errors import INSUFFICIENT_SCOPE


@pytest.fixture
async def target(nursery: trio.Nursery) -> Target:
    return await start_app(nursery, example.app)


def bearer(target: Target, *scopes: str) -> dict[str, str]:
    token = example.ISSUER.mint("alice", scopes=["mcp", *scopes], audience=target.url)
    return {"authorization": f"Bearer {token}"}


async def test_a_tokenless_client_gets_the_401_challenge_as_an_mcp_error(target: Target) -> None:
    with pytest.raises(McpError) as info:
        async with open_client(target.url):
            pytest.fail("a tokenless client was let in")
    error = info.value
    assert error.http_status == 401
    assert error.message.startswith("HTTP 401: invalid_token: Missing Authorization header")
    assert error.data["error"] == "invalid_token"
    assert 'resource_metadata="' in error.data["www_authenticate"]


async def test_a_token_opens_the_tools_its_scopes_allow_on_both_transports(target: Target) -> None:
    for url in (target.url, target.url.replace("http://", "ws://")):
        async with open_client(url, headers=bearer(target, "notes:read")) as client:
            assert [tool.name for tool in (await client.list_tools()).tools] == ["whoami", "list_notes"]
            with pytest.raises(McpError) as info:
                await client.call_tool("add_note", {"text": "x"})
            error = info.value
            if url.startswith("ws"):
                assert error.code == INSUFFICIENT_SCOPE
                assert error.data["scope"] == "mcp notes:write"
            else:
                assert error.http_status == 403
                assert error.data["error"] == "insufficient_scope"
                assert 'scope="mcp notes:write"' in error.data["www_authenticate"]
