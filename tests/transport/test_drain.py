"""Graceful drain (trio_mcp/_transport/drain.py, docs/architecture.md §4): `await app.drain()`.

Instance A drains while a client streams `count_slowly` from it; the client resumes each stream on instance B
(two apps in this process on the test Redis: the Redis event store carries the stream's log between them).
"""

from __future__ import annotations

import json
import multiprocessing
import secrets
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing
from _cluster import TOOLS_CHANGED, VERSION, WAIT
from _rawhttp import (
    RawConnection,
    Target,
    assert_error,
    get_headers,
    init_body,
    initialize,
    post_headers,
    rpc,
    start_app,
)

from examples.cluster import server
from trio_mcp._proto import sse
from trio_mcp._proto.errors import INTERNAL_ERROR
from trio_mcp._streams._base import StreamUnavailable
from trio_mcp._transport import drain as drain_module
from trio_mcp._transport.drain import Drain, hypercorn_shutdown
from trio_mcp._transport.http import McpASGIApp
from trio_mcp.streams import MemoryEventStore

RETRY_MS = 250
PROGRESS = "notifications/progress"


@pytest.fixture
def config(redis_url: str) -> dict[str, Any]:
    """Both instances on one Redis prefix; no notice period (nothing probes readiness here anyway)."""
    return {
        "store": "redis",
        "redis_url": redis_url,
        "redis_prefix": f"drain-{secrets.token_hex(4)}:",
        "heartbeat_interval": 0.2,
        "sse_retry_ms": RETRY_MS,
        "drain_notice": 0,
    }


async def pair(nursery: trio.Nursery, config: dict[str, Any], **a_config: Any) -> tuple[Target, Target]:
    a = await start_app(nursery, server.asgi_app(**{**config, **a_config}))
    b = await start_app(nursery, server.asgi_app(**config))
    return a, b


def app_of(target: Target) -> McpASGIApp:
    assert isinstance(target.app, McpASGIApp)
    return target.app


async def call(
    target: Target,
    session_id: str,
    n: int,
    interval_ms: int,
    *,
    request_id: int = 7,
    accept: str | None = None,
) -> RawConnection:
    """A count_slowly call (with a progress token), its response head read."""
    params: dict[str, Any] = {
        "name": "count_slowly",
        "arguments": {"n": n, "interval_ms": interval_ms},
        "_meta": {"progressToken": f"t{request_id}"},
    }
    conn = await target.connect()
    headers = post_headers(session_id, version=VERSION)
    if accept is not None:
        headers = post_headers(session_id, version=VERSION, accept=accept)
    await conn.send("POST", target.path, headers, rpc("tools/call", params, id=request_id))
    head = await conn.read_head()
    assert head.status == 200, head
    return conn


async def until_progress(conn: RawConnection, steps: int) -> list[sse.SSEEvent]:
    """The stream's events until the `steps`-th progress notification."""
    got: list[sse.SSEEvent] = []
    with trio.fail_after(WAIT):
        while progress_count(got) < steps:
            event = await conn.next_event()
            assert event is not None, f"the stream ended after {got}"
            got.append(event)
    return got


def progress_count(events: list[sse.SSEEvent]) -> int:
    return sum(1 for e in events if e.data and json.loads(e.data).get("method") == PROGRESS)


def progress_values(events: list[sse.SSEEvent]) -> list[int]:
    values: list[int] = []
    for event in events:
        if event.data and (message := json.loads(event.data)).get("method") == PROGRESS:
            values.append(message["params"]["progress"])
    return values


def last_id(events: list[sse.SSEEvent]) -> str:
    ids = [e.id for e in events if e.id]
    assert ids, events
    return ids[-1]


async def resume(target: Target, session_id: str, last_event_id: str) -> list[sse.SSEEvent]:
    """A GET with Last-Event-ID, read to the end of the stream."""
    async with await target.connect() as conn:
        await conn.send("GET", target.path, get_headers(session_id, last_event_id=last_event_id), None)
        head = await conn.read_head()
        assert head.status == 200, head
        with trio.fail_after(WAIT):
            return await conn.read_events()


def response_of(events: list[sse.SSEEvent], request_id: int = 7) -> dict[str, Any]:
    messages = [json.loads(e.data) for e in events if e.data]
    (response,) = [m for m in messages if m.get("id") == request_id]
    return response


