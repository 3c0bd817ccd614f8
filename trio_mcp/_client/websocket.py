"""open_client("ws://…/mcp"): the MCP client over a WebSocket (trio-websocket), subprotocol `mcp`, one
JSON-RPC message per text frame, on the same ClientSession core as the HTTP client (docs/architecture.md §7).

It recovers as the HTTP client does where the rules apply:
- the first connection is retried with backoff for `reconnect_timeout` while the server cannot be reached;
- a socket that closes or drops (a drain's 1012, a restart, a network blip, a keep-alive timeout) is opened
  again with the session's `Mcp-Session-Id`, on whatever instance the URL reaches, and the requests that had
  no answer yet are sent again (the server cancelled them when the socket dropped);
- 4404 (the session is gone): one new session, what the application set replayed (log level,
  subscriptions); the requests in flight fail, since they may have run (as over HTTP);
- a close that says the client must change something (1002, 1003, 1008, 1009, 4405) and 4409 (another
  connection took the session) fail every waiting request with a TransportError, for good.
"""

from __future__ import annotations

import itertools
import json
import logging
import ssl
import urllib.parse
from typing import Any, cast

import attrs
import httpx
import trio
import trio_websocket

from .._exceptions import first_leaf
from .._proto.errors import INTERNAL_ERROR, McpError, RemoteProtocolError
from .._proto.jsonrpc import (
    ErrorResponse,
    InvalidMessage,
    Message,
    Request,
    RequestId,
    Response,
    encode,
    parse_body,
)
from .._proto.websocket import SUBPROTOCOL, Close
from .connect import FIRST_BACKOFF, MAX_BACKOFF, retry_unreached
from .errors import TransportError
from .oauth.errors import OAuthError
from .oauth.upgrade import upgrade_with_auth
from .options import ClientOptions
from .reopen import SessionReplaced
from .session import ClientSession

log = logging.getLogger("trio_mcp.client")

MAX_MESSAGE = 16 * 1024 * 1024
# Closes after which the same session is resumed on a new socket.
RESUME = {
    Close.NORMAL,
    1001,  # going away
    1006,  # abnormal: the connection dropped
    Close.INTERNAL_ERROR,
    Close.SERVICE_RESTART,
    Close.TRY_AGAIN_LATER,
    Close.PING_TIMEOUT,
}
CALL_LOST = "the session ended while {method} ran (the server restarted or expired it); it is not sent again"


class _Closed(Exception):
    """The server closed a socket before answering a request of the transport's own."""

    def __init__(self, reason: trio_websocket.CloseReason | None) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.define
class _Unanswered:
    method: str
    data: str
    #: went out on a socket (which may have dropped since); False: its sender still waits for one
    sent: bool = False


