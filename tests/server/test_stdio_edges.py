"""stdio edges: `python examples/everything.py` fed its whole input at once, stdin then closed.

End of input while requests still run (their answers still go out, then the process exits 0), a last line with
no newline, and a line over the 16 MiB limit (answered with a clear error, never a traceback). The grace period
that bounds requests still running at EOF is checked in process, on serve_connection.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import trio

from trio_mcp import Server
from trio_mcp._runtime.connection import serve_connection
from trio_mcp._runtime.state import ServerSession
from trio_mcp._transport.stdio import MAX_LINE

REPO = Path(__file__).resolve().parents[2]
EVERYTHING = REPO / "examples" / "everything.py"
WAIT = 30

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "stdio-edges", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def call(request_id: int, name: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name, "arguments": {}}
    if meta is not None:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


class Run:
    def __init__(self, result: trio.CompletedProcess[bytes]) -> None:
        self.returncode = result.returncode
        self.stdout: bytes = result.stdout
        self.stderr = result.stderr.decode(errors="replace")
        assert self.stdout.endswith(b"\n") or not self.stdout, self.stdout[-200:]
        self.messages: list[dict[str, Any]] = [json.loads(raw) for raw in self.stdout.splitlines()]

    def response(self, request_id: Any) -> dict[str, Any]:
        found = [m for m in self.messages if m.get("id") == request_id and "method" not in m]
        assert len(found) == 1, (request_id, self.messages, self.stderr)
        return found[0]


async def run_everything(stdin: bytes) -> Run:
    """The fixture server over stdio: `stdin` written whole, then closed; waits for the process to exit."""
    with trio.fail_after(WAIT):
        result = await trio.run_process(
            [sys.executable, str(EVERYTHING)],
            stdin=stdin,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            cwd=str(REPO),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return Run(result)


def text(response: dict[str, Any]) -> str:
    content = response["result"]["content"]
    assert content[0]["type"] == "text", content
    return str(content[0]["text"])


async def test_requests_still_running_at_end_of_input_are_answered_then_the_process_exits_0() -> None:
    """stdin closes right behind two slow tool calls: both results (and the progress before one of them)
    still go out, then the process exits 0 with no traceback."""
    stdin = b"".join(
        [
            line(INITIALIZE),
            line(INITIALIZED),
            line(call(1, "test_reconnection")),  # sleeps 0.5 s
            line(call(2, "test_tool_with_progress", {"progressToken": "tok"})),  # 3 steps, 0.1 s
        ]
    )
    run = await run_everything(stdin)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert text(run.response(1)) == "Reconnection test completed"
    assert text(run.response(2)) == "tok"
    progress = [m["params"]["progress"] for m in run.messages if m.get("method") == "notifications/progress"]
    assert progress == [0, 50, 100]
    # Every progress notification went out before its request's result.
    last_progress = max(i for i, m in enumerate(run.messages) if m.get("method") == "notifications/progress")
    assert last_progress < run.messages.index(run.response(2))


async def test_a_last_line_without_a_newline_is_still_processed() -> None:
    """The final request has no trailing newline: it is read at EOF and answered like any other."""
    stdin = (
        line(INITIALIZE)
        + line(INITIALIZED)
        + json.dumps({"jsonrpc": "2.0", "id": 9, "method": "ping"}).encode()
    )
    run = await run_everything(stdin)
    assert run.returncode == 0, run.stderr
    assert run.response(9)["result"] == {}
    assert "Traceback" not in run.stderr, run.stderr


async def test_an_oversize_line_gets_a_clear_error_and_never_a_traceback() -> None:
    """A line over the 16 MiB limit: either a JSON-RPC error saying the line is too long (and the server goes
    on), or an exit with a one-line message naming the limit on stderr; never a traceback."""
    huge = json.dumps(
        {"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"_meta": {"pad": "a" * (MAX_LINE + 1024)}}}
    ).encode()
    after = {"jsonrpc": "2.0", "id": 6, "method": "ping"}
    run = await run_everything(line(INITIALIZE) + line(INITIALIZED) + huge + b"\n" + line(after))
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    errors = [m for m in run.messages if "error" in m]
    if errors:
        (error,) = errors
        assert error["error"]["code"] in (-32700, -32600), error
        assert re.search(rf"{MAX_LINE}|too long|too large|exceeds", error["error"]["message"]), error
        assert run.response(6)["result"] == {}  # and the server went on reading
        assert run.returncode == 0, run.stderr
    else:
        assert run.returncode != 0
        assert f"exceeds {MAX_LINE} bytes" in run.stderr, run.stderr[-3000:]
        assert len(run.stderr.strip().splitlines()) <= 3, run.stderr[-3000:]


async def test_requests_running_past_the_grace_period_are_cancelled_and_the_connection_ends() -> None:
    """At EOF a request that would never finish gets the grace period, then is cancelled (no answer); one
    that finishes within it is answered; serve_connection then returns."""
    server = Server("grace")

    @server.tool
    async def quick() -> str:
        """Answers after a moment."""
        await trio.sleep(0.05)
        return "quick"

    @server.tool
    async def forever() -> str:
        """Never answers."""
        await trio.sleep_forever()
        return "never"

    async def incoming() -> AsyncIterator[str]:
        for message in (INITIALIZE, INITIALIZED, call(1, "forever"), call(2, "quick")):
            yield json.dumps(message)

    written: list[dict[str, Any]] = []

    async def write(data: bytes) -> None:
        written.append(json.loads(data))

    grace = 0.3
    start = trio.current_time()
    with trio.fail_after(WAIT):
        await serve_connection(
            server.dispatcher(), ServerSession.new("grace"), incoming(), write, eof_grace=grace
        )
    assert trio.current_time() - start >= grace
    answers = {m["id"]: m for m in written if "id" in m and "method" not in m}
    assert sorted(answers) == [0, 2], written
    assert answers[2]["result"]["content"][0]["text"] == "quick"