async def start_drain(nursery: trio.Nursery, target: Target) -> trio.Event:
    done = trio.Event()

    async def drain() -> None:
        await app_of(target).drain()
        done.set()

    nursery.start_soon(drain)
    with trio.fail_after(WAIT):
        while not app_of(target).draining:
            await trio.lowlevel.checkpoint()
    return done


redis = pytest.mark.redis


# -- the sequence, against two apps --


@redis
async def test_a_drained_stream_ends_with_retry_and_the_call_finishes_on_another_instance(
    nursery: trio.Nursery, config: dict[str, Any]
) -> None:
    a, b = await pair(nursery, config)
    session_id = await initialize(a)
    conn = await call(a, session_id, n=8, interval_ms=100)
    before = await until_progress(conn, 2)
    drained = await start_drain(nursery, a)
    with trio.fail_after(WAIT):
        rest = await conn.read_events()
    assert conn.ended_cleanly, "the drained stream was cut, not ended"
    assert rest
    assert rest[-1].retry == RETRY_MS
    assert not rest[-1].data
    assert not drained.is_set(), "the drain waits for the call that still runs"
    seen = before + rest
    after = await resume(b, session_id, last_id(seen))
    assert progress_values(seen + after) == list(range(1, 9))  # every step exactly once, in order
    assert response_of(after)["result"]["structuredContent"] == {"count": 8}
    with trio.fail_after(WAIT):
        await drained.wait()
    await conn.aclose()


@redis
async def test_readiness_is_503_at_once_and_new_sessions_and_get_streams_are_refused(
    nursery: trio.Nursery, config: dict[str, Any]
) -> None:
    a, _ = await pair(nursery, config, drain_timeout=30)
    session_id = await initialize(a)
    conn = await call(a, session_id, n=40, interval_ms=100)  # keeps the drain going
    await until_progress(conn, 1)
    await start_drain(nursery, a)
    ready = await a.request("GET", [], None, target="/readyz")
    assert ready.status == 503
    assert ready.header("retry-after") == "1"
    assert "draining" in json.dumps(ready.json()["problems"])
    refused = await a.request("POST", post_headers(), init_body(VERSION))
    assert_error(refused, 503, INTERNAL_ERROR, "shutting down", "new sessions")
    assert refused.header("retry-after") == "1"
    async with await a.connect() as get:
        await get.send("GET", a.path, get_headers(session_id), None)
        response = await get.read_response()
    assert_error(response, 503, INTERNAL_ERROR, "shutting down", "GET streams")
    # Other requests of existing sessions are still served while load balancers notice.
    listed = await a.request(
        "POST", post_headers(session_id, version=VERSION, accept="application/json"), rpc("tools/list", id=3)
    )
    assert listed.status == 200
    assert "result" in listed.json()
    app_of(a).hurry_drain()
    await conn.aclose()


@redis
async def test_an_sse_response_opened_during_the_drain_ends_after_its_priming_event(
    nursery: trio.Nursery, config: dict[str, Any]
) -> None:
    a, b = await pair(nursery, config)
    session_id = await initialize(a)
    first = await call(a, session_id, n=20, interval_ms=100, request_id=1)  # keeps the drain going
    await until_progress(first, 1)
    drained = await start_drain(nursery, a)
    second = await call(a, session_id, n=3, interval_ms=50, request_id=2)
    with trio.fail_after(WAIT):
        events = await second.read_events()
    assert second.ended_cleanly
    priming, closing = events  # the priming event, then retry:, and nothing of the call
    assert priming.id
    assert not priming.data
    assert closing.retry == RETRY_MS
    after = await resume(b, session_id, priming.id)  # its handler ran on into the log
    assert progress_values(after) == [1, 2, 3]
    assert response_of(after, 2)["result"]["structuredContent"] == {"count": 3}
    app_of(a).hurry_drain()
    with trio.fail_after(WAIT):
        await drained.wait()
    await first.aclose()
    await second.aclose()


@redis
async def test_at_the_deadline_a_running_call_ends_with_a_retryable_error(
    nursery: trio.Nursery, config: dict[str, Any]
) -> None:
    a, b = await pair(nursery, config, drain_timeout=0.5)
    session_id = await initialize(a)
    conn = await call(a, session_id, n=1000, interval_ms=100)
    before = await until_progress(conn, 1)
    drained = await start_drain(nursery, a)
    with trio.fail_after(WAIT):
        rest = await conn.read_events()
        await drained.wait()
    after = await resume(b, session_id, last_id(before + rest))
    error = response_of(after)["error"]
    assert error["code"] == INTERNAL_ERROR
    assert error["data"] == {"retryable": True}
    assert "may be sent again" in error["message"]
    assert after[-1].data
    assert json.loads(after[-1].data)["id"] == 7
    await conn.aclose()


