"""`trio_mcp.open_stdio_client(command, args)`: a server process spoken to over its pipes (T§stdio), against
the conformance fixture (examples/everything.py), a server written with the official `mcp` SDK, and small
servers that show how the process is stopped."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_mcp import McpError, TransportError, accept_with_defaults, open_stdio_client
from trio_mcp import types as t

REPO = Path(__file__).resolve().parents[2]
SERVERS = Path(__file__).with_name("servers")
WAIT = 30


def text_of(result: t.CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, t.TextContent), block
    return block.text


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_every_kind_of_call_against_the_conformance_fixture() -> None:
    progress: list[float] = []
    logs: list[Any] = []

    async def on_progress(params: t.ProgressNotificationParams) -> None:
        progress.append(params.progress)

    async def on_log(params: t.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async def sample(params: t.CreateMessageRequestParams) -> t.CreateMessageResult:
        return t.CreateMessageResult(role="assistant", content=t.TextContent(text="four"), model="stub")

    with trio.fail_after(WAIT):
        async with open_stdio_client(
            sys.executable,
            [str(REPO / "examples" / "everything.py")],
            cwd=REPO,
            logging_callback=on_log,
            sampling_callback=sample,
            elicitation_callback=accept_with_defaults,
        ) as client:
            tools = {tool.name for tool in await client.list_all_tools()}
            assert {"test_simple_text", "test_sampling", "test_elicitation_sep1034_defaults"} <= tools
            result = await client.call_tool("test_simple_text")
            assert text_of(result) == "This is a simple text response for testing."
            await client.call_tool("test_tool_with_progress", progress=on_progress)
            await client.call_tool("test_tool_with_logging")
            sampled = await client.call_tool("test_sampling", {"prompt": "2+2?"})
            assert text_of(sampled) == "LLM response: four"
            elicited = await client.call_tool("test_elicitation_sep1034_defaults")
            assert text_of(elicited).startswith("Elicitation completed: action=accept, content={")
            assert '"name":"John Doe"' in text_of(elicited)
            with pytest.raises(McpError) as caught:
                await client.call_tool("no_such_tool")
            assert caught.value.code == -32602
            prompt = await client.get_prompt("test_simple_prompt")
            assert prompt.messages
    assert progress == [0, 50, 100]
    assert len(logs) == 3


async def test_against_a_server_of_the_official_sdk() -> None:
    with trio.fail_after(WAIT):
        async with open_stdio_client(sys.executable, [str(SERVERS / "sdk_stdio.py")]) as client:
            assert client.initialize_result is not None
            assert client.initialize_result.server_info.name == "sdk-stdio"
            assert [tool.name for tool in await client.list_all_tools()] == ["add"]
            result = await client.call_tool("add", {"a": 2, "b": 3})
    assert text_of(result) == "5"


async def test_the_server_exits_when_its_input_closes() -> None:
    with trio.fail_after(WAIT):
        async with open_stdio_client(sys.executable, [str(SERVERS / "stubborn_stdio.py")]) as client:
            pid = int(text_of(await client.call_tool("pid")))
    assert not alive(pid)


async def test_a_server_that_lingers_is_terminated() -> None:
    with trio.fail_after(WAIT):
        async with open_stdio_client(
            sys.executable, [str(SERVERS / "stubborn_stdio.py"), "--linger"], terminate_timeout=0.5
        ) as client:
            pid = int(text_of(await client.call_tool("pid")))
    assert not alive(pid)  # SIGTERM after the grace period


async def test_a_server_that_dies_fails_the_waiting_call_with_a_transport_error() -> None:
    async def call_then_kill() -> None:
        async with open_stdio_client(sys.executable, [str(SERVERS / "stubborn_stdio.py")]) as client:
            os.kill(int(text_of(await client.call_tool("pid"))), signal.SIGKILL)
            await client.call_tool("pid")

    with (
        trio.fail_after(WAIT),
        pytest.raises(TransportError, match=r"closed its output or exited|no longer reads"),
    ):
        await call_then_kill()


async def test_a_command_that_does_not_exist_is_a_transport_error() -> None:
    with pytest.raises(TransportError, match="cannot start the MCP server"):
        async with open_stdio_client("/nonexistent/mcp-server"):
            pass
