"""Graceful drain of REAL processes on the test Redis (docs/architecture.md §4): SIGTERM of an instance with a
`count_slowly` call in flight. Its stream ends with `retry:` after its last id; the client resumes on B and
gets every remaining step and the result; the drained instance exits 0 once the call is done.

Under `trio-mcp serve` (the CLI drains on SIGTERM/SIGINT; a second signal cancels what still runs) and under
plain `hypercorn --worker-class trio` (the app reads the worker's shutdown event; hypercorn's graceful
timeout bounds the drain).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from _instances import START_TIMEOUT, Instance, assert_clean, bounded, cluster_env, spawn, spawn_cli, stop
from _instances import wait_ready as wait_listening
from _rawhttp import RawConnection, get_headers, initialize, post_headers, rpc
from _redis_server import RedisServer

from trio_mcp._proto import sse
from trio_mcp._proto.errors import INTERNAL_ERROR

pytestmark = [pytest.mark.multiprocess, pytest.mark.redis]

VERSION = "2025-11-25"
WAIT = 20.0
RETRY_MS = 300
APP = "examples.cluster:app"


@pytest.fixture
def env(redis_server: RedisServer, request: pytest.FixtureRequest) -> dict[str, str]:
    return cluster_env(redis_server, f"drain-{request.node.name[-20:]}:", TRIO_MCP_SSE_RETRY_MS=str(RETRY_MS))


@pytest.fixture
def b(env: dict[str, str], tmp_path: Path) -> Iterator[Instance]:
    """The instance that takes over (plain hypercorn)."""
    instance = spawn("B", APP, env, tmp_path)
    try:
        wait_listening(instance, time.monotonic() + START_TIMEOUT)
        yield instance
    finally:
        stop(instance)
    assert_clean(instance)


def started(instance: Instance) -> Instance:
    wait_listening(instance, time.monotonic() + START_TIMEOUT)
    return instance


async def call(
    instance: Instance, session_id: str, n: int, interval_ms: int, request_id: int
) -> RawConnection:
    conn = await RawConnection.open("127.0.0.1", instance.port)
    params = {
        "name": "count_slowly",
        "arguments": {"n": n, "interval_ms": interval_ms},
        "_meta": {"progressToken": f"call-{request_id}"},
    }
    await conn.send(
        "POST", "/mcp", post_headers(session_id, version=VERSION), rpc("tools/call", params, id=request_id)
    )
    head = await conn.read_head()
    assert head.status == 200, head
    return conn


def progress(events: list[sse.SSEEvent]) -> list[int]:
    sent = [json.loads(e.data) for e in events if e.data]
    return [m["params"]["progress"] for m in sent if m.get("method") == "notifications/progress"]


async def read(conn: RawConnection, steps: int | None = None) -> list[sse.SSEEvent]:
    """Until `steps` progress notifications arrived, or to the end of the stream."""
    got: list[sse.SSEEvent] = []
    with trio.fail_after(WAIT):
        while steps is None or len(progress(got)) < steps:
            event = await conn.next_event()
            if event is None:
                break
            got.append(event)
    return got


async def resume_on(instance: Instance, session_id: str, events: list[sse.SSEEvent]) -> list[sse.SSEEvent]:
    last = [e.id for e in events if e.id][-1]
    async with await RawConnection.open("127.0.0.1", instance.port) as conn:
        await conn.send("GET", "/mcp", get_headers(session_id, last_event_id=last), None)
        head = await conn.read_head()
        assert head.status == 200, head
        return await read(conn)


def response(events: list[sse.SSEEvent], request_id: int) -> dict[str, Any]:
    (found,) = [m for e in events if e.data and (m := json.loads(e.data)).get("id") == request_id]
    return found


async def drained_stream(conn: RawConnection) -> list[sse.SSEEvent]:
    """What the drained instance still sends on the stream: it ends cleanly, with `retry:` last."""
    rest = await read(conn)
    assert conn.ended_cleanly, "the stream was cut instead of ended"
    assert rest, "nothing after the signal"
    assert rest[-1].retry == RETRY_MS
    return rest


async def exit_code(instance: Instance) -> int:
    with trio.fail_after(WAIT):
        while (code := instance.proc.poll()) is None:
            await trio.sleep(0.05)
    return code


async def readiness(instance: Instance) -> int:
    async with await RawConnection.open("127.0.0.1", instance.port) as conn:
        return (await conn.request("GET", "/readyz")).status


@bounded(60)
async def test_sigterm_under_trio_mcp_serve_hands_the_call_to_another_instance(
    env: dict[str, str], b: Instance, tmp_path: Path
) -> None:
    a = started(spawn_cli("A", APP, env, tmp_path))
    try:
        session_id = await initialize(a.target)
        conn = await call(a, session_id, n=20, interval_ms=100, request_id=1)
        before = await read(conn, 3)
        a.proc.send_signal(signal.SIGTERM)
        rest = await drained_stream(conn)
        assert await readiness(a) == 503  # the call still runs there: A is up, but not ready
        after = await resume_on(b, session_id, before + rest)
        assert progress(before + rest + after) == list(range(1, 21))
        assert response(after, 1)["result"]["structuredContent"] == {"count": 20}
        assert await exit_code(a) == 0
        await conn.aclose()
    finally:
        stop(a)
    assert_clean(a)


@bounded(60)
async def test_a_second_signal_cancels_the_running_call_with_a_retryable_error(
    env: dict[str, str], b: Instance, tmp_path: Path
) -> None:
    a = started(spawn_cli("A", APP, env, tmp_path))
    try:
        session_id = await initialize(a.target)
        conn = await call(a, session_id, n=1000, interval_ms=100, request_id=1)
        before = await read(conn, 2)
        a.proc.send_signal(signal.SIGINT)
        rest = await drained_stream(conn)
        a.proc.send_signal(signal.SIGINT)
        assert await exit_code(a) == 0
        after = await resume_on(b, session_id, before + rest)
        error = response(after, 1)["error"]
        assert error["code"] == INTERNAL_ERROR
        assert error["data"] == {"retryable": True}
        await conn.aclose()
    finally:
        stop(a)
    assert_clean(a)


@bounded(60)
async def test_plain_hypercorn_drains_within_its_graceful_timeout(
    env: dict[str, str], b: Instance, tmp_path: Path
) -> None:
    # hypercorn's own shutdown cancels connections after --graceful-timeout: the drain ends half a second
    # before that, so the short call finishes and the long one is answered with a retryable error.
    a = started(spawn("A", APP, env, tmp_path, "--graceful-timeout", "4"))
    try:
        session_id = await initialize(a.target)
        short = await call(a, session_id, n=15, interval_ms=100, request_id=1)
        long = await call(a, session_id, n=1000, interval_ms=100, request_id=2)
        short_before, long_before = await read(short, 2), await read(long, 2)
        a.proc.send_signal(signal.SIGTERM)  # hypercorn's parent process sets its workers' shutdown event
        short_rest, long_rest = await drained_stream(short), await drained_stream(long)
        short_after = await resume_on(b, session_id, short_before + short_rest)
        assert progress(short_before + short_rest + short_after) == list(range(1, 16))
        assert response(short_after, 1)["result"]["structuredContent"] == {"count": 15}
        long_after = await resume_on(b, session_id, long_before + long_rest)
        assert response(long_after, 2)["error"]["data"] == {"retryable": True}
        assert await exit_code(a) == 0
        await short.aclose()
        await long.aclose()
    finally:
        stop(a)
    assert_clean(a)
