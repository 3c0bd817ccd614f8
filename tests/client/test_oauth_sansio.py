"""The OAuth client's sans-IO parts: challenges, URLs, metadata checks, PKCE, the authorization response check
and the state's JSON form."""

from __future__ import annotations

import json

import pytest

from trio_mcp._client.oauth.authorize import check_response
from trio_mcp._client.oauth.challenge import BearerChallenge, parse_www_authenticate
from trio_mcp._client.oauth.metadata import ServerMetadata, issuers_match
from trio_mcp._client.oauth.pkce import Pkce, s256
from trio_mcp._client.oauth.urls import (
    authorization_server_metadata_urls,
    canonical_resource,
    require_https,
    resource_allowed,
    resource_metadata_urls,
)
from trio_mcp.client_auth import (
    AuthorizationFailed,
    AuthorizationResponse,
    ClientInfo,
    DiscoveryError,
    OAuthError,
    OAuthState,
    PendingAuthorization,
    Tokens,
)


def test_the_bearer_challenge_is_read_among_others_with_quoted_strings() -> None:
    header = (
        'DPoP algs="ES256", Bearer error="insufficient_scope", scope="mcp notes:write", '
        'resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp", '
        'error_description="needs \\"notes:write\\""'
    )
    assert parse_www_authenticate(header) == BearerChallenge(
        error="insufficient_scope",
        description='needs "notes:write"',
        scopes=("mcp", "notes:write"),
        resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp",
    )
    assert parse_www_authenticate("Basic abc==, Bearer scope=mcp").scopes == ("mcp",)
    assert parse_www_authenticate("Basic realm=x") == BearerChallenge()
    assert parse_www_authenticate(None) == BearerChallenge()
    assert parse_www_authenticate("Bearer") == BearerChallenge()


def test_the_canonical_server_uri_lowercases_and_drops_the_fragment_and_maps_websockets() -> None:
    assert canonical_resource("HTTPS://MCP.Example.com:8443/MCP#x") == "https://mcp.example.com:8443/MCP"
    assert canonical_resource("wss://mcp.example.com/mcp") == "https://mcp.example.com/mcp"
    assert canonical_resource("http://user:pw@[::1]:9/mcp") == "http://[::1]:9/mcp"


def test_a_resource_matches_its_server_or_a_parent_of_it_on_the_same_origin() -> None:
    assert resource_allowed("https://mcp.example/mcp", "https://mcp.example/mcp")
    assert resource_allowed("https://mcp.example/mcp", "https://mcp.example")
    assert resource_allowed("https://mcp.example/a/mcp", "https://MCP.example/a/")
    assert not resource_allowed("https://mcp.example/mcp", "https://evil.example/mcp")
    assert not resource_allowed("https://mcp.example/mcp", "https://mcp.example/other")
    assert not resource_allowed("https://mcp.example/mcp", "http://mcp.example/mcp")
    assert not resource_allowed("https://mcp.example/mcpx", "https://mcp.example/mcp")


def test_well_known_locations_come_in_the_spec_order() -> None:
    assert resource_metadata_urls("https://mcp.example/v1/mcp", "https://mcp.example/custom.json") == [
        "https://mcp.example/custom.json",
        "https://mcp.example/.well-known/oauth-protected-resource/v1/mcp",
        "https://mcp.example/.well-known/oauth-protected-resource",
    ]
    assert resource_metadata_urls("https://mcp.example", None) == [
        "https://mcp.example/.well-known/oauth-protected-resource"
    ]
    assert authorization_server_metadata_urls("https://as.example/tenant1") == [
        "https://as.example/.well-known/oauth-authorization-server/tenant1",
        "https://as.example/.well-known/openid-configuration/tenant1",
        "https://as.example/tenant1/.well-known/openid-configuration",
    ]
    assert authorization_server_metadata_urls("https://as.example/") == [
        "https://as.example/.well-known/oauth-authorization-server",
        "https://as.example/.well-known/openid-configuration",
    ]


def test_authorization_server_endpoints_must_be_https_except_on_loopback() -> None:
    require_https("https://as.example/token", "the token endpoint")
    for loopback in ("http://127.0.0.1:9/token", "http://localhost/token", "http://[::1]/token"):
        require_https(loopback, "the token endpoint")
    with pytest.raises(OAuthError, match="is not an HTTPS URL"):
        require_https("http://as.example/token", "the token endpoint")
    document = {"issuer": "https://as.example", "token_endpoint": "http://as.example/token"}
    with pytest.raises(DiscoveryError, match=r"token endpoint http://as.example/token is not an HTTPS URL"):
        ServerMetadata.parse(document, "https://as.example", "https://as.example/.well-known/x")


