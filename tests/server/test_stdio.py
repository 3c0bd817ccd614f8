"""The stdio transport end to end: `python examples/quickstart.py` as a subprocess speaking newline-delimited JSON-RPC."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart.py"
EVERYTHING = REPO / "examples" / "everything.py"
INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "stdio-test", "version": "1.0.0"},
}
STARTUP_TIMEOUT = 30  # the first import of the package (and hypercorn) can be slow on a cold machine
STEP_TIMEOUT = 10


class StdioPeer:
    """The client end of the pipes: writes JSON lines, reads JSON lines, keeps every raw stdout line."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.stdin = process.stdin
        self.stdout = process.stdout
        self.buffer = bytearray()
        self.raw_lines: list[bytes] = []
        self.ids = 0
        self.eof = False

    async def send(self, message: dict[str, Any]) -> None:
        await self.stdin.send_all(json.dumps(message).encode() + b"\n")

    async def _fill(self) -> None:
        chunk = await self.stdout.receive_some(65536)
        if not chunk:
            self.eof = True
        self.buffer += chunk

    async def receive(self, timeout: float = STEP_TIMEOUT) -> dict[str, Any]:
        with trio.fail_after(timeout):
            while b"\n" not in self.buffer:
                assert not self.eof, f"stdout closed; unread: {bytes(self.buffer)!r}"
                await self._fill()
        end = self.buffer.index(b"\n")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        self.raw_lines.append(line)
        message = json.loads(line)
        assert isinstance(message, dict)
        return message

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = STEP_TIMEOUT
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Send a request; return its response and the messages that arrived before it."""
        self.ids += 1
        request_id = self.ids
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        before: list[dict[str, Any]] = []
        while True:
            reply = await self.receive(timeout)
            if reply.get("id") == request_id and "method" not in reply:
                return reply, before
            before.append(reply)

    async def read_to_eof(self) -> None:
        with trio.fail_after(STEP_TIMEOUT):
            while not self.eof:
                await self._fill()
        for line in bytes(self.buffer).split(b"\n"):
            if line:
                self.raw_lines.append(line)
        self.buffer.clear()


@asynccontextmanager
async def spawn(script: Path) -> AsyncIterator[tuple[trio.Process, StdioPeer, list[bytes]]]:
    """Start `python script` with piped stdio; stderr is drained in the background (and kept)."""
    stderr_chunks: list[bytes] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    async with trio.open_nursery() as nursery:
        process: trio.Process = await nursery.start(
            functools.partial(
                trio.run_process,
                [sys.executable, str(script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                check=False,
                cwd=str(REPO),
                env=env,
            )
        )

        async def drain_stderr() -> None:
            assert process.stderr is not None
            async with process.stderr:
                while chunk := await process.stderr.receive_some(65536):
                    stderr_chunks.append(chunk)

        nursery.start_soon(drain_stderr)
        try:
            yield process, StdioPeer(process), stderr_chunks
        except BaseException:
            process.kill()
            raise


async def close_and_wait(process: trio.Process, peer: StdioPeer) -> int:
    """Closing stdin is the stdio way to end a session: the server must then exit on its own."""
    await peer.stdin.aclose()
    with trio.fail_after(STEP_TIMEOUT):
        returncode = await process.wait()
    await peer.read_to_eof()
    return returncode


def assert_only_json_lines(peer: StdioPeer) -> None:
    assert peer.raw_lines
    for line in peer.raw_lines:
        message = json.loads(line)
        assert isinstance(message, dict), line
        assert message["jsonrpc"] == "2.0", line


async def test_quickstart_over_stdio() -> None:
    async with spawn(QUICKSTART) as (process, peer, stderr_chunks):
        await run_session(peer)
        returncode = await close_and_wait(process, peer)
    stderr = b"".join(stderr_chunks).decode(errors="replace")
    assert returncode == 0, stderr
    # stdout carries nothing but JSON-RPC messages, one per line.
    assert_only_json_lines(peer)
    assert "Traceback" not in stderr, stderr


async def test_everything_fixture_over_stdio() -> None:
    async with spawn(EVERYTHING) as (process, peer, stderr_chunks):
        init, _ = await peer.request("initialize", INITIALIZE, timeout=STARTUP_TIMEOUT)
        assert init["result"]["serverInfo"]["name"] == "trio-mcp-everything"
        await peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        listed, _ = await peer.request("tools/list")
        assert len(listed["result"]["tools"]) == 27
        called, _ = await peer.request("tools/call", {"name": "test_simple_text"})
        assert called["result"]["content"] == [
            {"type": "text", "text": "This is a simple text response for testing."}
        ]
        returncode = await close_and_wait(process, peer)
    stderr = b"".join(stderr_chunks).decode(errors="replace")
    assert returncode == 0, stderr
    assert_only_json_lines(peer)


async def test_exits_cleanly_when_stdin_closes_at_once() -> None:
    async with spawn(QUICKSTART) as (process, peer, stderr_chunks):
        await peer.stdin.aclose()
        with trio.fail_after(STARTUP_TIMEOUT):
            returncode = await process.wait()
        await peer.read_to_eof()
    assert returncode == 0, b"".join(stderr_chunks).decode(errors="replace")
    assert peer.raw_lines == []


async def run_session(peer: StdioPeer) -> None:
    init, before = await peer.request("initialize", INITIALIZE, timeout=STARTUP_TIMEOUT)
    assert before == []
    result = init["result"]
    assert result["protocolVersion"] == "2025-11-25"
    assert result["serverInfo"] == {"name": "notes", "version": "1.0.0"}
    assert "tools" in result["capabilities"]
    assert result["instructions"].startswith("Keep short notes")
    await peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    pong, _ = await peer.request("ping")
    assert pong["result"] == {}

    listed, _ = await peer.request("tools/list", {})
    tools = {tool["name"]: tool for tool in listed["result"]["tools"]}
    assert set(tools) == {"add_note", "search_notes"}
    assert tools["add_note"]["description"] == "Add a note and return it with its new id."
    assert tools["add_note"]["inputSchema"]["required"] == ["title", "body"]
    assert tools["add_note"]["inputSchema"]["properties"]["title"] == {
        "type": "string",
        "description": "A short title",
    }
    assert tools["search_notes"]["inputSchema"]["properties"]["limit"] == {
        "type": "integer",
        "description": "The most notes to return",
        "default": 5,
    }
    assert tools["search_notes"]["outputSchema"]["required"] == ["query", "matches", "total"]
    assert tools["search_notes"]["annotations"] == {"readOnlyHint": True}

    added, notes_before = await peer.request(
        "tools/call",
        {"name": "add_note", "arguments": {"title": "Stdio", "body": "Lines of JSON.", "tags": ["trio"]}},
    )
    note = {"id": 3, "title": "Stdio", "body": "Lines of JSON.", "tags": ["trio"]}
    assert added["result"]["structuredContent"] == note
    assert json.loads(added["result"]["content"][0]["text"]) == note
    assert "isError" not in added["result"]
    assert [m["method"] for m in notes_before] == ["notifications/resources/list_changed"]

    found, streamed = await peer.request(
        "tools/call",
        {"name": "search_notes", "arguments": {"query": "trio"}, "_meta": {"progressToken": 99}},
    )
    structured = found["result"]["structuredContent"]
    assert structured["query"] == "trio"
    assert structured["total"] == 2
    assert [match["id"] for match in structured["matches"]] == [2, 3]
    progress = [m["params"] for m in streamed if m["method"] == "notifications/progress"]
    assert [(p["progressToken"], p["progress"], p["total"]) for p in progress] == [
        (99, 1, 3),
        (99, 2, 3),
        (99, 3, 3),
    ]
    logs = [m["params"] for m in streamed if m["method"] == "notifications/message"]
    assert logs == [{"level": "info", "data": "searching 3 notes for 'trio'"}]

    invalid, _ = await peer.request("tools/call", {"name": "add_note", "arguments": {"title": 5}})
    assert invalid["result"]["isError"] is True
    assert "body" in invalid["result"]["content"][0]["text"]

    unknown, _ = await peer.request("tools/call", {"name": "nope", "arguments": {}})
    assert unknown["error"]["code"] == -32602

    read, _ = await peer.request("resources/read", {"uri": "notes://3"})
    (contents,) = read["result"]["contents"]
    assert contents["uri"] == "notes://3"
    assert contents["mimeType"] == "application/json"
    assert json.loads(contents["text"]) == note

    missing, _ = await peer.request("resources/read", {"uri": "notes://404"})
    assert missing["error"]["code"] == -32002

    prompt, _ = await peer.request("prompts/get", {"name": "summarize_note", "arguments": {"note_id": "1"}})
    (message,) = prompt["result"]["messages"]
    assert message["role"] == "user"
    assert message["content"]["text"].startswith("Summarize this note in one sentence.")
    assert "Milk, eggs, coffee beans." in message["content"]["text"]

    # A line that is not JSON gets a parse error, and the session goes on.
    await peer.stdin.send_all(b"this is not json\n")
    parse_error = await peer.receive()
    assert parse_error["error"]["code"] == -32700
    assert parse_error["id"] is None
    pong, _ = await peer.request("ping")
    assert pong["result"] == {}
