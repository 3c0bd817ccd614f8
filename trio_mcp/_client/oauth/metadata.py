"""The two metadata documents the flow reads (sans-IO): RFC 9728 protected resource metadata and RFC 8414
authorization server metadata (or OpenID Connect Discovery, which has the same fields), checked as read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import attrs

from ..._auth.fetch import redact_url
from .errors import DiscoveryError, OAuthError
from .urls import require_https


@attrs.frozen
class ResourceMetadata:
    """RFC 9728 §2."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] | None
    url: str

    @classmethod
    def parse(cls, document: Mapping[str, Any], url: str) -> ResourceMetadata:
        where = f"the protected resource metadata at {redact_url(url)}"
        resource = document.get("resource")
        if not isinstance(resource, str) or not resource:
            raise DiscoveryError(f"{where} has no `resource` (RFC 9728 §2 requires it)")
        servers = _strings(document.get("authorization_servers"))
        if not servers:
            # MCP §Authorization Server Location: the document MUST name at least one authorization server.
            raise DiscoveryError(f"{where} names no authorization server (`authorization_servers`)")
        return cls(resource, servers, _strings(document.get("scopes_supported")), url)


@attrs.frozen
class ServerMetadata:
    """RFC 8414 §2, the fields the client uses. `issuer` is None for the 2025-03-26 fallback (no metadata:
    the default endpoints at the MCP server's origin)."""

    issuer: str | None
    authorization_endpoint: str | None
    token_endpoint: str
    registration_endpoint: str | None = None
    scopes_supported: tuple[str, ...] | None = None
    grant_types_supported: tuple[str, ...] | None = None
    token_endpoint_auth_methods_supported: tuple[str, ...] | None = None
    code_challenge_methods_supported: tuple[str, ...] | None = None
    client_id_metadata_document_supported: bool = False
    #: RFC 9207 §3: the authorization response carries `iss`
    iss_parameter_supported: bool = False

    @classmethod
    def parse(cls, document: Mapping[str, Any], expected_issuer: str, url: str) -> ServerMetadata:
        where = f"the authorization server metadata at {redact_url(url)}"
        issuer = document.get("issuer")
        if not isinstance(issuer, str) or not issuers_match(issuer, expected_issuer):
            # RFC 8414 §3.3: MUST be identical to the issuer the well-known URL was built from, else unused.
            raise DiscoveryError(
                f"{where} names issuer {issuer!r}, not {expected_issuer!r} (RFC 8414 §3.3): not used"
            )
        endpoints: dict[str, str | None] = {}
        for name in ("authorization_endpoint", "token_endpoint", "registration_endpoint"):
            value = document.get(name)
            if value is not None and not isinstance(value, str):
                raise DiscoveryError(f"{where} has a `{name}` that is not a URL")
            if value is not None:
                try:
                    require_https(value, f"its {name.replace('_', ' ')}")
                except OAuthError as exc:
                    raise DiscoveryError(f"{where}: {exc}") from None
            endpoints[name] = value
        token_endpoint = endpoints["token_endpoint"]
        if token_endpoint is None:
            raise DiscoveryError(f"{where} has no `token_endpoint`")
        return cls(
            issuer=issuer,
            authorization_endpoint=endpoints["authorization_endpoint"],
            token_endpoint=token_endpoint,
            registration_endpoint=endpoints["registration_endpoint"],
            scopes_supported=_strings(document.get("scopes_supported")),
            grant_types_supported=_strings(document.get("grant_types_supported")),
            token_endpoint_auth_methods_supported=_strings(
                document.get("token_endpoint_auth_methods_supported")
            ),
            code_challenge_methods_supported=_strings(document.get("code_challenge_methods_supported")),
            client_id_metadata_document_supported=document.get("client_id_metadata_document_supported")
            is True,
            iss_parameter_supported=document.get("authorization_response_iss_parameter_supported") is True,
        )

    @classmethod
    def defaults(cls, origin: str) -> ServerMetadata:
        """MCP 2025-03-26 §Fallbacks for Servers without Metadata Discovery: the endpoints at the MCP server's
        origin, PKCE S256 assumed (that revision requires it of every authorization server)."""
        return cls(
            issuer=None,
            authorization_endpoint=origin + "/authorize",
            token_endpoint=origin + "/token",
            registration_endpoint=origin + "/register",
            code_challenge_methods_supported=("S256",),
        )

    def auth_methods(self) -> tuple[str, ...]:
        # RFC 8414 §2: omitted means client_secret_basic.
        return self.token_endpoint_auth_methods_supported or ("client_secret_basic",)


def issuers_match(a: str, b: str) -> bool:
    """RFC 8414 §3.3 wants identical strings; `https://as.example` and `https://as.example/` name the same root
    issuer (URL parsers add the slash), and only that difference is forgiven."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    parts = urlsplit(short)
    return long == short + "/" and parts.path == "" and not parts.query


def _strings(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(item for item in cast(list[object], value) if isinstance(item, str))
