"""The OAuth 2.1 resource server over HTTP (trio_mcp/_transport/auth.py, docs/architecture.md §10), against a
real local issuer: keys made here, the JWKS fetched over loopback by the app's JWT verifier, tokens signed with
PyJWT. Challenges are compared with the shapes of the MCP conformance suite's resource servers
(`@modelcontextprotocol/conformance` auth scenarios: `WWW-Authenticate: Bearer scope="…",
resource_metadata="…"[, error="…"]` and a JSON body of exactly `error` and `error_description`)."""

from __future__ import annotations

from typing import Any

import _modern as modern
import httpx
import pytest
import trio
from _issuer import ISSUER, Issuer, SigningKey, parse_challenge, start_issuer, unsigned
from _rawhttp import Target, start_app

from trio_mcp import Context, Server
from trio_mcp._transport.http import McpASGIApp

Json = dict[str, Any]
VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"

server = Server("auth-test")


@server.tool
async def whoami(ctx: Context) -> Json:
    """Who the token says the caller is."""
    token = ctx.access_token
    assert token is not None
    return {
        "subject": token.subject,
        "principal": ctx.principal,
        "client": token.client_id,
        "scopes": sorted(token.scopes),
    }


@server.tool(scopes=["deploy"])
async def deploy() -> str:
    """Needs the deploy scope."""
    return "deployed"


@server.resource("test://payroll", scopes=["hr"])
async def payroll() -> str:
    """Needs the hr scope."""
    return "salaries"


@server.resource("test://public")
async def public() -> str:
    """Needs nothing beyond the app's scope."""
    return "hello"


@server.prompt(scopes=["deploy"])
async def release_notes() -> str:
    """Needs the deploy scope."""
    return "Write release notes"


@pytest.fixture
async def issuer(nursery: trio.Nursery) -> Issuer:
    return await start_issuer(nursery)


@pytest.fixture
async def app(issuer: Issuer) -> McpASGIApp:
    return server.asgi_app(
        auth_issuer=ISSUER, auth_jwks_url=issuer.jwks_url, auth_scopes=["mcp"], json_response=True
    )


@pytest.fixture
async def target(nursery: trio.Nursery, app: McpASGIApp) -> Target:
    return await start_app(nursery, app)


@pytest.fixture
async def client() -> Any:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def metadata_url(target: Target) -> str:
    return f"http://{target.host}:{target.port}/.well-known/oauth-protected-resource/mcp"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def rpc(method: str, params: Json | None = None, id: int | None = 1) -> Json:
    message: Json = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        message["id"] = id
    if params is not None:
        message["params"] = params
    return message


INITIALIZE = rpc(
    "initialize",
    {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "auth-test", "version": "1"}},
)


async def open_session(client: httpx.AsyncClient, target: Target, token: str) -> str:
    response = await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer(token)})
    assert response.status_code == 200, response.text
    sid = response.headers["mcp-session-id"]
    done = await client.post(
        target.url, json=rpc("notifications/initialized", id=None), headers=session_headers(sid, token)
    )
    assert done.status_code == 202
    return sid


def session_headers(sid: str, token: str) -> dict[str, str]:
    return {"accept": ACCEPT, "mcp-session-id": sid, "mcp-protocol-version": VERSION, **bearer(token)}


async def call(
    client: httpx.AsyncClient, target: Target, sid: str, token: str, method: str, params: Json | None = None
) -> httpx.Response:
    return await client.post(target.url, json=rpc(method, params, id=7), headers=session_headers(sid, token))


def assert_challenge(
    response: httpx.Response, target: Target, status: int, error: str | None, scope: str
) -> Json:
    assert response.status_code == status, response.text
    params = parse_challenge(response.headers.get("www-authenticate"))
    assert params["resource_metadata"] == metadata_url(target)
    assert params["scope"] == scope
    assert params.get("error") == error
    body = response.json()
    assert set(body) == {"error", "error_description"}, body  # the conformance servers' body, nothing more
    assert body["error"] == (error or "invalid_token")
    assert body["error_description"]
    if error is not None:
        assert params["error_description"] == body["error_description"]
    return body


# -- discovery: RFC 9728 --


