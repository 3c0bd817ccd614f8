"""A real OAuth 2.1 authorization server and a protected MCP resource for the OAuth client tests.

Both are small ASGI apps served by hypercorn on 127.0.0.1 (`start_app`). The authorization server checks what
a real one does: registered clients and redirect URIs, PKCE S256 (the verifier against the challenge), the
`resource` of the token request against the authorization's, single-use codes, client authentication by the
registered method (client_secret_basic, client_secret_post, none, private_key_jwt). It signs ES256 JWT access
tokens whose audience is the requested resource, so a trio_mcp app with `JWTVerifier(jwks_url=...)` accepts
them. Every request either app got is recorded, so the tests can check what the client sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
from typing import Any, Literal

import attrs
import httpx
import jwt
import trio
from _issuer import SigningKey, request_body
from _rawhttp import start_app

from trio_mcp.client_auth import AuthorizationResponse

Json = dict[str, Any]
REDIRECT_URI = "http://127.0.0.1:9/callback"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@attrs.define
class Client:
    client_id: str
    secret: str | None = None
    method: str = "none"
    redirect_uris: list[str] = attrs.field(factory=list[str])
    #: PEM public key checking private_key_jwt assertions
    public_key: Any = None


@attrs.define
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str | None
    resource: str | None


@attrs.define(eq=False)
class AuthorizationServer:
    """The knobs say what the server offers; the lists record what it was asked."""

    origin: str = ""
    #: the issuer's path (`/tenant1`): endpoints and path-aware metadata live under it
    path: str = ""
    #: where the metadata is served: RFC 8414 path insertion, OIDC path insertion / appending, or nowhere
    metadata_at: Literal["oauth", "oidc", "oidc-append", "none"] = "oauth"
    registration: bool = True
    cimd: bool = False
    auth_methods: tuple[str, ...] | None = ("client_secret_basic", "client_secret_post", "none")
    #: the method a registration gets, whatever was asked
    registered_method: str | None = None
    pkce_methods: tuple[str, ...] | None = ("S256",)
    iss_supported: bool = True
    iss_in_response: Literal["correct", "omit", "wrong"] = "correct"
    scopes_supported: tuple[str, ...] | None = None
    #: the `issuer` the metadata names (a poisoned document), when not the real one
    metadata_issuer: str | None = None
    #: `expires_in` of the answers, and (when set) a different real lifetime of the JWTs
    token_ttl: int = 3600
    jwt_ttl: int | None = None
    refresh_tokens: bool = True
    #: the authorization endpoint answers `error=<this>` instead of a code
    deny: str | None = None
    clients: dict[str, Client] = attrs.field(factory=dict[str, Client])
    key: SigningKey = attrs.field(factory=lambda: SigningKey("as-key"))
    seen: list[str] = attrs.field(factory=list[str])
    authorizations: list[dict[str, str]] = attrs.field(factory=list[dict[str, str]])
    token_requests: list[Json] = attrs.field(factory=list[Json])
    registrations: list[Json] = attrs.field(factory=list[Json])
    _codes: dict[str, Grant] = attrs.field(factory=dict[str, Grant])
    _refresh: dict[str, Grant] = attrs.field(factory=dict[str, Grant])

    @property
    def issuer(self) -> str:
        return self.origin + self.path

    @property
    def jwks_url(self) -> str:
        return self.origin + "/jwks.json"

    def endpoint(self, name: str) -> str:
        return f"{self.origin}{self.path}/{name}"

    def metadata_path(self) -> str | None:
        return {
            "oauth": "/.well-known/oauth-authorization-server" + self.path,
            "oidc": "/.well-known/openid-configuration" + self.path,
            "oidc-append": self.path + "/.well-known/openid-configuration",
            "none": None,
        }[self.metadata_at]

    def grants(self, grant_type: str) -> list[Json]:
        return [r for r in self.token_requests if r["form"].get("grant_type") == grant_type]

    def metadata(self) -> Json:
        document: Json = {
            "issuer": self.metadata_issuer or self.issuer,
            "authorization_endpoint": self.endpoint("authorize"),
            "token_endpoint": self.endpoint("token"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        }
        if self.registration:
            document["registration_endpoint"] = self.endpoint("register")
        if self.auth_methods is not None:
            document["token_endpoint_auth_methods_supported"] = list(self.auth_methods)
        if self.pkce_methods is not None:
            document["code_challenge_methods_supported"] = list(self.pkce_methods)
        if self.iss_supported:
            document["authorization_response_iss_parameter_supported"] = True
        if self.cimd:
            document["client_id_metadata_document_supported"] = True
        if self.scopes_supported is not None:
            document["scopes_supported"] = list(self.scopes_supported)
        return document

    def mint(self, subject: str, *, audience: str | None, scope: str | None, client_id: str) -> str:
        now = int(time.time())
        claims: Json = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience or self.issuer,
            "iat": now,
            "exp": now + (self.jwt_ttl if self.jwt_ttl is not None else self.token_ttl),
            "client_id": client_id,
            "jti": secrets.token_urlsafe(8),
        }
        if scope:
            claims["scope"] = scope
        return jwt.encode(claims, self.key.private, algorithm="ES256", headers={"kid": self.key.kid})

    def verify(self, token: str, audience: str) -> Json:
        public = self.key.private.public_key()
        return jwt.decode(token, public, algorithms=["ES256"], audience=audience, issuer=self.issuer)

    # -- the ASGI app --

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = await request_body(scope, receive, send)
        if body is None:
            return
        path, method = scope["path"], scope["method"]
        self.seen.append(f"{method} {path}")
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if method == "GET" and path == self.metadata_path():
            await reply(send, 200, self.metadata())
        elif method == "GET" and path == "/jwks.json":
            await reply(send, 200, {"keys": [self.key.jwk()]})
        elif method == "GET" and path == f"{self.path}/authorize":
            await self._authorize(send, dict(urllib.parse.parse_qsl(scope["query_string"].decode())))
        elif method == "POST" and path == f"{self.path}/token":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            self.token_requests.append({"form": form, "authorization": headers.get("authorization")})
            status, answer = self._token(form, headers.get("authorization"))
            await reply(send, status, answer)
        elif method == "POST" and path == f"{self.path}/register" and self.registration:
            await self._register(send, json.loads(body))
        else:
            await reply(send, 404, {"error": "not_found"})

    async def _authorize(self, send: Any, query: dict[str, str]) -> None:
        self.authorizations.append(query)
        client_id = query.get("client_id", "")
        client = self.clients.get(client_id)
        if client is None and self.cimd and client_id.startswith("https://"):
            client = Client(client_id, redirect_uris=[query.get("redirect_uri", "")])
        redirect_uri = query.get("redirect_uri", "")
        if client is None or redirect_uri not in client.redirect_uris:
            await reply(
                send, 400, {"error": "invalid_request", "error_description": "unknown client or redirect"}
            )
            return
        params: dict[str, str] = {}
        if query.get("state") is not None:
            params["state"] = query["state"]
        if self.iss_in_response == "correct":
            params["iss"] = self.issuer
        elif self.iss_in_response == "wrong":
            params["iss"] = "https://evil.example"
        if self.deny is not None:
            params["error"] = self.deny
        elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            params["error"] = "invalid_request"
        else:
            code = secrets.token_urlsafe(16)
            self._codes[code] = Grant(
                client_id, redirect_uri, query["code_challenge"], query.get("scope"), query.get("resource")
            )
            params["code"] = code
        location = redirect_uri + ("&" if "?" in redirect_uri else "?") + urllib.parse.urlencode(params)
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def _authenticate(self, form: dict[str, str], authorization: str | None) -> Client | str:
        """The client that authenticated as its registration says, or the error description."""
        if authorization and authorization.startswith("Basic "):
            raw = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = raw.partition(":")
            client_id, secret, used = (
                urllib.parse.unquote_plus(client_id),
                urllib.parse.unquote_plus(secret),
                "client_secret_basic",
            )
        elif "client_assertion" in form:
            client_id, secret, used = form.get("client_id", ""), None, "private_key_jwt"
        elif "client_secret" in form:
            client_id, secret, used = form.get("client_id", ""), form["client_secret"], "client_secret_post"
        else:
            client_id, secret, used = form.get("client_id", ""), None, "none"
        client = self.clients.get(client_id)
        if client is None:
            if self.cimd and client_id.startswith("https://") and used == "none":
                return Client(client_id)
            return f"unknown client {client_id!r}"
        if used != client.method:
            return f"client {client_id} authenticates with {client.method}, not {used}"
        if used == "private_key_jwt":
            try:
                claims = jwt.decode(
                    form["client_assertion"],
                    client.public_key,
                    algorithms=["ES256", "RS256"],
                    audience=self.issuer,
                )
            except jwt.PyJWTError as exc:
                return f"bad client assertion: {exc}"
            if claims.get("iss") != client_id or claims.get("sub") != client_id:
                return "the client assertion is not the client's"
            if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
                return "bad client_assertion_type"
        elif client.secret is not None and not secrets.compare_digest(secret or "", client.secret):
            return "wrong client secret"
        return client

    def _token(self, form: dict[str, str], authorization: str | None) -> tuple[int, Json]:
        client = self._authenticate(form, authorization)
        if isinstance(client, str):
            return 401, {"error": "invalid_client", "error_description": client}
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self._codes.pop(form.get("code", ""), None)
            if grant is None or grant.client_id != client.client_id:
                return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
            if form.get("redirect_uri") != grant.redirect_uri:
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
            if s256(form.get("code_verifier", "")) != grant.challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
            if form.get("resource") != grant.resource:
                return 400, {"error": "invalid_target", "error_description": "resource differs"}
            return 200, self._issue(grant, "alice")
        if grant_type == "refresh_token":
            grant = self._refresh.pop(form.get("refresh_token", ""), None)
            if grant is None or grant.client_id != client.client_id:
                return 400, {"error": "invalid_grant", "error_description": "unknown refresh token"}
            return 200, self._issue(grant, "alice")
        if grant_type == "client_credentials":
            if client.method == "none":
                return 401, {"error": "unauthorized_client", "error_description": "public clients cannot"}
            grant = Grant(client.client_id, "", "", form.get("scope"), form.get("resource"))
            return 200, self._issue(grant, client.client_id, refresh=False)
        return 400, {"error": "unsupported_grant_type"}

    def _issue(self, grant: Grant, subject: str, *, refresh: bool = True) -> Json:
        answer: Json = {
            "access_token": self.mint(
                subject, audience=grant.resource, scope=grant.scope, client_id=grant.client_id
            ),
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
        }
        if grant.scope:
            answer["scope"] = grant.scope
        if refresh and self.refresh_tokens:
            token = secrets.token_urlsafe(16)
            self._refresh[token] = grant
            answer["refresh_token"] = token
        return answer

    async def _register(self, send: Any, metadata: Json) -> None:
        self.registrations.append(metadata)
        method = self.registered_method or metadata.get("token_endpoint_auth_method", "client_secret_basic")
        client = Client(
            f"dcr-{len(self.registrations)}",
            None if method == "none" else secrets.token_urlsafe(12),
            method,
            list(metadata.get("redirect_uris", [])),
        )
        self.clients[client.client_id] = client
        answer: Json = {**metadata, "client_id": client.client_id, "token_endpoint_auth_method": method}
        if client.secret is not None:
            answer["client_secret"] = client.secret
            answer["client_secret_expires_at"] = 0
        await reply(send, 201, answer)


@attrs.define(eq=False)
class ProtectedResource:
    """A protected MCP endpoint at /mcp that answers just enough MCP (stateless JSON) to be opened, listed and
    called; its refusals are RFC 6750 challenges pointing at its RFC 9728 metadata."""

    server: AuthorizationServer
    origin: str = ""
    #: where its metadata is served; None: nowhere (a 2025-03-26 server)
    prm_path: str | None = "/.well-known/oauth-protected-resource/mcp"
    #: name the metadata URL in challenges
    advertise: bool = True
    resource_override: str | None = None
    scopes_supported: tuple[str, ...] | None = None
    #: scopes every request needs, named in the challenges when `challenge_scope`
    required: tuple[str, ...] = ()
    challenge_scope: bool = True
    #: tools/call needs these too (403 insufficient_scope names them)
    call_scopes: tuple[str, ...] = ()
    #: tools/call is refused for want of scope whatever the token holds
    never_enough: bool = False
    #: every token is refused (401 invalid_token)
    refuse_tokens: bool = False
    requests: list[tuple[str, str | None]] = attrs.field(factory=list[tuple[str, str | None]])

    @property
    def url(self) -> str:
        return self.origin + "/mcp"

    @property
    def resource(self) -> str:
        return self.resource_override or self.url

    def challenge(self, error: str | None = None, scopes: tuple[str, ...] = ()) -> str:
        params: list[str] = []
        if error:
            params.append(f'error="{error}"')
        if scopes and self.challenge_scope:
            params.append(f'scope="{" ".join(scopes)}"')
        if self.advertise and self.prm_path is not None:
            params.append(f'resource_metadata="{self.origin}{self.prm_path}"')
        return "Bearer " + ", ".join(params)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = await request_body(scope, receive, send)
        if body is None:
            return
        path, method = scope["path"], scope["method"]
        if method == "GET" and self.prm_path is not None and path == self.prm_path:
            document: Json = {"resource": self.resource, "authorization_servers": [self.server.issuer]}
            if self.scopes_supported is not None:
                document["scopes_supported"] = list(self.scopes_supported)
            await reply(send, 200, document)
            return
        if path != "/mcp" or method not in ("POST", "DELETE"):
            await reply(send, 404, {"error": "not_found"})
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        authorization = headers.get("authorization")
        message = json.loads(body) if body else {}
        rpc = message.get("method", method)
        self.requests.append((rpc, authorization))
        if not authorization or not authorization.startswith("Bearer "):
            await reply(send, 401, {"error": "invalid_token"}, www=self.challenge(None, self.required))
            return
        try:
            if self.refuse_tokens:
                raise jwt.InvalidTokenError("refused")
            # Without resource metadata there is no resource parameter: the token's audience is the issuer.
            audience = self.resource if self.prm_path is not None else self.server.issuer
            claims = self.server.verify(authorization[7:], audience)
        except jwt.PyJWTError:
            await reply(
                send, 401, {"error": "invalid_token"}, www=self.challenge("invalid_token", self.required)
            )
            return
        held = set(str(claims.get("scope", "")).split())
        needed = set(self.required) | (set(self.call_scopes) if rpc == "tools/call" else set())
        if not needed <= held or (rpc == "tools/call" and self.never_enough):
            www = self.challenge("insufficient_scope", tuple(sorted(needed)) or ("more",))
            await reply(send, 403, {"error": "insufficient_scope"}, www=www)
            return
        if method == "DELETE" or "id" not in message:
            await reply(send, 202, None)
            return
        await reply(send, 200, {"jsonrpc": "2.0", "id": message["id"], "result": _result(rpc, claims)})


def _result(method: str, claims: Json) -> Json:
    if method == "initialize":
        return {
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "protected", "version": "1"},
        }
    if method == "tools/list":
        return {"tools": [{"name": "whoami", "inputSchema": {"type": "object"}}]}
    if method == "tools/call":
        return {"content": [{"type": "text", "text": f"{claims['sub']} {claims.get('scope', '')}"}]}
    return {}


async def reply(send: Any, status: int, document: Json | None, *, www: str | None = None) -> None:
    body = b"" if document is None else json.dumps(document).encode()
    headers = [(b"content-type", b"application/json")]
    if www is not None:
        headers.append((b"www-authenticate", www.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def start_authorization_server(nursery: trio.Nursery, **knobs: Any) -> AuthorizationServer:
    server = AuthorizationServer(**knobs)
    target = await start_app(nursery, server, path="")
    server.origin = f"http://{target.host}:{target.port}"
    return server


async def start_resource(
    nursery: trio.Nursery, server: AuthorizationServer, **knobs: Any
) -> ProtectedResource:
    resource = ProtectedResource(server, **knobs)
    target = await start_app(nursery, resource, path="")
    resource.origin = f"http://{target.host}:{target.port}"
    return resource


class AutoApprove:
    """Redirect and callback handlers for a server that approves at once: the redirect handler GETs the
    authorization URL without following the redirect and keeps the parameters of its Location; `tamper`
    changes them before the callback hands them over."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.tamper: dict[str, str | None] = {}
        self._response: AuthorizationResponse | None = None

    async def redirect(self, url: str) -> None:
        self.urls.append(url)
        async with httpx.AsyncClient(follow_redirects=False) as http:
            answer = await http.get(url)
        assert answer.status_code == 302, answer.text
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["location"]).query))
        for name, value in self.tamper.items():
            if value is None:
                query.pop(name, None)
            else:
                query[name] = value
        self._response = AuthorizationResponse.from_query(query)

    async def callback(self) -> AuthorizationResponse:
        assert self._response is not None
        response, self._response = self._response, None
        return response

    @property
    def handlers(self) -> dict[str, Any]:
        return {
            "redirect_uri": REDIRECT_URI,
            "redirect_handler": self.redirect,
            "callback_handler": self.callback,
        }
