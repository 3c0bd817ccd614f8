"""`OAuthClient`: the OAuth 2.1 client of MCP 2025-11-25 basic/authorization as an `httpx.Auth`, so every
request of the Streamable HTTP transport carries `Authorization: Bearer` (and the WebSocket upgrade the same,
upgrade.py).

Per request (`async_auth_flow`):
- the stored token, refreshed first when it is about to expire (RFC 6749 §6);
- 401: refresh with the stored refresh token first; then the whole flow: discovery (RFC 9728, RFC 8414), the
  client's registration, authorization code + PKCE (or the client credentials grant), and the request again;
  a second 401 after a fresh token is `AccessRefused`;
- 403 `insufficient_scope` (MCP §Step-Up Authorization Flow): authorize again for the union of the scopes held
  and those challenged (SEP-2350), at most `max_step_ups` times per request, then `InsufficientScope`.
Concurrent requests share one flow (a lock); the others use its token.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable

import attrs
import httpx
import trio

from .authorize import AuthorizationResponse, finish, response_of, start
from .challenge import BearerChallenge, parse_www_authenticate
from .credentials import ClientCredentials
from .discovery import Discovery, discover
from .errors import AccessRefused, AuthorizationRequired, InsufficientScope, OAuthError, TokenError
from .fetch import DEFAULT_TIMEOUT, Fetcher
from .grants import request_tokens, scope_param
from .registration import ClientConfig, check_issuer, obtain_client
from .state import ClientInfo, Tokens
from .storage import MemoryTokenStorage, TokenStorage
from .urls import canonical_resource, require_https

log = logging.getLogger("trio_mcp.client.oauth")

RedirectHandler = Callable[[str], Awaitable[None]]
#: waits for the redirect back: an AuthorizationResponse (code, state, iss, error) or a (code, state) pair
CallbackHandler = Callable[[], Awaitable[AuthorizationResponse | tuple[str, str | None]]]
DEFAULT_STEP_UPS = 2


@attrs.define
class _Attempts:
    """What one request has tried already (so a server that never accepts cannot loop the client)."""

    refreshed: bool = False
    authorized: bool = False
    step_ups: int = 0


class OAuthClient(httpx.Auth):
    """OAuth for one MCP server: `open_client(url, auth=OAuthClient(...))`.

    Interactive clients give `redirect_uri` and either both `redirect_handler(url)` (open the browser) and
    `callback_handler()` (wait for the redirect: `loopback_redirect()` does both halves' waiting), or no
    callback handler: the flow then keeps the PKCE verifier and state in `storage` and raises
    `AuthorizationRequired(authorization_url)`, and `complete_authorization(storage, code=..., state=...)`
    finishes it later. Registration: `client_id`/`client_secret` (pre-registered, bound to `issuer` when given),
    else `client_metadata_url` (a client ID metadata document) when the server supports it, else dynamic
    registration. Machine clients give `credentials=ClientCredentials(...)` instead.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        storage: TokenStorage | None = None,
        *,
        redirect_uri: str | None = None,
        redirect_handler: RedirectHandler | None = None,
        callback_handler: CallbackHandler | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_endpoint_auth_method: str | None = None,
        issuer: str | None = None,
        client_metadata_url: str | None = None,
        client_name: str = "trio-mcp",
        application_type: str | None = None,
        credentials: ClientCredentials | None = None,
        scopes: Iterable[str] = (),
        max_step_ups: int = DEFAULT_STEP_UPS,
        timeout: float = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if credentials is not None and (client_id is not None or redirect_uri is not None):
            raise ValueError("credentials= is a machine client: give it without client_id= or redirect_uri=")
        if callback_handler is not None and redirect_uri is None:
            raise ValueError("a callback_handler needs the redirect_uri it listens on")
        if client_secret is not None and client_id is None:
            raise ValueError("client_secret= belongs to a pre-registered client_id=")
        if max_step_ups < 0:
            raise ValueError("max_step_ups must be >= 0")
        self.storage: TokenStorage = storage if storage is not None else MemoryTokenStorage()
        self.config = ClientConfig(
            client_name=client_name,
            redirect_uri=redirect_uri,
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method=token_endpoint_auth_method,
            issuer=issuer,
            client_metadata_url=client_metadata_url,
            application_type=application_type,
        )
        self.credentials = credentials
        self.redirect_handler = redirect_handler
        self.callback_handler = callback_handler
        self.scopes = tuple(scopes)
        self.max_step_ups = max_step_ups
        self._fetcher = Fetcher(http_client, timeout)
        self._lock: trio.Lock | None = None
        self._discovery: Discovery | None = None

    def __repr__(self) -> str:
        kind = "client credentials" if self.credentials is not None else "authorization code"
        return f"OAuthClient({kind}, storage={type(self.storage).__name__})"

    # -- httpx.Auth --

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("OAuthClient is asynchronous: use it with httpx.AsyncClient (open_client does)")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        server_url = canonical_resource(str(request.url.copy_with(query=None)))
        # Ending a session (DELETE) never sends the user to a browser.
        interactive = request.method != "DELETE"
        tokens = await self.access_token(server_url)
        _authorize(request, tokens)
        response = yield request
        attempts = _Attempts()
        while True:
            challenge = response.headers.get("www-authenticate")
            status = response.status_code
            tokens = await self._after_refusal(
                server_url, status, challenge, tokens, attempts, interactive=interactive
            )
            if tokens is None:
                return
            _authorize(request, tokens)
            response = yield request

    # -- the logic --

    async def access_token(self, server_url: str) -> Tokens | None:
        """The token to send to `server_url` now: the stored one, refreshed when due; None when there is none
        (or it expired and cannot be refreshed)."""
        tokens = await self._stored_tokens(server_url)
        if tokens is None or not tokens.refresh_due():
            return tokens
        async with self._flow_lock():
            tokens = await self._stored_tokens(server_url)
            if tokens is not None and tokens.refresh_due() and tokens.refresh_token is not None:
                tokens = await self._refresh(tokens) or tokens
        if tokens is not None and tokens.expired():
            return None
        return tokens

    async def _after_refusal(
        self,
        server_url: str,
        status: int,
        www_authenticate: str | None,
        used: Tokens | None,
        attempts: _Attempts,
        *,
        interactive: bool = True,
    ) -> Tokens | None:
        """After an answer with `status`: the tokens to send the request again with, or None when the answer
        stands (not a refusal). Raises OAuthError when the flow cannot get a token the server accepts."""
        challenge = parse_www_authenticate(www_authenticate)
        if status == 401:
            return await self._unauthorized(server_url, challenge, used, attempts, interactive)
        if status == 403 and challenge.error == "insufficient_scope":
            attempts.step_ups += 1
            if attempts.step_ups > self.max_step_ups:
                scopes = challenge.scopes or ()
                raise InsufficientScope(
                    f"the MCP server {server_url} still refuses the request for want of scope(s) "
                    f"{' '.join(scopes) or '(unnamed)'} after {self.max_step_ups} re-authorization(s)"
                    + (f": {challenge.description}" if challenge.description else ""),
                    status=403,
                    scopes=scopes,
                )
            return await self._step_up(server_url, challenge, used, interactive)
        return None

    async def _unauthorized(
        self,
        server_url: str,
        challenge: BearerChallenge,
        used: Tokens | None,
        attempts: _Attempts,
        interactive: bool,
    ) -> Tokens:
        if attempts.authorized:
            raise AccessRefused(
                f"the MCP server {server_url} refused the token just obtained for it (401"
                + (f" {challenge.error}" if challenge.error else "")
                + (f": {challenge.description})" if challenge.description else ")"),
                status=401,
            )
        async with self._flow_lock():
            current = await self._stored_tokens(server_url)
            if (
                current is not None
                and (used is None or current.access_token != used.access_token)
                and not current.expired()
            ):
                attempts.refreshed = True
                return current  # renewed by another request meanwhile
            if current is not None and current.refresh_token is not None and not attempts.refreshed:
                attempts.refreshed = True
                refreshed = await self._refresh(current)
                if refreshed is not None:
                    return refreshed
            attempts.authorized = True
            return await self._obtain(server_url, challenge, None, interactive, rediscover=True)

    async def _step_up(
        self, server_url: str, challenge: BearerChallenge, used: Tokens | None, interactive: bool
    ) -> Tokens:
        async with self._flow_lock():
            held = used.scopes if used is not None and used.scopes is not None else ()
            wanted = tuple(dict.fromkeys([*held, *(challenge.scopes or ())]))
            current = await self._stored_tokens(server_url)
            if (
                current is not None
                and used is not None
                and current.access_token != used.access_token
                and current.scopes is not None
                and set(wanted) <= set(current.scopes)
            ):
                return current  # stepped up by another request meanwhile
            log.info(
                "%s asks for scope(s) %s: authorizing again", server_url, " ".join(challenge.scopes or ())
            )
            return await self._obtain(server_url, challenge, wanted, interactive, rediscover=False)

    def _flow_lock(self) -> trio.Lock:
        if self._lock is None:
            self._lock = trio.Lock()
        return self._lock

    async def _stored_tokens(self, server_url: str) -> Tokens | None:
        tokens = await self.storage.get_tokens()
        if tokens is not None and tokens.server_url != server_url:
            log.warning("the stored tokens are for %s, not %s: not sent", tokens.server_url, server_url)
            return None
        return tokens

    # -- getting tokens --

    async def _refresh(self, tokens: Tokens) -> Tokens | None:
        """RFC 6749 §6; None when the refresh was refused (the tokens are then dropped)."""
        assert tokens.refresh_token is not None
        client = self._client_for(await self.storage.get_client_info())
        if client is None or (client.issuer is not None and client.issuer != tokens.issuer):
            return None  # no client registered with the tokens' issuer: its credentials stay with their own
        try:
            require_https(tokens.token_endpoint, "the token endpoint")
            fresh = await request_tokens(
                self._fetcher,
                tokens.token_endpoint,
                {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
                client,
                issuer=tokens.issuer,
                server_url=tokens.server_url,
                resource=tokens.resource,
                scopes=tokens.scopes,
                previous=tokens,
                signer=self._signer(),
            )
        except TokenError as exc:
            log.info("could not refresh the access token (%s): authorizing again", exc)
            await self.storage.set_tokens(None)
            return None
        await self.storage.set_tokens(fresh)
        log.debug("refreshed the access token for %s", tokens.server_url)
        return fresh

    def _client_for(self, stored: ClientInfo | None) -> ClientInfo | None:
        if self.credentials is not None:
            return self.credentials.client_info()
        return stored

    def _signer(self) -> Callable[[str], str] | None:
        return self.credentials.assertion if self.credentials is not None else None

    async def _obtain(
        self,
        server_url: str,
        challenge: BearerChallenge,
        scopes: tuple[str, ...] | None,
        interactive: bool,
        *,
        rediscover: bool,
    ) -> Tokens:
        """The whole flow: discovery, registration, authorization; the new tokens stored."""
        if self.credentials is None and not interactive:
            raise OAuthError(
                f"the token for {server_url} needs a new authorization by the user, which ending a session "
                "does not start"
            )
        discovery = self._discovery
        if rediscover or discovery is None or discovery.server_url != server_url:
            stored = await self.storage.get_client_info()
            preferred = [i for i in (self._configured_issuer(), stored.issuer if stored else None) if i]
            discovery = self._discovery = await discover(
                self._fetcher, server_url, challenge, preferred=preferred
            )
        if scopes is None:
            scopes = self._select_scopes(challenge, discovery)
        else:
            scopes = tuple(dict.fromkeys([*scopes, *self.scopes]))
        if self.credentials is not None:
            tokens = await self._client_credentials(discovery, scopes)
        else:
            tokens = await self._authorization_code(discovery, scopes)
        await self.storage.set_tokens(tokens)
        return tokens

    def _configured_issuer(self) -> str | None:
        return self.credentials.issuer if self.credentials is not None else self.config.issuer

    def _select_scopes(self, challenge: BearerChallenge, discovery: Discovery) -> tuple[str, ...] | None:
        """MCP §Scope Selection Strategy: the challenge's `scope`, else the resource metadata's
        `scopes_supported`, else none (the parameter is omitted); plus the configured ones and, when the
        authorization server lists it and the client can refresh, `offline_access` (SEP-2207)."""
        selected = challenge.scopes or discovery.scopes_supported or ()
        wanted = list(dict.fromkeys([*selected, *self.scopes]))
        if not wanted:
            return None
        supported = discovery.server.scopes_supported or ()
        if (
            self.credentials is None
            and "offline_access" in supported
            and "refresh_token" in self.config.grant_types
            and "offline_access" not in wanted
        ):
            wanted.append("offline_access")
        return tuple(wanted)

    async def _client_credentials(self, discovery: Discovery, scopes: tuple[str, ...] | None) -> Tokens:
        credentials = self.credentials
        assert credentials is not None
        check_issuer(credentials.issuer, discovery.issuer)
        server = discovery.server
        require_https(server.token_endpoint, "the token endpoint")
        wanted = tuple(dict.fromkeys([*(scopes or ()), *credentials.scopes])) or None
        return await request_tokens(
            self._fetcher,
            server.token_endpoint,
            {"grant_type": "client_credentials", **scope_param(wanted)},
            credentials.client_info(),
            issuer=server.issuer,
            server_url=discovery.server_url,
            resource=discovery.resource,
            scopes=wanted,
            signer=credentials.assertion,
        )

    async def _authorization_code(self, discovery: Discovery, scopes: tuple[str, ...] | None) -> Tokens:
        redirect_uri = self.config.redirect_uri
        if redirect_uri is None:
            raise OAuthError(
                f"the MCP server {discovery.server_url} needs authorization, and this OAuthClient has no "
                "redirect_uri (give redirect_uri=, or credentials= for a machine client)"
            )
        stored = await self.storage.get_client_info()
        client = await obtain_client(self._fetcher, self.config, discovery.server, stored)
        if client != stored:
            await self.storage.set_client_info(client)
        pending, url = start(discovery, client, redirect_uri, scopes)
        await self.storage.set_pending(pending)
        if self.redirect_handler is not None:
            await self.redirect_handler(url)
        if self.callback_handler is None:
            raise AuthorizationRequired(url, pending.state)
        response = response_of(await self.callback_handler())
        return await finish(self._fetcher, self.storage, pending, response)


def _authorize(request: httpx.Request, tokens: Tokens | None) -> None:
    if tokens is None:
        request.headers.pop("authorization", None)
    else:
        # RFC 6750 §2.1; never in the query string (MCP §Access Token Usage).
        request.headers["authorization"] = f"Bearer {tokens.access_token}"