async def test_the_protected_resource_metadata_is_served_field_by_field_without_a_token(
    client: httpx.AsyncClient, target: Target
) -> None:
    for url in (
        metadata_url(target),
        f"http://{target.host}:{target.port}/.well-known/oauth-protected-resource",
    ):
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["access-control-allow-origin"] == "*"
        document = response.json()
        assert document == {
            "resource": target.url,
            "authorization_servers": [ISSUER],
            "bearer_methods_supported": ["header"],
            "scopes_supported": ["deploy", "hr", "mcp"],
        }
    assert (await client.post(metadata_url(target))).status_code == 405
    assert (await client.get(f"http://{target.host}:{target.port}/healthz")).status_code == 200


async def test_a_configured_resource_url_is_the_metadata_resource_and_the_audience(
    client: httpx.AsyncClient, nursery: trio.Nursery, issuer: Issuer
) -> None:
    resource = "https://mcp.example.com/mcp"
    app = server.asgi_app(
        auth_issuer=ISSUER, auth_jwks_url=issuer.jwks_url, auth_resource=resource, json_response=True
    )
    target = await start_app(nursery, app)
    document = (await client.get(metadata_url(target))).json()
    assert document["resource"] == resource
    assert "scopes_supported" in document
    ok = await client.post(
        target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer(issuer.mint(audience=resource))}
    )
    assert ok.status_code == 200
    # A token for the URL the client called is not for the configured resource.
    refused = await client.post(
        target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer(issuer.mint(audience=target.url))}
    )
    assert refused.status_code == 401


# -- 401: no token, or one that is not acceptable --


async def test_a_request_without_a_token_gets_the_challenge_that_points_at_the_metadata(
    client: httpx.AsyncClient, target: Target
) -> None:
    response = await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT})
    body = assert_challenge(response, target, 401, None, "mcp")
    assert "Authorization" in body["error_description"]
    for method in ("GET", "DELETE"):
        other = await client.request(method, target.url, headers={"accept": ACCEPT, "mcp-session-id": "x"})
        assert_challenge(other, target, 401, None, "mcp")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong audience", "not issued for this resource"),
        ("wrong issuer", "issued by"),
        ("expired", "expired"),
        ("bad signature", "signature"),
        ("alg none", "none"),
        ("not a jwt", "JWT"),
        ("basic scheme", None),
    ],
)
async def test_a_token_that_is_not_acceptable_gets_401_invalid_token(
    client: httpx.AsyncClient, target: Target, issuer: Issuer, case: str, reason: str | None
) -> None:
    tokens = {
        "wrong audience": issuer.mint(audience="http://127.0.0.1:1/other"),
        "wrong issuer": issuer.mint(audience=target.url, issuer="https://evil.test"),
        "expired": issuer.mint(audience=target.url, ttl=-120),
        "bad signature": issuer.mint(audience=target.url, key=SigningKey("key-1")),
        "alg none": unsigned({"iss": ISSUER, "sub": "alice", "aud": target.url, "exp": 4_000_000_000}),
        "not a jwt": "opaque-garbage",
    }
    headers = {"authorization": "Basic YWxpY2U6c2VjcmV0"} if case == "basic scheme" else bearer(tokens[case])
    response = await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT, **headers})
    if reason is None:  # not a bearer token at all: the challenge of a request without one (RFC 6750 §3.1)
        assert_challenge(response, target, 401, None, "mcp")
        return
    body = assert_challenge(response, target, 401, "invalid_token", "mcp")
    assert reason.lower() in body["error_description"].lower(), body


async def test_an_unknown_key_id_refreshes_the_key_set_once_then_is_refused(
    client: httpx.AsyncClient, target: Target, issuer: Issuer
) -> None:
    good = issuer.mint(audience=target.url)
    assert (
        await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer(good)})
    ).status_code == 200
    fetched = issuer.jwks_fetches
    assert fetched == 1
    stranger = issuer.mint(audience=target.url, key=SigningKey("key-unknown"))
    response = await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer(stranger)})
    assert_challenge(response, target, 401, "invalid_token", "mcp")
    assert issuer.jwks_fetches == fetched + 1  # one refresh for the unknown kid
    again = await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer(stranger)})
    assert again.status_code == 401
    assert issuer.jwks_fetches == fetched + 1  # not one per request: refreshes are rate-limited
    assert (
        await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer(good)})
    ).status_code == 200


