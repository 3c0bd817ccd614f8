"""JWTVerifier: signatures, claims and the issuer's key set, fetched over real HTTP from a test endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
import trio
import trio.testing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from trio_mcp._auth.jwt import JWTVerifier
from trio_mcp._auth.tokens import AccessToken, InvalidToken, VerifierUnavailable

ISSUER = "https://issuer.example"
RESOURCE = "https://mcp.example/mcp"
JWKS = "/jwks.json"


class Signer:
    """One signing key of the test issuer, and the JWK it publishes."""

    def __init__(self, kid: str | None = "k1", *, algorithm: str = "ES256", key: Any = None) -> None:
        self.kid = kid
        self.algorithm = algorithm
        if key is None:
            key = (
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
                if algorithm.startswith(("RS", "PS"))
                else ec.generate_private_key(ec.SECP256R1())
            )
        self.key = key

    def jwk(self, **members: Any) -> dict[str, Any]:
        public = self.key.public_key()
        codec = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
        jwk: dict[str, Any] = codec.to_jwk(public, as_dict=True)
        if self.kid is not None:
            jwk["kid"] = self.kid
        return {**jwk, "use": "sig", **members}

    def token(self, now: float, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "alice",
            "aud": RESOURCE,
            "iat": int(now),
            "exp": int(now) + 3600,
            "client_id": "app-1",
            "scope": "read write",
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        headers = {"kid": self.kid} if self.kid is not None else {}
        headers.update(header or {})
        return jwt.encode(payload, self.key, algorithm=self.algorithm, headers=headers)


class Issuer:
    """The key set the endpoint serves; tests replace `keys` to rotate."""

    def __init__(self, endpoints: Any, *signers: Signer) -> None:
        self.keys: list[dict[str, Any]] = [s.jwk() for s in signers]
        self.url = endpoints.serve_json(JWKS, lambda: {"keys": self.keys})
        self.endpoints = endpoints

    @property
    def fetches(self) -> int:
        return self.endpoints.count(JWKS)


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)])


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def issuer(endpoints: Any, signer: Signer) -> Issuer:
    return Issuer(endpoints, signer)


@pytest.fixture
def verifier(issuer: Issuer, clock: Any) -> JWTVerifier:
    return JWTVerifier(ISSUER, issuer.url, clock=clock)


async def refused(verifier: JWTVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    message = str(info.value)
    assert not token or token not in message
    return message


async def test_a_valid_token_is_accepted_with_its_claims(
    verifier: JWTVerifier, signer: Signer, issuer: Issuer, clock: Any
) -> None:
    token = signer.token(clock.now, aud=[RESOURCE, "https://other.example"])
    accepted = await verifier.verify(token)
    assert accepted == AccessToken(
        subject="alice",
        issuer=ISSUER,
        client_id="app-1",
        scopes=frozenset({"read", "write"}),
        expires_at=int(clock.now) + 3600,
        audience=(RESOURCE, "https://other.example"),
        claims=jwt.decode(token, options={"verify_signature": False}),
    )
    assert accepted.is_for(RESOURCE + "/")
    assert issuer.fetches == 1


async def test_keys_are_cached_for_jwks_ttl(
    verifier: JWTVerifier, signer: Signer, issuer: Issuer, clock: Any
) -> None:
    await verifier.verify(signer.token(clock.now))
    clock.advance(299)
    await verifier.verify(signer.token(clock.now))
    assert issuer.fetches == 1
    clock.advance(1)
    await verifier.verify(signer.token(clock.now))
    assert issuer.fetches == 2


async def test_audience_is_checked_when_configured(issuer: Issuer, signer: Signer, clock: Any) -> None:
    verifier = JWTVerifier(ISSUER, issuer.url, audience=RESOURCE, clock=clock)
    assert await refused(verifier, signer.token(clock.now, aud="https://other.example")) == (
        "the token is not for this resource"
    )
    assert await refused(verifier, signer.token(clock.now, aud=None)) == "the token is not for this resource"
    # RFC 8707 canonical form: case of scheme and host and a trailing slash make no difference
    accepted = await verifier.verify(signer.token(clock.now, aud=["x", "HTTPS://MCP.example/mcp/"]))
    assert accepted.audience == ("x", "HTTPS://MCP.example/mcp/")


async def test_without_audience_the_aud_is_reported_unchecked(
    verifier: JWTVerifier, signer: Signer, clock: Any
) -> None:
    accepted = await verifier.verify(signer.token(clock.now, aud="https://other.example"))
    assert accepted.audience == ("https://other.example",)
    assert not accepted.is_for(RESOURCE)


async def test_the_issuer_must_match_exactly(verifier: JWTVerifier, signer: Signer, clock: Any) -> None:
    assert await refused(verifier, signer.token(clock.now, iss="https://evil.example")) == (
        "the token was issued by 'https://evil.example', not 'https://issuer.example'"
    )
    assert await refused(verifier, signer.token(clock.now, iss=ISSUER + "/")) == (
        "the token was issued by 'https://issuer.example/', not 'https://issuer.example'"
    )
    assert await refused(verifier, signer.token(clock.now, iss=None)) == "the token names no issuer (iss)"


async def test_an_expired_token_is_refused_after_the_leeway(
    verifier: JWTVerifier, signer: Signer, clock: Any
) -> None:
    token = signer.token(clock.now, exp=int(clock.now) - 29)
    assert (await verifier.verify(token)).expires_at == int(clock.now) - 29  # within the 30 s leeway
    clock.advance(1)
    assert await refused(verifier, token) == "the token has expired"
    assert await refused(verifier, signer.token(clock.now, exp=None)) == "the token has no expiry (exp)"
    assert await refused(verifier, signer.token(clock.now, exp="soon")) == "the token's exp is not a number"


async def test_a_token_not_yet_valid_is_refused(verifier: JWTVerifier, signer: Signer, clock: Any) -> None:
    assert await refused(verifier, signer.token(clock.now, nbf=clock.now + 31)) == (
        "the token is not valid yet (nbf)"
    )
    assert await refused(verifier, signer.token(clock.now, iat=clock.now + 31)) == (
        "the token was issued in the future (iat)"
    )
    await verifier.verify(signer.token(clock.now, nbf=clock.now + 30, iat=clock.now + 30))


async def test_a_signature_by_another_key_with_the_same_kid_is_refused(
    verifier: JWTVerifier, signer: Signer, clock: Any
) -> None:
    forger = Signer(signer.kid)
    assert await refused(verifier, forger.token(clock.now)) == "the token's signature does not verify"
    # and a tampered payload under the real signature
    header, _, signature = signer.token(clock.now).split(".")
    _, payload, _ = signer.token(clock.now, sub="mallory").split(".")
    assert (
        await refused(verifier, f"{header}.{payload}.{signature}") == "the token's signature does not verify"
    )


async def test_alg_none_is_refused_before_any_key_lookup(
    verifier: JWTVerifier, issuer: Issuer, clock: Any
) -> None:
    claims = {"iss": ISSUER, "sub": "alice", "exp": clock.now + 60}
    for alg in ("none", "None", "NONE"):
        message = await refused(verifier, unsigned({"alg": alg, "kid": "k1"}, claims))
        assert message == f"alg '{alg}' is not accepted"
    assert await refused(verifier, unsigned({"kid": "k1"}, claims)) == "the token's header names no alg"
    assert issuer.fetches == 0


async def test_hs256_signed_with_the_public_key_is_refused(endpoints: Any, clock: Any) -> None:
    # The classic alg confusion (RFC 8725 §2.1): the attacker "signs" HS256 with the issuer's public key.
    signer = Signer("rsa-1", algorithm="RS256")
    issuer = Issuer(endpoints, signer)
    verifier = JWTVerifier(ISSUER, issuer.url, clock=clock)
    await verifier.verify(signer.token(clock.now))
    pem = signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}
    claims = {"iss": ISSUER, "sub": "mallory", "exp": clock.now + 60}
    signing_input = unsigned(header, claims).rsplit(".", 1)[0]
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert await refused(verifier, forged) == "alg 'HS256' is not accepted"


def test_symmetric_algorithms_and_none_are_refused_at_construction() -> None:
    for algorithms in (("RS256", "HS256"), ("hs512",), ("none",), ()):
        with pytest.raises(ValueError):
            JWTVerifier(ISSUER, "https://issuer.example/jwks", algorithms=algorithms)
    with pytest.raises(ValueError, match="does not know"):
        JWTVerifier(ISSUER, "https://issuer.example/jwks", algorithms=("XX999",))


def test_exactly_one_key_source_is_required(signer: Signer) -> None:
    with pytest.raises(ValueError, match="exactly one of jwks_url"):
        JWTVerifier(ISSUER)
    with pytest.raises(ValueError, match="exactly one of jwks_url"):
        JWTVerifier(ISSUER, "https://issuer.example/jwks", jwks={"keys": [signer.jwk()]})
    with pytest.raises(ValueError, match="no usable signing key"):
        JWTVerifier(ISSUER, jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k1"}]})


async def test_an_unknown_kid_refreshes_the_keys_once_per_refresh_interval(
    verifier: JWTVerifier, signer: Signer, issuer: Issuer, clock: Any
) -> None:
    await verifier.verify(signer.token(clock.now))
    assert issuer.fetches == 1
    clock.advance(11)
    garbage = Signer("garbage-1")
    assert await refused(verifier, garbage.token(clock.now)) == (
        "the token's key id 'garbage-1' is not in the issuer's key set"
    )
    assert issuer.fetches == 2
    clock.advance(1)
    await refused(verifier, Signer("garbage-2").token(clock.now))
    assert issuer.fetches == 2  # within refresh_interval: no fetch
    await verifier.verify(signer.token(clock.now))  # the known key still works
    assert issuer.fetches == 2


async def test_an_unknown_kid_right_after_a_fetch_does_not_refetch(
    verifier: JWTVerifier, issuer: Issuer, clock: Any
) -> None:
    await refused(verifier, Signer("garbage").token(clock.now))
    assert issuer.fetches == 1


async def test_concurrent_unknown_kids_share_one_refresh(issuer: Issuer, signer: Signer, clock: Any) -> None:
    verifier = JWTVerifier(ISSUER, issuer.url, refresh_interval=0, clock=clock)
    await verifier.verify(signer.token(clock.now))  # the first load
    tokens = [Signer(f"garbage-{i}").token(clock.now) for i in range(8)]
    outcomes: list[str] = []

    async def verify(token: str) -> None:
        outcomes.append(await refused(verifier, token))

    async with trio.open_nursery() as nursery:
        for token in tokens:
            nursery.start_soon(verify, token)
    assert len(outcomes) == 8
    assert issuer.fetches == 2  # the first load, then one refresh for all eight unknown kids


async def test_a_rotated_key_is_accepted_after_the_refresh(
    verifier: JWTVerifier, signer: Signer, issuer: Issuer, clock: Any
) -> None:
    await verifier.verify(signer.token(clock.now))
    rotated = Signer("k2")
    issuer.keys = [rotated.jwk()]
    clock.advance(11)
    accepted = await verifier.verify(rotated.token(clock.now, sub="bob"))
    assert accepted.subject == "bob"
    assert issuer.fetches == 2
    # the retired key is gone with the old set
    assert await refused(verifier, signer.token(clock.now)) == (
        "the token's key id 'k1' is not in the issuer's key set"
    )


async def test_an_unreachable_key_set_makes_the_verifier_unavailable(
    closed_url: str, signer: Signer, clock: Any
) -> None:
    verifier = JWTVerifier(ISSUER, closed_url + "?api_key=s3cret", clock=clock)
    with pytest.raises(VerifierUnavailable) as info:
        await verifier.verify(signer.token(clock.now))
    message = str(info.value)
    assert closed_url in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (b"{}", 500, "answered HTTP 500"),
        (b"{}", 404, "answered HTTP 404"),
        (b"<html>", 200, "is not JSON"),
        (b'{"keys": "none"}', 200, "is not a JWK set"),
        (b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', 200, "holds no usable signing key"),
    ],
)
async def test_a_broken_key_set_makes_the_verifier_unavailable(
    endpoints: Any, signer: Signer, clock: Any, body: bytes, status: int, expected: str
) -> None:
    url = endpoints.serve_bytes(JWKS, body, status)
    verifier = JWTVerifier(ISSUER, url, clock=clock)
    with pytest.raises(VerifierUnavailable, match=expected) as info:
        await verifier.verify(signer.token(clock.now))
    assert url in str(info.value)


async def test_an_unavailable_key_set_is_retried_once_per_refresh_interval(
    endpoints: Any, signer: Signer, clock: Any
) -> None:
    url = endpoints.serve_bytes(JWKS, b"{}", 503)
    verifier = JWTVerifier(ISSUER, url, clock=clock)
    for _ in range(3):
        with pytest.raises(VerifierUnavailable):
            await verifier.verify(signer.token(clock.now))
    assert endpoints.count(JWKS) == 1
    clock.advance(10)
    endpoints.serve_json(JWKS, lambda: {"keys": [signer.jwk()]})
    await verifier.verify(signer.token(clock.now))
    assert endpoints.count(JWKS) == 2


async def test_cached_keys_stay_in_use_while_the_key_set_is_down(
    verifier: JWTVerifier, endpoints: Any, signer: Signer, clock: Any
) -> None:
    await verifier.verify(signer.token(clock.now))
    endpoints.serve_bytes(JWKS, b"{}", 502)
    clock.advance(301)  # the keys are stale; the refresh fails
    await verifier.verify(signer.token(clock.now))
    assert endpoints.count(JWKS) == 2


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_oversized_key_set_is_refused(
    endpoints: Any, signer: Signer, clock: Any, chunked: bool
) -> None:
    body = json.dumps({"keys": [signer.jwk()], "padding": "x" * (512 * 1024)}).encode()
    url = endpoints.serve_bytes(JWKS, body, chunked=chunked)
    verifier = JWTVerifier(ISSUER, url, clock=clock)
    with pytest.raises(VerifierUnavailable, match="larger than 512 KiB"):
        await verifier.verify(signer.token(clock.now))


async def test_at_most_100_keys_are_kept(endpoints: Any, signer: Signer, clock: Any) -> None:
    keys = [{**signer.jwk(), "kid": f"k{i}"} for i in range(150)]
    url = endpoints.serve_json(JWKS, lambda: {"keys": keys})
    verifier = JWTVerifier(ISSUER, url, clock=clock)
    await verifier.verify(Signer("k99", key=signer.key).token(clock.now))
    assert await refused(verifier, Signer("k100", key=signer.key).token(clock.now)) == (
        "the token's key id 'k100' is not in the issuer's key set"
    )


async def test_a_token_without_sub_is_refused(verifier: JWTVerifier, signer: Signer, clock: Any) -> None:
    assert await refused(verifier, signer.token(clock.now, sub=None)) == "the token names no subject (sub)"
    assert await refused(verifier, signer.token(clock.now, sub="")) == "the token names no subject (sub)"


async def test_scopes_come_from_scope_and_scp(verifier: JWTVerifier, signer: Signer, clock: Any) -> None:
    both = await verifier.verify(signer.token(clock.now, scope="a b", scp=["c", "d"]))
    assert both.scopes == {"a", "b", "c", "d"}
    scp_string = await verifier.verify(signer.token(clock.now, scope=None, scp="e f"))
    assert scp_string.scopes == {"e", "f"}
    none = await verifier.verify(signer.token(clock.now, scope=None))
    assert none.scopes == frozenset()


async def test_client_id_falls_back_to_azp_then_cid(
    verifier: JWTVerifier, signer: Signer, clock: Any
) -> None:
    azp = await verifier.verify(signer.token(clock.now, client_id=None, azp="web", cid="okta"))
    assert azp.client_id == "web"
    cid = await verifier.verify(signer.token(clock.now, client_id=None, cid="okta"))
    assert cid.client_id == "okta"
    neither = await verifier.verify(signer.token(clock.now, client_id=None))
    assert neither.client_id is None


async def test_a_token_without_kid_needs_a_single_key(endpoints: Any, clock: Any) -> None:
    one, other = Signer(None), Signer("k2")
    keys = [one.jwk()]
    url = endpoints.serve_json(JWKS, lambda: {"keys": keys})
    verifier = JWTVerifier(ISSUER, url, clock=clock)
    assert (await verifier.verify(one.token(clock.now))).subject == "alice"
    keys.append(other.jwk())
    clock.advance(301)
    assert await refused(verifier, one.token(clock.now)) == (
        "the token names no key id (kid) and the issuer's key set has more than one signing key"
    )


async def test_the_jwk_alg_must_be_the_token_alg(endpoints: Any, signer: Signer, clock: Any) -> None:
    url = endpoints.serve_json(JWKS, lambda: {"keys": [signer.jwk(alg="ES384")]})
    verifier = JWTVerifier(ISSUER, url, clock=clock)
    assert await refused(verifier, signer.token(clock.now)) == (
        "the token's alg 'ES256' is not the alg of its key 'k1'"
    )


async def test_the_token_alg_must_fit_the_key_type(endpoints: Any, clock: Any) -> None:
    rsa_signer = Signer("k1", algorithm="RS256")
    url = endpoints.serve_json(JWKS, lambda: {"keys": [rsa_signer.jwk()]})  # no alg in the JWK
    verifier = JWTVerifier(ISSUER, url, clock=clock)
    # any RSA algorithm with an RSA key without `alg`
    assert (
        await verifier.verify(Signer("k1", algorithm="PS256", key=rsa_signer.key).token(clock.now))
    ).subject
    ec_token = Signer("k1").token(clock.now)
    assert (
        await refused(verifier, ec_token) == "the token's alg 'ES256' does not fit the type of its key 'k1'"
    )


async def test_keys_not_for_signing_are_ignored(endpoints: Any, signer: Signer, clock: Any) -> None:
    keys = [signer.jwk(use="enc"), {**signer.jwk(key_ops=["encrypt"]), "kid": "k2"}]
    url = endpoints.serve_json(JWKS, lambda: {"keys": [*keys, Signer("k3").jwk()]})
    verifier = JWTVerifier(ISSUER, url, clock=clock)
    assert await refused(verifier, signer.token(clock.now)) == (
        "the token's key id 'k1' is not in the issuer's key set"
    )
    assert await refused(verifier, Signer("k2", key=signer.key).token(clock.now)) == (
        "the token's key id 'k2' is not in the issuer's key set"
    )


async def test_malformed_tokens_are_refused(verifier: JWTVerifier, signer: Signer, clock: Any) -> None:
    assert await refused(verifier, "opaque-token") == "the token is not a JWT"
    assert await refused(verifier, "a.b.c") == "the token is not a JWT"
    assert await refused(verifier, "a.b.c.d.e") == "the token is not a JWT"
    assert await refused(verifier, "") == "the token is empty"
    assert await refused(verifier, "x" * 70_000) == "the token is too large"
    crit = signer.token(clock.now, header={"crit": ["exp"], "exp": 1})
    assert "crit" in await refused(verifier, crit)


async def test_messages_never_echo_control_characters(
    verifier: JWTVerifier, signer: Signer, clock: Any
) -> None:
    message = await refused(verifier, signer.token(clock.now, iss='evil"\r\nSet-Cookie: x'))
    assert message == "the token was issued by 'evil???Set-Cookie: x', not 'https://issuer.example'"


async def test_a_static_key_set_needs_no_network(signer: Signer, clock: Any) -> None:
    verifier = JWTVerifier(ISSUER, jwks={"keys": [signer.jwk()]}, clock=clock)
    assert (await verifier.verify(signer.token(clock.now))).subject == "alice"
    assert await refused(verifier, Signer("k9").token(clock.now)) == (
        "the token's key id 'k9' is not in the issuer's key set"
    )
    await trio.testing.wait_all_tasks_blocked()


async def test_a_cancelled_fetch_does_not_hold_back_the_next(
    endpoints: Any, signer: Signer, clock: Any
) -> None:
    gate, arrived = trio.Event(), trio.Event()

    async def slow_keys(_: Any) -> tuple[int, Any]:
        arrived.set()
        await gate.wait()
        return 200, {"keys": [signer.jwk()]}

    url = endpoints.route(JWKS, slow_keys)
    verifier = JWTVerifier(ISSUER, url, clock=clock)
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(verifier.verify, signer.token(clock.now))
            await arrived.wait()
            scope.cancel()
    gate.set()
    assert (await verifier.verify(signer.token(clock.now))).subject == "alice"
    assert endpoints.count(JWKS) == 2
