"""Choosing how tokens are verified (trio_mcp/_transport/backends.py select_verifier, config.py): one way, with
the issuer the metadata names; every mistake a ConfigError naming what the user set."""

from __future__ import annotations

import logging

import pytest

from trio_mcp import Server
from trio_mcp._transport.backends import select_verifier
from trio_mcp._transport.config import ConfigError, load_config
from trio_mcp.auth import DevelopmentIssuer, IntrospectionVerifier, JWTVerifier


def test_no_auth_knob_means_no_verifier() -> None:
    assert select_verifier(load_config(environ={})) is None


def test_the_jwks_knob_builds_a_jwt_verifier_and_introspection_an_introspecting_one() -> None:
    jwt = select_verifier(
        load_config(
            environ={
                "TRIO_MCP_AUTH_ISSUER": "https://as.example",
                "TRIO_MCP_AUTH_JWKS_URL": "https://as.example/k",
            }
        )
    )
    assert isinstance(jwt, JWTVerifier)
    assert jwt.issuer == "https://as.example"
    introspecting = select_verifier(
        load_config(auth_issuer="https://as.example", auth_introspection_url="https://as.example/introspect")
    )
    assert isinstance(introspecting, IntrospectionVerifier)


def test_two_ways_to_verify_are_refused_naming_both() -> None:
    config = load_config(
        environ={"TRIO_MCP_AUTH_JWKS_URL": "https://as.example/k"},
        auth_issuer="https://as.example",
        auth_introspection_url="https://as.example/i",
    )
    with pytest.raises(
        ConfigError, match=r"TRIO_MCP_AUTH_JWKS_URL='https://as.example/k' and auth_introspection_url"
    ):
        select_verifier(config)


def test_a_verifier_without_an_issuer_is_refused() -> None:
    with pytest.raises(ConfigError, match="needs auth_issuer"):
        select_verifier(load_config(auth=DevelopmentIssuer().verifier()))
    with pytest.raises(ConfigError, match="needs auth_issuer"):
        Server("x").asgi_app(auth_jwks_url="https://as.example/k")


def test_bad_values_are_refused_at_load() -> None:
    with pytest.raises(ConfigError, match=r"TRIO_MCP_AUTH_RESOURCE='mcp\.example/mcp': an absolute"):
        load_config(environ={"TRIO_MCP_AUTH_RESOURCE": "mcp.example/mcp"})
    with pytest.raises(ConfigError, match="without a fragment"):
        load_config(auth_issuer="https://as.example#x")
    with pytest.raises(ConfigError, match="a TokenVerifier"):
        load_config(auth="not a verifier")


def test_scoped_tools_on_an_app_without_auth_are_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    server = Server("scoped")

    @server.tool(scopes=["admin"])
    async def purge() -> str:
        """Purges."""
        return "ok"

    with caplog.at_level(logging.WARNING, logger="trio_mcp.http"):
        server.asgi_app()
    assert "the scopes are not enforced" in caplog.text


def test_a_scope_that_is_not_an_oauth_scope_token_is_refused_at_registration() -> None:
    server = Server("bad-scope")
    with pytest.raises(ValueError, match="not an OAuth scope token"):

        @server.tool(scopes=["two words"])
        async def tool() -> str:
            """A tool."""
            return ""
