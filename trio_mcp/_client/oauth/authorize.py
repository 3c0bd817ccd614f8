"""The authorization request and its response (OAuth 2.1 §4.1; MCP §Authorization Code Protection): PKCE S256,
`state`, the RFC 8707 `resource`; the redirect checked for `state` and, RFC 9207, for `iss`; then the code
exchanged at the token endpoint. `complete_authorization` is that last step for an application whose web
callback receives the redirect (after `AuthorizationRequired`)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import httpx

from .discovery import Discovery
from .errors import AuthorizationFailed, DiscoveryError, OAuthError
from .fetch import DEFAULT_TIMEOUT, Fetcher
from .grants import request_tokens, scope_param
from .pkce import Pkce, new_state
from .state import ClientInfo, PendingAuthorization, Tokens
from .storage import TokenStorage


@attrs.frozen
class AuthorizationResponse:
    """What the redirect back to the client carried (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207 `iss`)."""

    code: str | None = attrs.field(default=None, repr=False)
    state: str | None = attrs.field(default=None, repr=False)
    iss: str | None = None
    error: str | None = None
    error_description: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> AuthorizationResponse:
        return cls(
            code=query.get("code"),
            state=query.get("state"),
            iss=query.get("iss"),
            error=query.get("error"),
            error_description=query.get("error_description"),
        )

    @classmethod
    def from_url(cls, url: str) -> AuthorizationResponse:
        """From the redirect URL (its query; RFC 6749 §4.1.2)."""
        return cls.from_query(dict(parse_qsl(urlsplit(url).query)))


def start(
    discovery: Discovery,
    client: ClientInfo,
    redirect_uri: str,
    scopes: tuple[str, ...] | None,
) -> tuple[PendingAuthorization, str]:
    """A new authorization request: what to keep until the redirect comes back, and the URL for the browser."""
    server = discovery.server
    if server.authorization_endpoint is None:
        raise DiscoveryError(f"the authorization server {server.issuer!r} has no authorization_endpoint")
    methods = server.code_challenge_methods_supported
    if methods is None or "S256" not in methods:
        # MCP §Authorization Code Protection: no advertised S256 support means no PKCE: refuse to proceed.
        raise DiscoveryError(
            f"the authorization server {server.issuer!r} does not advertise PKCE S256 "
            f"(code_challenge_methods_supported: {list(methods) if methods is not None else 'absent'}): refusing "
            "to authorize without it"
        )
    pkce, state = Pkce.new(), new_state()
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": Pkce.method,
        **scope_param(scopes),
    }
    if discovery.resource is not None:
        params["resource"] = discovery.resource  # RFC 8707 §2
    if scopes and "offline_access" in scopes:
        params["prompt"] = "consent"  # OpenID Connect Core §11: offline_access asks for consent
    pending = PendingAuthorization(
        state=state,
        code_verifier=pkce.verifier,
        redirect_uri=redirect_uri,
        client_id=client.client_id,
        server_url=discovery.server_url,
        resource=discovery.resource,
        issuer=server.issuer,
        iss_required=server.iss_parameter_supported,
        token_endpoint=server.token_endpoint,
        scopes=scopes,
    )
    return pending, _with_query(server.authorization_endpoint, params)


def _with_query(endpoint: str, params: dict[str, str]) -> str:
    # OAuth 2.1 §3.1: the endpoint's own query component is kept.
    parts = urlsplit(endpoint)
    query = urlencode([*parse_qsl(parts.query), *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def check_response(response: AuthorizationResponse, pending: PendingAuthorization) -> str:
    """The code, once the response is the answer to `pending` (AuthorizationFailed otherwise)."""
    if response.state is None or not secrets.compare_digest(response.state, pending.state):
        # RFC 6749 §10.12 (CSRF): a response to some other request, or a forged one.
        raise AuthorizationFailed(
            "the authorization response's state does not match the request: refused (CSRF protection)"
        )
    if response.iss is not None:
        # RFC 9207 §2.4: simple string comparison with the issuer the request went to, no normalization.
        if pending.issuer is not None and response.iss != pending.issuer:
            raise AuthorizationFailed(
                f"the authorization response comes from issuer {response.iss!r}, not {pending.issuer!r} "
                "(RFC 9207 mix-up protection): refused"
            )
    elif pending.iss_required:
        raise AuthorizationFailed(
            f"the authorization server {pending.issuer!r} advertises `iss` in its responses, and this one has "
            "none (RFC 9207 §2.4): refused"
        )
    if response.error is not None:
        said = (
            f"{response.error}: {response.error_description}"
            if response.error_description
            else response.error
        )
        raise AuthorizationFailed(f"the authorization server refused the authorization ({said})")
    if not response.code:
        raise AuthorizationFailed("the authorization response carries no code")
    if time.time() > pending.expires_at:
        raise AuthorizationFailed("the authorization request expired before its response came; start again")
    return response.code


async def exchange(fetcher: Fetcher, pending: PendingAuthorization, client: ClientInfo, code: str) -> Tokens:
    """RFC 6749 §4.1.3 with the PKCE verifier (RFC 7636 §4.5) and the same `resource` as the request."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.code_verifier,
    }
    return await request_tokens(
        fetcher,
        pending.token_endpoint,
        form,
        client,
        issuer=pending.issuer,
        server_url=pending.server_url,
        resource=pending.resource,
        scopes=pending.scopes,
    )


async def finish(
    fetcher: Fetcher, storage: TokenStorage, pending: PendingAuthorization, response: AuthorizationResponse
) -> Tokens:
    """Check the response, exchange the code, store the tokens; the pending request is used up."""
    code = check_response(response, pending)
    client = await storage.get_client_info()
    if client is None or client.client_id != pending.client_id:
        raise OAuthError(
            "the client registration of this authorization is gone from the storage; start again"
        )
    await storage.set_pending(None)  # one exchange per code, whatever happens next
    tokens = await exchange(fetcher, pending, client, code)
    await storage.set_tokens(tokens)
    return tokens


async def complete_authorization(
    storage: TokenStorage,
    *,
    code: str,
    state: str,
    iss: str | None = None,
    http_client: httpx.AsyncClient | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Tokens:
    """Finish an authorization that raised `AuthorizationRequired`: the application's redirect handler passes
    the redirect's `code`, `state` (and `iss`, when present). The state must be the pending request's; the
    tokens go into `storage`, so the next connection with an `OAuthClient` on it is authorized."""
    pending = await storage.get_pending()
    if pending is None:
        raise AuthorizationFailed("no authorization is waiting for a response in this storage")
    response = AuthorizationResponse(code=code, state=state, iss=iss)
    return await finish(Fetcher(http_client, timeout), storage, pending, response)


def response_of(answer: Any) -> AuthorizationResponse:
    """A callback handler's answer: an AuthorizationResponse or a `(code, state)` pair."""
    if isinstance(answer, AuthorizationResponse):
        return answer
    if isinstance(answer, tuple) and len(answer) == 2:  # pyright: ignore[reportUnknownArgumentType]
        code, state = answer  # pyright: ignore[reportUnknownVariableType]
        if isinstance(code, str) and (state is None or isinstance(state, str)):
            return AuthorizationResponse(code=code, state=state)
    raise TypeError("a callback_handler returns an AuthorizationResponse or a (code, state) tuple")
