"""Interop over WebSocket: the official Python SDK 1.x client (`mcp.client.websocket.websocket_client`, asyncio)
against `trio-mcp serve examples.everything:app` (`nox -s interop` installs `mcp[ws]<2` in a venv of its own).

The SDK client initializes, pings, lists and calls tools (text, an error result, progress, an elicitation it
answers), reads a resource and gets a prompt; every answer is checked. Exit status 0 when all passed.
Bounded: the server gets 30 s to start, the whole check 60 s.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import anyio

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode} before it listened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server did not listen on 127.0.0.1:{port} within {timeout:g} s")


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        raise SystemExit(1)


async def interop(url: str) -> None:
    import mcp.types as types
    from mcp import ClientSession

    with warnings.catch_warnings():  # the SDK marks its WebSocket client deprecated (for mcp 2.0)
        warnings.simplefilter("ignore", DeprecationWarning)
        from mcp.client.websocket import websocket_client

    progress: list[float] = []

    async def on_progress(reached: float, total: float | None, message: str | None) -> None:
        progress.append(reached)

    async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(
            action="accept", content={"username": "sdk-user", "email": "sdk@example.org"}
        )

    with anyio.fail_after(TIMEOUT):
        async with (
            websocket_client(url) as (read, write),
            ClientSession(read, write, elicitation_callback=elicit) as session,
        ):
            init = await session.initialize()
            check(init.serverInfo.name == "trio-mcp-everything", f"initialize: {init.serverInfo.name}")
            check(init.capabilities.tools is not None, "initialize: the server offers tools")
            await session.send_ping()
            check(True, "ping answered")
            tools = await session.list_tools()
            names = {tool.name for tool in tools.tools}
            check({"test_simple_text", "test_elicitation"} <= names, f"tools/list: {len(names)} tools")
            result = await session.call_tool("test_simple_text", {})
            text = result.content[0]
            check(
                isinstance(text, types.TextContent)
                and text.text == "This is a simple text response for testing.",
                "tools/call test_simple_text",
            )
            failed = await session.call_tool("test_error_handling", {})
            check(failed.isError is True, "tools/call test_error_handling: an isError result")
            await session.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
            check(len(progress) >= 2, f"progress notifications over the socket: {progress}")
            elicited = await session.call_tool("test_elicitation", {"message": "who are you?"})
            answer = elicited.content[0]
            check(
                isinstance(answer, types.TextContent) and "sdk-user" in answer.text,
                "elicitation/create answered by the SDK client",
            )
            resources = await session.list_resources()
            check(len(resources.resources) > 0, f"resources/list: {len(resources.resources)}")
            read_result = await session.read_resource(resources.resources[0].uri)
            check(len(read_result.contents) > 0, f"resources/read {resources.resources[0].uri}")
            prompt = await session.get_prompt("test_simple_prompt")
            check(len(prompt.messages) > 0, "prompts/get test_simple_prompt")


def main() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "trio_mcp", "serve", "examples.everything:app", "-b", f"127.0.0.1:{port}"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        wait_for_port(port, server)
        anyio.run(interop, f"ws://127.0.0.1:{port}/mcp")
        print("interop over WebSocket: all checks passed", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
