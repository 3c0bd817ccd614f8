"""notifications/cancelled reaches the instance running the request, wherever the client sends it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable

import pytest
import trio
from _rawhttp import Target, initialize, note, post_headers, rpc

from trio_mcp._transport.sse_stream import HEAD_WITHIN

Start = Callable[..., Awaitable[Target]]
VERSION = "2025-11-25"
ELICIT = {"name": "test_elicitation", "arguments": {"message": "Who are you?"}}


async def _cancel_a_waiting_call(
    runner: Target, canceller: Target, session_id: str, *, after: float = 0.0
) -> None:
    async with await runner.connect() as conn:
        await conn.send(
            "POST", "/mcp", post_headers(session_id, version=VERSION), rpc("tools/call", ELICIT, id=41)
        )
        head = await conn.read_head()
        assert head.status == 200, head
        with trio.fail_after(10):
            # The handler runs (and waits for the client's answer to its elicitation request).
            while True:
                event = await conn.next_event()
                assert event is not None, "the stream ended before the elicitation request"
                if event.data and json.loads(event.data).get("method") == "elicitation/create":
                    break
        await trio.sleep(after)
        cancel = await canceller.request(
            "POST",
            post_headers(session_id, version=VERSION),
            note("notifications/cancelled", {"requestId": 41, "reason": "the user gave up"}),
        )
        assert cancel.status == 202, cancel.body
        with trio.fail_after(10):
            rest = await conn.read_events()
        # U§Cancellation: no response for a cancelled request; the stream just ends.
        assert all(json.loads(e.data).get("id") != 41 for e in rest if e.data), rest
    with trio.fail_after(10):
        while (live := runner.app._sessions.live.get(session_id)) is not None and live.session.in_flight:
            await trio.sleep(0.01)


async def test_a_cancel_sent_to_the_same_instance_cancels_the_request(start: Start) -> None:
    target = await start()
    session_id = await initialize(target, capabilities={"elicitation": {}})
    await _cancel_a_waiting_call(target, target, session_id)


async def test_a_request_cancelled_after_its_stream_got_a_writer_task_ends_its_stream(start: Start) -> None:
    # Past HEAD_WITHIN a one-request stream has a writer task (one_request.py): a cancelled request's (no
    # response) must still end it. It used to hang, keep-alive after keep-alive.
    target = await start(keepalive_interval=0.05)
    session_id = await initialize(target, capabilities={"elicitation": {}})
    await _cancel_a_waiting_call(target, target, session_id, after=HEAD_WITHIN * 4)


@pytest.mark.redis
async def test_a_cancel_sent_to_another_instance_cancels_the_request_where_it_runs(
    start: Start, redis_url: str
) -> None:
    prefix = f"cancel-{secrets.token_hex(4)}:"
    a = await start(store="redis", redis_url=redis_url, redis_prefix=prefix)
    b = await start(store="redis", redis_url=redis_url, redis_prefix=prefix)
    session_id = await initialize(a, capabilities={"elicitation": {}})
    await _cancel_a_waiting_call(a, b, session_id)
