"""open_stdio_client(command, args): spawn an MCP server and speak newline-delimited JSON-RPC over its pipes
(2025-11-25 T§stdio), on the same ClientSession core as the HTTP client.

The server process lives in the client's nursery. Its stderr goes to the `trio_mcp.client.stdio` logger, one
line per record. On exit the client closes the server's stdin (T§stdio: the client SHOULD close the input
stream first), waits `terminate_timeout` for it to exit, then sends SIGTERM, and SIGKILL after another
`terminate_timeout`.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

from .._proto import types as t
from .._proto.jsonrpc import InvalidMessage, Message, encode, parse_body
from .errors import TransportError
from .registered import stdio_record
from .registry._base import ClientSessionRegistry
from .session import (
    ClientSession,
    ElicitationCallback,
    LoggingCallback,
    NotificationCallback,
    SamplingCallback,
)

log = logging.getLogger("trio_mcp.client")
server_log = logging.getLogger("trio_mcp.client.stdio")
# The longest line read from the server (a message is one line; T§stdio).
MAX_LINE = 16 * 1024 * 1024


class _Lines:
    """Splits a byte stream into lines, each at most MAX_LINE bytes."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def __anext__(self) -> bytes:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > MAX_LINE:
                raise TransportError(f"the server wrote a line longer than {MAX_LINE} bytes")
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                if self._buffer:
                    line, self._buffer = bytes(self._buffer), bytearray()
                    return line
                raise StopAsyncIteration
            self._buffer += chunk

    def __aiter__(self) -> _Lines:
        return self


class StdioTransport:
    def __init__(self, process: trio.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process = process
        self._stdin = process.stdin
        self._stdout = process.stdout
        self._lock = trio.Lock()
        self.client: ClientSession | None = None

    async def send(self, message: Message) -> None:
        data = encode(message) + b"\n"
        async with self._lock:
            try:
                await self._stdin.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise TransportError(
                    f"the MCP server process (pid {self.process.pid}) no longer reads its input"
                ) from exc

    async def read(self) -> None:
        """Deliver every message the server writes; when its output ends, fail the requests still waiting."""
        assert self.client is not None
        try:
            async for line in _Lines(self._stdout):
                if not line.strip():
                    continue
                try:
                    parsed = parse_body(line)
                except Exception as exc:  # not JSON-RPC: say so, keep reading
                    log.warning("the MCP server wrote a line that is not JSON-RPC: %s", exc)
                    continue
                for message in parsed.messages:
                    if not isinstance(message, InvalidMessage):
                        await self.client.deliver(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError, TransportError) as exc:
            log.debug("the server's output ended: %s", exc)
        self.client.peer.fail_all(
            TransportError(f"the MCP server process (pid {self.process.pid}) closed its output or exited")
        )

    async def aclose_input(self) -> None:
        # Not under the lock: a send blocked on a full pipe must not hold up the close (it fails instead).
        await self._stdin.aclose()


async def _forward_stderr(stream: trio.abc.ReceiveStream, command: str) -> None:
    try:
        async for line in _Lines(stream):
            server_log.info("%s: %s", command, line.decode(errors="replace").rstrip())
    except (trio.BrokenResourceError, trio.ClosedResourceError, TransportError) as exc:
        log.debug("stopped forwarding the server's stderr: %s", exc)  # never the client's failure


@asynccontextmanager
async def open_stdio_client(
    command: str,
    args: Sequence[str] = (),
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    terminate_timeout: float = 2.0,
    sampling_callback: SamplingCallback | None = None,
    elicitation_callback: ElicitationCallback | None = None,
    logging_callback: LoggingCallback | None = None,
    notification_callback: NotificationCallback | None = None,
    roots: list[t.Root] | None = None,
    client_info: t.Implementation | None = None,
    request_timeout: float = 60.0,
    registry: ClientSessionRegistry | None = None,
    user_id: str | None = None,
    server_id: str | None = None,
    server_name: str | None = None,
) -> AsyncGenerator[ClientSession]:
    """Start `command args` (with `env` added to this process's environment), initialize, and stop the process
    on exit. Errors are plain: `McpError` from the server, `TransportError` when the process is gone.

    `registry=` with `user_id=` and `server_id=`: the user's connection is kept in its record (transport
    stdio; the command, args and env recorded instead of a URL), active once initialized (registered.py)."""
    record = None
    if registry is not None:
        if user_id is None or server_id is None:
            raise ValueError("registry= needs the user_id= and server_id= of the connection")
        record = await stdio_record(registry, user_id, server_id, command, list(args), env, server_name)
    failure: Exception | None = None
    environment = None if env is None else {**os.environ, **env}

    async def stop(process: trio.Process) -> None:
        # trio.run_process's deliver_cancel: the stdin close came first; then SIGTERM, then SIGKILL.
        with trio.move_on_after(terminate_timeout):
            await process.wait()
            return
        process.terminate()
        with trio.move_on_after(terminate_timeout):
            await process.wait()
            return
        process.kill()

    async with trio.open_nursery() as nursery:
        try:
            process: trio.Process = await nursery.start(
                functools.partial(
                    trio.run_process,
                    [command, *args],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=environment,
                    cwd=cwd,
                    check=False,
                    deliver_cancel=stop,
                )
            )
        except OSError as exc:
            failure = TransportError(f"cannot start the MCP server {command!r}: {exc}")
            failure.__cause__ = exc
        else:
            transport = StdioTransport(process)
            assert process.stderr is not None
            nursery.start_soon(_forward_stderr, process.stderr, os.path.basename(command))
            extra: dict[str, Any] = {} if client_info is None else {"client_info": client_info}
            client = ClientSession(
                transport.send,
                nursery,
                sampling_callback=sampling_callback,
                elicitation_callback=elicitation_callback,
                logging_callback=logging_callback,
                notification_callback=notification_callback,
                roots=roots,
                request_timeout=request_timeout,
                **extra,
            )
            transport.client = client
            nursery.start_soon(transport.read)
            try:
                await client.initialize()
                if registry is not None and record is not None and user_id is not None:
                    await registry.update(user_id, record.session_id, status="active")
                yield client
            except Exception as exc:
                failure = exc  # raised outside the nursery: one plain exception, never a group
            finally:
                with trio.CancelScope(shield=True):
                    await transport.aclose_input()  # the server sees EOF and exits
                # run_process's cancellation runs `stop`: up to terminate_timeout to exit, then SIGTERM, SIGKILL.
                nursery.cancel_scope.cancel()
    if failure is not None:
        raise failure
