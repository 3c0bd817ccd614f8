"""Small ASGI helpers: header extraction, body reading with a limit, JSON-RPC error responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import attrs

from .._proto.jsonrpc import RequestId, dumps

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


@attrs.define(slots=True)
class RequestHeaders:
    """The headers the transport looks at, read in one pass (names are lower-case in ASGI)."""

    content_type: str | None = None
    accept: str | None = None
    origin: str | None = None
    host: str | None = None
    session_id: str | None = None
    protocol_version: str | None = None
    content_length: int | None = None
    last_event_id: str | None = None
    bad_content_length: bool = False
    #: 2026-07-28's mirrored headers (M§Standard Request Headers), surrounding whitespace stripped
    mcp_method: str | None = None
    mcp_name: str | None = None

    @classmethod
    def from_scope(cls, scope: Scope) -> RequestHeaders:
        h = cls()
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1")
            if name == "content-type":
                h.content_type = raw_value.decode("latin-1")
            elif name == "accept":
                h.accept = (
                    raw_value.decode("latin-1")
                    if h.accept is None
                    else f"{h.accept},{raw_value.decode('latin-1')}"
                )
            elif name == "origin":
                h.origin = raw_value.decode("latin-1")
            elif name == "host":
                h.host = raw_value.decode("latin-1")
            elif name == "mcp-session-id":
                h.session_id = raw_value.decode("latin-1")
            elif name == "mcp-protocol-version":
                h.protocol_version = raw_value.decode("latin-1").strip()
            elif name == "content-length":
                try:
                    h.content_length = int(raw_value)
                except ValueError:
                    h.bad_content_length = True
            elif name == "last-event-id":
                h.last_event_id = raw_value.decode("latin-1")
            elif name == "mcp-method":
                h.mcp_method = raw_value.decode("latin-1").strip()
            elif name == "mcp-name":
                h.mcp_name = raw_value.decode("latin-1").strip()
        return h


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def error_body(code: int, message: str, request_id: RequestId | None = None, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return dumps({"jsonrpc": "2.0", "id": request_id, "error": error})


async def respond(
    send: Send, status: int, body: bytes = b"", headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    hdrs = list(headers)
    hdrs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def respond_error(
    send: Send,
    status: int,
    code: int,
    message: str,
    *,
    request_id: RequestId | None = None,
    data: Any = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    await respond(send, status, error_body(code, message, request_id, data), [*JSON_HEADERS, *headers])
