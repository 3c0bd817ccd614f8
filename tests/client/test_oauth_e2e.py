"""End to end against a trio_mcp server protected by `JWTVerifier(jwks_url=...)` whose tokens a real local
authorization server signs: the 401 leads to discovery (our RFC 9728 metadata), dynamic registration, the
authorization code with PKCE, the token, and the call; an expiring token is refreshed; a tool whose scope the
token lacks gets the 403 and a step-up; the same over a WebSocket, whose upgrade is refused the same way."""

from __future__ import annotations

import pytest
import trio
from _oauth_servers import AuthorizationServer, AutoApprove, start_authorization_server
from _rawhttp import Target, start_app

from trio_mcp import Context, McpError, Server, open_client
from trio_mcp.auth import JWTVerifier
from trio_mcp.client_auth import MemoryTokenStorage, OAuthClient


def notes_app(issuer: AuthorizationServer) -> object:
    server = Server("notes")
    notes: list[str] = []

    @server.tool
    async def whoami(ctx: Context) -> str:
        """Who the token is for."""
        return str(ctx.principal)

    @server.tool(scopes=["notes:write"])
    async def add_note(text: str) -> str:
        """Add a note (needs notes:write)."""
        notes.append(text)
        return f"{len(notes)} note(s)"

    verifier = JWTVerifier(issuer.issuer, jwks_url=issuer.jwks_url, leeway=0)
    return server.asgi_app(auth=verifier, auth_issuer=issuer.issuer, auth_scopes=["mcp"])


async def start(nursery: trio.Nursery, **knobs: object) -> tuple[AuthorizationServer, Target]:
    issuer = await start_authorization_server(nursery, **knobs)
    return issuer, await start_app(nursery, notes_app(issuer))


def text(result: object) -> str:
    content = result.content[0]  # type: ignore[attr-defined]
    assert content.type == "text"
    return content.text


async def test_401_discovery_registration_code_and_pkce_then_the_call(nursery: trio.Nursery) -> None:
    issuer, target = await start(nursery)
    storage = MemoryTokenStorage()
    async with open_client(target.url, auth=OAuthClient(storage, **AutoApprove().handlers)) as client:
        assert text(await client.call_tool("whoami", {})) == f"{issuer.issuer}#alice"
        assert [tool.name for tool in (await client.list_tools()).tools] == [
            "whoami"
        ]  # add_note: not its scope
    # Our server's metadata named the issuer and the resource; the challenge named the scope.
    assert len(issuer.registrations) == 1
    [authorization] = issuer.authorizations
    assert authorization["scope"] == "mcp"
    assert authorization["resource"] == target.url
    tokens = storage.state.tokens
    assert tokens is not None
    assert tokens.server_url == target.url
    assert tokens.issuer == issuer.issuer


async def test_an_expiring_token_is_refreshed_and_the_session_goes_on(nursery: trio.Nursery) -> None:
    issuer, target = await start(nursery, token_ttl=2)
    async with open_client(target.url, auth=OAuthClient(**AutoApprove().handlers)) as client:
        session = client.session_id
        await client.call_tool("whoami", {})
        await trio.sleep(2.2)  # expired by now: the client refreshed it before this request
        assert text(await client.call_tool("whoami", {})) == f"{issuer.issuer}#alice"
        assert client.session_id == session  # the same principal, so the same session
    assert len(issuer.authorizations) == 1
    assert len(issuer.grants("refresh_token")) >= 1


async def test_a_tool_needing_another_scope_steps_up(nursery: trio.Nursery) -> None:
    issuer, target = await start(nursery)
    async with open_client(target.url, auth=OAuthClient(**AutoApprove().handlers)) as client:
        await client.call_tool("whoami", {})
        assert text(await client.call_tool("add_note", {"text": "milk"})) == "1 note(s)"
        assert [tool.name for tool in (await client.list_tools()).tools] == ["whoami", "add_note"]
    # The 403 named every scope the call needs; the re-authorization asked for them with those held.
    assert [a["scope"] for a in issuer.authorizations] == ["mcp", "mcp notes:write"]


async def test_the_websocket_upgrade_is_authorized_by_the_same_flow(nursery: trio.Nursery) -> None:
    issuer, target = await start(nursery)
    url = target.url.replace("http://", "ws://")
    async with open_client(url, auth=OAuthClient(**AutoApprove().handlers)) as client:
        assert text(await client.call_tool("whoami", {})) == f"{issuer.issuer}#alice"
        # No step-up over a socket: the refusal is the request's JSON-RPC error with the challenge.
        with pytest.raises(McpError) as info:
            await client.call_tool("add_note", {"text": "milk"})
        assert info.value.data["scope"] == "mcp notes:write"
    [authorization] = issuer.authorizations
    assert authorization["resource"] == target.url  # the socket's resource is the endpoint's http URL


async def test_a_socket_closed_for_its_expired_token_resumes_with_a_fresh_one(nursery: trio.Nursery) -> None:
    issuer, target = await start(nursery, token_ttl=2)
    url = target.url.replace("http://", "ws://")
    async with open_client(url, auth=OAuthClient(**AutoApprove().handlers)) as client:
        session = client.session_id
        await client.call_tool("whoami", {})
        await trio.sleep(2.5)  # the server closed the socket (1008) when the token expired
        assert text(await client.call_tool("whoami", {})) == f"{issuer.issuer}#alice"
        assert client.session_id == session
    assert len(issuer.authorizations) == 1
    assert issuer.grants("refresh_token")
