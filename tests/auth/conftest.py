"""Fixtures for the token verifier tests: issuer endpoints served over real HTTP on 127.0.0.1 (hypercorn, port 0).

`endpoints` is a running ASGI app whose routes the test sets (`endpoints.route(path, handler)`); it records
every request, so a test counts the JWKS fetches or introspection calls its verifier made.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
import trio
from _issuer import request_body
from _redis_server import free_port

from trio_mcp._transport.serve import serve


@attrs.frozen
class Seen:
    """A request the endpoints answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


#: a handler answers (status, body): bytes as they are, anything else as JSON
Handler = Callable[[Seen], Awaitable[tuple[int, Any]]]


@attrs.define
class Endpoints:
    """An ASGI app: one async handler per path (404 elsewhere), every request recorded."""

    base_url: str = ""
    handlers: dict[str, Handler] = attrs.field(factory=dict[str, Handler])
    #: paths whose answers are sent in pieces without a Content-Length (chunked transfer coding)
    chunked: set[str] = attrs.field(factory=set[str])
    seen: list[Seen] = attrs.field(factory=list[Seen])

    def route(self, path: str, handler: Handler) -> str:
        """Serve `handler` at `path`; returns its URL."""
        self.handlers[path] = handler
        return self.base_url + path

    def serve_json(self, path: str, value: Callable[[], Any]) -> str:
        """Serve `value()` (called at each request) as JSON at `path`."""

        async def handler(_: Seen) -> tuple[int, Any]:
            return 200, value()

        return self.route(path, handler)

    def serve_bytes(self, path: str, body: bytes, status: int = 200, *, chunked: bool = False) -> str:
        async def handler(_: Seen) -> tuple[int, Any]:
            return status, body

        if chunked:
            self.chunked.add(path)
        return self.route(path, handler)

    def count(self, path: str) -> int:
        return sum(1 for s in self.seen if s.path == path)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await request_body(scope, receive, send)
        if body is None:
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        seen = Seen(scope["method"], scope["path"], headers, body)
        self.seen.append(seen)
        handler = self.handlers.get(scope["path"])
        status, content = await handler(seen) if handler else (404, {"error": "not found"})
        data = content if isinstance(content, bytes) else json.dumps(content).encode()
        response_headers = [(b"content-type", b"application/json")]
        chunked = scope["path"] in self.chunked
        if not chunked:
            response_headers.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        piece = 64 * 1024 if chunked else max(len(data), 1)
        for start in range(0, len(data), piece):
            await send({"type": "http.response.body", "body": data[start : start + piece], "more_body": True})
        await send({"type": "http.response.body", "body": b""})


ServeApp = Callable[[Any], Awaitable[str]]


@pytest.fixture
async def serve_app(nursery: trio.Nursery) -> ServeApp:
    """`await serve_app(app)`: the app on hypercorn at 127.0.0.1 (port 0) until the test ends; its base URL."""

    async def _serve(app: Any) -> str:
        urls: list[str] = await nursery.start(
            functools.partial(serve, app, host="127.0.0.1", port=0, graceful_timeout=0)
        )
        return urls[0].rstrip("/")

    return _serve


@pytest.fixture
async def endpoints(serve_app: ServeApp) -> Endpoints:
    app = Endpoints()
    app.base_url = await serve_app(app)
    return app


@pytest.fixture
def closed_url() -> str:
    """A URL of 127.0.0.1 where nothing listens (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}/jwks.json"


@attrs.define
class Clock:
    """An injected Unix clock: tests move it; nothing sleeps."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()
