"""A POST holding one request: its handler runs in the request's own task (trio_mcp/_transport/one_request.py).

A quick call is one body with a Content-Length; a handler that runs on gets its head and priming event after
HEAD_WITHIN, then keep-alives, and what it sends arrives as it sends it, all from a real hypercorn.
"""

from __future__ import annotations

import json
from typing import Any

import trio
from _rawhttp import Target, initialize, post_headers, rpc, start_app

from trio_mcp import Context, Server
from trio_mcp._proto.sse import SSEDecoder

VERSION = "2025-11-25"
server = Server("one-request", version="1.0.0")
go_on = trio.Event()


@server.tool
async def add(a: int, b: int) -> int:
    """Quick."""
    return a + b


@server.tool
async def waits(*, ctx: Context) -> str:
    """Reports progress, then waits for the test to let it go on."""
    await ctx.report_progress(1, 2, "half")
    await go_on.wait()
    return "done"


async def call(target: Target, session_id: str, tool: str, arguments: dict[str, Any]) -> Any:
    conn = await target.connect()
    await conn.send(
        "POST",
        target.path,
        post_headers(session_id, version=VERSION),
        rpc("tools/call", {"name": tool, "arguments": arguments, "_meta": {"progressToken": "t"}}, id=5),
    )
    return conn


async def test_a_quick_call_is_one_body_with_its_length(nursery: trio.Nursery) -> None:
    target = await start_app(nursery, server.asgi_app())
    session_id = await initialize(target)
    conn = await call(target, session_id, "add", {"a": 1, "b": 2})
    head = await conn.read_head()
    body = await conn.read_body()
    await conn.aclose()
    assert head.header("content-length") == str(len(body))
    assert head.header("transfer-encoding") is None
    events = SSEDecoder().feed(body)
    assert [bool(event.data) for event in events] == [False, True]  # the priming event, then the response
    assert json.loads(events[1].data)["result"]["content"][0]["text"] == "3"


async def test_a_handler_that_runs_on_streams_as_it_goes(nursery: trio.Nursery) -> None:
    global go_on
    go_on = trio.Event()
    target = await start_app(nursery, server.asgi_app(keepalive_interval=0.1))
    session_id = await initialize(target)
    conn = await call(target, session_id, "waits", {})
    with trio.fail_after(5):
        head = await conn.read_head()  # while the handler waits: the head did not wait for the body
        assert head.status == 200
        assert head.header("content-length") is None
        seen = b""
        while b"notifications/progress" not in seen or seen.count(b": keepalive") < 2:
            chunk = await conn.next_chunk()
            assert chunk is not None, seen
            seen += chunk
        assert b"done" not in seen
        go_on.set()
        rest = await conn.read_body()
    await conn.aclose()
    events = SSEDecoder().feed(seen + rest)
    messages = [json.loads(event.data) for event in events if event.data]
    assert [m.get("method") for m in messages] == ["notifications/progress", None]
    assert messages[1]["result"]["content"][0]["text"] == "done"
    assert [event.id for event in events if event.id] == [
        f"{events[0].id.split(':')[0]}:{n}" for n in (1, 2, 3)
    ]


async def test_without_the_timers_task_one_request_goes_the_batch_way(nursery: trio.Nursery) -> None:
    # An app whose timers task is not running (a supervised restart in between) still answers, as a batch.
    app = server.asgi_app()
    target = await start_app(nursery, app)
    app.stream_timers.running = False
    session_id = await initialize(target)
    conn = await call(target, session_id, "add", {"a": 2, "b": 2})
    assert (await conn.read_head()).status == 200
    events = SSEDecoder().feed(await conn.read_body())
    await conn.aclose()
    assert json.loads(events[-1].data)["result"]["content"][0]["text"] == "4"
