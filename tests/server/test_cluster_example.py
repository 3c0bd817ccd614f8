"""The multi-instance example (examples/cluster.py) in one process: its tools, through the in-memory client.

The multi-process tests (tests/multiprocess) run the same app on several hypercorn processes; these pin what
each tool sends and returns.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from examples import cluster, everything
from trio_mcp import ClientSession
from trio_mcp import types as t
from trio_mcp.testing import open_memory_client

CLUSTER_TOOLS = {"trigger_resource_update", "trigger_tools_list_changed", "count_slowly"}


class Recorder:
    """Everything the server sent besides the response: progress (with the time), logs, every notification."""

    def __init__(self) -> None:
        self.progress: list[tuple[float, t.ProgressNotificationParams]] = []
        self.logs: list[t.LoggingMessageNotificationParams] = []
        self.methods: list[str] = []

    async def on_progress(self, params: t.ProgressNotificationParams) -> None:
        self.progress.append((trio.current_time(), params))

    async def on_log(self, params: t.LoggingMessageNotificationParams) -> None:
        self.logs.append(params)

    async def on_notification(self, method: str, params: Any) -> None:
        self.methods.append(method)

    def steps(self) -> list[tuple[float, float | None]]:
        return [(p.progress, p.total) for _, p in self.progress]

    def log_lines(self) -> list[tuple[str, Any]]:
        return [(p.level, p.data) for p in self.logs]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@asynccontextmanager
async def connect(rec: Recorder) -> AsyncGenerator[ClientSession]:
    async with open_memory_client(
        cluster.server, logging_callback=rec.on_log, notification_callback=rec.on_notification
    ) as client:
        yield client


def text_of(result: t.CallToolResult) -> str:
    assert len(result.content) == 1
    block = result.content[0]
    assert isinstance(block, t.TextContent)
    return block.text


def count_logs(n: int) -> list[tuple[str, Any]]:
    return [("info", f"count {step} of {n}") for step in range(1, n + 1)]


# ----- the tool list -----


async def test_the_cluster_serves_the_fixture_plus_its_own_tools(rec: Recorder) -> None:
    async with connect(rec) as client:
        tools = {tool.name: tool for tool in await client.list_all_tools()}
    assert set(tools) == set(everything.server.tools) | CLUSTER_TOOLS
    count = tools["count_slowly"]
    assert count.description is not None
    assert count.description.startswith("Count from 1 to n")
    assert count.input_schema["required"] == ["n", "interval_ms"]
    assert count.input_schema["properties"]["n"]["type"] == "integer"
    assert count.input_schema["properties"]["interval_ms"]["type"] == "integer"
    assert "10000" in count.input_schema["properties"]["n"]["description"]
    assert "60000" in count.input_schema["properties"]["interval_ms"]["description"]
    assert count.output_schema is not None
    assert count.output_schema["type"] == "object"
    assert count.output_schema["properties"] == {"count": {"type": "integer"}}


def test_importing_the_cluster_leaves_the_conformance_fixture_alone() -> None:
    # examples/everything.py's tool list is fixed (test_everything.py); the cluster adds to its own copy.
    assert cluster.server is not everything.server
    assert not CLUSTER_TOOLS & set(everything.server.tools)


# ----- count_slowly -----


async def test_count_slowly_with_a_progress_token(rec: Recorder) -> None:
    async with connect(rec) as client:
        await client.set_logging_level("info")
        result = await client.call_tool("count_slowly", {"n": 5, "interval_ms": 0}, progress=rec.on_progress)
    assert not result.is_error
    assert result.structured_content == {"count": 5}
    assert json.loads(text_of(result)) == {"count": 5}
    assert rec.steps() == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert [p.message for _, p in rec.progress] == [f"count {step} of 5" for step in range(1, 6)]
    assert len({p.progress_token for _, p in rec.progress}) == 1
    assert rec.log_lines() == count_logs(5)
    assert rec.methods.count("notifications/progress") == 5
    assert rec.methods.count("notifications/message") == 5


async def test_count_slowly_without_a_progress_token_still_logs(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("count_slowly", {"n": 5, "interval_ms": 0})
    assert not result.is_error
    assert result.structured_content == {"count": 5}
    assert "notifications/progress" not in rec.methods
    assert rec.log_lines() == count_logs(5)


async def test_count_slowly_logs_are_filtered_by_level_but_progress_is_not(rec: Recorder) -> None:
    async with connect(rec) as client:
        await client.set_logging_level("warning")
        result = await client.call_tool("count_slowly", {"n": 3, "interval_ms": 0}, progress=rec.on_progress)
    assert result.structured_content == {"count": 3}
    assert rec.steps() == [(1, 3), (2, 3), (3, 3)]
    assert rec.logs == []


async def test_count_slowly_to_zero_sends_nothing(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("count_slowly", {"n": 0, "interval_ms": 0}, progress=rec.on_progress)
    assert not result.is_error
    assert result.structured_content == {"count": 0}
    assert rec.progress == []
    assert rec.logs == []


async def test_count_slowly_waits_the_interval_before_each_step(
    rec: Recorder, autojump_clock: trio.testing.MockClock
) -> None:
    async with connect(rec) as client:
        start = trio.current_time()
        result = await client.call_tool(
            "count_slowly", {"n": 3, "interval_ms": 1000}, progress=rec.on_progress
        )
        elapsed = trio.current_time() - start
    assert result.structured_content == {"count": 3}
    assert rec.steps() == [(1, 3), (2, 3), (3, 3)]
    assert [when - start for when, _ in rec.progress] == pytest.approx([1.0, 2.0, 3.0], abs=0.01)
    assert elapsed >= 3.0
    assert rec.log_lines() == count_logs(3)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"n": -1, "interval_ms": 0}, "'n'"),
        ({"n": 10_001, "interval_ms": 0}, "'n'"),
        ({"n": 1, "interval_ms": 10**6}, "'interval_ms'"),
        ({"n": 1, "interval_ms": -1}, "'interval_ms'"),
    ],
)
async def test_count_slowly_rejects_out_of_range_arguments(
    rec: Recorder, arguments: dict[str, int], named: str
) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("count_slowly", arguments, progress=rec.on_progress)
    assert result.is_error is True
    assert result.structured_content is None
    assert named in text_of(result)
    assert rec.progress == []
    assert rec.logs == []


async def test_count_slowly_accepts_the_bounds(rec: Recorder, autojump_clock: trio.testing.MockClock) -> None:
    async with connect(rec) as client:
        longest = await client.call_tool("count_slowly", {"n": 1, "interval_ms": 60_000}, timeout=120)
        most = await client.call_tool("count_slowly", {"n": 10_000, "interval_ms": 0})
    assert longest.structured_content == {"count": 1}
    assert most.structured_content == {"count": 10_000}
    assert len(rec.logs) == 10_001


async def test_count_slowly_rejects_a_missing_or_non_integer_argument(rec: Recorder) -> None:
    async with connect(rec) as client:
        missing = await client.call_tool("count_slowly", {"n": 3})
        text = await client.call_tool("count_slowly", {"n": "3", "interval_ms": 0})
    assert missing.is_error is True
    assert "interval_ms" in text_of(missing)
    assert text.is_error is True
    assert "n" in text_of(text)
    assert rec.logs == []
