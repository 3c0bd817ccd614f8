"""IntrospectionVerifier: RFC 7662 requests to a test endpoint over real HTTP, and the answer cache."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs

import pytest
import trio
import trio.testing

from trio_mcp._auth.introspection import INACTIVE, IntrospectionVerifier
from trio_mcp._auth.tokens import AccessToken, InvalidToken, VerifierUnavailable

ISSUER = "https://issuer.example"
PATH = "/introspect"


class AuthorizationServer:
    """The introspection endpoint: `active` maps tokens to their answers; any other token is inactive."""

    def __init__(self, endpoints: Any, clock: Any) -> None:
        self.active: dict[str, dict[str, Any]] = {}
        self.endpoints = endpoints
        self.url = endpoints.route(PATH, self.introspect)
        self.gate: trio.Event | None = None
        self.arrived = trio.Event()
        self.clock = clock

    async def introspect(self, seen: Any) -> tuple[int, Any]:
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        form = parse_qs(seen.body.decode())
        token = form["token"][0]
        return 200, self.active.get(token, {"active": False})

    def issue(self, token: str, ttl: float | None = 100, **fields: Any) -> None:
        answer: dict[str, Any] = {
            "active": True,
            "sub": "alice",
            "iss": ISSUER,
            "client_id": "app-1",
            "scope": "read write",
            "aud": "https://mcp.example/mcp",
            "token_type": "Bearer",
        }
        if ttl is not None:
            answer["exp"] = int(self.clock.now + ttl)
        answer.update(fields)
        self.active[token] = {k: v for k, v in answer.items() if v is not None}

    @property
    def calls(self) -> int:
        return self.endpoints.count(PATH)

    def requests(self) -> list[Any]:
        return [s for s in self.endpoints.seen if s.path == PATH]


@pytest.fixture
def server(endpoints: Any, clock: Any) -> AuthorizationServer:
    return AuthorizationServer(endpoints, clock)


@pytest.fixture
def verifier(server: AuthorizationServer, clock: Any) -> IntrospectionVerifier:
    return IntrospectionVerifier(
        server.url, client_id="mcp-server", client_secret="s3cret", issuer=ISSUER, clock=clock
    )


async def test_an_active_token_becomes_an_access_token(
    verifier: IntrospectionVerifier, server: AuthorizationServer, clock: Any
) -> None:
    server.issue("tok-1", scp=["admin"])
    accepted = await verifier.verify("tok-1")
    assert accepted == AccessToken(
        subject="alice",
        issuer=ISSUER,
        client_id="app-1",
        scopes=frozenset({"read", "write", "admin"}),
        expires_at=int(clock.now + 100),
        audience=("https://mcp.example/mcp",),
        claims=server.active["tok-1"],
    )
    (request,) = server.requests()
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {"token": ["tok-1"], "token_type_hint": ["access_token"]}


async def test_an_answer_is_cached_until_the_token_expires(
    verifier: IntrospectionVerifier, server: AuthorizationServer, clock: Any
) -> None:
    server.issue("tok-1", ttl=100)
    await verifier.verify("tok-1")
    clock.advance(99)
    await verifier.verify("tok-1")
    assert server.calls == 1
    clock.advance(1)  # at exp: asked again, and the issuer now says it is no longer active
    del server.active["tok-1"]
    with pytest.raises(InvalidToken):
        await verifier.verify("tok-1")
    assert server.calls == 2


async def test_max_ttl_bounds_the_cache(server: AuthorizationServer, clock: Any) -> None:
    verifier = IntrospectionVerifier(server.url, max_ttl=60, clock=clock)
    server.issue("long", ttl=3600)
    server.issue("no-exp", ttl=None)
    await verifier.verify("long")
    assert (await verifier.verify("no-exp")).expires_at is None
    clock.advance(59)
    await verifier.verify("long")
    await verifier.verify("no-exp")
    assert server.calls == 2
    clock.advance(1)
    await verifier.verify("long")
    await verifier.verify("no-exp")
    assert server.calls == 4


async def test_an_inactive_token_is_refused_and_the_refusal_cached(
    verifier: IntrospectionVerifier, server: AuthorizationServer, clock: Any
) -> None:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify("revoked")
    assert str(info.value) == INACTIVE
    assert str(info.value) == "the token is not active (revoked, expired or unknown to the issuer)"
    clock.advance(4.9)
    with pytest.raises(InvalidToken, match="not active"):
        await verifier.verify("revoked")
    assert server.calls == 1
    clock.advance(0.1)  # negative_ttl (5 s) over: asked again
    server.issue("revoked")
    assert (await verifier.verify("revoked")).subject == "alice"
    assert server.calls == 2


async def test_client_secret_basic_is_sent(
    verifier: IntrospectionVerifier, server: AuthorizationServer
) -> None:
    server.issue("tok-1")
    await verifier.verify("tok-1")
    (request,) = server.requests()
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"mcp-server:s3cret").decode()
    assert "client_id" not in parse_qs(request.body.decode())


async def test_basic_credentials_are_form_encoded_first(server: AuthorizationServer, clock: Any) -> None:
    # RFC 6749 §2.3.1: client_id and secret are application/x-www-form-urlencoded, then joined by ":"
    verifier = IntrospectionVerifier(
        server.url, client_id="mcp server", client_secret="p:ss/wörd", clock=clock
    )
    server.issue("tok-1")
    await verifier.verify("tok-1")
    (request,) = server.requests()
    expected = base64.b64encode(b"mcp+server:p%3Ass%2Fw%C3%B6rd").decode()
    assert request.headers["authorization"] == f"Basic {expected}"


async def test_a_client_id_alone_goes_in_the_form(server: AuthorizationServer, clock: Any) -> None:
    verifier = IntrospectionVerifier(server.url, client_id="public-app", clock=clock)
    server.issue("tok-1")
    await verifier.verify("tok-1")
    (request,) = server.requests()
    assert "authorization" not in request.headers
    assert parse_qs(request.body.decode())["client_id"] == ["public-app"]


def test_a_secret_needs_a_client_id() -> None:
    with pytest.raises(ValueError, match="needs client_id"):
        IntrospectionVerifier("https://issuer.example/introspect", client_secret="s3cret")


async def test_an_unreachable_endpoint_makes_the_verifier_unavailable(closed_url: str, clock: Any) -> None:
    verifier = IntrospectionVerifier(closed_url, client_id="mcp-server", client_secret="s3cret", clock=clock)
    with pytest.raises(VerifierUnavailable) as info:
        await verifier.verify("tok-1")
    assert closed_url in str(info.value)
    assert "s3cret" not in str(info.value)
    assert "tok-1" not in str(info.value)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b"{}", "answered HTTP 500"),
        (401, b'{"error": "invalid_client"}', "answered HTTP 401"),
        (200, b"<html>", "is not JSON"),
        (200, b"[true]", "did not answer a JSON object"),
    ],
)
async def test_a_failing_endpoint_makes_the_verifier_unavailable_and_is_not_cached(
    endpoints: Any, clock: Any, status: int, body: bytes, expected: str
) -> None:
    url = endpoints.serve_bytes(PATH, body, status)
    verifier = IntrospectionVerifier(url, clock=clock)
    for _ in range(2):
        with pytest.raises(VerifierUnavailable, match=expected):
            await verifier.verify("tok-1")
    assert endpoints.count(PATH) == 2


async def test_the_cache_is_a_bounded_lru(server: AuthorizationServer, clock: Any) -> None:
    verifier = IntrospectionVerifier(server.url, cache_size=2, clock=clock)
    for token in ("a", "b", "c"):
        server.issue(token)
    await verifier.verify("a")
    await verifier.verify("b")
    await verifier.verify("a")  # a is now the most recently used
    await verifier.verify("c")  # evicts b
    assert server.calls == 3
    await verifier.verify("a")
    await verifier.verify("c")
    assert server.calls == 3
    await verifier.verify("b")
    assert server.calls == 4
    assert len(verifier._cache.entries) == 2
    # keyed by the token's SHA-256, never the token
    assert set(verifier._cache.entries) == {hashlib.sha256(t).digest() for t in (b"c", b"b")}


async def test_concurrent_verifies_of_one_token_share_one_request(
    verifier: IntrospectionVerifier, server: AuthorizationServer
) -> None:
    server.issue("tok-1")
    server.gate = trio.Event()
    results: list[AccessToken] = []

    async def verify() -> None:
        results.append(await verifier.verify("tok-1"))

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(verify)
        await server.arrived.wait()
        await trio.testing.wait_all_tasks_blocked()
        server.gate.set()
    assert server.calls == 1
    assert len(results) == 5
    assert all(r == results[0] for r in results)


async def test_concurrent_verifies_share_a_refusal(
    verifier: IntrospectionVerifier, server: AuthorizationServer
) -> None:
    server.gate = trio.Event()
    refusals: list[str] = []

    async def verify() -> None:
        with pytest.raises(InvalidToken) as info:
            await verifier.verify("unknown")
        refusals.append(str(info.value))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(verify)
        await server.arrived.wait()
        await trio.testing.wait_all_tasks_blocked()
        server.gate.set()
    assert refusals == [INACTIVE] * 3
    assert server.calls == 1


async def test_the_issuer_must_match_when_configured(
    verifier: IntrospectionVerifier, server: AuthorizationServer, clock: Any
) -> None:
    server.issue("other", iss="https://evil.example")
    with pytest.raises(InvalidToken) as info:
        await verifier.verify("other")
    assert str(info.value) == "the token was issued by 'https://evil.example', not 'https://issuer.example'"
    server.issue("no-iss", iss=None)
    assert (await verifier.verify("no-iss")).issuer == ISSUER  # the configured issuer stands in
    unconfigured = IntrospectionVerifier(server.url, clock=clock)
    assert (await unconfigured.verify("other")).issuer == "https://evil.example"


async def test_an_answer_without_sub_is_refused(
    verifier: IntrospectionVerifier, server: AuthorizationServer
) -> None:
    server.issue("anonymous", sub=None)
    with pytest.raises(InvalidToken, match=r"^the token names no subject \(sub\)$"):
        await verifier.verify("anonymous")


async def test_an_empty_token_is_refused_without_a_request(
    verifier: IntrospectionVerifier, server: AuthorizationServer
) -> None:
    with pytest.raises(InvalidToken, match="empty"):
        await verifier.verify("")
    assert server.calls == 0