@redis
async def test_at_the_deadline_a_json_answer_is_a_retryable_error(
    nursery: trio.Nursery, config: dict[str, Any]
) -> None:
    a, _ = await pair(nursery, config, drain_timeout=0.5)
    session_id = await initialize(a)
    result: list[Any] = []

    async def json_call() -> None:
        conn = await call(a, session_id, n=1000, interval_ms=100, accept="application/json")
        result.append(json.loads(await conn.read_body()))
        await conn.aclose()

    async with trio.open_nursery() as inner:
        inner.start_soon(json_call)
        with trio.fail_after(WAIT):
            while not app_of(a)._drain._work:  # pyright: ignore[reportPrivateUsage]
                await trio.sleep(0.01)
        await app_of(a).drain()
    (answer,) = result
    assert answer["id"] == 7
    assert answer["error"]["code"] == INTERNAL_ERROR
    assert answer["error"]["data"] == {"retryable": True}


@redis
async def test_an_open_get_stream_ends_with_retry_after_an_id_and_nothing_sent_meanwhile_is_lost(
    nursery: trio.Nursery, config: dict[str, Any]
) -> None:
    a, b = await pair(nursery, config)
    session_id = await initialize(a)
    async with await a.connect() as get:
        await get.send("GET", a.path, get_headers(session_id), None)
        assert (await get.read_head()).status == 200
        with trio.fail_after(WAIT):
            await app_of(a).drain()
            events = await get.read_events()
    assert get.ended_cleanly
    priming, closing = events
    assert priming.id
    assert not priming.data
    assert closing.retry == RETRY_MS
    # While no GET stream is open, a notification for the session is kept; the resumed stream gets it.
    trigger = rpc("tools/call", {"name": "trigger_tools_list_changed", "arguments": {}}, id=4)
    response = await b.request(
        "POST", post_headers(session_id, version=VERSION, accept="application/json"), trigger
    )
    assert response.status == 200
    async with await b.connect() as again:
        await again.send("GET", b.path, get_headers(session_id, last_event_id=priming.id), None)
        assert (await again.read_head()).status == 200
        with trio.fail_after(WAIT):
            event = await again.next_data_event()
    assert event is not None
    assert json.loads(event.data)["method"] == TOOLS_CHANGED


@redis
async def test_a_post_stream_resumed_on_a_draining_instance_gets_what_it_missed_then_retry(
    nursery: trio.Nursery, config: dict[str, Any]
) -> None:
    a, b = await pair(nursery, config)
    session_id = await initialize(b)
    conn = await call(b, session_id, n=30, interval_ms=50)
    before = await until_progress(conn, 1)
    await until_progress(conn, 4)  # more recorded than `before` saw
    drained = await start_drain(nursery, a)
    with trio.fail_after(WAIT):
        await drained.wait()  # nothing runs on A
    async with await a.connect() as resumed:
        await resumed.send("GET", a.path, get_headers(session_id, last_event_id=last_id(before)), None)
        assert (await resumed.read_head()).status == 200
        with trio.fail_after(WAIT):
            events = await resumed.read_events()
    assert resumed.ended_cleanly
    assert progress_values(events)[:3] == [2, 3, 4]  # replayed from after the client's id
    assert events[-1].retry == RETRY_MS  # then: come back (elsewhere) for the rest
    await conn.aclose()


class FailingEventStore(MemoryEventStore):
    """Records the first flush of each stream, then cannot be reached (Redis went away)."""

    def __init__(self) -> None:
        super().__init__()
        self.recorded: set[str] = set()

    async def record(self, session_id: str, stream_id: str, entries: Any, *, owner: str) -> None:
        if stream_id in self.recorded:
            raise StreamUnavailable("the event store cannot be reached (test)")
        self.recorded.add(stream_id)
        await super().record(session_id, stream_id, entries, owner=owner)


async def test_a_stream_whose_log_is_incomplete_stays_open_to_its_end(nursery: trio.Nursery) -> None:
    # Ended early, its client would resume from a log that misses what was not recorded: the stream stays
    # open through the drain, and the call's every step and result arrive on it.
    target = await start_app(
        nursery, server.asgi_app(event_store=FailingEventStore(), drain_notice=0, sse_retry_ms=RETRY_MS)
    )
    session_id = await initialize(target)
    conn = await call(target, session_id, n=6, interval_ms=100)
    before = await until_progress(conn, 2)
    drained = await start_drain(nursery, target)
    with trio.fail_after(WAIT):
        rest = await conn.read_events()
        await drained.wait()
    assert progress_values(before + rest) == list(range(1, 7))
    assert response_of(rest)["result"]["structuredContent"] == {"count": 6}
    assert all(e.retry is None for e in rest)
    await conn.aclose()


