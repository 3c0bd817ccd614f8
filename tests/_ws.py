"""A raw WebSocket for tests: trio-websocket's client on a TCP stream this helper owns.

`trio_websocket.open_websocket_url` leaves the TCP stream open when the server closes first (its `aclose` sees
the close reason already set and returns), which the test run reports as an unclosed socket; here the stream
is closed when the block ends, whoever closed the WebSocket.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager

import pytest
import trio
import trio_websocket


@asynccontextmanager
async def open_ws(
    url: str, subprotocols: Sequence[str] = ("mcp",), headers: Sequence[tuple[bytes, bytes]] = ()
) -> AsyncGenerator[trio_websocket.WebSocketConnection]:
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    async with stream, trio.open_nursery() as nursery:
        ws = await trio_websocket.wrap_client_stream(
            nursery,
            stream,
            f"{parts.hostname}:{parts.port}",
            parts.path or "/",
            subprotocols=list(subprotocols),
            extra_headers=list(headers),
        )
        try:
            yield ws
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                await ws.aclose()
            nursery.cancel_scope.cancel()


async def rejected_upgrade(host: str, port: int, path: str = "/mcp") -> trio_websocket.ConnectionRejected:
    """The server's HTTP answer to an upgrade it refuses (status, headers, body). `open_websocket_url` raises the
    same ConnectionRejected but leaks its socket on a rejection (trio-websocket 0.12 never closes it): the client
    runs on a stream this helper owns."""
    stream = await trio.open_tcp_stream(host, port)
    try:
        with pytest.RaisesGroup(trio_websocket.ConnectionRejected) as info:
            async with trio.open_nursery() as nursery:
                await trio_websocket.wrap_client_stream(
                    nursery, stream, f"{host}:{port}", path, subprotocols=["mcp"]
                )
                pytest.fail(f"the upgrade of {path} was accepted")
    finally:
        await stream.aclose()
    rejection = info.value.exceptions[0]
    assert isinstance(rejection, trio_websocket.ConnectionRejected)
    return rejection
