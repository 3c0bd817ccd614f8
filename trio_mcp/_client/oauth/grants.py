"""Token endpoint requests (RFC 6749 §3.2): the authorization code (with its PKCE verifier, RFC 7636 §4.5),
refresh (§6) and client credentials (§4.4) grants, each with the RFC 8707 `resource`; client authentication
per the registration (§2.3.1 client_secret_basic / client_secret_post, RFC 7523 private_key_jwt, or a public
client's `client_id`); the answer read as RFC 6749 §5.1 / §5.2."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable
from urllib.parse import quote_plus

from ..._auth.fetch import redact_url
from .errors import TokenError
from .fetch import Fetcher
from .state import ClientInfo, Tokens

#: signs a private_key_jwt client assertion for an audience (`ClientCredentials.assertion`)
Signer = Callable[[str], str]
FORM = {"content-type": "application/x-www-form-urlencoded"}
_SECRET_METHODS = ("client_secret_basic", "client_secret_post")


def authenticate(
    form: dict[str, str], client: ClientInfo, *, audience: str, signer: Signer | None
) -> dict[str, str]:
    """Add the client's authentication to `form`; the extra headers (HTTP Basic)."""
    method = client.token_endpoint_auth_method
    if method == "client_secret_basic" and client.client_secret:
        # RFC 6749 §2.3.1: both form-urlencoded before they are joined.
        pair = f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret)}"
        return {"authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
    form["client_id"] = client.client_id
    if method == "client_secret_post" and client.client_secret:
        form["client_secret"] = client.client_secret
    elif method == "private_key_jwt":
        if signer is None:
            raise TokenError(f"client {client.client_id!r} is registered for private_key_jwt, but has no key")
        form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        form["client_assertion"] = signer(audience)
    elif method in _SECRET_METHODS:
        raise TokenError(f"client {client.client_id!r} is registered for {method} but has no client secret")
    elif method != "none":
        raise TokenError(
            f"client {client.client_id!r} uses token_endpoint_auth_method {method!r}, unsupported"
        )
    return {}


async def request_tokens(
    fetcher: Fetcher,
    endpoint: str,
    form: dict[str, str],
    client: ClientInfo,
    *,
    issuer: str | None,
    server_url: str,
    resource: str | None,
    scopes: tuple[str, ...] | None,
    previous: Tokens | None = None,
    signer: Signer | None = None,
) -> Tokens:
    """POST one grant to the token endpoint; the tokens it answered. `scopes` are what was asked for (the
    grant when the answer does not say, RFC 6749 §5.1); `previous` the tokens a refresh replaces (their
    refresh token and scopes stay when the answer leaves them out, §6)."""
    grant = form["grant_type"]
    if resource is not None:
        form["resource"] = resource  # RFC 8707 §2
    headers = {**FORM, **authenticate(form, client, audience=issuer or endpoint, signer=signer)}
    answer = await fetcher.request(
        "POST", endpoint, what="the token endpoint", failure=TokenError, headers=headers, form=form
    )
    body = answer.object
    where = f"the token endpoint {redact_url(endpoint)}"
    if answer.status != 200:
        error = body.get("error") if body is not None else None
        description = body.get("error_description") if body is not None else None
        said = f"{error}: {description}" if error and description else error or f"HTTP {answer.status}"
        raise TokenError(
            f"{where} refused the {grant} grant ({said})",
            error=error if isinstance(error, str) else None,
            status=answer.status,
        )
    if body is None:
        raise TokenError(f"{where} answered the {grant} grant without a JSON object")
    access = body.get("access_token")
    token_type = body.get("token_type")
    if not isinstance(access, str) or not access:
        raise TokenError(f"{where} answered the {grant} grant without an access_token")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenError(f"{where} answered token_type {token_type!r}; this client uses Bearer tokens only")
    expires_in = body.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    now = time.time()
    expires_at = (
        now + float(expires_in)
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
        else None
    )
    granted = body.get("scope")
    refresh = body.get("refresh_token")
    return Tokens(
        access_token=access,
        token_type="Bearer",
        refresh_token=refresh
        if isinstance(refresh, str) and refresh
        else (previous.refresh_token if previous else None),
        scopes=tuple(granted.split())
        if isinstance(granted, str)
        else (previous.scopes if previous else scopes),
        expires_at=expires_at,
        obtained_at=now,
        server_url=server_url,
        resource=resource,
        issuer=issuer,
        token_endpoint=endpoint,
    )


def scope_param(scopes: Iterable[str] | None) -> dict[str, str]:
    joined = " ".join(scopes or ())
    return {"scope": joined} if joined else {}
