"""How the client gets its `client_id`, in the order of MCP 2025-11-25 §Client Registration Approaches: a
pre-registered client, else a client ID metadata document (the client_id IS its HTTPS URL, when the
authorization server advertises `client_id_metadata_document_supported`), else dynamic client registration
(RFC 7591). A stored registration is reused while it is bound to the same authorization server (SEP-2352)."""

from __future__ import annotations

import logging
from typing import cast
from urllib.parse import urlsplit

import attrs

from ..._auth.fetch import redact_url
from .errors import OAuthError, RegistrationError
from .fetch import Fetcher
from .metadata import ServerMetadata, issuers_match
from .state import ClientInfo
from .urls import is_loopback

log = logging.getLogger("trio_mcp.client.oauth")

#: the methods this client can apply for the authorization code grant, most preferred first
CODE_FLOW_METHODS = ("client_secret_basic", "client_secret_post", "none")


@attrs.frozen(kw_only=True)
class ClientConfig:
    """What the application says about its client."""

    client_name: str = "trio-mcp"
    redirect_uri: str | None = None
    #: a pre-registered client
    client_id: str | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)
    token_endpoint_auth_method: str | None = None
    #: the authorization server the pre-registered client belongs to (its credentials go nowhere else)
    issuer: str | None = None
    #: the HTTPS URL of the client's metadata document (CIMD)
    client_metadata_url: str | None = None
    #: OIDC `application_type` (SEP-837); default: native for a loopback or private-scheme redirect
    application_type: str | None = None
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")

    def __attrs_post_init__(self) -> None:
        url = self.client_metadata_url
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme != "https" or parts.path in ("", "/"):
                raise ValueError(f"client_metadata_url must be an https URL with a path, not {url!r}")


def check_issuer(config_issuer: str | None, issuer: str | None) -> None:
    """Credentials configured for one authorization server are never sent to another."""
    if config_issuer is not None and (issuer is None or not issuers_match(config_issuer, issuer)):
        raise OAuthError(
            f"the MCP server's authorization server is {issuer!r}, but this client's credentials belong to "
            f"{config_issuer!r}: they are not sent there"
        )


async def obtain_client(
    fetcher: Fetcher, config: ClientConfig, server: ServerMetadata, stored: ClientInfo | None
) -> ClientInfo:
    """The client to authorize as with the authorization server `server` (maybe `stored`, maybe new)."""
    if config.client_id is not None:
        check_issuer(config.issuer, server.issuer)
        return ClientInfo(
            client_id=config.client_id,
            client_secret=config.client_secret,
            token_endpoint_auth_method=config.token_endpoint_auth_method
            or _choose(server, has_secret=config.client_secret is not None),
            kind="pre-registered",
            issuer=config.issuer,
            redirect_uris=(config.redirect_uri,) if config.redirect_uri else (),
        )
    if config.client_metadata_url is not None and server.client_id_metadata_document_supported:
        # SEP-991: the authorization server fetches the document; a public client, portable across servers.
        return ClientInfo(
            client_id=config.client_metadata_url,
            token_endpoint_auth_method="none",
            kind="metadata-document",
            redirect_uris=(config.redirect_uri,) if config.redirect_uri else (),
        )
    if (
        stored is not None
        and stored.kind == "dynamic"
        and stored.usable_with(server.issuer, config.redirect_uri)
    ):
        return stored
    return await register(fetcher, config, server)


def _choose(server: ServerMetadata, *, has_secret: bool) -> str:
    supported = server.auth_methods()
    wanted = CODE_FLOW_METHODS if has_secret else ("none",)
    return next((method for method in wanted if method in supported), wanted[0])


def application_type(config: ClientConfig) -> str:
    if config.application_type is not None:
        return config.application_type
    uri = config.redirect_uri
    if uri is None:
        return "web"
    scheme = urlsplit(uri).scheme.lower()
    # RFC 8252 §7: loopback and private-use URI scheme redirects are native apps'.
    return "native" if scheme not in ("http", "https") or is_loopback(uri) else "web"


async def register(fetcher: Fetcher, config: ClientConfig, server: ServerMetadata) -> ClientInfo:
    """RFC 7591 §3: register this client, asking for a token endpoint auth method the server supports."""
    endpoint = server.registration_endpoint
    if endpoint is None:
        raise RegistrationError(
            f"the authorization server {server.issuer!r} offers no dynamic client registration and no client ID "
            "metadata documents: configure a pre-registered client (client_id=...)"
            + ("" if config.client_metadata_url else " or a client_metadata_url")
        )
    method = _choose(server, has_secret=True)
    metadata: dict[str, object] = {
        "client_name": config.client_name,
        "grant_types": list(config.grant_types),
        "response_types": ["code"] if "authorization_code" in config.grant_types else [],
        "token_endpoint_auth_method": method,
        "application_type": application_type(config),
    }
    if config.redirect_uri is not None:
        metadata["redirect_uris"] = [config.redirect_uri]
    answer = await fetcher.request(
        "POST", endpoint, what="the registration endpoint", failure=RegistrationError, body=metadata
    )
    where = f"the registration endpoint {redact_url(endpoint)}"
    body = answer.object
    if answer.status not in (200, 201) or body is None:
        error = body.get("error") if body is not None else None
        description = body.get("error_description") if body is not None else None
        said = f"{error}: {description}" if error and description else error or f"HTTP {answer.status}"
        raise RegistrationError(f"{where} refused to register this client ({said})")
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationError(f"{where} answered without a client_id")
    secret = body.get("client_secret")
    secret = secret if isinstance(secret, str) and secret else None
    given = body.get("token_endpoint_auth_method")
    # RFC 7591 §3.2.1: the server may change what was asked for; the client checks it can use the result.
    chosen = given if isinstance(given, str) else method if secret is not None else "none"
    if chosen not in CODE_FLOW_METHODS:
        raise RegistrationError(f"{where} registered this client for {chosen!r}, which it cannot use")
    if chosen != "none" and secret is None:
        raise RegistrationError(f"{where} registered this client for {chosen} but gave no client_secret")
    expires = body.get("client_secret_expires_at")
    uris = body.get("redirect_uris")
    log.info("registered client %s with %s (%s)", client_id, redact_url(endpoint), chosen)
    return ClientInfo(
        client_id=client_id,
        client_secret=secret,
        token_endpoint_auth_method=chosen,
        kind="dynamic",
        issuer=server.issuer,
        redirect_uris=_uris(uris) or ((config.redirect_uri,) if config.redirect_uri else ()),
        secret_expires_at=float(expires)
        if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0
        else None,
    )


def _uris(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in cast(list[object], value) if isinstance(item, str))
