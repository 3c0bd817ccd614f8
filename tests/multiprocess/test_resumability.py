"""Resumability across REAL hypercorn processes sharing the test Redis (T§Resumability and Redelivery).

`count_slowly(20, 50)` is called on A; the client drops the POST stream after a few events and resumes with
Last-Event-ID on B: every remaining progress and log event arrives exactly once, in order, then the result.
The same after a server-initiated close (SSE polling). A SIGKILL of A mid-call: the resume on B replays what A
recorded, then a retryable error within about two heartbeats, instead of hanging.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from _instances import Instance, bounded, kill, run_cluster
from _rawhttp import RawConnection, get_headers, initialize, post_headers, rpc
from _redis_server import RedisServer

from trio_mcp._proto import sse

pytestmark = [pytest.mark.multiprocess, pytest.mark.redis]

VERSION = "2025-11-25"
N, INTERVAL_MS = 20, 50
WAIT = 20.0


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Instance]]:
    with run_cluster(redis_server, tmp_path_factory.mktemp("resume"), "rs:") as instances:
        yield instances


async def call_count_slowly(instance: Instance, session_id: str) -> RawConnection:
    conn = await RawConnection.open("127.0.0.1", instance.port)
    params = {
        "name": "count_slowly",
        "arguments": {"n": N, "interval_ms": INTERVAL_MS},
        "_meta": {"progressToken": "count"},
    }
    await conn.send(
        "POST", "/mcp", post_headers(session_id, version=VERSION), rpc("tools/call", params, id=1)
    )
    head = await conn.read_head()
    assert head.status == 200, head
    return conn


async def read(conn: RawConnection, count: int | None = None) -> list[sse.SSEEvent]:
    """`count` events, or every event to the end of the stream."""
    got: list[sse.SSEEvent] = []
    with trio.fail_after(WAIT):
        while count is None or len(got) < count:
            event = await conn.next_event()
            if event is None:
                break
            got.append(event)
    return got


async def resume_on(instance: Instance, session_id: str, last_event_id: str) -> list[sse.SSEEvent]:
    async with await RawConnection.open("127.0.0.1", instance.port) as conn:
        await conn.send("GET", "/mcp", get_headers(session_id, last_event_id=last_event_id), None)
        head = await conn.read_head()
        assert head.status == 200, head
        return await read(conn)


def messages(events: list[sse.SSEEvent]) -> list[dict[str, Any]]:
    return [json.loads(event.data) for event in events if event.data]


def assert_whole_call(events: list[sse.SSEEvent]) -> None:
    """Across both streams: ids contiguous, every progress and log step exactly once in order, the result."""
    ids = [sse.parse_event_id(event.id) for event in events if event.id]
    assert len({stream for stream, _ in ids if stream}) == 1, ids  # type: ignore[misc]
    seqs = [seq for _, seq in ids]  # type: ignore[misc]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    sent = messages(events)
    progress = [m["params"]["progress"] for m in sent if m.get("method") == "notifications/progress"]
    logs = [m["params"]["data"] for m in sent if m.get("method") == "notifications/message"]
    assert progress == list(range(1, N + 1))
    assert logs == [f"count {n} of {N}" for n in range(1, N + 1)]
    assert sent[-1]["result"]["structuredContent"] == {"count": N}


@bounded(60)
async def test_a_call_dropped_on_a_resumes_on_b_with_every_event_exactly_once(
    cluster: list[Instance],
) -> None:
    a, b, _ = cluster
    session_id = await initialize(a.target)
    conn = await call_count_slowly(a, session_id)
    before = await read(conn, 6)  # the priming event and a few steps
    await conn.aclose()
    after = await resume_on(b, session_id, before[-1].id)
    assert_whole_call(before + after)


@bounded(60)
async def test_a_server_closed_stream_resumes_on_another_instance(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with run_cluster(
        redis_server, tmp_path_factory.mktemp("poll"), "rp:", names="AB", TRIO_MCP_SSE_POLL_INTERVAL="0.3"
    ) as (a, b):
        session_id = await initialize(a.target)
        conn = await call_count_slowly(a, session_id)
        before = await read(conn)  # A closes it after 0.3 s, with retry:
        await conn.aclose()
        assert any(event.retry is not None for event in before)
        last = [event.id for event in before if event.id][-1]
        after = await resume_on(b, session_id, last)
        assert_whole_call(before + after)


@bounded(60)
async def test_a_sigkill_of_the_running_instance_ends_the_resume_with_a_retryable_error(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with run_cluster(redis_server, tmp_path_factory.mktemp("kill"), "rk:", names="AB") as (a, b):
        session_id = await initialize(a.target)
        conn = await call_count_slowly(a, session_id)
        before = await read(conn, 4)
        kill(a)
        await conn.aclose()
        started = trio.current_time()
        after = await resume_on(b, session_id, before[-1].id)
        waited = trio.current_time() - started
        sent = messages(before + after)
        error = sent[-1]
        assert error["id"] == 1
        assert error["error"]["code"] == -32603
        assert error["error"]["data"] == {"retryable": True}
        progress = [m["params"]["progress"] for m in sent if m.get("method") == "notifications/progress"]
        assert progress == list(range(1, len(progress) + 1))  # what A recorded, in order, no gap
        assert waited < 2 * 1 + 3  # about two heartbeats (1 s here) after A stopped beating, plus slack


@bounded(60)
async def test_a_list_changed_sent_while_the_get_stream_was_closed_arrives_on_reconnect(
    cluster: list[Instance],
) -> None:
    a, b, c = cluster
    session_id = await initialize(a.target)
    trigger = rpc("tools/call", {"name": "trigger_tools_list_changed", "arguments": {}}, id=2)
    async with await RawConnection.open("127.0.0.1", b.port) as conn:
        await conn.send("GET", "/mcp", get_headers(session_id), None)
        assert (await conn.read_head()).status == 200
        response = await a.target.request(
            "POST", post_headers(session_id, accept="application/json", version=VERSION), trigger
        )
        assert response.status == 200
        priming, *seen = await read(conn, 2)
    assert priming.id is not None
    assert not priming.data
    assert json.loads(seen[0].data)["method"] == "notifications/tools/list_changed"
    await trio.sleep(0.5)  # B notices the client left (the GET stream ends there)
    response = await a.target.request(
        "POST", post_headers(session_id, accept="application/json", version=VERSION), trigger
    )
    assert response.status == 200
    async with await RawConnection.open("127.0.0.1", c.port) as conn:
        await conn.send("GET", "/mcp", get_headers(session_id, last_event_id=seen[0].id), None)
        assert (await conn.read_head()).status == 200
        again = [event for event in await read(conn, 1) if event.data]
    assert json.loads(again[0].data)["method"] == "notifications/tools/list_changed"
    before_id, after_id = sse.parse_event_id(seen[0].id), sse.parse_event_id(again[0].id)
    assert before_id is not None
    assert after_id == (before_id[0], before_id[1] + 1)  # the same stream, the next event
