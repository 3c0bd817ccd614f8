"""DevelopmentIssuer: mints ES256 access tokens for trying a protected server. NOT for production.

It has no users, no consent and no authorization endpoint: whoever can call `mint` (or read its key file) can
make any token. It exists so that a protected server can be run and called without an authorization server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from .jwt import JWTVerifier

DEFAULT_ISSUER = "https://dev-issuer.trio-mcp.invalid"
JWKS_PATH = "/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
ASGIApp = Callable[[_Scope, _Receive, _Send], Awaitable[None]]
_NOT_FOUND = b'{"error":"not found"}'
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


class DevelopmentIssuer:
    """A development-only token issuer (not for production): one EC P-256 key, tokens signed ES256.

    The key is generated in memory, or loaded from `key_file` (PEM, PKCS #8), which is created (mode 0600) when
    missing, so that another process (a `mint` command) signs with the key the server trusts.
    """

    def __init__(
        self, issuer: str = DEFAULT_ISSUER, *, key_file: str | os.PathLike[str] | None = None
    ) -> None:
        self.issuer = issuer
        self._key = (
            _load_or_create(Path(key_file))
            if key_file is not None
            else ec.generate_private_key(ec.SECP256R1())
        )
        public: dict[str, Any] = ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        self.kid = _thumbprint(public)
        self._jwk = {**public, "kid": self.kid, "use": "sig", "alg": "ES256"}

    def __repr__(self) -> str:
        return f"DevelopmentIssuer({self.issuer!r}, kid={self.kid!r})"

    def jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517 §5) of the public key."""
        return {"keys": [dict(self._jwk)]}

    def mint(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        audience: str | Sequence[str],
        ttl: float = 3600,
        client_id: str = "dev-client",
        **claims: Any,
    ) -> str:
        """A signed access token (RFC 9068 shape) for `subject`, valid `ttl` seconds; `claims` add or override."""
        scope = list(scopes)
        if any(not s or any(c.isspace() for c in s) for s in scope):  # RFC 6749 §3.3 scope-token
            raise ValueError("a scope is a non-empty string without spaces")
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience if isinstance(audience, str) else list(audience),
            "iat": now,
            "exp": int(now + ttl),
            "client_id": client_id,
            "jti": secrets.token_urlsafe(16),
        }
        if scope:
            payload["scope"] = " ".join(scope)
        payload.update(claims)
        return jwt.encode(payload, self._key, algorithm="ES256", headers={"kid": self.kid, "typ": "at+jwt"})

    def verifier(self, **kwargs: Any) -> JWTVerifier:
        """A JWTVerifier that trusts this issuer's key (static key set); `kwargs` go to JWTVerifier."""
        return JWTVerifier(self.issuer, jwks=self.jwks(), **kwargs)

    def asgi_app(self, *, scopes_supported: Iterable[str] = ()) -> ASGIApp:
        """An ASGI app serving `GET /jwks.json` and `GET /.well-known/oauth-authorization-server` (RFC 8414
        metadata whose `jwks_uri` is built from the request's Host); 404 for anything else."""
        body_jwks = _json(self.jwks())
        scopes = sorted(set(scopes_supported))

        async def app(scope: _Scope, receive: _Receive, send: _Send) -> None:
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            if scope["type"] != "http":
                return
            root = str(scope.get("root_path", ""))
            path = str(scope["path"])
            if root and path.startswith(root):
                path = path[len(root) :]
            head = scope["method"] == "HEAD"
            if scope["method"] not in ("GET", "HEAD"):
                await _respond(send, 404, _NOT_FOUND)
            elif path == JWKS_PATH:
                await _respond(send, 200, body_jwks, head=head)
            elif path == METADATA_PATH:
                base = f"{scope.get('scheme', 'http')}://{_host(scope)}{root}"
                metadata: dict[str, Any] = {
                    "issuer": self.issuer,
                    "jwks_uri": base + JWKS_PATH,
                    # RFC 8414 §2 requires it; this issuer only mints tokens out of band
                    "response_types_supported": [],
                    "grant_types_supported": [],
                }
                if scopes:
                    metadata["scopes_supported"] = scopes
                await _respond(send, 200, _json(metadata), head=head)
            else:
                await _respond(send, 404, _NOT_FOUND, head=head)

        return app


def _load_or_create(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        # O_EXCL: of two processes starting together, one creates the key, the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"{path} holds no EC P-256 private key") from None
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    return key


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 §3: SHA-256 of the required members, sorted, without whitespace; base64url."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(required, sort_keys=True, separators=(",", ":")).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _host(scope: _Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = value.decode("latin-1")
            if _HOST.fullmatch(host):
                return host
            break
    server = scope.get("server")
    if server:
        host, port = server
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return "localhost"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


async def _respond(send: _Send, status: int, body: bytes, *, head: bool = False) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