def test_metadata_must_name_the_issuer_it_was_looked_up_for() -> None:
    document = {"issuer": "https://attacker.example", "token_endpoint": "https://as.example/token"}
    with pytest.raises(DiscoveryError, match=r"names issuer 'https://attacker.example'"):
        ServerMetadata.parse(document, "https://as.example", "https://as.example/.well-known/x")
    assert issuers_match("https://as.example", "https://as.example/")
    assert not issuers_match("https://as.example/t", "https://as.example/t/")
    assert not issuers_match("https://as.example", "https://AS.example")


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    assert (
        s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    pkce = Pkce.new()
    assert 43 <= len(pkce.verifier) <= 128
    assert pkce.challenge == s256(pkce.verifier)
    assert pkce.verifier not in repr(pkce)


def pending(**overrides: object) -> PendingAuthorization:
    fields: dict[str, object] = {
        "state": "the-state",
        "code_verifier": "v" * 43,
        "redirect_uri": "http://127.0.0.1:9/callback",
        "client_id": "c",
        "server_url": "https://mcp.example/mcp",
        "issuer": "https://as.example",
        "iss_required": True,
        "token_endpoint": "https://as.example/token",
    }
    fields.update(overrides)
    return PendingAuthorization(**fields)  # type: ignore[arg-type]


def test_the_authorization_response_is_checked_for_state_iss_and_errors() -> None:
    good = AuthorizationResponse.from_url(
        "http://127.0.0.1:9/callback?code=abc&state=the-state&iss=https%3A%2F%2Fas.example"
    )
    assert check_response(good, pending()) == "abc"
    refusals = {
        "state does not match": AuthorizationResponse(code="abc", state="other", iss="https://as.example"),
        "from issuer 'https://as.example/'": AuthorizationResponse(
            code="abc", state="the-state", iss="https://as.example/"
        ),
        "has none": AuthorizationResponse(code="abc", state="the-state"),
        "access_denied: no": AuthorizationResponse(
            state="the-state", iss="https://as.example", error="access_denied", error_description="no"
        ),
        "no code": AuthorizationResponse(state="the-state", iss="https://as.example"),
    }
    for message, response in refusals.items():
        with pytest.raises(AuthorizationFailed, match=message):
            check_response(response, pending())
    # Not advertised: a missing iss is fine, a wrong one is still refused (RFC 9207 §2.4).
    assert check_response(AuthorizationResponse(code="abc", state="the-state"), pending(iss_required=False))
    with pytest.raises(AuthorizationFailed, match="evil"):
        check_response(
            AuthorizationResponse(code="abc", state="the-state", iss="https://evil"),
            pending(iss_required=False),
        )


def test_the_state_round_trips_through_one_json_dict_and_hides_its_secrets() -> None:
    state = OAuthState(
        tokens=Tokens(
            access_token="AT-secret",
            refresh_token="RT-secret",
            scopes=("mcp", "notes:read"),
            expires_at=1e10,
            server_url="https://mcp.example/mcp",
            resource="https://mcp.example/mcp",
            issuer="https://as.example",
            token_endpoint="https://as.example/token",
        ),
        client=ClientInfo(
            client_id="c", client_secret="CS-secret", token_endpoint_auth_method="client_secret_basic"
        ),
        pending=pending(),
    )
    document = state.to_json()
    text = json.dumps(document)
    assert OAuthState.from_json(json.loads(text)) == state
    assert document["format"] == 1
    assert document["tokens"]["scopes"] == ["mcp", "notes:read"]
    for secret in ("AT-secret", "RT-secret", "CS-secret", "the-state", "v" * 43):
        assert secret not in repr(state)
    assert OAuthState.from_json({"format": 1}) == OAuthState()
    with pytest.raises(ValueError, match=r"access_token"):
        OAuthState.from_json({"tokens": {"access_token": 1}})
    with pytest.raises(ValueError, match="format"):
        OAuthState.from_json({"format": 99})
    with pytest.raises(ValueError, match="JSON object"):
        OAuthState.from_json([])


def test_the_public_module_exports_the_oauth_client() -> None:
    import trio_mcp.client_auth as public

    assert set(public.__all__) == {
        "AccessRefused",
        "AuthorizationFailed",
        "AuthorizationRequired",
        "AuthorizationResponse",
        "CallbackHandler",
        "ClientCredentials",
        "ClientInfo",
        "DiscoveryError",
        "InsufficientScope",
        "JSONTokenStorage",
        "LoopbackRedirect",
        "MemoryTokenStorage",
        "OAuthClient",
        "OAuthError",
        "OAuthState",
        "PendingAuthorization",
        "RedirectHandler",
        "RegistrationError",
        "TokenError",
        "TokenStorage",
        "Tokens",
        "complete_authorization",
        "loopback_redirect",
    }
    for name in public.__all__:
        assert getattr(public, name) is not None
    assert issubclass(public.AuthorizationRequired, public.OAuthError)
    assert isinstance(public.MemoryTokenStorage(), public.TokenStorage)
