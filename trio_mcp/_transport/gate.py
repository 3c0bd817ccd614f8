"""The gate of the HTTP endpoint: header verdicts (Host, Origin, version, Accept), CORS, and the refusals every
method shares (404 unknown session, 400/405 without a session). Verdicts are memoised, bounded."""

from __future__ import annotations

from .._proto.errors import INVALID_REQUEST, SESSION_NOT_FOUND
from .._proto.versions import SUPPORTED_VERSIONS, is_supported
from .asgi import RequestHeaders, Send, respond, respond_error
from .config import HttpConfig
from .headers import AcceptDecision, accept_decision, host_allowed, origin_allowed

SUPPORTED_LIST = ", ".join(SUPPORTED_VERSIONS)  # for messages naming the versions we speak
_VERDICT_CACHE = 1024

Headers = list[tuple[bytes, bytes]]


class Gate:
    def __init__(self, config: HttpConfig) -> None:
        self.config = config
        self._verdicts: dict[tuple[str | None, str | None], tuple[int, str] | None] = {}
        self._accepts: dict[str | None, AcceptDecision] = {}

    def header_verdict(self, h: RequestHeaders) -> tuple[int, str] | None:
        """`_check_common_headers` (Host, Origin), memoised: clients send the same few values every time."""
        key = (h.host, h.origin)
        try:
            return self._verdicts[key]
        except KeyError:
            pass
        verdict = self._check_common_headers(h)
        if len(self._verdicts) >= _VERDICT_CACHE:
            self._verdicts.clear()  # bounded: a client varying its headers cannot grow memory
        self._verdicts[key] = verdict
        return verdict

    def accept(self, value: str | None) -> AcceptDecision:
        try:
            return self._accepts[value]
        except KeyError:
            pass
        decision = accept_decision(value)
        if len(self._accepts) >= _VERDICT_CACHE:
            self._accepts.clear()
        self._accepts[value] = decision
        return decision

    def _check_common_headers(self, h: RequestHeaders) -> tuple[int, str] | None:
        # T§Security Warning: validate Origin (403); and a Host allowlist against DNS rebinding.
        if not host_allowed(h.host, self.config.allowed_hosts):
            return 421, (
                f"Misdirected Request: Host {h.host!r} is not allowed. Set allowed_hosts "
                "(TRIO_MCP_ALLOWED_HOSTS) to the names clients use to reach this server."
            )
        if not origin_allowed(
            h.origin, self.config.allowed_origins, request_host=h.host
        ) and not self.cors_allows(h.origin):
            return 403, (
                f"Forbidden: Origin {h.origin!r} is not allowed. Set allowed_origins (TRIO_MCP_ALLOWED_ORIGINS) "
                "to permit it."
            )
        return None

    def version_verdict(self, h: RequestHeaders) -> tuple[int, str] | None:
        """T§Protocol Version Header, for the handshake era (GET, DELETE, a POST without 2026-07-28 `_meta`):
        any version of that era is accepted, anything else is 400. A 2026-07-28 POST has its own checks."""
        if h.protocol_version is not None and not is_supported(h.protocol_version):
            return 400, (
                f"Bad Request: unsupported MCP-Protocol-Version {h.protocol_version!r}; "
                f"this server supports {SUPPORTED_LIST} (and 2026-07-28 in that era's form)"
            )
        return None

    def cors_allows(self, origin: str | None) -> bool:
        """An origin named in `cors_origins` (or `*`) is allowed too: asking for CORS for an origin is
        asking to let that browser origin in (allowed_origins need not repeat it)."""
        allowed = self.config.cors_origins
        return allowed is not None and origin is not None and ("*" in allowed or origin in allowed)

    def cors(self, h: RequestHeaders) -> list[tuple[bytes, bytes]]:
        if not self.cors_allows(h.origin):
            return []
        assert h.origin is not None
        return [
            (b"access-control-allow-origin", h.origin.encode("latin-1")),
            (b"access-control-expose-headers", b"Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate"),
            (b"vary", b"Origin"),
        ]

    async def preflight(self, send: Send, h: RequestHeaders) -> None:
        headers = self.cors(h)
        if headers:
            headers += [
                (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
                (
                    b"access-control-allow-headers",
                    b"Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Authorization",
                ),
                (b"access-control-max-age", b"600"),
            ]
        await respond(send, 204, b"", headers)

    def stateless_for(self, accept: AcceptDecision) -> bool:
        if self.config.stateless == "auto":
            return not accept.sse
        return bool(self.config.stateless)

    async def session_not_found(self, send: Send, cors: Headers) -> None:
        # T§Session Management: an unknown or expired session is 404; the client then initializes anew.
        await respond_error(
            send,
            404,
            SESSION_NOT_FOUND,
            "Session not found: it expired, was deleted, or never existed; send a new initialize without "
            "Mcp-Session-Id",
            headers=cors,
        )

    async def refuse_sessionless(self, send: Send, h: RequestHeaders, cors: Headers, what: str) -> bool:
        """GET and DELETE need sessions: 405 on a stateless server, 400 without Mcp-Session-Id."""
        if self.config.stateless is True:
            await respond_error(
                send,
                405,
                INVALID_REQUEST,
                f"Method Not Allowed: this server is stateless and {what}",
                headers=[*cors, (b"allow", b"POST")],
            )
            return True
        if h.session_id is None:
            await respond_error(
                send, 400, INVALID_REQUEST, "Bad Request: missing Mcp-Session-Id header", headers=cors
            )
            return True
        return False
