"""URLs of the flow (sans-IO): the MCP server's resource identifier, the well-known metadata locations, and
the HTTPS rule for authorization server endpoints."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from ..._auth.fetch import redact_url
from ..._auth.metadata import WELL_KNOWN as PRM_WELL_KNOWN
from .errors import OAuthError

AS_WELL_KNOWN = "/.well-known/oauth-authorization-server"  # RFC 8414 §3
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"  # OpenID Connect Discovery 1.0 §4
_WEB = {"ws": "http", "wss": "https"}


def canonical_resource(url: str) -> str:
    """The MCP server's canonical URI (MCP basic/authorization §Canonical Server URI, RFC 8707 §2): lowercase
    scheme and host, no fragment, no user info; a WebSocket URL names the same resource as its HTTP twin
    (the server says so in its metadata). The path is kept as given (no slash added)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    scheme = _WEB.get(scheme, scheme)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def origin(url: str) -> str:
    parts = urlsplit(canonical_resource(url))
    return f"{parts.scheme}://{parts.netloc}"


def resource_allowed(server: str, resource: str) -> bool:
    """Whether the metadata's `resource` may stand for `server` (RFC 9728 §3.3, MCP §Token Audience Binding):
    the same origin, and a path that is the server's or a parent of it (a root document names the origin)."""
    mine, theirs = urlsplit(canonical_resource(server)), urlsplit(canonical_resource(resource))
    if (mine.scheme, mine.netloc) != (theirs.scheme, theirs.netloc) or theirs.query:
        return False
    parent = theirs.path.rstrip("/") + "/"
    return (mine.path.rstrip("/") + "/").startswith(parent)


def resource_metadata_urls(server: str, from_challenge: str | None) -> list[str]:
    """Where to look for the protected resource metadata, in order (MCP §Protected Resource Metadata Discovery):
    the challenge's `resource_metadata`, the path-aware well-known URL (RFC 9728 §3.1), then the root one."""
    parts = urlsplit(canonical_resource(server))
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    urls = [from_challenge] if from_challenge else []
    if path:
        urls.append(base + PRM_WELL_KNOWN + path)
    urls.append(base + PRM_WELL_KNOWN)
    return list(dict.fromkeys(urls))


def authorization_server_metadata_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may be, in the order of MCP §Authorization Server Metadata Discovery: RFC 8414
    path insertion, OIDC path insertion, OIDC path appending; without a path, RFC 8414 then OIDC."""
    parts = urlsplit(issuer)
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if not path:
        return [base + AS_WELL_KNOWN, base + OIDC_WELL_KNOWN]
    return [base + AS_WELL_KNOWN + path, base + OIDC_WELL_KNOWN + path, base + path + OIDC_WELL_KNOWN]


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_https(url: str, what: str) -> None:
    """OAuth 2.1 §1.5 / MCP §Communication Security: authorization server endpoints are HTTPS; plain HTTP only
    on loopback (a local authorization server, tests)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and is_loopback(url)):
        return
    raise OAuthError(f"{what} {redact_url(url)} is not an HTTPS URL (plain HTTP is allowed on loopback only)")
