"""The OAuth 2.1 resource server in front of the MCP endpoint (docs/architecture.md §10).

MCP 2025-11-25 basic/authorization: every request carries `Authorization: Bearer <token>` (never the query
string); a token is accepted only when the verifier accepts it, it has not expired and it was issued for this
server (its audience is this resource, RFC 8707); refusals are 401 with a `WWW-Authenticate` challenge pointing
at the RFC 9728 metadata, 403 `insufficient_scope` when the token lacks a scope the request needs. The guard
hands the accepted token on in the ASGI scope; the session is bound to its principal (`<issuer>#<subject>`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from .._auth.challenge import INVALID_REQUEST as OAUTH_INVALID_REQUEST
from .._auth.challenge import Challenge, insufficient_scope, invalid_token, missing_token
from .._auth.metadata import WELL_KNOWN, metadata_path, resource_metadata
from .._auth.tokens import AccessToken, InvalidToken, TokenVerifier, VerifierUnavailable
from .._proto.errors import INSUFFICIENT_SCOPE, INTERNAL_ERROR
from .._proto.jsonrpc import Message, RequestId, error_response
from .._runtime.application import Application
from .asgi import JSON_HEADERS, Headers, RequestHeaders, Scope, Send, respond, respond_error
from .config import HttpConfig

log = logging.getLogger("trio_mcp.auth")

#: where the guard leaves the accepted token in the ASGI scope (the principal goes under "mcp.principal")
TOKEN_KEY = "mcp.access_token"
_WEB_SCHEMES = {"ws": "http", "wss": "https"}


def access_of(scope: Scope) -> AccessToken | None:
    """The token the guard accepted for this request; None when the app has no auth."""
    token = scope.get(TOKEN_KEY)
    return token if isinstance(token, AccessToken) else None


class ResourceGuard:
    def __init__(self, config: HttpConfig, verifier: TokenVerifier, app: Application) -> None:
        self.config = config
        # It checks expiry too, with its own leeway for the issuer's clock (tokens.py).
        self.verifier = verifier
        self.app = app
        self.baseline = frozenset(config.auth_scopes or ())
        assert config.auth_issuer is not None  # load_config requires it with auth
        self.issuer = config.auth_issuer
        self._metadata_path = metadata_path(config.path)

    # -- who we are --

    def is_metadata(self, path: str) -> bool:
        return path in (self._metadata_path, WELL_KNOWN)

    def resource(self, scope: Scope, h: RequestHeaders) -> str:
        """This server's resource identifier: the `auth_resource` knob, else what the client called."""
        if self.config.auth_resource is not None:
            return self.config.auth_resource
        return self._origin(scope, h) + (scope.get("root_path") or "") + self.config.path

    def metadata_url(self, scope: Scope, h: RequestHeaders) -> str:
        # Served by this app, so it is under the app's mount point (RFC 9728 §3.1 puts it at the origin's
        # root; an app mounted below it is still found through the challenge's resource_metadata).
        return self._origin(scope, h) + (scope.get("root_path") or "") + self._metadata_path

    @staticmethod
    def _origin(scope: Scope, h: RequestHeaders) -> str:
        scheme = str(scope.get("scheme") or "http")
        scheme = _WEB_SCHEMES.get(scheme, scheme)
        host = h.host
        if not host:
            server = scope.get("server") or ("localhost", None)
            host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
        return f"{scheme}://{host}"

    async def metadata(self, scope: Scope, send: Send, h: RequestHeaders) -> None:
        """RFC 9728 §3.2: the metadata as JSON. Public (no token) and readable from any web origin, as
        clients in browsers fetch it before they have a token."""
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            await respond(send, 405, b"", [(b"allow", b"GET, HEAD, OPTIONS")])
            return
        cors = [(b"access-control-allow-origin", b"*"), (b"access-control-allow-methods", b"GET, OPTIONS")]
        if scope["method"] == "OPTIONS":
            await respond(send, 204, b"", cors)
            return
        document = resource_metadata(
            self.resource(scope, h),
            [self.issuer],
            self.baseline | self.app.declared_scopes(),
        )
        body = json.dumps(document, separators=(",", ":")).encode()
        await respond(send, 200, body, [*JSON_HEADERS, (b"cache-control", b"public, max-age=300"), *cors])

    # -- checks --

    async def admit(self, scope: Scope, h: RequestHeaders) -> AccessToken | Challenge:
        """`authenticate`, and an accepted token and its principal put in the scope, where the principal hook
        (`mcp.principal`, config.default_principal) and the transports find them."""
        verdict = await self.authenticate(scope, h)
        if isinstance(verdict, AccessToken):
            scope[TOKEN_KEY] = verdict
            scope["mcp.principal"] = verdict.principal
        return verdict

    async def authenticate(self, scope: Scope, h: RequestHeaders) -> AccessToken | Challenge:
        """The request's token, verified; or the challenge that refuses it. Raises VerifierUnavailable."""
        if _token_in_query(scope.get("query_string") or b""):
            return Challenge(
                OAUTH_INVALID_REQUEST,
                "access tokens are not accepted in the query string (MCP authorization, Access Token Usage): "
                "send them in the Authorization header",
                self.baseline,
            )
        values = [v for k, v in scope["headers"] if k == b"authorization"]
        if len(values) > 1:
            return Challenge(
                OAUTH_INVALID_REQUEST, "send one Authorization header, not several", self.baseline
            )
        raw = _bearer(values[0]) if values else None
        if raw is None:
            # RFC 6750 §3.1: a request with no bearer token at all gets a challenge without an error code.
            return missing_token(self.baseline)
        try:
            token = await self.verifier.verify(raw)
        except InvalidToken as exc:
            return invalid_token(str(exc) or "the token is not valid", self.baseline)
        if token is None:
            return invalid_token("the token is not valid", self.baseline)
        resource = self.resource(scope, h)
        if not token.is_for(resource):
            # MCP basic/authorization §Token Audience Binding: MUST reject tokens issued for other resources.
            return invalid_token(f"the token was not issued for this resource ({resource})", self.baseline)
        missing = token.missing(self.baseline)
        if missing:
            return insufficient_scope(self.baseline, missing)
        return token

    def step_up(self, token: AccessToken | None, requests: Iterable[tuple[str, Any]]) -> Challenge | None:
        """403 when a request (method, params) names a tool, prompt or resource whose scopes the token lacks;
        the challenge names every scope needed (the app's and the item's), so one re-authorization is enough."""
        if token is None:
            return None
        required: set[str] = set()
        for method, params in requests:
            required |= self.app.required_scopes(method, params)
        if not required:
            return None
        missing = token.missing(required)
        return insufficient_scope(self.baseline | required, missing) if missing else None

    # -- answers --

    def socket_error(self, request_id: RequestId, challenge: Challenge, metadata_url: str) -> Message:
        """A socket has no 403: the request's JSON-RPC error carries the challenge instead."""
        return error_response(
            request_id,
            INSUFFICIENT_SCOPE,
            f"Forbidden: {challenge.description}",
            {
                "error": challenge.error,
                "scope": " ".join(sorted(challenge.scopes)),
                "resource_metadata": metadata_url,
            },
        )

    async def refuse(
        self,
        send: Send,
        scope: Scope,
        h: RequestHeaders,
        challenge: Challenge,
        headers: Headers | None = None,
    ) -> None:
        challenge_header = challenge.www_authenticate(self.metadata_url(scope, h)).encode(
            "latin-1", "replace"
        )
        await respond(
            send,
            challenge.status,
            challenge.body(),
            [*JSON_HEADERS, (b"www-authenticate", challenge_header), *(headers or [])],
        )

    async def unavailable(self, send: Send, exc: VerifierUnavailable, headers: Headers | None = None) -> None:
        log.warning("answered 503: tokens cannot be verified now: %s", exc)
        await respond_error(
            send,
            503,
            INTERNAL_ERROR,
            "Service Unavailable: the token cannot be verified now (the authorization server is unreachable); "
            "retry shortly",
            headers=[*(headers or []), (b"retry-after", b"1")],
        )


def _bearer(value: bytes) -> str | None:
    # RFC 6750 §2.1: `Bearer` b64token; the scheme is case-insensitive (RFC 9110 §11.1).
    scheme, _, token = value.decode("latin-1").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _token_in_query(query: bytes) -> bool:
    return any(part.split(b"=", 1)[0] == b"access_token" for part in query.split(b"&"))