async def test_a_rotated_key_is_picked_up_by_one_refresh(
    client: httpx.AsyncClient, target: Target, issuer: Issuer
) -> None:
    new = SigningKey("key-2")
    issuer.keys.append(new)
    token = issuer.mint(audience=target.url, key=new)
    response = await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer(token)})
    assert response.status_code == 200, response.text


async def test_a_token_in_the_query_string_is_refused(
    client: httpx.AsyncClient, target: Target, issuer: Issuer
) -> None:
    token = issuer.mint(audience=target.url)
    response = await client.post(
        f"{target.url}?access_token={token}", json=INITIALIZE, headers={"accept": ACCEPT, **bearer(token)}
    )
    body = assert_challenge(response, target, 400, "invalid_request", "mcp")
    assert "query string" in body["error_description"]


async def test_an_unreachable_key_set_is_503_not_a_refused_token(
    client: httpx.AsyncClient, nursery: trio.Nursery
) -> None:
    with trio.socket.socket() as sock:  # a port nothing listens on
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = server.asgi_app(auth_issuer=ISSUER, auth_jwks_url=f"http://127.0.0.1:{port}/jwks.json")
    target = await start_app(nursery, app)
    token = Issuer().mint(audience=target.url)
    response = await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer(token)})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "www-authenticate" not in response.headers


# -- 403: scopes --


async def test_a_token_without_the_apps_scope_gets_403_naming_it(
    client: httpx.AsyncClient, target: Target, issuer: Issuer
) -> None:
    token = issuer.mint(audience=target.url, scopes=["other"])
    response = await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer(token)})
    body = assert_challenge(response, target, 403, "insufficient_scope", "mcp")
    assert "mcp" in body["error_description"]


async def test_scoped_tools_resources_and_prompts_are_listed_only_to_tokens_that_open_them(
    client: httpx.AsyncClient, target: Target, issuer: Issuer
) -> None:
    plain = issuer.mint(audience=target.url, scopes=["mcp"])
    sid = await open_session(client, target, plain)
    tools = (await call(client, target, sid, plain, "tools/list")).json()["result"]["tools"]
    assert [tool["name"] for tool in tools] == ["whoami"]
    resources = (await call(client, target, sid, plain, "resources/list")).json()["result"]["resources"]
    assert [r["uri"] for r in resources] == ["test://public"]
    prompts = (await call(client, target, sid, plain, "prompts/list")).json()["result"]["prompts"]
    assert prompts == []
    wide = issuer.mint(audience=target.url, scopes=["mcp", "deploy", "hr"])
    tools = (await call(client, target, sid, wide, "tools/list")).json()["result"]["tools"]
    assert sorted(tool["name"] for tool in tools) == ["deploy", "whoami"]
    prompts = (await call(client, target, sid, wide, "prompts/list")).json()["result"]["prompts"]
    assert [p["name"] for p in prompts] == ["release_notes"]


@pytest.mark.parametrize(
    ("method", "params", "scope"),
    [
        ("tools/call", {"name": "deploy", "arguments": {}}, "deploy mcp"),
        ("resources/read", {"uri": "test://payroll"}, "hr mcp"),
        ("resources/subscribe", {"uri": "test://payroll"}, "hr mcp"),
        ("prompts/get", {"name": "release_notes"}, "deploy mcp"),
    ],
)
async def test_a_call_without_the_items_scope_gets_403_naming_every_scope_it_needs_then_step_up_succeeds(
    client: httpx.AsyncClient, target: Target, issuer: Issuer, method: str, params: Json, scope: str
) -> None:
    plain = issuer.mint(audience=target.url, scopes=["mcp"])
    sid = await open_session(client, target, plain)
    refused = await call(client, target, sid, plain, method, params)
    body = assert_challenge(refused, target, 403, "insufficient_scope", scope)
    missing = scope.split()[0]
    assert missing in body["error_description"]
    stepped_up = issuer.mint(audience=target.url, scopes=scope.split())
    answered = await call(client, target, sid, stepped_up, method, params)
    assert answered.status_code == 200
    assert "result" in answered.json(), answered.json()


