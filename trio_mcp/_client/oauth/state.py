"""What the client keeps between requests and across restarts, as plain records with one JSON form.

`OAuthState.to_json()` is a dict of JSON types (snake_case keys, the OAuth wire names), `from_json` reads it
back; a client session registry keeps it in a record's `auth` (sealed at rest). It holds secrets (tokens, the
client secret, the PKCE verifier): their `repr` is hidden, and nothing here logs them.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import attrs
import cattrs

#: refresh this long before expiry (at most half the token's lifetime), so a request is not refused in flight
REFRESH_MARGIN = 30.0
#: how long an authorization started with `AuthorizationRequired` may be completed
PENDING_TTL = 600.0
FORMAT = 1

ClientKind = Literal["pre-registered", "metadata-document", "dynamic"]


@attrs.frozen(kw_only=True)
class Tokens:
    """A token response (RFC 6749 §5.1) and what it is for."""

    access_token: str = attrs.field(repr=False)
    token_type: str = "Bearer"
    refresh_token: str | None = attrs.field(default=None, repr=False)
    #: the granted scopes (the requested ones when the answer did not say, RFC 6749 §5.1); None: unknown
    scopes: tuple[str, ...] | None = None
    #: wall-clock time (time.time()) of expiry, when the server said (`expires_in`)
    expires_at: float | None = None
    obtained_at: float = attrs.field(factory=time.time)
    #: the MCP server (canonical URI) the token is sent to, and the RFC 8707 resource it was asked for
    server_url: str
    resource: str | None = None
    #: the authorization server that issued it, and where to refresh it
    issuer: str | None = None
    token_endpoint: str

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (time.time() if now is None else now) >= self.expires_at

    def refresh_due(self, now: float | None = None) -> bool:
        if self.expires_at is None:
            return False
        margin = min(REFRESH_MARGIN, max(0.0, self.expires_at - self.obtained_at) / 2)
        return (time.time() if now is None else now) >= self.expires_at - margin


@attrs.frozen(kw_only=True)
class ClientInfo:
    """How the client is known to the authorization server (MCP §Client Registration Approaches)."""

    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    #: none, client_secret_basic, client_secret_post, private_key_jwt (RFC 7591 §2)
    token_endpoint_auth_method: str = "none"
    kind: ClientKind = "dynamic"
    #: the authorization server it is registered with; credentials are never shown to another (SEP-2352).
    #: None: not bound (a pre-registered client without a configured issuer)
    issuer: str | None = None
    redirect_uris: tuple[str, ...] = ()
    #: RFC 7591 §3.2.1 `client_secret_expires_at` (None: never)
    secret_expires_at: float | None = None

    def usable_with(self, issuer: str | None, redirect_uri: str | None) -> bool:
        if self.issuer is not None and self.issuer != issuer:
            return False
        if self.secret_expires_at is not None and time.time() >= self.secret_expires_at:
            return False
        # A registration names its redirect URIs; a new loopback port needs a new registration.
        return self.kind != "dynamic" or redirect_uri is None or redirect_uri in self.redirect_uris


@attrs.frozen(kw_only=True)
class PendingAuthorization:
    """An authorization request sent to the user's browser, waiting for its redirect (`complete_authorization`)."""

    state: str = attrs.field(repr=False)
    code_verifier: str = attrs.field(repr=False)
    redirect_uri: str
    client_id: str
    server_url: str
    resource: str | None = None
    issuer: str | None = None
    #: RFC 9207: the authorization server advertised `iss` in its responses, so one without it is refused
    iss_required: bool = False
    token_endpoint: str
    scopes: tuple[str, ...] | None = None
    expires_at: float = attrs.field(factory=lambda: time.time() + PENDING_TTL)


@attrs.frozen(kw_only=True)
class OAuthState:
    """Everything the client keeps: one JSON-able dict (`to_json` / `from_json`)."""

    tokens: Tokens | None = None
    client: ClientInfo | None = None
    pending: PendingAuthorization | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = _converter.unstructure(self)
        return {"format": FORMAT, **{k: v for k, v in document.items() if v is not None}}

    @classmethod
    def from_json(cls, document: object) -> OAuthState:
        """Read what `to_json` wrote; ValueError naming the field when it is not that."""
        if not isinstance(document, dict):
            raise ValueError(f"an OAuth state is a JSON object, not {type(document).__name__}")
        fields: dict[str, Any] = dict(document)  # pyright: ignore[reportUnknownArgumentType]
        if fields.pop("format", FORMAT) != FORMAT:
            raise ValueError(
                f"unknown OAuth state format {document.get('format')!r} (this client writes {FORMAT})"
            )  # pyright: ignore[reportUnknownMemberType]
        try:
            return _converter.structure(fields, cls)
        except Exception as exc:
            raise ValueError(f"not an OAuth state: {_explain(exc)}") from None


def _strict_str(value: object, _: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strict_float(value: object, _: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _strict_bool(value: object, _: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {type(value).__name__}")
    return value


def _explain(exc: BaseException) -> str:
    if isinstance(exc, cattrs.ClassValidationError):
        notes = cattrs.transform_error(exc)
        return "; ".join(notes)
    return str(exc)


_converter = cattrs.Converter(forbid_extra_keys=False)
_converter.register_structure_hook(str, _strict_str)
_converter.register_structure_hook(float, _strict_float)
_converter.register_structure_hook(bool, _strict_bool)
_converter.register_unstructure_hook(tuple, list)  # pyright: ignore[reportUnknownArgumentType]
