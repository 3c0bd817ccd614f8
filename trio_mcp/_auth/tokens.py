"""What a verified bearer token says, and the protocol every token verifier implements (docs/architecture.md §10).

MCP 2025-11-25 basic/authorization §Access Token Usage: the server MUST validate that a token was issued for it
(RFC 8707 audience), and MUST NOT accept tokens meant for other resources. A verifier says who the token is for;
the app's guard compares that with this server's resource URL, whatever the verifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs


class InvalidToken(Exception):
    """The token is not acceptable; the message says why (it becomes the challenge's `error_description`,
    so it names the rule that failed and never echoes key material)."""


class VerifierUnavailable(Exception):
    """The verifier cannot decide right now (the JWKS or introspection endpoint is unreachable): the request
    gets 503 and may be retried; the token is not called invalid."""


def normalize_resource(url: str) -> str:
    """A resource URL as audiences are compared (RFC 8707 §2: the canonical URI; a trailing slash is no
    difference, scheme and host are case-insensitive)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.rstrip("/")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}".rstrip("/")


@attrs.frozen(kw_only=True)
class AccessToken:
    """A token a verifier accepted: whose it is, for whom, with which scopes, until when."""

    subject: str
    issuer: str | None = None
    client_id: str | None = None
    scopes: frozenset[str] = frozenset()
    #: Unix time after which the token is no longer accepted; None: the verifier set no end
    expires_at: float | None = None
    #: the resources (RFC 8707 / JWT `aud`) the token was issued for
    audience: tuple[str, ...] = ()
    #: every claim of the token (JWT payload or introspection response), for the app's own rules
    claims: Mapping[str, Any] = attrs.field(factory=dict[str, Any])

    @property
    def principal(self) -> str:
        """Who the session belongs to: `<issuer>#<subject>`, so equal subjects of two issuers never meet."""
        return f"{self.issuer}#{self.subject}" if self.issuer else self.subject

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def is_for(self, resource: str) -> bool:
        wanted = normalize_resource(resource)
        return any(normalize_resource(aud) == wanted for aud in self.audience)

    def missing(self, required: Iterable[str]) -> frozenset[str]:
        """The scopes of `required` this token lacks."""
        return frozenset(required) - self.scopes


@runtime_checkable
class TokenVerifier(Protocol):
    """Checks a bearer token: its signature or its issuer's word, its issuer and its expiry.

    Returns None (or raises InvalidToken with the reason) for a token it does not accept; raises
    VerifierUnavailable when it cannot decide now. The audience is checked by the app (`AccessToken.is_for`).
    """

    async def verify(self, token: str) -> AccessToken | None: ...


def scopes_of(value: Any) -> frozenset[str]:
    """The scopes of a `scope` claim (RFC 8693 §4.2 / RFC 7662: one space-separated string) or a list."""
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(str(item) for item in value)  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
    return frozenset()


def audience_of(value: Any) -> tuple[str, ...]:
    """The audiences of an `aud` claim: one string or a list (RFC 7519 §4.1.3)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value if isinstance(item, str))  # pyright: ignore[reportUnknownVariableType]
    return ()
