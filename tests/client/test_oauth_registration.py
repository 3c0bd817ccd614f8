"""How the client gets a client_id (pre-registered, client ID metadata document, dynamic registration) and how
it authenticates at the token endpoint, against a real local authorization server."""

from __future__ import annotations

import pytest
import trio
from _oauth_servers import REDIRECT_URI, AutoApprove, Client, start_authorization_server, start_resource

from trio_mcp import open_client
from trio_mcp.client_auth import MemoryTokenStorage, OAuthClient, OAuthError, RegistrationError

CIMD = "https://client.example/oauth/metadata.json"


async def list_tools(url: str, oauth: OAuthClient) -> None:
    async with open_client(url, auth=oauth) as client:
        await client.list_tools()


async def test_dynamic_registration_describes_a_native_client_and_is_reused(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)
    storage = MemoryTokenStorage()
    await list_tools(resource.url, OAuthClient(storage, client_name="notes app", **AutoApprove().handlers))
    [registration] = server.registrations
    assert registration["client_name"] == "notes app"
    assert registration["redirect_uris"] == [REDIRECT_URI]
    assert registration["grant_types"] == ["authorization_code", "refresh_token"]
    assert registration["response_types"] == ["code"]
    assert registration["application_type"] == "native"  # a loopback redirect (SEP-837)
    stored = storage.state.client
    assert stored is not None
    assert stored.kind == "dynamic"
    assert stored.issuer == server.issuer
    # Without tokens, a new client with the same storage authorizes again as the registered client.
    storage.state = type(storage.state)(client=stored)
    await list_tools(resource.url, OAuthClient(storage, **AutoApprove().handlers))
    assert len(server.registrations) == 1
    assert server.authorizations[1]["client_id"] == stored.client_id


async def test_a_client_id_metadata_document_is_the_client_id_when_the_server_supports_it(
    nursery: trio.Nursery,
) -> None:
    server = await start_authorization_server(nursery, cimd=True)
    resource = await start_resource(nursery, server)
    await list_tools(resource.url, OAuthClient(client_metadata_url=CIMD, **AutoApprove().handlers))
    assert server.registrations == []
    assert server.authorizations[0]["client_id"] == CIMD
    assert server.grants("authorization_code")[0]["form"]["client_id"] == CIMD


async def test_without_metadata_document_support_the_client_registers(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery, cimd=False)
    resource = await start_resource(nursery, server)
    await list_tools(resource.url, OAuthClient(client_metadata_url=CIMD, **AutoApprove().handlers))
    assert len(server.registrations) == 1
    assert server.authorizations[0]["client_id"] == "dcr-1"


def test_a_client_metadata_url_must_be_https_with_a_path() -> None:
    for bad in ("http://client.example/metadata.json", "https://client.example/"):
        with pytest.raises(ValueError, match="client_metadata_url"):
            OAuthClient(client_metadata_url=bad)


async def test_a_pre_registered_client_does_not_register(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(
        nursery, registration=False, auth_methods=("client_secret_basic",)
    )
    server.clients["pre"] = Client("pre", "s3cret", "client_secret_basic", [REDIRECT_URI])
    resource = await start_resource(nursery, server)
    oauth = OAuthClient(
        client_id="pre", client_secret="s3cret", issuer=server.issuer, **AutoApprove().handlers
    )
    await list_tools(resource.url, oauth)
    assert server.registrations == []
    token_request = server.grants("authorization_code")[0]
    assert token_request["authorization"].startswith("Basic ")
    assert "client_secret" not in token_request["form"]


async def test_credentials_for_another_authorization_server_are_not_sent(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)
    oauth = OAuthClient(
        client_id="pre", client_secret="s3cret", issuer="https://login.example", **AutoApprove().handlers
    )
    with pytest.raises(OAuthError, match=r"belong to 'https://login.example': they are not sent there"):
        await list_tools(resource.url, oauth)
    assert server.authorizations == []
    assert server.token_requests == []


async def test_no_way_to_register_is_a_clear_error(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery, registration=False)
    resource = await start_resource(nursery, server)
    with pytest.raises(RegistrationError, match="configure a pre-registered client"):
        await list_tools(resource.url, OAuthClient(**AutoApprove().handlers))


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "none"])
async def test_the_token_endpoint_auth_method_is_one_the_server_supports(
    nursery: trio.Nursery, method: str
) -> None:
    server = await start_authorization_server(nursery, auth_methods=(method,))
    resource = await start_resource(nursery, server)
    await list_tools(resource.url, OAuthClient(**AutoApprove().handlers))
    assert server.registrations[0]["token_endpoint_auth_method"] == method
    # The server checks the client authenticates as registered (else 401 invalid_client).
    form = server.grants("authorization_code")[0]["form"]
    authorization = server.grants("authorization_code")[0]["authorization"]
    assert (authorization is not None) is (method == "client_secret_basic")
    assert ("client_secret" in form) is (method == "client_secret_post")
    assert ("client_id" in form) is (method != "client_secret_basic")


async def test_the_method_the_server_registered_is_the_one_used(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery, registered_method="client_secret_post")
    resource = await start_resource(nursery, server)
    storage = MemoryTokenStorage()
    await list_tools(resource.url, OAuthClient(storage, **AutoApprove().handlers))
    assert server.registrations[0]["token_endpoint_auth_method"] == "client_secret_basic"
    assert storage.state.client is not None
    assert storage.state.client.token_endpoint_auth_method == "client_secret_post"
    assert "client_secret" in server.grants("authorization_code")[0]["form"]


async def test_a_registration_for_an_unusable_method_is_refused(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery, registered_method="tls_client_auth")
    resource = await start_resource(nursery, server)
    with pytest.raises(RegistrationError, match="'tls_client_auth', which it cannot use"):
        await list_tools(resource.url, OAuthClient(**AutoApprove().handlers))
    assert server.authorizations == []


async def test_a_new_authorization_server_means_a_new_registration(nursery: trio.Nursery) -> None:
    # SEP-2352: a registration is bound to its authorization server; the stored one is not shown to another.
    first = await start_authorization_server(nursery)
    second = await start_authorization_server(nursery)
    resource = await start_resource(nursery, first)
    storage = MemoryTokenStorage()
    await list_tools(resource.url, OAuthClient(storage, **AutoApprove().handlers))
    old = storage.state.client
    assert old is not None
    assert old.issuer == first.issuer
    resource.server = second  # its metadata now names the second; the first's tokens are refused
    await list_tools(resource.url, OAuthClient(storage, **AutoApprove().handlers))
    assert len(second.registrations) == 1
    new = storage.state.client
    assert new is not None
    assert new.issuer == second.issuer
    assert new.client_secret != old.client_secret
    assert second.grants("refresh_token") == []  # the first's refresh token never went to the second
    assert len(first.grants("refresh_token")) == 1  # on the 401, a refresh was tried first (at the first)