# -- the drain's clock: Drain alone, under trio's mock clock --


async def test_drain_without_probes_or_work_ends_at_once(autojump_clock: trio.testing.MockClock) -> None:
    drain = Drain(timeout=30, notice=5)
    start = trio.current_time()
    await drain()
    assert trio.current_time() == start
    assert drain.draining


async def test_drain_serves_for_the_notice_period_when_readiness_was_probed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    drain = Drain(timeout=30, notice=5)
    drain.probed()
    start = trio.current_time()
    await drain()
    assert trio.current_time() - start == pytest.approx(5)


async def test_drain_waits_for_work_then_cancels_it_at_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    drain = Drain(timeout=3, notice=0)
    finished: list[str] = []
    scopes: dict[str, trio.CancelScope] = {}

    async def handler(name: str, seconds: float) -> None:
        with drain.work() as scope:
            scopes[name] = scope
            await trio.sleep(seconds)
            finished.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler, "quick", 1)
        nursery.start_soon(handler, "slow", 100)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await drain()
        assert trio.current_time() - start == pytest.approx(3)
    assert finished == ["quick"]
    assert not scopes["quick"].cancelled_caught
    assert scopes["slow"].cancelled_caught


async def test_hurry_cuts_a_drain_short_and_a_second_drain_waits_for_the_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    drain = Drain(timeout=30, notice=0)
    ends: list[float] = []

    async def handler() -> None:
        with drain.work():
            await trio.sleep(100)

    async def drain_and_note() -> None:
        await drain()
        ends.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        nursery.start_soon(drain_and_note)
        nursery.start_soon(drain_and_note)
        await trio.sleep(2)
        drain.hurry()
    assert ends == [pytest.approx(start + 2)] * 2


async def test_hurry_before_the_drain_makes_it_cancel_at_once(autojump_clock: trio.testing.MockClock) -> None:
    drain = Drain(timeout=30, notice=5)
    drain.probed()
    drain.hurry()  # two signals in a row: the second came before the drain began
    cancelled: list[bool] = []

    async def handler() -> None:
        with drain.work() as scope:
            await trio.sleep(100)
        cancelled.append(scope.cancelled_caught)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await drain()
        assert trio.current_time() == start
    assert cancelled == [True]


async def test_a_stream_opened_during_the_drain_is_closed_at_once() -> None:
    drain = Drain(timeout=1, notice=0)
    closed: list[str] = []
    with drain.stream(lambda: closed.append("before")):
        await drain()
        assert closed == ["before"]
        with drain.stream(lambda: closed.append("during")):
            assert closed == ["before", "during"]


class FakeWorker:
    """What multiprocessing's current_process() is in a hypercorn worker: its Process, with its kwargs."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs


class FakeConfig:
    graceful_timeout = 7.0


def test_a_hypercorn_worker_is_recognised_by_its_process_arguments(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    event = multiprocessing.Event()
    worker = FakeWorker(config=FakeConfig(), shutdown_event=event, sockets=None)
    monkeypatch.setattr(multiprocessing, "current_process", lambda: worker)
    found = hypercorn_shutdown()
    assert found is not None
    assert found.graceful_timeout == 7.0
    assert not found.is_set()
    event.set()
    assert found.is_set()
    assert "tested with hypercorn" not in caplog.text  # this hypercorn is the tested one
    monkeypatch.setattr(drain_module, "_hypercorn_version", lambda: "0.19.1")
    assert hypercorn_shutdown() is not None
    assert "tested with hypercorn 0.18., this is 0.19.1" in caplog.text


def test_anything_else_is_no_hypercorn_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    assert hypercorn_shutdown() is None  # this test process: the main process, no such arguments
    monkeypatch.setattr(multiprocessing, "current_process", lambda: FakeWorker(shutdown_event=object()))
    assert hypercorn_shutdown() is None  # not an event
    monkeypatch.setattr(
        multiprocessing, "current_process", lambda: FakeWorker(shutdown_event=multiprocessing.Event())
    )
    assert hypercorn_shutdown() is None  # no config with a graceful timeout
