"""PKCE (RFC 7636) with S256, and the `state` parameter (RFC 6749 §10.12): fresh random values per
authorization request."""

from __future__ import annotations

import base64
import hashlib
import secrets

import attrs


@attrs.frozen
class Pkce:
    #: RFC 7636 §4.1: 43-128 unreserved characters; 64 random bytes give 86
    verifier: str = attrs.field(repr=False)

    @classmethod
    def new(cls) -> Pkce:
        return cls(secrets.token_urlsafe(64))

    @property
    def challenge(self) -> str:
        """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))), no padding."""
        return s256(self.verifier)

    method = "S256"


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    return secrets.token_urlsafe(32)
