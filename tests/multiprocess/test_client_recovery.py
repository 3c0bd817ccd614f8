"""The Trio client against REAL server processes: a restart with the memory store under a live client (one new
session for ten concurrent calls), and a call whose instance is drained or killed mid-call while a switch in
front of two instances on the test Redis plays the load balancer (trio_mcp/_client/http.py)."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from _instances import START_TIMEOUT, Instance, assert_clean, bounded, cluster_env, kill, spawn_cli, stop
from _instances import wait_ready as wait_listening
from _redis_server import free_port
from _switch import Switch

from trio_mcp import McpError, open_client
from trio_mcp import types as t

pytestmark = [pytest.mark.multiprocess]

WAIT = 30.0
# One line per request: its method and the session id the answer handed out (initialize only).
ACCESS_FORMAT = "%(m)s new-session=%({mcp-session-id}o)s"
NEW_SESSION = re.compile(r"POST new-session=([^-\s]\S*)$", re.MULTILINE)


def started(instance: Instance) -> Instance:
    wait_listening(instance, time.monotonic() + START_TIMEOUT)
    return instance


def text_of(result: t.CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, t.TextContent), block
    return block.text


@bounded(90)
async def test_a_restart_under_a_live_client_costs_ten_concurrent_calls_one_new_session(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {**os.environ, "TRIO_MCP_STORE": "memory", "PYTHONUNBUFFERED": "1"}

    def run(name: str) -> Instance:
        log = tmp_path / f"{name}.access.log"
        return started(
            spawn_cli(
                name, "examples.everything:app", env, tmp_path,
                "--access-logfile", str(log), "--access-logformat", ACCESS_FORMAT, port=port,
            )
        )  # fmt: skip

    first = run("first")
    replaced: list[tuple[str, str]] = []
    try:
        async with open_client(
            f"http://127.0.0.1:{port}/mcp",
            request_timeout=WAIT,
            on_session_replaced=lambda o, n: replaced.append((o, n)),
        ) as client:
            assert text_of(await client.call_tool("test_simple_text"))
            stop(first)  # SIGTERM: drained and gone, and its memory store with it
            assert first.proc.returncode == 0
            second = run("second")
            try:
                results: list[str] = []

                async def call() -> None:
                    results.append(text_of(await client.call_tool("test_simple_text")))

                async with trio.open_nursery() as calls:
                    for _ in range(10):
                        calls.start_soon(call)
                assert len(results) == 10
                new_sessions = NEW_SESSION.findall((tmp_path / "second.access.log").read_text())
                assert len(new_sessions) == 1, new_sessions  # one initialize for all ten
                assert replaced == [(replaced[0][0], new_sessions[0])]
            finally:
                await client.aclose()
                stop(second)
            assert_clean(second)
    finally:
        stop(first)
    assert_clean(first)


@pytest.fixture
def pair(redis_server: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    env = cluster_env(redis_server, f"cr-{request.node.name[-16:]}:", TRIO_MCP_SSE_RETRY_MS="200")
    a = started(spawn_cli("A", "examples.cluster:app", env, tmp_path))
    b = started(spawn_cli("B", "examples.cluster:app", env, tmp_path))
    try:
        yield a, b
    finally:
        stop(a)
        stop(b)
    assert_clean(b)


async def count_through(switch: Switch, a: Instance, n: int, on_step: Any) -> t.CallToolResult:
    async def on_progress(params: t.ProgressNotificationParams) -> None:
        await on_step(int(params.progress))

    async with (
        httpx.AsyncClient(transport=switch, timeout=httpx.Timeout(WAIT, read=None)) as http,
        open_client(f"http://127.0.0.1:{a.port}/mcp", http_client=http, request_timeout=WAIT) as client,
    ):
        return await client.call_tool("count_slowly", {"n": n, "interval_ms": 100}, progress=on_progress)


@pytest.mark.redis
@bounded(90)
async def test_sigterm_of_the_instance_streaming_a_call_the_result_arrives_through_the_other(
    pair: Any,
) -> None:
    a, b = pair
    switch = Switch(a.port, b.port)
    steps: list[int] = []

    async def on_step(step: int) -> None:
        steps.append(step)
        if step == 3:
            switch.to_b()  # the balancer takes A out...
            a.proc.send_signal(signal.SIGTERM)  # ...as A drains

    result = await count_through(switch, a, 12, on_step)
    assert result.structured_content == {"count": 12}
    assert steps == list(range(1, 13))
    with trio.fail_after(WAIT):
        while a.proc.poll() is None:
            await trio.sleep(0.05)
    assert a.proc.returncode == 0
    assert_clean(a)


@pytest.mark.redis
@bounded(90)
async def test_sigkill_of_the_instance_streaming_a_call_is_the_retryable_error_not_a_hang(pair: Any) -> None:
    a, b = pair
    switch = Switch(a.port, b.port)

    async def on_step(step: int) -> None:
        if step == 2:
            switch.to_b()
            kill(a)

    with pytest.raises(McpError) as caught:
        await count_through(switch, a, 1000, on_step)
    assert caught.value.retryable
    assert caught.value.code == -32603
