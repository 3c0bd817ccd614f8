"""stdio transport (T§stdio): newline-delimited JSON-RPC on stdin/stdout, logs on stderr, clean exit on EOF."""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import AsyncGenerator

import trio

from .._proto.errors import PARSE_ERROR, RemoteProtocolError
from .._runtime.application import Application
from .._runtime.connection import serve_connection
from .._runtime.state import ServerSession

MAX_LINE = 16 * 1024 * 1024


async def lines(
    stream: trio.abc.ReceiveStream, *, max_line: int = MAX_LINE
) -> AsyncGenerator[bytes | RemoteProtocolError]:
    """Split a byte stream on b"\\n" (messages never contain raw newlines); a final unterminated line counts too.

    A line longer than `max_line` is skipped up to its newline (memory stays bounded) and yields one
    RemoteProtocolError in its place, which the connection answers with a JSON-RPC error: the server goes on.
    """
    buffer = bytearray()
    skipping = False  # inside an oversize line: drop bytes up to its newline
    while True:
        chunk = await stream.receive_some(65536)
        if not chunk:
            break
        buffer += chunk
        if skipping:
            end = buffer.find(b"\n")
            if end < 0:
                buffer.clear()
                continue
            del buffer[: end + 1]
            skipping = False
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end]).strip()
            del buffer[: end + 1]
            if len(line) > max_line:
                yield _oversize(max_line)
            elif line:
                yield line
        if len(buffer) > max_line:
            buffer.clear()
            skipping = True
            yield _oversize(max_line)
    if buffer.strip() and not skipping:
        yield bytes(buffer).strip()


def _oversize(max_line: int) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"Parse error: a message line exceeds {max_line} bytes; it was skipped", code=PARSE_ERROR
    )


async def serve_streams(
    server: Application, receive: trio.abc.ReceiveStream, send: trio.abc.SendStream
) -> None:
    session = ServerSession.new(secrets.token_urlsafe(16))

    async def write(data: bytes) -> None:
        await send.send_all(data + b"\n")

    await serve_connection(server.dispatcher(), session, lines(receive), write, hub=server.connections)


async def run_stdio(server: Application) -> None:
    # stdout carries only MCP messages (T§stdio), so logging must go to stderr.
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    stdin = trio.lowlevel.FdStream(sys.stdin.fileno())
    stdout = trio.lowlevel.FdStream(sys.stdout.fileno())
    await serve_streams(server, stdin, stdout)
