"""The flow around the tokens: scope selection and step-up with its retry limit, the server app's two halves
(`AuthorizationRequired`, then `complete_authorization` from a stored state), the client credentials grant,
concurrent requests sharing one authorization, and how failures reach the caller."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio
from _oauth_servers import (
    REDIRECT_URI,
    AutoApprove,
    Client,
    start_authorization_server,
    start_resource,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from trio_mcp import open_client
from trio_mcp.client_auth import (
    AccessRefused,
    AuthorizationFailed,
    AuthorizationRequired,
    AuthorizationResponse,
    ClientCredentials,
    InsufficientScope,
    JSONTokenStorage,
    MemoryTokenStorage,
    OAuthClient,
    OAuthError,
    OAuthState,
    Tokens,
    TokenStorage,
    complete_authorization,
)


async def call(url: str, oauth: OAuthClient, tool: str = "whoami") -> str:
    async with open_client(url, auth=oauth) as client:
        result = await client.call_tool(tool, {})
    text = result.content[0]
    assert text.type == "text"
    return text.text


@pytest.mark.parametrize(
    ("challenge_scope", "scopes_supported", "expected"),
    [(True, ("a", "b", "c"), "mcp"), (False, ("a", "b"), "a b"), (False, None, None)],
)
async def test_scopes_come_from_the_challenge_else_the_resource_metadata_else_none(
    nursery: trio.Nursery, challenge_scope: bool, scopes_supported: Any, expected: str | None
) -> None:
    server = await start_authorization_server(nursery)
    required = ("mcp",) if challenge_scope else ()
    resource = await start_resource(
        nursery, server, required=required, challenge_scope=challenge_scope, scopes_supported=scopes_supported
    )
    await call(resource.url, OAuthClient(**AutoApprove().handlers))
    assert server.authorizations[0].get("scope") == expected


async def test_offline_access_is_asked_for_only_when_the_authorization_server_lists_it(
    nursery: trio.Nursery,
) -> None:
    server = await start_authorization_server(nursery, scopes_supported=("mcp", "offline_access"))
    resource = await start_resource(nursery, server, required=("mcp",))
    await call(resource.url, OAuthClient(**AutoApprove().handlers))
    assert server.authorizations[0]["scope"] == "mcp offline_access"
    assert server.authorizations[0]["prompt"] == "consent"
    server.scopes_supported = ("mcp",)
    await call(resource.url, OAuthClient(**AutoApprove().handlers))
    assert server.authorizations[1]["scope"] == "mcp"


async def test_403_insufficient_scope_steps_up_to_the_union_of_the_scopes(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server, required=("mcp",), call_scopes=("notes:write",))
    storage = MemoryTokenStorage()
    async with open_client(resource.url, auth=OAuthClient(storage, **AutoApprove().handlers)) as client:
        await client.list_tools()
        result = await client.call_tool("whoami", {})
        await client.list_tools()
    assert result.content[0].type == "text"
    assert result.content[0].text == "alice mcp notes:write"
    assert [a["scope"] for a in server.authorizations] == ["mcp", "mcp notes:write"]
    assert storage.state.tokens is not None
    assert storage.state.tokens.scopes == ("mcp", "notes:write")


async def test_step_up_gives_up_after_its_limit_with_one_plain_error(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server, call_scopes=("admin",), never_enough=True)
    with pytest.raises(InsufficientScope) as info:
        await call(resource.url, OAuthClient(**AutoApprove().handlers))
    assert len(server.authorizations) == 3  # the first authorization and two step-ups (conformance: <= 3)
    assert info.value.status == 403
    assert info.value.scopes == ("admin",)
    assert "after 2 re-authorization(s)" in str(info.value)
    with pytest.raises(InsufficientScope):
        await call(resource.url, OAuthClient(max_step_ups=0, **AutoApprove().handlers))
    assert len(server.authorizations) == 4


async def test_a_server_that_refuses_every_new_token_is_access_refused(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server, refuse_tokens=True)
    with pytest.raises(AccessRefused, match="refused the token just obtained for it \\(401 invalid_token\\)"):
        await call(resource.url, OAuthClient(**AutoApprove().handlers))
    assert len(server.authorizations) == 1


class RecordStorage:
    """A TokenStorage the way an application keeps it: one JSON text per user (a database row)."""

    def __init__(self) -> None:
        self.row: str | None = None

    def storage(self) -> TokenStorage:
        async def load() -> dict[str, Any] | None:
            return None if self.row is None else json.loads(self.row)

        async def save(document: dict[str, Any] | None) -> None:
            self.row = None if document is None else json.dumps(document)

        return JSONTokenStorage(load, save)


async def test_a_server_app_gets_authorization_required_and_completes_it_later(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)
    database = RecordStorage()
    # The web app's request handler: no callback handler, so the flow stops with the URL for the user.
    with pytest.raises(AuthorizationRequired) as info:
        await call(resource.url, OAuthClient(database.storage(), redirect_uri=REDIRECT_URI))
    required = info.value
    assert required.authorization_url.startswith(server.endpoint("authorize") + "?")
    assert database.row is not None
    pending = OAuthState.from_json(json.loads(database.row)).pending
    assert pending is not None
    assert pending.state == required.state
    assert required.state not in str(required)
    assert "code_verifier" not in str(required)
    # The user approves; the browser comes back to the app's callback URL with code and state.
    async with httpx.AsyncClient() as http:
        redirect = (await http.get(required.authorization_url)).headers["location"]
    response = AuthorizationResponse.from_url(redirect)
    assert response.code is not None
    assert response.state is not None
    # A forged state is refused and leaves the real one waiting.
    with pytest.raises(AuthorizationFailed, match="state does not match"):
        await complete_authorization(database.storage(), code=response.code, state="forged", iss=response.iss)
    tokens = await complete_authorization(
        database.storage(), code=response.code, state=response.state, iss=response.iss
    )
    assert isinstance(tokens, Tokens)
    assert tokens.server_url == resource.url
    assert OAuthState.from_json(json.loads(database.row)).pending is None
    # The next request of the app, with a new OAuthClient over the same row, is authorized.
    assert await call(resource.url, OAuthClient(database.storage(), redirect_uri=REDIRECT_URI)) == "alice "
    with pytest.raises(AuthorizationFailed, match="no authorization is waiting"):
        await complete_authorization(database.storage(), code=response.code, state=response.state)


async def test_the_redirect_handler_still_runs_when_the_app_completes_the_authorization(
    nursery: trio.Nursery,
) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)
    opened: list[str] = []

    async def open_browser(url: str) -> None:
        opened.append(url)

    with pytest.raises(AuthorizationRequired) as info:
        await call(resource.url, OAuthClient(redirect_uri=REDIRECT_URI, redirect_handler=open_browser))
    assert opened == [info.value.authorization_url]


def signing_key() -> tuple[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "private_key_jwt"])
async def test_a_machine_client_uses_the_client_credentials_grant(nursery: trio.Nursery, method: str) -> None:
    server = await start_authorization_server(nursery, auth_methods=(method,))
    resource = await start_resource(nursery, server, required=("mcp",))
    pem, public = signing_key()
    if method == "private_key_jwt":
        server.clients["bot"] = Client("bot", None, method, public_key=public)
        credentials = ClientCredentials(client_id="bot", private_key=pem, issuer=server.issuer)
    else:
        server.clients["bot"] = Client("bot", "bot-secret", method)
        credentials = ClientCredentials(
            client_id="bot",
            client_secret="bot-secret",
            token_endpoint_auth_method=method,  # type: ignore[arg-type]
        )
    assert await call(resource.url, OAuthClient(credentials=credentials)) == "bot mcp"
    [request] = server.token_requests
    assert request["form"]["grant_type"] == "client_credentials"
    assert request["form"]["resource"] == resource.url
    assert request["form"]["scope"] == "mcp"
    assert server.authorizations == []
    assert server.registrations == []
    assert "bot-secret" not in repr(credentials)
    assert pem not in repr(credentials)


def test_client_credentials_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="needs client_secret"):
        ClientCredentials(client_id="bot")
    with pytest.raises(ValueError, match="not a PEM private key"):
        ClientCredentials(client_id="bot", private_key="-----BEGIN NOTHING-----")
    pem, _ = signing_key()
    with pytest.raises(ValueError, match="not an asymmetric"):
        ClientCredentials(client_id="bot", private_key=pem, signing_algorithm="HS256")
    assert ClientCredentials(client_id="bot", private_key=pem).algorithm == "ES256"
    with pytest.raises(ValueError, match="machine client"):
        OAuthClient(
            credentials=ClientCredentials(client_id="bot", client_secret="x"), redirect_uri=REDIRECT_URI
        )


async def test_concurrent_requests_share_one_authorization(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)
    oauth = OAuthClient(**AutoApprove().handlers)
    statuses: list[int] = []
    async with httpx.AsyncClient(auth=oauth) as http:

        async def one() -> None:
            answer = await http.post(resource.url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            statuses.append(answer.status_code)

        async with trio.open_nursery() as requests:
            for _ in range(5):
                requests.start_soon(one)
    assert statuses == [200] * 5
    assert len(server.authorizations) == 1
    assert len(server.grants("authorization_code")) == 1


async def test_ending_a_session_never_starts_an_authorization(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)
    approve = AutoApprove()
    oauth = OAuthClient(**approve.handlers)
    async with httpx.AsyncClient(auth=oauth) as http:
        with pytest.raises(OAuthError, match="ending a session does not start"):
            await http.delete(resource.url)
    assert approve.urls == []
    assert server.seen == []  # not even discovery or a registration


async def test_tokens_stored_for_another_server_are_not_sent(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)
    elsewhere = Tokens(
        access_token="for-another-server",
        server_url="https://other.example/mcp",
        token_endpoint="https://x/token",
    )
    oauth = OAuthClient(MemoryTokenStorage(OAuthState(tokens=elsewhere)), **AutoApprove().handlers)
    await call(resource.url, oauth)
    assert all("for-another-server" not in (auth or "") for _, auth in resource.requests)


async def test_an_oauth_failure_reaches_the_caller_of_open_client_as_one_plain_exception(
    nursery: trio.Nursery,
) -> None:
    server = await start_authorization_server(nursery, deny="access_denied")
    resource = await start_resource(nursery, server)
    with pytest.raises(BaseException) as info:  # exactly which type arrives is the point
        async with open_client(resource.url, auth=OAuthClient(**AutoApprove().handlers)):
            pytest.fail("opened without authorization")
    assert type(info.value) is AuthorizationFailed, repr(info.value)


async def test_auth_and_http_client_are_not_given_together() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ValueError, match="give your client the auth instead"):
            async with open_client("http://127.0.0.1:9/mcp", auth=OAuthClient(), http_client=http):
                pass