async def test_the_handler_sees_the_token_and_the_principal_is_issuer_hash_subject(
    client: httpx.AsyncClient, target: Target, issuer: Issuer, app: McpASGIApp
) -> None:
    token = issuer.mint("bob", audience=target.url, scopes=["mcp", "deploy"])
    sid = await open_session(client, target, token)
    result = (await call(client, target, sid, token, "tools/call", {"name": "whoami"})).json()["result"]
    assert result["structuredContent"] == {
        "subject": "bob",
        "principal": f"{ISSUER}#bob",
        "client": "test-client",
        "scopes": ["deploy", "mcp"],
    }
    record = await app.sessions.get(sid)
    assert record is not None
    assert record.principal == f"{ISSUER}#bob"
    assert record.client_id == "test-client"


# -- sessions bound to the token's principal --


async def test_another_users_token_on_a_session_is_404_and_does_not_refresh_it(
    client: httpx.AsyncClient, target: Target, issuer: Issuer, app: McpASGIApp
) -> None:
    alice = issuer.mint("alice", audience=target.url)
    mallory = issuer.mint("mallory", audience=target.url)
    sid = await open_session(client, target, alice)
    await app._sessions.flush_touches()
    before = await app.store.get(sid)
    assert before is not None
    for method in ("POST", "GET", "DELETE"):
        if method == "POST":
            response = await call(client, target, sid, mallory, "tools/list")
        else:
            response = await client.request(method, target.url, headers=session_headers(sid, mallory))
        assert response.status_code == 404, (method, response.text)
        assert response.json()["error"]["code"] == -32001
    assert not app._sessions.touches.take([])  # none of those marked the session as used
    same_subject_other_issuer = issuer.mint("alice", audience=target.url, issuer="https://other.test")
    assert (await call(client, target, sid, same_subject_other_issuer, "tools/list")).status_code == 401
    after = await app.store.get(sid)
    assert after is not None
    assert after.last_accessed_at == before.last_accessed_at
    assert (await call(client, target, sid, alice, "tools/list")).status_code == 200


async def test_introspection_verifies_tokens_through_the_issuers_endpoint(
    client: httpx.AsyncClient, nursery: trio.Nursery, issuer: Issuer
) -> None:
    app = server.asgi_app(
        auth_issuer=ISSUER,
        auth_introspection_url=issuer.introspection_url,
        auth_introspection_client_id="rs",
        auth_introspection_client_secret="rs-secret",
        json_response=True,
    )
    target = await start_app(nursery, app)
    issuer.active["opaque-1"] = {
        "active": True,
        "sub": "carol",
        "iss": ISSUER,
        "aud": target.url,
        "scope": "mcp deploy",
        "client_id": "cli",
        "exp": 4_000_000_000,
    }
    sid = await open_session(client, target, "opaque-1")
    result = (await call(client, target, sid, "opaque-1", "tools/call", {"name": "whoami"})).json()["result"]
    assert result["structuredContent"]["principal"] == f"{ISSUER}#carol"
    assert len(issuer.introspections) == 1  # cached for the token's lifetime
    assert issuer.introspections[0]["form"] == {"token": "opaque-1", "token_type_hint": "access_token"}
    assert issuer.introspections[0]["authorization"].startswith("Basic ")
    refused = await client.post(target.url, json=INITIALIZE, headers={"accept": ACCEPT, **bearer("revoked")})
    assert refused.status_code == 401
    assert parse_challenge(refused.headers["www-authenticate"])["error"] == "invalid_token"


async def test_the_2026_07_28_era_is_guarded_the_same_way(
    client: httpx.AsyncClient, target: Target, issuer: Issuer
) -> None:
    token = issuer.mint(audience=target.url, scopes=["mcp"])
    listed = await modern.send(target, "tools/list", {}, extra=[("authorization", f"Bearer {token}")])
    assert [tool["name"] for tool in listed["result"]["tools"]] == ["whoami"]
    body = rpc("tools/call", {"name": "deploy", "arguments": {}, "_meta": modern.meta()})
    headers = dict(modern.headers("tools/call", "deploy"))
    refused = await client.post(target.url, json=body, headers={**headers, **bearer(token)})
    assert_challenge(refused, target, 403, "insufficient_scope", "deploy mcp")
    tokenless = await client.post(target.url, json=body, headers=headers)
    assert_challenge(tokenless, target, 401, None, "mcp")
