"""The authorization code flow and the tokens it gets, against a real local authorization server that checks
PKCE, the redirect, the resource and single use: the authorization response's state and iss, refresh before
expiry and after a 401, a refused refresh, a denied authorization."""

from __future__ import annotations

import urllib.parse

import pytest
import trio
from _oauth_servers import AutoApprove, s256, start_authorization_server, start_resource

from trio_mcp import open_client
from trio_mcp.client_auth import AuthorizationFailed, MemoryTokenStorage, OAuthClient, TokenError


async def call(url: str, oauth: OAuthClient) -> str:
    async with open_client(url, auth=oauth) as client:
        result = await client.call_tool("whoami", {})
    text = result.content[0]
    assert text.type == "text"
    return text.text


async def test_pkce_s256_state_and_resource_go_where_the_spec_puts_them(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server, required=("mcp",))
    approve = AutoApprove()
    assert await call(resource.url, OAuthClient(**approve.handlers)) == "alice mcp"
    [authorization] = server.authorizations
    [exchange] = server.grants("authorization_code")
    assert authorization["response_type"] == "code"
    assert authorization["code_challenge_method"] == "S256"
    assert s256(exchange["form"]["code_verifier"]) == authorization["code_challenge"]
    assert len(authorization["state"]) >= 32
    assert authorization["scope"] == "mcp"  # from the challenge
    assert authorization["resource"] == exchange["form"]["resource"] == resource.url
    # Never in the query string: the bearer token travels in the Authorization header only.
    assert all(auth is None or auth.startswith("Bearer ") for _, auth in resource.requests)


async def test_a_response_whose_state_does_not_match_is_refused(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)
    approve = AutoApprove()
    approve.tamper["state"] = "forged"
    storage = MemoryTokenStorage()
    with pytest.raises(AuthorizationFailed, match="state does not match"):
        await call(resource.url, OAuthClient(storage, **approve.handlers))
    assert server.grants("authorization_code") == []  # the code never reached the token endpoint
    assert storage.state.tokens is None


@pytest.mark.parametrize(
    ("iss_in_response", "message"),
    [("wrong", "comes from issuer 'https://evil.example'"), ("omit", "advertises `iss`")],
)
async def test_a_response_from_the_wrong_issuer_is_refused(
    nursery: trio.Nursery, iss_in_response: str, message: str
) -> None:
    server = await start_authorization_server(nursery, iss_in_response=iss_in_response)
    resource = await start_resource(nursery, server)
    with pytest.raises(AuthorizationFailed, match=message):
        await call(resource.url, OAuthClient(**AutoApprove().handlers))
    assert server.grants("authorization_code") == []


async def test_a_denied_authorization_says_so(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery, deny="access_denied")
    resource = await start_resource(nursery, server)
    with pytest.raises(AuthorizationFailed, match=r"refused the authorization \(access_denied\)"):
        await call(resource.url, OAuthClient(**AutoApprove().handlers))


async def test_a_token_about_to_expire_is_refreshed_before_the_request(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery, token_ttl=2)
    resource = await start_resource(nursery, server)
    storage = MemoryTokenStorage()
    oauth = OAuthClient(storage, **AutoApprove().handlers)
    async with open_client(resource.url, auth=oauth) as client:
        await client.list_tools()
        first = storage.state.tokens
        await trio.sleep(1.2)  # past half its life: due for a refresh
        await client.call_tool("whoami", {})
    assert len(server.authorizations) == 1
    [refresh] = server.grants("refresh_token")
    assert first is not None
    assert refresh["form"]["refresh_token"] == first.refresh_token
    assert refresh["form"]["resource"] == resource.url
    tokens = storage.state.tokens
    assert tokens is not None
    assert tokens.access_token != first.access_token
    # No 401 on the way: the refreshed token went out first.
    assert [auth is None for _, auth in resource.requests].count(True) == 1


async def test_on_401_the_refresh_token_is_tried_before_a_new_authorization(nursery: trio.Nursery) -> None:
    # The answers say an hour, the JWTs live a second: the resource server refuses them first.
    server = await start_authorization_server(nursery, jwt_ttl=1)
    resource = await start_resource(nursery, server)
    oauth = OAuthClient(**AutoApprove().handlers)
    async with open_client(resource.url, auth=oauth) as client:
        await client.list_tools()
        await trio.sleep(2.1)
        server.jwt_ttl = None
        await client.call_tool("whoami", {})
    assert len(server.authorizations) == 1
    assert len(server.grants("refresh_token")) == 1


async def test_a_refused_refresh_falls_back_to_a_new_authorization(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery, jwt_ttl=1)
    resource = await start_resource(nursery, server)
    storage = MemoryTokenStorage()
    oauth = OAuthClient(storage, **AutoApprove().handlers)
    async with open_client(resource.url, auth=oauth) as client:
        await client.list_tools()
        await trio.sleep(2.1)
        server.jwt_ttl = None
        server._refresh.clear()  # the authorization server forgot (revoked) every refresh token
        await client.call_tool("whoami", {})
    assert len(server.authorizations) == 2
    assert server.token_requests[-2]["form"]["grant_type"] == "refresh_token"


async def test_a_token_endpoint_error_names_the_grant_and_the_error(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)
    approve = AutoApprove()
    oauth = OAuthClient(**approve.handlers)
    approve.tamper["code"] = "not-a-code"
    with pytest.raises(
        TokenError, match=r"refused the authorization_code grant \(invalid_grant: unknown or used code\)"
    ):
        await call(resource.url, oauth)
    assert urllib.parse.urlsplit(approve.urls[0]).path == "/authorize"
