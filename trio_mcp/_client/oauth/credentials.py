"""The client credentials grant for machine clients (RFC 6749 §4.4; the MCP OAuth client credentials
extension, SEP-1046): a pre-registered client authenticating with its secret (client_secret_basic or
client_secret_post) or a signed JWT (private_key_jwt, RFC 7523 §2.2)."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

import attrs
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .state import ClientInfo

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CredentialsMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
_ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


@attrs.frozen(kw_only=True)
class ClientCredentials:
    """A machine client's credentials: `client_secret`, or `private_key` (PEM) to sign client assertions.

    `issuer`: the authorization server they belong to; when set they are only ever sent there, whatever the MCP
    server's metadata names. `scopes`: always asked for (with those a challenge names).
    """

    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    private_key: str | bytes | None = attrs.field(default=None, repr=False)
    #: default: private_key_jwt with a key, else client_secret_basic
    token_endpoint_auth_method: CredentialsMethod | None = None
    #: the JWS algorithm of the assertions; default from the key (ES256 for P-256, RS256 for RSA, EdDSA)
    signing_algorithm: str | None = None
    assertion_lifetime: float = 300.0
    issuer: str | None = None
    scopes: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    _key: Any = attrs.field(init=False, default=None, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("client_id is required")
        method = self.method
        if method == "private_key_jwt":
            if self.private_key is None:
                raise ValueError("private_key_jwt needs private_key (a PEM private key)")
            pem = self.private_key.encode() if isinstance(self.private_key, str) else self.private_key
            try:
                key = serialization.load_pem_private_key(pem, password=None)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"private_key is not a PEM private key without a password: {exc}") from None
            object.__setattr__(self, "_key", key)
            if self.algorithm not in _ASYMMETRIC:
                raise ValueError(f"signing_algorithm {self.algorithm!r} is not an asymmetric JWS algorithm")
        elif not self.client_secret:
            raise ValueError(f"{method} needs client_secret")

    @property
    def method(self) -> CredentialsMethod:
        if self.token_endpoint_auth_method is not None:
            return self.token_endpoint_auth_method
        return "private_key_jwt" if self.private_key is not None else "client_secret_basic"

    @property
    def algorithm(self) -> str:
        if self.signing_algorithm is not None:
            return self.signing_algorithm
        key = self._key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return {256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size, "ES256")
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return "EdDSA"
        if isinstance(key, rsa.RSAPrivateKey):
            return "RS256"
        return "RS256"

    def client_info(self) -> ClientInfo:
        return ClientInfo(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=self.method,
            kind="pre-registered",
            issuer=self.issuer,
        )

    def assertion(self, audience: str) -> str:
        """RFC 7523 §3: iss = sub = client_id, aud = the authorization server's issuer identifier
        (draft-ietf-oauth-rfc7523bis), a short expiry and a unique jti."""
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + int(self.assertion_lifetime),
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm=self.algorithm)
