"""RFC 9728 OAuth 2.0 Protected Resource Metadata for an MCP endpoint (sans-IO).

MCP 2025-11-25 basic/authorization §Authorization Server Discovery: servers MUST implement RFC 9728 and list at
least one authorization server. The document lives at `/.well-known/oauth-protected-resource` followed by the
resource's path (RFC 9728 §3.1), so `https://host/mcp` is described at
`https://host/.well-known/oauth-protected-resource/mcp`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def metadata_path(resource_path: str) -> str:
    """Where the metadata of the resource at `resource_path` is served (RFC 9728 §3.1)."""
    path = resource_path.rstrip("/")
    return WELL_KNOWN + path if path else WELL_KNOWN


def resource_metadata(
    resource: str,
    authorization_servers: Iterable[str],
    scopes: Iterable[str],
    *,
    resource_name: str | None = None,
) -> dict[str, Any]:
    """The document, RFC 9728 §2: `resource` is the identifier clients pass as RFC 8707 `resource` and the
    tokens' audience; bearer tokens are taken in the Authorization header only (the MCP spec forbids them in
    the query string, and form bodies are JSON-RPC here)."""
    document: dict[str, Any] = {
        "resource": resource,
        "authorization_servers": list(authorization_servers),
        "bearer_methods_supported": ["header"],
    }
    scopes_supported = sorted(set(scopes))
    if scopes_supported:
        document["scopes_supported"] = scopes_supported
    if resource_name:
        document["resource_name"] = resource_name
    return document
