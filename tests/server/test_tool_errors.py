"""A tool that raises: the client gets an isError result, the server log gets one ERROR with the traceback."""

from __future__ import annotations

import logging

import pytest

from trio_mcp import Server
from trio_mcp import types as t
from trio_mcp.testing import open_memory_client


def failing_server(**options: bool) -> Server:
    server = Server("failing", **options)

    @server.tool
    async def explode() -> str:
        """Always fails."""
        raise RuntimeError("boom at db.internal:5432")

    return server


def text_of(result: t.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, t.TextContent)
    return block.text


def tool_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "trio_mcp" and "explode" in r.getMessage()]


async def test_a_failing_tool_is_logged_once_at_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_mcp")
    async with open_memory_client(failing_server()) as client:
        result = await client.call_tool("explode", {})
    assert result.is_error
    assert text_of(result) == "boom at db.internal:5432"  # by default the client sees the message
    records = tool_errors(caplog)
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], RuntimeError)


async def test_tool_error_details_off_sends_a_generic_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_mcp")
    async with open_memory_client(failing_server(tool_error_details=False)) as client:
        result = await client.call_tool("explode", {})
    assert result.is_error
    assert "db.internal" not in text_of(result)
    assert "explode" in text_of(result)
    assert "server log" in text_of(result)
    assert len(tool_errors(caplog)) == 1  # the log keeps the details
