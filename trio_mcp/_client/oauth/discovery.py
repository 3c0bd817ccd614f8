"""Finding the authorization server of an MCP server (MCP 2025-11-25 basic/authorization §Authorization Server
Discovery): the protected resource metadata (RFC 9728), then the metadata of the authorization server it names
(RFC 8414 / OpenID Connect Discovery). A server without resource metadata is taken as MCP 2025-03-26: its
origin is the authorization server, with RFC 8414 metadata or the default endpoints."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs

from ..._auth.fetch import redact_url
from .challenge import BearerChallenge
from .errors import DiscoveryError, OAuthError
from .fetch import Answer, Fetcher
from .metadata import ResourceMetadata, ServerMetadata, issuers_match
from .urls import (
    AS_WELL_KNOWN,
    authorization_server_metadata_urls,
    canonical_resource,
    origin,
    require_https,
    resource_allowed,
    resource_metadata_urls,
)

log = logging.getLogger("trio_mcp.client.oauth")

#: MCP §Protocol Version Header in discovery requests: the revision these rules come from
DISCOVERY_HEADERS = {"mcp-protocol-version": "2025-11-25"}


@attrs.frozen
class Discovery:
    """Who issues tokens for the MCP server at `server_url`, and for which resource."""

    server_url: str
    #: the RFC 8707 `resource` to ask for: the metadata's `resource`, exactly as published; None without
    #: resource metadata (2025-03-26 servers know no resource parameter)
    resource: str | None
    #: the metadata's `scopes_supported` (MCP §Scope Selection Strategy)
    scopes_supported: tuple[str, ...] | None
    server: ServerMetadata

    @property
    def issuer(self) -> str | None:
        return self.server.issuer


async def discover(
    fetcher: Fetcher, server_url: str, challenge: BearerChallenge, *, preferred: Sequence[str] = ()
) -> Discovery:
    """The discovery for `server_url` after a refusal carrying `challenge`. `preferred`: issuers to take when
    the metadata lists several (the configured one, the one the stored client is registered with)."""
    server_url = canonical_resource(server_url)
    metadata = await _resource_metadata(fetcher, server_url, challenge.resource_metadata)
    if metadata is None:
        return Discovery(server_url, None, None, await _legacy_server(fetcher, server_url))
    if not resource_allowed(server_url, metadata.resource):
        # RFC 9728 §3.3 / MCP §Token Audience Binding: a token for another resource must not be asked for.
        raise DiscoveryError(
            f"the protected resource metadata at {redact_url(metadata.url)} is for {metadata.resource!r}, "
            f"not for this server ({server_url}): refusing to authorize for it"
        )
    issuer = _choose(metadata.authorization_servers, preferred)
    try:
        require_https(issuer, "the authorization server")
    except OAuthError as exc:
        raise DiscoveryError(str(exc)) from None
    server = await _server_metadata(fetcher, issuer)
    return Discovery(server_url, metadata.resource, metadata.scopes_supported, server)


def _choose(listed: Sequence[str], preferred: Sequence[str]) -> str:
    for wanted in preferred:
        for issuer in listed:
            if issuers_match(issuer, wanted):
                return issuer
    return listed[0]


async def _resource_metadata(
    fetcher: Fetcher, server_url: str, from_challenge: str | None
) -> ResourceMetadata | None:
    """The first document found where MCP says to look; None when the server has none (every place answered
    4xx). A place that failed otherwise (5xx, unreachable) means it may exist: an error, not a fallback."""
    failures: list[str] = []
    server_origin = origin(server_url)
    for url in resource_metadata_urls(server_url, from_challenge):
        if origin(url) != server_origin:
            try:
                require_https(url, "the protected resource metadata")
            except OAuthError as exc:
                failures.append(str(exc))
                continue
        try:
            answer = await fetcher.request(
                "GET",
                url,
                what="the protected resource metadata at",
                failure=DiscoveryError,
                headers=DISCOVERY_HEADERS,
            )
        except DiscoveryError as exc:
            failures.append(str(exc))
            continue
        document = answer.object
        if answer.status == 200 and document is not None:
            try:
                return ResourceMetadata.parse(document, url)
            except DiscoveryError as exc:
                failures.append(str(exc))
                continue
        if answer.status == 200:
            failures.append(f"{redact_url(url)} answered without a JSON object")
        elif answer.status >= 500 or answer.status == 429:
            failures.append(f"{redact_url(url)} answered HTTP {answer.status}")
        log.debug("no protected resource metadata at %s (HTTP %s)", redact_url(url), answer.status)
    if failures:
        raise DiscoveryError("could not read the protected resource metadata: " + "; ".join(failures))
    return None


async def _get_server_metadata(fetcher: Fetcher, url: str) -> Answer:
    return await fetcher.request(
        "GET",
        url,
        what="the authorization server metadata at",
        failure=DiscoveryError,
        headers=DISCOVERY_HEADERS,
    )


async def _server_metadata(fetcher: Fetcher, issuer: str) -> ServerMetadata:
    tried: list[str] = []
    for url in authorization_server_metadata_urls(issuer):
        answer = await _get_server_metadata(fetcher, url)
        document = answer.object
        if answer.status == 200 and document is not None:
            return ServerMetadata.parse(document, issuer, url)
        if answer.status >= 500 or answer.status == 429:
            raise DiscoveryError(
                f"the authorization server metadata at {redact_url(url)} answered HTTP {answer.status}"
            )
        tried.append(f"{redact_url(url)} (HTTP {answer.status})")
    raise DiscoveryError(
        f"found no metadata for the authorization server {issuer!r} (RFC 8414, OpenID Connect Discovery): "
        f"tried {', '.join(tried)}"
    )


async def _legacy_server(fetcher: Fetcher, server_url: str) -> ServerMetadata:
    """MCP 2025-03-26 §Server Metadata Discovery: RFC 8414 metadata at the MCP server's origin, else the
    default endpoints there."""
    base = origin(server_url)
    url = base + AS_WELL_KNOWN
    answer = await _get_server_metadata(fetcher, url)
    document = answer.object
    if answer.status == 200 and document is not None:
        log.info(
            "%s has no protected resource metadata: using the 2025-03-26 discovery at its origin", server_url
        )
        return ServerMetadata.parse(document, base, url)
    if answer.status >= 500 or answer.status == 429:
        raise DiscoveryError(
            f"the authorization server metadata at {redact_url(url)} answered HTTP {answer.status}"
        )
    log.info("%s has no OAuth metadata at all: using the default endpoints at %s", server_url, base)
    try:
        require_https(base, "the MCP server's authorization endpoints at")
    except OAuthError as exc:
        raise DiscoveryError(str(exc)) from None
    return ServerMetadata.defaults(base)
