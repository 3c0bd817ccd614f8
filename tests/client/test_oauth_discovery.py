"""Discovery against real local servers: where the protected resource metadata is (challenge, path-aware,
root), where the authorization server's metadata is (RFC 8414 and OIDC, path insertion and appending), the
2025-03-26 fallbacks, and the checks that stop the flow (resource, issuer, PKCE)."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from _oauth_servers import (
    AuthorizationServer,
    AutoApprove,
    ProtectedResource,
    start_authorization_server,
    start_resource,
)
from _rawhttp import start_app

from trio_mcp import open_client
from trio_mcp.client_auth import DiscoveryError, OAuthClient


async def call(resource: ProtectedResource, oauth: OAuthClient) -> str:
    async with open_client(resource.url, auth=oauth) as client:
        result = await client.call_tool("whoami", {})
    text = result.content[0]
    assert text.type == "text"
    return text.text


async def test_the_challenge_names_the_metadata_and_the_authorization_server_is_found(
    nursery: trio.Nursery,
) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server, prm_path="/custom/metadata.json")
    approve = AutoApprove()
    assert await call(resource, OAuthClient(**approve.handlers)) == "alice "
    assert "GET /.well-known/oauth-authorization-server" in server.seen
    # RFC 8707: the resource goes on the authorization and the token request, exactly as published.
    assert server.authorizations[0]["resource"] == resource.url
    assert server.grants("authorization_code")[0]["form"]["resource"] == resource.url


@pytest.mark.parametrize(
    ("prm_path", "resource_is_origin"),
    [("/.well-known/oauth-protected-resource/mcp", False), ("/.well-known/oauth-protected-resource", True)],
)
async def test_without_resource_metadata_in_the_challenge_the_well_known_locations_are_tried(
    nursery: trio.Nursery, prm_path: str, resource_is_origin: bool
) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server, prm_path=prm_path, advertise=False)
    if resource_is_origin:
        resource.resource_override = resource.origin
    approve = AutoApprove()
    await call(resource, OAuthClient(**approve.handlers))
    assert server.authorizations[0]["resource"] == resource.resource


@pytest.mark.parametrize(
    ("metadata_at", "path"),
    [("oauth", "/tenant1"), ("oidc", "/tenant1"), ("oidc-append", "/tenant1"), ("oidc", "")],
)
async def test_authorization_server_metadata_in_each_location_the_spec_lists(
    nursery: trio.Nursery, metadata_at: Any, path: str
) -> None:
    server = await start_authorization_server(nursery, metadata_at=metadata_at, path=path)
    resource = await start_resource(nursery, server)
    await call(resource, OAuthClient(**AutoApprove().handlers))
    assert server.metadata_path() in [seen.split(" ", 1)[1] for seen in server.seen]
    assert len(server.authorizations) == 1


async def test_a_resource_that_is_not_this_server_stops_the_flow_before_any_authorization(
    nursery: trio.Nursery,
) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server, resource_override="https://evil.example/mcp")
    with pytest.raises(DiscoveryError, match=r"is for 'https://evil.example/mcp', not for this server"):
        await call(resource, OAuthClient(**AutoApprove().handlers))
    assert server.seen == []


async def test_metadata_with_another_issuer_is_not_used(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery, metadata_issuer="https://attacker.example")
    resource = await start_resource(nursery, server)
    with pytest.raises(DiscoveryError, match=r"names issuer 'https://attacker.example'"):
        await call(resource, OAuthClient(**AutoApprove().handlers))
    assert not server.authorizations
    assert not server.registrations


async def test_an_authorization_server_without_pkce_s256_is_refused(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery, pkce_methods=None)
    resource = await start_resource(nursery, server)
    with pytest.raises(DiscoveryError, match="does not advertise PKCE S256"):
        await call(resource, OAuthClient(**AutoApprove().handlers))
    assert not server.authorizations


async def test_a_server_error_on_the_resource_metadata_is_not_taken_for_a_2025_03_26_server(
    nursery: trio.Nursery,
) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/.well-known/oauth-protected-resource"):
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await resource(scope, receive, send)

    target = await start_app(nursery, broken, path="")
    resource.origin = f"http://{target.host}:{target.port}"
    with pytest.raises(DiscoveryError, match="answered HTTP 503"):
        await call(resource, OAuthClient(**AutoApprove().handlers))


def same_origin(resource: ProtectedResource, server: AuthorizationServer) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/mcp":
            await resource(scope, receive, send)
        else:
            await server(scope, receive, send)

    return app


@pytest.mark.parametrize("metadata_at", ["oauth", "none"])
async def test_a_server_without_resource_metadata_is_authorized_as_in_2025_03_26(
    nursery: trio.Nursery, metadata_at: Any
) -> None:
    # The MCP server's origin is the authorization server: RFC 8414 metadata there, or the default endpoints.
    server = AuthorizationServer(metadata_at=metadata_at, auth_methods=None)
    resource = ProtectedResource(server, prm_path=None)
    target = await start_app(nursery, same_origin(resource, server), path="")
    server.origin = resource.origin = f"http://{target.host}:{target.port}"
    await call(resource, OAuthClient(**AutoApprove().handlers))
    assert server.registrations
    assert server.authorizations
    token_request = server.grants("authorization_code")[0]
    # No resource metadata: no resource parameter (2025-03-26 servers know none), and the AS checks none.
    assert "resource" not in token_request["form"]
    assert "resource" not in server.authorizations[0]
    # RFC 8414 metadata at the origin is asked for first; without it, /register, /authorize, /token there.
    assert server.seen[2:] == [
        "GET /.well-known/oauth-authorization-server",
        "POST /register",
        "GET /authorize",
        "POST /token",
    ]
