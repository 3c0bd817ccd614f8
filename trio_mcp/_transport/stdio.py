"""stdio transport (T§stdio): newline-delimited JSON-RPC on stdin/stdout, logs on stderr, clean exit on EOF."""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

import trio

from .._runtime.connection import serve_connection
from .._runtime.state import ServerSession

if TYPE_CHECKING:
    from .._server.server import Server

MAX_LINE = 16 * 1024 * 1024


async def lines(stream: trio.abc.ReceiveStream, *, max_line: int = MAX_LINE) -> AsyncGenerator[bytes]:
    """Split a byte stream on b"\\n" (messages never contain raw newlines); a final unterminated line counts too."""
    buffer = bytearray()
    while True:
        chunk = await stream.receive_some(65536)
        if not chunk:
            break
        buffer += chunk
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end]).strip()
            del buffer[: end + 1]
            if line:
                yield line
        if len(buffer) > max_line:
            raise ValueError(f"a stdin line exceeds {max_line} bytes")
    if buffer.strip():
        yield bytes(buffer).strip()


async def serve_streams(server: Server, receive: trio.abc.ReceiveStream, send: trio.abc.SendStream) -> None:
    session = ServerSession.new(secrets.token_urlsafe(16))

    async def write(data: bytes) -> None:
        await send.send_all(data + b"\n")

    await serve_connection(server.dispatcher(), session, lines(receive), write, hub=server.connections)


async def run_stdio(server: Server) -> None:
    # stdout carries only MCP messages (T§stdio), so logging must go to stderr.
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    stdin = trio.lowlevel.FdStream(sys.stdin.fileno())
    stdout = trio.lowlevel.FdStream(sys.stdout.fileno())
    await serve_streams(server, stdin, stdout)
