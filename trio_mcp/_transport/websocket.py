"""WebSocket on the MCP endpoint (the SEP-1288 draft: subprotocol `mcp`, one JSON-RPC message or batch per text
frame), on the same sessions, stores and stream managers as Streamable HTTP (docs/architecture.md §8).

The upgrade passes the HTTP transport's gate (Host, Origin, protocol version) and then either starts a session
(the first request must be initialize; the accept response carries `Mcp-Session-Id`) or resumes the one named
by `Mcp-Session-Id` on the upgrade request. Every refusal is a close code after the accept (ws_socket.py).
"""

from __future__ import annotations

import logging

import trio

from .._auth.tokens import AccessToken, VerifierUnavailable
from .._exceptions import first_leaf
from .._proto.websocket import SUBPROTOCOL, Close
from .._stores._base import StoreError, StoreUnavailable
from .._streams._base import StreamError, StreamUnavailable
from .asgi import JSON_HEADERS, Receive, RequestHeaders, Scope, Send
from .gate import Gate
from .sessions import new_session_id
from .ws_connection import SHUTTING_DOWN, AppParts, SocketGrant, WsConnection
from .ws_socket import Closing, WebSocket, accept

log = logging.getLogger("trio_mcp.websocket")

UNKNOWN_SESSION = (
    "unknown session (expired, deleted or never existed): connect without Mcp-Session-Id and initialize"
)


class WebSocketEndpoint:
    def __init__(self, gate: Gate, app: AppParts) -> None:
        self.gate = gate
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send, *, started: bool) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        h = RequestHeaders.from_scope(scope)
        subprotocols = [str(p) for p in scope.get("subprotocols") or ()]
        refusal = self._refusal(h, subprotocols, started)
        grant = None
        if refusal is None and self.app.guard is not None:
            verdict = await self._authenticate(scope, h, send)
            if verdict is None:
                return
            if isinstance(verdict, Closing):
                refusal = verdict
            else:
                grant = SocketGrant(verdict, self.app.guard.metadata_url(scope, h))
        # A fresh connection's session id is known from the start, so the accept response can carry it (the
        # client resumes with it); its record is made only by a successful initialize.
        session_id = new_session_id() if refusal is None and h.session_id is None else None
        headers = None if session_id is None else [(b"mcp-session-id", session_id.encode("ascii"))]
        await accept(send, subprotocols, headers)
        socket = WebSocket(receive, send)
        if refusal is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await socket.close(refusal)
            return
        connection = WsConnection(socket, self.app, grant)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(connection.write)
            closing = Closing(Close.SERVICE_RESTART, SHUTTING_DOWN)  # if the server cancels us
            try:
                closing = await self._serve(scope, connection, h, session_id)
            except Exception as exc:
                closing = _failure(exc)
            finally:
                connection.end(closing)

    async def _authenticate(
        self, scope: Scope, h: RequestHeaders, send: Send
    ) -> AccessToken | Closing | None:
        """The upgrade's bearer token (auth.py). A refusal is the HTTP 401/403 with its challenge where the
        server can answer an upgrade with a response (ASGI `websocket.http.response`; None: answered), else a
        policy close saying why."""
        guard = self.app.guard
        assert guard is not None
        try:
            verdict = await guard.admit(scope, h)
        except VerifierUnavailable:
            return Closing(Close.TRY_AGAIN_LATER, "the token cannot be verified now; retry shortly")
        if isinstance(verdict, AccessToken):
            return verdict
        if "websocket.http.response" not in scope.get("extensions", {}):
            return Closing(Close.POLICY, f"unauthorized: {verdict.description}")
        header = verdict.www_authenticate(guard.metadata_url(scope, h)).encode("latin-1", "replace")
        await send(
            {
                "type": "websocket.http.response.start",
                "status": verdict.status,
                "headers": [*JSON_HEADERS, (b"www-authenticate", header)],
            }
        )
        await send({"type": "websocket.http.response.body", "body": verdict.body()})
        return None

    def _refusal(self, h: RequestHeaders, subprotocols: list[str], started: bool) -> Closing | None:
        if not started:
            return Closing(Close.TRY_AGAIN_LATER, "the MCP app has not started yet")
        verdict = self.gate.header_verdict(h) or self.gate.version_verdict(h)
        if verdict is not None:
            status, _ = verdict
            if status == 421:
                return Closing(Close.POLICY, f"Host {h.host!r} is not allowed (allowed_hosts)")
            if status == 403:
                return Closing(Close.POLICY, f"Origin {h.origin!r} is not allowed (allowed_origins)")
            return Closing(Close.PROTOCOL_ERROR, f"unsupported MCP-Protocol-Version {h.protocol_version!r}")
        if SUBPROTOCOL not in subprotocols:
            return Closing(
                Close.PROTOCOL_ERROR,
                f"offer the WebSocket subprotocol {SUBPROTOCOL!r} (Sec-WebSocket-Protocol: {SUBPROTOCOL})",
            )
        if self.app.config.stateless is True:
            return Closing(Close.STATELESS, "this server is stateless: POST to the endpoint over HTTP")
        if self.app.drain.draining:
            return Closing(Close.SERVICE_RESTART, SHUTTING_DOWN)
        return None

    async def _serve(
        self, scope: Scope, connection: WsConnection, h: RequestHeaders, session_id: str | None
    ) -> Closing:
        principal = self.app.config.principal(scope)
        if h.session_id is None:
            assert session_id is not None
            client_id = connection.grant.token.client_id if connection.grant is not None else None
            session = self.app.sessions.new_session(
                session_id, principal, client_id=client_id, transport="websocket"
            )
            return await connection.run(session, None)
        # The record is restored as for an HTTP request of the session: same principal rule (SBP §Session
        # Hijacking: another principal's session is unknown), same live copy.
        async with self.app.sessions.hold(h.session_id, principal) as live:
            if live is None:
                return Closing(Close.SESSION_NOT_FOUND, UNKNOWN_SESSION)
            return await connection.run(live.session, live)


def _failure(exc: Exception) -> Closing:
    reason = first_leaf(exc)
    if isinstance(reason, StoreUnavailable | StreamUnavailable):
        log.warning("closed a websocket: a backend cannot be reached: %s", reason)
        return Closing(Close.TRY_AGAIN_LATER, "the session store or stream manager cannot be reached; retry")
    if isinstance(reason, StoreError | StreamError):
        log.error("closed a websocket: a backend refused this server: %s", reason)
        return Closing(Close.INTERNAL_ERROR, "a backend refused this server; its operator must fix it")
    log.error("a websocket connection failed", exc_info=exc)
    return Closing(Close.INTERNAL_ERROR, "internal error; see the server log")
