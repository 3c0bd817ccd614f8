"""A small raw HTTP/1.1 client for end-to-end transport tests: trio TCP streams + h11.

It sends any method, headers and body (chunked, lying about Content-Length, or raw bytes that h11 would
refuse to produce) and reads the status, the headers and the body either whole, chunk by chunk (raw bytes,
e.g. to see SSE comments) or as SSE events. One `RawConnection` is one keep-alive TCP connection.

Also: `start_app(nursery, app)` serves an ASGI app on hypercorn bound to 127.0.0.1:0, and a few MCP helpers
(JSON-RPC bodies, `initialize`) shared by the transport tests.
"""

from __future__ import annotations

import functools
import json
import os
import weakref
from collections.abc import Sequence
from typing import Any

import attrs
import h11
import trio

from trio_mcp._proto.sse import SSEDecoder, SSEEvent
from trio_mcp._transport.serve import serve

HeaderList = Sequence[tuple[str | bytes, str | bytes]]

ACCEPT_BOTH = "application/json, text/event-stream"
JSON = "application/json"


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def build_request(method: str, target: str, headers: HeaderList, body: bytes = b"") -> bytes:
    """An HTTP/1.1 request as bytes, exactly as given."""
    lines = [f"{method} {target} HTTP/1.1".encode()]
    lines += [_b(k) + b": " + _b(v) for k, v in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@attrs.define
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").partition(";")[0].strip().lower()

    def events(self) -> list[SSEEvent]:
        """The body (read whole) decoded as SSE events."""
        return SSEDecoder().feed(self.body)


# Every RawConnection not yet closed: a test that fails before its aclose() leaves its sockets to the garbage
# collector, whose ResourceWarning then fails whichever test runs next (close_left_open, in conftest).
_OPEN: weakref.WeakSet[RawConnection] = weakref.WeakSet()


def close_left_open() -> None:
    """Close the sockets of the connections the test that just ran left open."""
    for conn in list(_OPEN):
        socket = conn.stream.socket
        if socket.fileno() != -1:
            os.close(socket.detach())  # no trio run here: the plain close, not trio's aclose
    _OPEN.clear()


class RawConnection:
    """One HTTP/1.1 connection; requests are sent and read strictly one after the other."""

    def __init__(self, stream: trio.SocketStream, host: str, port: int) -> None:
        _OPEN.add(self)
        self.stream = stream
        self.host_header = f"{host}:{port}"
        self.conn = h11.Connection(h11.CLIENT)
        self._decoder: SSEDecoder | None = None
        self._events: list[SSEEvent] = []
        self._head_read = False
        self._done = False
        #: once the body ended: True for its chunked terminator, False for a cut connection
        self.ended_cleanly: bool | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        stream = await trio.open_tcp_stream(host, port)
        return cls(stream, host, port)

    async def aclose(self) -> None:
        _OPEN.discard(self)
        await self.stream.aclose()

    async def __aenter__(self) -> RawConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- sending --

    def _next_cycle(self) -> None:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        self._decoder = None
        self._events = []
        self._head_read = False
        self._done = False

    async def send(
        self,
        method: str,
        target: str = "/mcp",
        headers: HeaderList = (),
        body: bytes | None = b"",
        *,
        chunks: Sequence[bytes] | None = None,
        host: str | bytes | None = None,
    ) -> None:
        """Send a request through h11. `chunks` sends a chunked body without Content-Length. For what h11
        refuses to send (no Host, a bad Content-Length), use `raw_request`."""
        await self.stream.send_all(self._serialise(method, target, headers, body, chunks=chunks, host=host))

    def _serialise(
        self,
        method: str,
        target: str,
        headers: HeaderList,
        body: bytes | None,
        *,
        chunks: Sequence[bytes] | None = None,
        host: str | bytes | None = None,
    ) -> bytes:
        self._next_cycle()
        hdrs: list[tuple[bytes, bytes]] = [(b"host", _b(self.host_header if host is None else host))]
        hdrs += [(_b(k), _b(v)) for k, v in headers]
        names = {k.lower() for k, _ in hdrs}
        if chunks is not None:
            hdrs.append((b"transfer-encoding", b"chunked"))
        elif body is not None and b"content-length" not in names and method not in ("GET", "HEAD"):
            hdrs.append((b"content-length", str(len(body)).encode()))
        request = h11.Request(method=method, target=target, headers=hdrs)
        data = self.conn.send(request) or b""
        if chunks is not None:
            for chunk in chunks:
                data += self.conn.send(h11.Data(data=chunk)) or b""
        elif body:
            data += self.conn.send(h11.Data(data=body)) or b""
        data += self.conn.send(h11.EndOfMessage()) or b""
        return data

    async def send_raw(self, raw: bytes, method: str = "POST") -> None:
        """Write `raw` (a whole request, however malformed) as is; h11 is only told a `method` request went out,
        so it can parse the response."""
        self._pretend_sent(method)
        await self.stream.send_all(raw)

    def _pretend_sent(self, method: str) -> None:
        self._next_cycle()
        self.conn.send(
            h11.Request(method=method, target="/", headers=[("host", "x"), ("content-length", "0")])
        )
        self.conn.send(h11.EndOfMessage())

    # -- receiving --

    async def _next(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                data = await self.stream.receive_some(65536)
                self.conn.receive_data(data)
                continue
            return event

    async def read_head(self) -> RawResponse:
        """Status and headers (skipping any 1xx)."""
        while True:
            event = await self._next()
            if isinstance(event, h11.Response):
                self._head_read = True
                headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers]
                return RawResponse(status=event.status_code, headers=headers)
            if isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed the connection without a response")
            if not isinstance(event, h11.InformationalResponse):
                raise AssertionError(f"unexpected h11 event before the response head: {event!r}")

    async def next_chunk(self) -> bytes | None:
        """The next piece of body as it arrives; None once the body has ended."""
        if self._done:
            return None
        while True:
            event = await self._next()
            if isinstance(event, h11.Data):
                if event.data:
                    return bytes(event.data)
                continue
            if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                self._done = True
                # A body that ended with its chunked terminator, not a cut connection.
                self.ended_cleanly = isinstance(event, h11.EndOfMessage)
                return None
            raise AssertionError(f"unexpected h11 event in a body: {event!r}")

    async def read_body(self) -> bytes:
        parts: list[bytes] = []
        while (chunk := await self.next_chunk()) is not None:
            parts.append(chunk)
        return b"".join(parts)

    async def next_event(self) -> SSEEvent | None:
        """The next SSE event of the body; None once the stream has ended."""
        if self._decoder is None:
            self._decoder = SSEDecoder()
        while not self._events:
            chunk = await self.next_chunk()
            if chunk is None:
                return None
            self._events.extend(self._decoder.feed(chunk))
        return self._events.pop(0)

    async def next_data_event(self) -> SSEEvent | None:
        """The next SSE event with data, as a client reads a stream: priming events (an id and empty data,
        T§Sending.6) are skipped. None once the stream has ended."""
        while (event := await self.next_event()) is not None:
            if event.data:
                return event
        return None

    async def read_events(self) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        while (event := await self.next_event()) is not None:
            events.append(event)
        return events

    async def read_response(self) -> RawResponse:
        response = await self.read_head()
        response.body = await self.read_body()
        return response

    async def request(
        self,
        method: str,
        target: str = "/mcp",
        headers: HeaderList = (),
        body: bytes | None = b"",
        **kwargs: Any,
    ) -> RawResponse:
        return await self._exchange(self._serialise(method, target, headers, body, **kwargs))

    async def _exchange(self, data: bytes) -> RawResponse:
        # Send while reading: a server may answer (413) and close before taking a large body, and a send
        # blocked on a full socket buffer must not stop us from reading that answer.
        broken: list[trio.BrokenResourceError] = []

        async def send() -> None:
            try:
                await self.stream.send_all(data)
            except trio.BrokenResourceError as exc:
                broken.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            try:
                response = await self.read_response()
            except (ConnectionError, h11.RemoteProtocolError) as exc:
                if broken:
                    raise ConnectionError(f"the server closed the connection early ({exc})") from broken[0]
                raise
            nursery.cancel_scope.cancel()
        return response

    async def raw_request(
        self, method: str, target: str = "/mcp", headers: HeaderList = (), body: bytes = b""
    ) -> RawResponse:
        """Send a request serialised by hand (no validation: any header bytes, any Content-Length) and read
        the response whole. Add a content-length header yourself if the request needs one."""
        self._pretend_sent(method)
        return await self._exchange(
            build_request(method, target, [("host", self.host_header), *headers], body)
        )

    @property
    def reusable(self) -> bool:
        return self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE


# -- a server in the test's nursery --


@attrs.define
class Target:
    app: Any
    host: str
    port: int
    path: str = "/mcp"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    async def connect(self) -> RawConnection:
        return await RawConnection.open(self.host, self.port)

    async def request(
        self, method: str, headers: HeaderList = (), body: bytes | None = b"", **kwargs: Any
    ) -> RawResponse:
        """One request on a fresh connection, read whole."""
        async with await self.connect() as conn:
            return await conn.request(method, kwargs.pop("target", self.path), headers, body, **kwargs)


async def start_app(nursery: trio.Nursery, app: Any, *, path: str = "/mcp") -> Target:
    """Serve `app` with hypercorn on 127.0.0.1, port 0, until `nursery` is cancelled."""
    urls: list[str] = await nursery.start(
        functools.partial(serve, app, host="127.0.0.1", port=0, graceful_timeout=0.5)
    )
    hostport = urls[0].split("://", 1)[1]
    host, _, port = hostport.rpartition(":")
    return Target(app=app, host=host, port=int(port), path=path)


# -- MCP helpers --


def rpc(method: str, params: dict[str, Any] | None = None, id: Any = 1) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def note(method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def init_body(version: str = "2025-11-25", id: Any = 0, capabilities: dict[str, Any] | None = None) -> bytes:
    return rpc(
        "initialize",
        {
            "protocolVersion": version,
            "capabilities": capabilities if capabilities is not None else {},
            "clientInfo": {"name": "rawhttp-test", "version": "0"},
        },
        id=id,
    )


def post_headers(
    session_id: str | None = None,
    *,
    accept: str = ACCEPT_BOTH,
    version: str | None = None,
    content_type: str = JSON,
    extra: HeaderList = (),
) -> list[tuple[str | bytes, str | bytes]]:
    headers: list[tuple[str | bytes, str | bytes]] = [("content-type", content_type), ("accept", accept)]
    if session_id is not None:
        headers.append(("mcp-session-id", session_id))
    if version is not None:
        headers.append(("mcp-protocol-version", version))
    headers += list(extra)
    return headers


def get_headers(
    session_id: str, *, version: str = "2025-11-25", last_event_id: str | None = None
) -> list[tuple[str | bytes, str | bytes]]:
    """The headers of a GET opening (or, with `last_event_id`, resuming) a stream of the session."""
    headers: list[tuple[str | bytes, str | bytes]] = [
        ("accept", "text/event-stream"),
        ("mcp-session-id", session_id),
        ("mcp-protocol-version", version),
    ]
    if last_event_id is not None:
        headers.append(("last-event-id", last_event_id))
    return headers


def body_message(response: RawResponse) -> Any:
    """The JSON-RPC message(s) of a POST answer, whether sent as JSON or as SSE (messages in order)."""
    if response.content_type == "text/event-stream":
        messages = [json.loads(e.data) for e in response.events() if e.data]
        return messages[0] if len(messages) == 1 else messages
    return response.json()


async def initialize(
    target: Target,
    version: str = "2025-11-25",
    *,
    initialized: bool = True,
    capabilities: dict[str, Any] | None = None,
) -> str:
    """A new session (initialize + notifications/initialized); returns its id."""
    response = await target.request("POST", post_headers(), init_body(version, capabilities=capabilities))
    assert response.status == 200, (response.status, response.body)
    session_id = response.header("mcp-session-id")
    assert session_id
    result = body_message(response)
    assert result["result"]["protocolVersion"] == version, result
    if initialized:
        ack = await target.request(
            "POST", post_headers(session_id, version=version), note("notifications/initialized")
        )
        assert ack.status == 202, (ack.status, ack.body)
    return session_id


async def tools_list_ok(target: Target, session_id: str | None = None, *, version: str | None = None) -> None:
    """The server is healthy: tools/list answers with the fixture's tools (in the session, or statelessly)."""
    headers = post_headers(accept=JSON) if session_id is None else post_headers(session_id, version=version)
    response = await target.request("POST", headers, rpc("tools/list", id="health"))
    assert response.status == 200, (response.status, response.body)
    message = body_message(response)
    assert message["id"] == "health", message
    assert any(tool["name"] == "test_simple_text" for tool in message["result"]["tools"])


# -- assertions --

_TRACEBACK_MARKERS = (b"Traceback (most recent call last)", b'File "/', b'.py", line ')


def assert_no_traceback(response: RawResponse) -> None:
    for marker in _TRACEBACK_MARKERS:
        assert marker not in response.body, (
            f"a traceback leaked into a response body: {response.body[:500]!r}"
        )


def assert_error(response: RawResponse, status: int, code: int, *phrases: str) -> dict[str, Any]:
    """`response` is an HTTP `status` whose JSON body is a JSON-RPC error with `code`, its message
    containing every phrase (case-insensitive). Returns the error object."""
    assert response.status == status, (response.status, response.body)
    assert response.content_type == "application/json", response.headers
    assert_no_traceback(response)
    body = response.json()
    assert body["jsonrpc"] == "2.0", body
    assert "result" not in body, body
    error = body["error"]
    assert error["code"] == code, body
    message = error["message"]
    assert isinstance(message, str), body
    assert message, body
    for phrase in phrases:
        assert phrase.lower() in message.lower(), f"{phrase!r} not in {message!r}"
    return error
