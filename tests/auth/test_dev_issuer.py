"""DevelopmentIssuer: minted tokens, the shared key file, and its JWKS and metadata over real HTTP."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from trio_mcp._auth.dev_issuer import DEFAULT_ISSUER, DevelopmentIssuer
from trio_mcp._auth.jwt import JWTVerifier
from trio_mcp._auth.tokens import InvalidToken

RESOURCE = "https://mcp.example/mcp"


async def test_a_minted_token_is_accepted_by_its_verifier() -> None:
    issuer = DevelopmentIssuer()
    token = issuer.mint("alice", scopes=["read", "write"], audience=RESOURCE)
    accepted = await issuer.verifier(audience=RESOURCE).verify(token)
    assert accepted.subject == "alice"
    assert accepted.issuer == DEFAULT_ISSUER
    assert accepted.principal == f"{DEFAULT_ISSUER}#alice"
    assert accepted.client_id == "dev-client"
    assert accepted.scopes == {"read", "write"}
    assert accepted.audience == (RESOURCE,)
    assert accepted.is_for(RESOURCE)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": issuer.kid, "typ": "at+jwt"}


async def test_mint_options_and_extra_claims() -> None:
    issuer = DevelopmentIssuer("http://127.0.0.1:9000")
    token = issuer.mint("bob", audience=[RESOURCE, "https://b.example"], ttl=60, client_id="cli", tenant="t1")
    accepted = await issuer.verifier().verify(token)
    assert accepted.audience == (RESOURCE, "https://b.example")
    assert accepted.client_id == "cli"
    assert accepted.scopes == frozenset()
    assert accepted.claims["tenant"] == "t1"
    assert accepted.expires_at == accepted.claims["iat"] + 60
    with pytest.raises(ValueError, match="scope"):
        issuer.mint("bob", scopes=["two words"], audience=RESOURCE)


async def test_the_verifier_refuses_what_the_issuer_did_not_mean() -> None:
    issuer = DevelopmentIssuer()
    verifier = issuer.verifier(audience=RESOURCE)
    with pytest.raises(InvalidToken, match="not for this resource"):
        await verifier.verify(issuer.mint("alice", audience="https://other.example"))
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(issuer.mint("alice", audience=RESOURCE, ttl=-60))
    # another key claiming this issuer's kid
    forged = jwt.encode(
        {"iss": DEFAULT_ISSUER, "sub": "x", "exp": 2**40, "aud": RESOURCE},
        DevelopmentIssuer()._key,
        algorithm="ES256",
        headers={"kid": issuer.kid},
    )
    with pytest.raises(InvalidToken, match="signature does not verify"):
        await verifier.verify(forged)


def test_the_jwks_holds_the_public_key_only() -> None:
    issuer = DevelopmentIssuer()
    (key,) = issuer.jwks()["keys"]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert key["kid"] == issuer.kid
    assert issuer.jwks() is not issuer.jwks()  # a copy each time


def test_two_issuers_share_a_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "dev-issuer.pem"
    first = DevelopmentIssuer(key_file=key_file)
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    second = DevelopmentIssuer(key_file=str(key_file))
    assert second.kid == first.kid
    assert second.jwks() == first.jwks()
    assert DevelopmentIssuer().kid != first.kid


async def test_a_token_minted_by_one_process_is_accepted_by_another(tmp_path: Path) -> None:
    key_file = tmp_path / "dev-issuer.pem"
    server_side = DevelopmentIssuer(key_file=key_file)
    mint_command = DevelopmentIssuer(key_file=key_file)
    token = mint_command.mint("alice", audience=RESOURCE)
    assert (await server_side.verifier().verify(token)).subject == "alice"


def test_a_key_file_that_is_not_an_ec_p256_key_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "rsa.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ValueError, match="no EC P-256 private key"):
        DevelopmentIssuer(key_file=key_file)


async def test_the_asgi_app_serves_jwks_and_metadata(serve_app: Any) -> None:
    issuer = DevelopmentIssuer()
    base = await serve_app(issuer.asgi_app(scopes_supported=["write", "read"]))
    async with httpx.AsyncClient() as client:
        metadata = (await client.get(base + "/.well-known/oauth-authorization-server")).json()
        jwks = await client.get(base + "/jwks.json")
        missing = await client.get(base + "/token")
        posted = await client.post(base + "/jwks.json")
    assert metadata["issuer"] == DEFAULT_ISSUER
    assert metadata["jwks_uri"] == base + "/jwks.json"
    assert metadata["scopes_supported"] == ["read", "write"]
    assert jwks.status_code == 200
    assert jwks.headers["content-type"] == "application/json"
    assert jwks.json() == issuer.jwks()
    assert missing.status_code == 404
    assert posted.status_code == 404

    verifier = JWTVerifier(DEFAULT_ISSUER, metadata["jwks_uri"], audience=RESOURCE)
    accepted = await verifier.verify(issuer.mint("alice", scopes=["read"], audience=RESOURCE))
    assert accepted.scopes == {"read"}


async def test_the_metadata_omits_scopes_when_none_are_given(serve_app: Any) -> None:
    base = await serve_app(DevelopmentIssuer().asgi_app())
    async with httpx.AsyncClient() as client:
        metadata = (await client.get(base + "/.well-known/oauth-authorization-server")).json()
    assert "scopes_supported" not in metadata
