"""A small keep-alive HTTP/1.1 client (trio + h11) and WebSocket client (trio + wsproto) for the parts of the
benchmark wrk cannot do.

Used to open sessions, hold 1,000 GET streams open, drive N sequential calls while Redis commands are counted,
and (from `_roundtrips.py`, a process of its own) the WebSocket-vs-HTTP round-trip cell, where both transports
go through this same sans-IO style client so its costs cancel out. wrk stays the load generator of the HTTP
throughput cells.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import h11
import trio
import wsproto
import wsproto.events as ws_events
from wsproto.connection import ConnectionState

PROTOCOL_VERSION = "2025-11-25"
ACCEPT_BOTH = "application/json, text/event-stream"


def rpc(method: str, params: dict[str, Any] | None = None, id: int | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    if id is not None:
        message["id"] = id
    return json.dumps(message, separators=(",", ":")).encode()


INITIALIZE = rpc(
    "initialize",
    {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    },
    id=0,
)
INITIALIZED = rpc("notifications/initialized")


def add_call(id: int) -> bytes:
    return rpc("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}}, id=id)


class Connection:
    """One keep-alive TCP connection; `request()` sends one request and reads the whole response."""

    def __init__(self, stream: trio.SocketStream, host: str, port: int | None = None) -> None:
        self.stream = stream
        self.host = host
        self.port = port
        self.h11 = h11.Connection(h11.CLIENT)
        self.reconnects = 0

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> Connection:
        return cls(await trio.open_tcp_stream(host, port), f"{host}:{port}", port)

    async def _reconnect(self) -> None:
        # hypercorn ends a keep-alive connection after `keep_alive_max_requests` (1,000) responses, saying
        # `Connection: close` on the last: a long cell goes on over a new connection, like any HTTP client.
        await self.stream.aclose()
        host = self.host.rpartition(":")[0]
        assert self.port is not None
        self.stream = await trio.open_tcp_stream(host, self.port)
        self.h11 = h11.Connection(h11.CLIENT)
        self.reconnects += 1

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def send_head(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> None:
        all_headers = [("host", self.host), *headers]
        if method != "GET":
            all_headers.append(("content-length", str(len(body))))
        data = self.h11.send(h11.Request(method=method, target=path, headers=all_headers))
        if body:
            data += self.h11.send(h11.Data(data=body))
        if method != "GET" or body:
            data += self.h11.send(h11.EndOfMessage())
        await self.stream.send_all(data)

    async def next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                chunk = await self.stream.receive_some(65536)
                self.h11.receive_data(chunk)
                continue
            return event

    async def read_head(self) -> tuple[int, dict[str, str]]:
        event = await self.next_event()
        if not isinstance(event, h11.Response):
            raise RuntimeError(f"expected a response, got {event!r}")
        return event.status_code, {k.decode().lower(): v.decode() for k, v in event.headers}

    async def request(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        await self.send_head(method, path, headers, body)
        status, response_headers = await self.read_head()
        chunks: list[bytes] = []
        while True:
            event = await self.next_event()
            if isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise RuntimeError(f"unexpected event {event!r}")
        if self.h11.our_state is h11.MUST_CLOSE or self.h11.their_state is h11.MUST_CLOSE:
            if self.port is None:
                raise RuntimeError("the server closed a keep-alive connection")
            await self._reconnect()
        else:
            self.h11.start_next_cycle()
        return status, response_headers, b"".join(chunks)


def session_headers(session_id: str, accept: str = ACCEPT_BOTH) -> list[tuple[str, str]]:
    return [
        ("content-type", "application/json"),
        ("accept", accept),
        ("mcp-session-id", session_id),
        ("mcp-protocol-version", PROTOCOL_VERSION),
    ]


async def open_session(conn: Connection, path: str = "/mcp") -> str:
    """initialize + notifications/initialized; returns the session id."""
    status, headers, body = await conn.request(
        "POST", path, [("content-type", "application/json"), ("accept", ACCEPT_BOTH)], INITIALIZE
    )
    session_id = headers.get("mcp-session-id")
    if status != 200 or not session_id:
        raise RuntimeError(f"initialize failed: {status} {body[:300]!r}")
    status, _, body = await conn.request("POST", path, session_headers(session_id), INITIALIZED)
    if status != 202:
        raise RuntimeError(f"notifications/initialized failed: {status} {body[:300]!r}")
    return session_id


async def open_sessions(port: int, count: int, parallel: int = 8, path: str = "/mcp") -> list[str]:
    """`count` initialized sessions, opened over `parallel` keep-alive connections (closed afterwards)."""
    out: list[str] = []

    async def worker(share: int) -> None:
        conn = await Connection.open(port)
        try:
            for _ in range(share):
                out.append(await open_session(conn, path))
        finally:
            await conn.aclose()

    async with trio.open_nursery() as nursery:
        for i in range(parallel):
            share = count // parallel + (1 if i < count % parallel else 0)
            nursery.start_soon(worker, share)
    return out


async def call_add(conn: Connection, id: int, session_id: str | None, sse: bool, path: str = "/mcp") -> None:
    if session_id is None:
        headers = [("content-type", "application/json"), ("accept", "application/json")]
    else:
        headers = session_headers(session_id, ACCEPT_BOTH if sse else "application/json")
    status, _, body = await conn.request("POST", path, headers, add_call(id))
    if status != 200 or b'"result"' not in body:
        raise RuntimeError(f"tools/call failed: {status} {body[:300]!r}")


async def open_get_stream(port: int, session_id: str, path: str = "/mcp") -> Connection:
    """A GET stream held open for `session_id` (the response head is read, the body never is)."""
    conn = await Connection.open(port)
    headers = [("accept", "text/event-stream"), ("mcp-session-id", session_id)]
    headers.append(("mcp-protocol-version", PROTOCOL_VERSION))
    await conn.send_head("GET", path, headers)
    status, _ = await conn.read_head()
    if status != 200:
        await conn.aclose()
        raise RuntimeError(f"GET stream for {session_id} answered {status}")
    return conn


async def open_get_streams(
    port: int, session_ids: list[str], at_once: int = 50, into: list[Connection] | None = None
) -> list[Connection]:
    """A GET stream held open for each session, `at_once` opening at a time; each is added to `into` as it
    opens (so a caller's cleanup closes those opened before a failure)."""
    limiter = trio.CapacityLimiter(at_once)
    conns: list[Connection] = [] if into is None else into

    async def hold(sid: str) -> None:
        async with limiter:
            conns.append(await open_get_stream(port, sid))

    async with trio.open_nursery() as nursery:
        for sid in session_ids:
            nursery.start_soon(hold, sid)
    return conns


def run_client_process(main: Callable[[], Awaitable[dict[str, Any]]]) -> int:
    """The body of a benchmark's client process: run `main` under trio and print its result as one JSON line,
    or `{"error": ...}` (the first leaf of an exception group) with exit status 1."""
    try:
        result = trio.run(main)
    except Exception as exc:
        while isinstance(exc, BaseExceptionGroup) and isinstance(exc.exceptions[0], Exception):
            exc = exc.exceptions[0]
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(result))
    return 0