class WebSocketTransport:
    """One socket at a time; a reader task in the client's nursery feeds the session and, when the socket
    ends, opens the next one (or fails what waits)."""

    def __init__(
        self,
        url: str,
        nursery: trio.Nursery,
        *,
        headers: dict[str, str] | None = None,
        reconnect_timeout: float = 10.0,
        recover: bool = True,
        on_session_replaced: SessionReplaced | None = None,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.url = url
        #: authorizes each upgrade (an OAuthClient: a refused upgrade runs its flow, upgrade.py)
        self.auth = auth
        self.nursery = nursery
        self.headers = dict(headers or {})
        self.reconnect_timeout = reconnect_timeout
        self.recover = recover
        self.on_session_replaced = on_session_replaced
        self.session_id: str | None = None
        self.client: ClientSession | None = None
        self.closed = False
        self._socket: trio_websocket.WebSocketConnection | None = None
        self._ready = trio.Event()  # set while a socket is open
        self._failure: Exception | None = None  # set once the transport is broken for good
        # Requests not answered yet: a new socket of the same session sends again those the old one sent.
        self._unanswered: dict[RequestId, _Unanswered] = {}
        self._raw_ids = itertools.count(1)
        self._reader_scope = trio.CancelScope()

    def session(self) -> ClientSession:
        assert self.client is not None, "the transport has no ClientSession yet"
        return self.client

    # -- connecting --

    async def _connect(self, session_id: str | None) -> trio_websocket.WebSocketConnection:
        """A socket to the server, retried with backoff for `reconnect_timeout` while it cannot be reached."""
        headers = [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        if session_id is not None:
            headers.append((b"mcp-session-id", session_id.encode()))

        async def attempt() -> trio_websocket.WebSocketConnection:
            try:
                if self.auth is None:
                    return await self.nursery.start(self._hold_socket, headers)
                return await upgrade_with_auth(
                    self.auth, self.url, lambda extra: self.nursery.start(self._hold_socket, headers + extra)
                )
            except trio_websocket.ConnectionRejected as exc:
                if exc.status_code in (502, 503, 504):  # a proxy in front has no instance right now
                    raise
                raise TransportError(f"the server refused the WebSocket at {self.url}: {exc}") from exc

        return await retry_unreached(
            attempt, (OSError, trio_websocket.HandshakeError), self.reconnect_timeout, self.url
        )

    async def _hold_socket(
        self,
        headers: list[tuple[bytes, bytes]],
        task_status: trio.TaskStatus[trio_websocket.WebSocketConnection] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """One socket's life: its TCP stream and trio-websocket's reader task, in a nursery of their own (a
        refused handshake raises in that reader: it reaches `_connect`, never the application's nursery).
        Returns once the socket closed, its stream closed with it."""
        parts = urllib.parse.urlsplit(self.url)
        host = parts.hostname or "localhost"
        secure = parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if secure:
            stream: (
                trio.SocketStream | trio.SSLStream[trio.SocketStream]
            ) = await trio.open_ssl_over_tcp_stream(
                host, port, ssl_context=ssl.create_default_context(), https_compatible=True
            )
        else:
            stream = await trio.open_tcp_stream(host, port)
        started = False
        async with stream:
            try:
                async with trio.open_nursery() as reader:
                    socket = await trio_websocket.wrap_client_stream(
                        reader,
                        stream,
                        host if parts.port is None else f"{host}:{port}",
                        resource,
                        subprotocols=[SUBPROTOCOL],
                        extra_headers=headers,
                        max_message_size=MAX_MESSAGE,
                    )
                    task_status.started(socket)
                    started = True
            except Exception as exc:
                leaf = first_leaf(exc)
                if not started and isinstance(leaf, Exception):
                    raise leaf from None  # to `_connect`: a refused handshake, a broken connection
                # Once open, the socket's end is what its reader (`_read`) sees: nothing to raise here.
                log.debug("the WebSocket to %s ended: %r", self.url, leaf)

    async def start(self, resume: str | None = None) -> bool:
        """The first socket, and the reader: session `resume` taken up when it still exists (True; a ping
        answered on it says so), else a new session (False: initialize follows)."""
        resumed = False
        socket = None
        if resume is not None:
            socket = await self._connect(resume)
            try:
                await self._raw_request(socket, "ping", None)
                resumed = True
            except _Closed as closed:  # 4404: gone; a new socket for a new session, as the recovery does
                if not self.recover:
                    why = closed.reason.reason if closed.reason is not None else "closed"
                    raise TransportError(f"could not resume session {resume} at {self.url}: {why}") from None
                socket = None
        if socket is None:
            socket = await self._connect(None)
        if resumed:
            self.session_id = resume
        self._opened(socket)
        self.nursery.start_soon(self._read_all)
        return resumed

    def _opened(self, socket: trio_websocket.WebSocketConnection) -> None:
        self._socket = socket
        sid = dict(socket.handshake_headers).get(b"mcp-session-id")
        if sid is not None:
            self.session_id = sid.decode()
        self._ready.set()

    # -- sending --

    async def send(self, message: Message) -> None:
        """Send on the open socket; while there is none (the reader is opening the next), wait for it."""
        data = encode(message).decode()
        unanswered = None
        if isinstance(message, Request):
            unanswered = self._unanswered[message.id] = _Unanswered(message.method, data)
        while True:
            if self._failure is not None:
                raise self._failure
            if self.closed:
                raise TransportError("the client is closed")
            await self._ready.wait()
            socket = self._socket
            assert socket is not None
            try:
                await socket.send_message(data)
            except trio_websocket.ConnectionClosed:
                self._wait_for_next(socket)
                continue
            if unanswered is not None:
                unanswered.sent = True
            return

    def _wait_for_next(self, socket: trio_websocket.WebSocketConnection) -> None:
        if self._socket is socket and self._ready.is_set():
            self._ready = trio.Event()

    # -- reading, and what follows the end of each socket --

    async def _read_all(self) -> None:
        with self._reader_scope:
            try:
                while True:
                    socket = self._socket
                    assert socket is not None
                    closed = await self._read(socket)
                    if self.closed:
                        return
                    self._wait_for_next(socket)
                    await self._after(closed)
            except TransportError as exc:
                self._fail(exc)
            except _Closed as exc:
                self._fail(TransportError(f"the server closed the WebSocket while opening a session: {exc}"))
            except McpError as exc:
                self._fail(TransportError(f"could not open a new session: {exc.message}"))
            except OAuthError as exc:  # a new socket could not be authorized: each waiter gets why
                self._fail(exc)

    async def _read(self, socket: trio_websocket.WebSocketConnection) -> trio_websocket.CloseReason | None:
        while True:
            try:
                text = await socket.get_message()
            except trio_websocket.ConnectionClosed as exc:
                return exc.reason
            if isinstance(text, bytes):
                log.warning("ignored a binary frame from %s", self.url)
                continue
            await self._deliver(text)

    async def _deliver(self, text: str) -> None:
        try:
            parsed = parse_body(text)
        except RemoteProtocolError as exc:
            log.warning("ignored a frame from %s that is not JSON-RPC: %s", self.url, exc)
            return
        for message in parsed.messages:
            if isinstance(message, InvalidMessage):
                continue
            if isinstance(message, Response | ErrorResponse) and message.id is not None:
                self._unanswered.pop(message.id, None)
            await self.session().deliver(message)

    async def _after(self, closed: trio_websocket.CloseReason | None) -> None:
        """The socket ended: resume the session on a new one, open a new session, or give up. A resumed
        socket counts as open once a ping on it was answered: a server that does not know the session closes
        it with 4404 first, and nothing of ours went out on it meanwhile."""
        deadline = trio.current_time() + self.reconnect_timeout
        backoff = FIRST_BACKOFF
        while True:
            code = 1006 if closed is None else closed.code
            why = (
                "1006 (the connection dropped)"
                if closed is None
                else f"{code} {closed.reason or closed.name}"
            )
            if code == Close.SESSION_NOT_FOUND and self.recover and self.session_id is not None:
                await self._new_session(why)
                return
            # The server ends a socket whose token expired (1008): with auth, a new upgrade gets a fresh one.
            reason = (closed.reason if closed is not None else None) or ""
            expired = code == Close.POLICY and self.auth is not None and "token" in reason
            if (code not in RESUME and not expired) or self.session_id is None:
                raise TransportError(f"the server closed the WebSocket: {why}")
            if trio.current_time() > deadline:
                raise TransportError(
                    f"could not resume the session at {self.url} for {self.reconnect_timeout:g} s: {why}"
                )
            log.info("the WebSocket to %s closed (%s): resuming session %s", self.url, why, self.session_id)
            if code in (Close.TRY_AGAIN_LATER, Close.SERVICE_RESTART):
                await trio.sleep(backoff)  # the instance is busy or going: the next one may be too
                backoff = min(backoff * 2, MAX_BACKOFF)
            socket = await self._connect(self.session_id)
            try:
                await self._raw_request(socket, "ping", None)
            except _Closed as refused:
                closed = refused.reason
                continue
            self._socket = socket
            await self._send_again(socket)  # before any waiting sender: each request goes out once
            self._opened(socket)
            return

    async def _send_again(self, socket: trio_websocket.WebSocketConnection) -> None:
        """The requests the old socket left unanswered (the server cancelled them when it dropped)."""
        protocol = self.session().protocol
        for request_id, unanswered in list(self._unanswered.items()):
            if not protocol.expects_response(request_id):
                self._unanswered.pop(request_id, None)  # given up meanwhile (a timeout)
                continue
            if not unanswered.sent:
                continue  # its sender waits for this socket and sends it itself
            try:
                await socket.send_message(unanswered.data)
            except trio_websocket.ConnectionClosed:
                return  # the reader sees the close and goes on from there

    async def _new_session(self, why: str) -> None:
        """4404: a new session on a new socket, set up as the old one was; what was in flight may have
        run, so it fails instead of being sent again (as over HTTP)."""
        old = self.session_id
        assert old is not None
        session = self.session()
        for request_id, unanswered in list(self._unanswered.items()):
            if unanswered.sent:
                del self._unanswered[request_id]
                session.peer.fail(
                    request_id, McpError(INTERNAL_ERROR, CALL_LOST.format(method=unanswered.method))
                )
        socket = await self._connect(None)
        self._socket = socket
        sid = dict(socket.handshake_headers).get(b"mcp-session-id")
        new = sid.decode() if sid is not None else None
        params = session.protocol.converter.unstructure(session.initialize_params())
        await self._raw_request(socket, "initialize", params)
        await socket.send_message(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        for method, replayed in session.replay():
            try:
                await self._raw_request(socket, method, replayed)
            except McpError as exc:
                log.warning("could not set %s again in the new session: %s", method, exc.message)
        self._opened(socket)
        log.info("session %s is gone on the server (%s): continuing in new session %s", old, why, new)
        if self.on_session_replaced is not None and new is not None:
            outcome = self.on_session_replaced(old, new)
            if outcome is not None:
                await outcome

    async def _raw_request(
        self, socket: trio_websocket.WebSocketConnection, method: str, params: Any
    ) -> None:
        """One request answered here, not through the ClientSession (its requests in flight keep their ids)."""
        request_id = f"trio-mcp-recover-{next(self._raw_ids)}"
        await socket.send_message(
            json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        )
        while True:
            try:
                text = await socket.get_message()
            except trio_websocket.ConnectionClosed as exc:
                raise _Closed(exc.reason) from None
            if isinstance(text, bytes):
                continue
            try:
                message: object = json.loads(text)
            except ValueError:
                continue
            if isinstance(message, dict) and cast(dict[str, Any], message).get("id") == request_id:
                error = cast(dict[str, Any], message).get("error")
                if isinstance(error, dict):
                    fields = cast(dict[str, Any], error)
                    raise McpError(int(fields.get("code", INTERNAL_ERROR)), str(fields.get("message")))
                return
            await self._deliver(text)  # a notification on the way

    def _fail(self, exc: Exception) -> None:
        """Broken for good: every waiting request and every later send gets `exc`."""
        self._failure = exc
        self._ready.set()  # senders waiting for a socket wake up and raise
        self.session().peer.fail_all(exc)
        log.warning("the MCP client over %s stopped: %s", self.url, exc)

    # -- closing --

    async def aclose(self) -> None:
        """Close the socket (L§Shutdown: the transport's end ends the session's connection); the session's
        record stays until its idle timeout, so `Mcp-Session-Id` could resume it."""
        if self.closed:
            return
        self.closed = True
        self._reader_scope.cancel()
        if self._socket is not None:
            await self._socket.aclose()


async def connect_websocket_client(nursery: trio.Nursery, url: str, opts: ClientOptions) -> ClientSession:
    """`connect_client` for a ws(s) URL (the handshake era only: 2026-07-28 defines no WebSocket)."""
    if opts.mode != "legacy":
        raise ValueError(f"mode={opts.mode!r}: a ws:// URL speaks the handshake era only; use mode='legacy'")
    transport = WebSocketTransport(
        url,
        nursery,
        headers=opts.headers,
        reconnect_timeout=opts.reconnect_timeout,
        recover=opts.recover,
        on_session_replaced=opts.on_session_replaced,
        auth=opts.auth,
    )
    client = transport.client = opts.session(transport.send, nursery)
    client.session_id_source = lambda: transport.session_id

    async def close() -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            await transport.aclose()

    client.closer = close
    resume = opts.resume
    try:
        if await transport.start(None if resume is None else resume.session_id):
            client.resume(resume.protocol_version if resume is not None else None)
        else:
            await client.initialize()
            if resume is not None and opts.on_session_replaced is not None and transport.session_id:
                outcome = opts.on_session_replaced(resume.session_id, transport.session_id)
                if outcome is not None:
                    await outcome
    except BaseException:
        await close()
        raise
    return client
