"""A real local token issuer for tests: keys generated here, a JWKS and an RFC 7662 introspection endpoint
served over HTTP on loopback by a small ASGI app, tokens signed with PyJWT."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any

import attrs
import jwt
import trio
from _rawhttp import start_app
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "https://issuer.test"
Json = dict[str, Any]


@attrs.define
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey = attrs.field(factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> Json:
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": "ES256", "use": "sig"}


@attrs.define
class Issuer:
    """Signs tokens and publishes its public keys; counts what its endpoints were asked."""

    keys: list[SigningKey] = attrs.field(factory=lambda: [SigningKey("key-1")])
    jwks_fetches: int = 0
    introspections: list[Json] = attrs.field(factory=list[Json])
    #: token -> the introspection answer (RFC 7662 §2.2)
    active: dict[str, Json] = attrs.field(factory=dict[str, Json])
    url: str = ""

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks.json"

    @property
    def introspection_url(self) -> str:
        return f"{self.url}/introspect"

    def mint(
        self,
        subject: str = "alice",
        *,
        audience: str | list[str],
        scopes: Iterable[str] = ("mcp",),
        issuer: str = ISSUER,
        ttl: float = 3600,
        key: SigningKey | None = None,
        headers: Json | None = None,
        **claims: Any,
    ) -> str:
        now = time.time()
        payload = {
            "iss": issuer,
            "sub": subject,
            "aud": audience,
            "iat": int(now),
            "exp": int(now + ttl),
            "scope": " ".join(scopes),
            "client_id": "test-client",
            **claims,
        }
        signer = key or self.keys[0]
        return jwt.encode(
            payload, signer.private, algorithm="ES256", headers={"kid": signer.kid, **(headers or {})}
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = await request_body(scope, receive, send)
        if body is None:
            return
        if scope["path"] == "/jwks.json":
            self.jwks_fetches += 1
            await _json(send, 200, {"keys": [key.jwk() for key in self.keys]})
        elif scope["path"] == "/introspect":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            auth = dict(scope["headers"]).get(b"authorization", b"").decode()
            self.introspections.append({"form": form, "authorization": auth})
            await _json(send, 200, self.active.get(form.get("token", ""), {"active": False}))
        else:
            await _json(send, 404, {"error": "not found"})


async def request_body(scope: Any, receive: Any, send: Any) -> bytes | None:
    """For a test ASGI app: the HTTP request's whole body; None for a lifespan, which this serves to its end."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return None
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _json(send: Any, status: int, document: Json) -> None:
    body = json.dumps(document).encode()
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


async def start_issuer(nursery: trio.Nursery) -> Issuer:
    issuer = Issuer()
    target = await start_app(nursery, issuer, path="")
    issuer.url = f"http://{target.host}:{target.port}"
    return issuer


def unsigned(payload: Json) -> str:
    """A token with `alg: none` (RFC 7519 §6): no signature at all."""

    def part(obj: Json) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'key-1'})}.{part(payload)}."


def parse_challenge(header: str | None) -> Json:
    """RFC 6750 §3 parameters of a `WWW-Authenticate: Bearer …` header."""
    assert header is not None
    scheme, _, rest = header.partition(" ")
    assert scheme == "Bearer", header
    return {k: v.replace('\\"', '"') for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest)}