# --------------------------------------------------------------------------- WebSocket (the same MCP endpoint)

WS_SUBPROTOCOL = "mcp"


class WsClosed(RuntimeError):
    """The server closed the socket (or the connection ended)."""


class WsConnection:
    """One WebSocket on the MCP endpoint, subprotocol `mcp`, one JSON-RPC message per text frame.

    wsproto on a trio socket, no reader task: `receive()` parses what the socket has when it is asked, as
    `Connection` does with h11, so the two transports cost the client about the same."""

    def __init__(self, stream: trio.SocketStream, ws: wsproto.WSConnection) -> None:
        self.stream = stream
        self.ws = ws
        self._ready: list[str] = []
        self._partial: list[str] = []

    @classmethod
    async def open(cls, port: int, path: str = "/mcp", host: str = "127.0.0.1") -> WsConnection:
        stream = await trio.open_tcp_stream(host, port)
        try:
            ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
            request = ws_events.Request(host=f"{host}:{port}", target=path, subprotocols=[WS_SUBPROTOCOL])
            await stream.send_all(ws.send(request))
            while True:
                for event in ws.events():
                    if isinstance(event, ws_events.AcceptConnection):
                        if event.subprotocol != WS_SUBPROTOCOL:
                            raise RuntimeError(f"the server accepted subprotocol {event.subprotocol!r}")
                        return cls(stream, ws)
                    if isinstance(event, ws_events.RejectConnection):
                        raise RuntimeError(f"the WebSocket upgrade was refused: {event.status_code}")
                data = await stream.receive_some(65536)
                if not data:
                    raise WsClosed("the server closed the connection during the handshake")
                ws.receive_data(data)
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise

    async def send(self, text: str) -> None:
        await self.stream.send_all(self.ws.send(ws_events.Message(data=text)))

    async def receive(self) -> str:
        """The next text message."""
        while not self._ready:
            reply = b""
            for event in self.ws.events():
                if isinstance(event, ws_events.TextMessage):
                    self._partial.append(event.data)
                    if event.message_finished:
                        self._ready.append("".join(self._partial))
                        self._partial.clear()
                elif isinstance(event, ws_events.Ping):
                    reply += self.ws.send(event.response())
                elif isinstance(event, ws_events.CloseConnection):
                    raise WsClosed(f"the server closed the socket: {event.code} {event.reason}")
                elif isinstance(event, ws_events.BytesMessage):
                    raise RuntimeError("the server sent a binary frame")
            if reply:
                await self.stream.send_all(reply)
            if self._ready:
                break
            data = await self.stream.receive_some(65536)
            if not data:
                raise WsClosed("the server closed the connection")
            self.ws.receive_data(data)
        return self._ready.pop(0)

    async def request(self, message: bytes, id: int) -> dict[str, Any]:
        """Send one JSON-RPC request and return its response; a request the server sends meanwhile (its
        keep-alive ping) is answered, a notification is skipped."""
        await self.send(message.decode())
        while True:
            reply = json.loads(await self.receive())
            if "method" not in reply:
                if reply.get("id") != id:
                    raise RuntimeError(f"a response to {reply.get('id')!r} while waiting for {id}")
                return reply
            if "id" in reply:
                await self.send(json.dumps({"jsonrpc": "2.0", "id": reply["id"], "result": {}}))

    async def aclose(self) -> None:
        with trio.move_on_after(2) as scope:
            scope.shield = True
            try:
                if self.ws.state is ConnectionState.OPEN:
                    await self.stream.send_all(self.ws.send(ws_events.CloseConnection(code=1000)))
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
        await trio.aclose_forcefully(self.stream)


async def ws_open_session(port: int, path: str = "/mcp") -> WsConnection:
    """A fresh socket with an initialized session: initialize, then notifications/initialized."""
    conn = await WsConnection.open(port, path)
    try:
        reply = await conn.request(INITIALIZE, 0)
        if "result" not in reply:
            raise RuntimeError(f"initialize over WebSocket failed: {str(reply)[:300]}")
        await conn.send(INITIALIZED.decode())
    except BaseException:
        await trio.aclose_forcefully(conn.stream)
        raise
    return conn


async def ws_call_add(conn: WsConnection, id: int) -> None:
    reply = await conn.request(add_call(id), id)
    if "result" not in reply:
        raise RuntimeError(f"tools/call over WebSocket failed: {str(reply)[:300]}")
