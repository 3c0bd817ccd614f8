"""Resuming a POST stream with a GET carrying Last-Event-ID (trio_mcp/_transport/resume.py, T§Resumability).

The POST goes to instance A, the client drops it after a few events and resumes on instance B (the memory
backends: one app is both): every later event arrives exactly once, in order, then the response, then the end.
"""

from __future__ import annotations

import json
from typing import Any

import trio
from _cluster import TOOLS_CHANGED, VERSION, WAIT, Cluster, next_message, open_get
from _rawhttp import RawConnection, Target, assert_error, get_headers, initialize, post_headers, rpc

from trio_mcp._proto import sse
from trio_mcp._proto.errors import INVALID_REQUEST
from trio_mcp._streams.events import StoredEvent
from trio_mcp._transport.recorder import prime_payload
from trio_mcp.streams import Notify

PROGRESS = "notifications/progress"


async def post_call(target: Target, session_id: str, tool: str, token: str | None = "tok") -> RawConnection:
    params: dict[str, Any] = {"name": tool, "arguments": {}}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    conn = await target.connect()
    await conn.send(
        "POST", target.path, post_headers(session_id, version=VERSION), rpc("tools/call", params, id=7)
    )
    head = await conn.read_head()
    assert head.status == 200, head
    assert head.content_type == "text/event-stream", head
    return conn


async def events_until(conn: RawConnection, count: int) -> list[sse.SSEEvent]:
    """The first `count` events of a stream (the priming event included)."""
    got: list[sse.SSEEvent] = []
    with trio.fail_after(WAIT):
        while len(got) < count:
            event = await conn.next_event()
            assert event is not None, f"the stream ended after {got}"
            got.append(event)
    return got


async def resume(target: Target, session_id: str, last_event_id: str) -> RawConnection:
    conn = await target.connect()
    await conn.send("GET", target.path, get_headers(session_id, last_event_id=last_event_id), None)
    return conn


async def a_finished_call(target: Target, session_id: str) -> sse.SSEEvent:
    """A test_tool_with_progress call read to its end; its priming event."""
    first = await post_call(target, session_id, "test_tool_with_progress")
    priming = (await events_until(first, 1))[0]
    await first.read_events()
    await first.aclose()
    return priming


async def refused_resume(target: Target, session_id: str, last_event_id: str) -> Any:
    conn = await resume(target, session_id, last_event_id)
    response = await conn.read_response()
    await conn.aclose()
    return response


def seq_of(event: sse.SSEEvent) -> tuple[str, int]:
    parsed = sse.parse_event_id(event.id)
    assert parsed is not None, event
    return parsed


async def test_a_dropped_post_stream_resumes_on_another_instance_exactly_once(cluster: Cluster) -> None:
    session_id = await initialize(cluster.target_a)
    first = await post_call(cluster.target_a, session_id, "test_tool_with_progress")
    before = await events_until(first, 2)  # the priming event and the first progress
    await first.aclose()  # the client's connection drops; the call goes on
    assert before[0].data == ""
    stream, last = seq_of(before[-1])
    assert stream.startswith("p")
    resumed = await resume(cluster.target_b, session_id, before[-1].id)
    head = await resumed.read_head()
    assert head.status == 200, head
    with trio.fail_after(WAIT):
        after = await resumed.read_events()  # to the end of the stream: it ends after the response
    await resumed.aclose()
    seqs = [seq_of(event) for event in after]
    assert [s for s, _ in seqs] == [stream] * len(after)
    assert [n for _, n in seqs] == list(range(last + 1, last + 1 + len(after)))  # no gap, no duplicate
    messages = [json.loads(event.data) for event in before[1:] + after]
    progress = [m["params"]["progress"] for m in messages if m.get("method") == PROGRESS]
    assert progress == [0, 50, 100]
    assert messages[-1]["id"] == 7
    assert "result" in messages[-1], messages[-1]


async def test_a_resume_after_the_response_replays_what_was_missed_and_ends(cluster: Cluster) -> None:
    session_id = await initialize(cluster.target_a)
    first = await post_call(cluster.target_a, session_id, "test_tool_with_progress")
    priming = (await events_until(first, 1))[0]
    rest = await first.read_events()  # the whole stream; then the client pretends it saw only the priming
    await first.aclose()
    resumed = await resume(cluster.target_b, session_id, priming.id)
    head = await resumed.read_head()
    assert head.status == 200, head
    with trio.fail_after(WAIT):
        again = await resumed.read_events()
    await resumed.aclose()
    assert [(e.id, e.data) for e in again] == [(e.id, e.data) for e in rest]


async def test_a_resumed_post_stream_leaves_the_standalone_stream_alone(cluster: Cluster) -> None:
    session_id = await initialize(cluster.target_a)
    async with await open_get(cluster.target_b, session_id) as standalone:
        first = await post_call(cluster.target_a, session_id, "test_tool_with_progress")
        priming = (await events_until(first, 1))[0]
        await first.aclose()
        resumed = await resume(cluster.target_b, session_id, priming.id)
        assert (await resumed.read_head()).status == 200
        with trio.fail_after(WAIT):
            await resumed.read_events()
        await resumed.aclose()
        # Still the session's standalone stream: a broadcast reaches it.
        await cluster.a.streams.broadcast(Notify(method=TOOLS_CHANGED))
        await next_message(standalone, TOOLS_CHANGED)


async def test_a_bad_last_event_id_is_a_clear_400(cluster: Cluster) -> None:
    session_id = await initialize(cluster.target_a)
    priming = await a_finished_call(cluster.target_a, session_id)
    stream, _ = seq_of(priming)
    cases = {
        "not-an-id": "is not an event id this server sent",
        "p0000:1": "unknown or expired",  # a stream this session never had
        f"{stream}:999": "never sent event 999",
        "x1234:1": "is not an event id this server sent",
    }
    for last_event_id, phrase in cases.items():
        response = await refused_resume(cluster.target_b, session_id, last_event_id)
        assert_error(response, 400, INVALID_REQUEST, phrase)
    # Another session cannot resume this one's stream: its logs are its own.
    other = await initialize(cluster.target_a)
    response = await refused_resume(cluster.target_b, other, priming.id)
    assert_error(response, 400, INVALID_REQUEST, "unknown or expired")


async def test_events_past_retention_are_no_longer_available(start: Any) -> None:
    target: Target = await start(event_retention=2)
    session_id = await initialize(target)
    priming = await a_finished_call(target, session_id)
    response = await refused_resume(target, session_id, priming.id)
    assert_error(response, 400, INVALID_REQUEST, "no longer available", "start over")


async def test_a_deleted_session_takes_its_event_logs_with_it(start: Any) -> None:
    target: Target = await start()
    session_id = await initialize(target)
    await a_finished_call(target, session_id)
    app = target.app
    assert app.events is not None
    assert any(key[0] == session_id for key in app.events._logs)
    response = await target.request("DELETE", post_headers(session_id, version=VERSION))
    assert response.status == 200
    assert not any(key[0] == session_id for key in app.events._logs)


async def test_without_an_event_store_a_resume_is_a_clear_400(start: Any) -> None:
    target: Target = await start(event_store="none")
    session_id = await initialize(target)
    priming = await a_finished_call(target, session_id)
    response = await refused_resume(target, session_id, priming.id)
    assert_error(response, 400, INVALID_REQUEST, "keeps no events")


async def test_a_handler_closes_its_stream_and_the_client_resumes_it(cluster: Cluster) -> None:
    """SSE polling: test_reconnection closes its POST stream at once (an id, then `retry: 100`) and answers
    half a second later; the resume on the other instance receives the answer."""
    session_id = await initialize(cluster.target_a)
    first = await post_call(cluster.target_a, session_id, "test_reconnection", token=None)
    with trio.fail_after(WAIT):
        closed = await first.read_events()  # ends long before the call does
    await first.aclose()
    assert closed[0].data == ""
    assert closed[-1].retry == 100
    resumed = await resume(cluster.target_b, session_id, closed[0].id)
    assert (await resumed.read_head()).status == 200
    with trio.fail_after(WAIT):
        rest = await resumed.read_events()
    await resumed.aclose()
    messages = [json.loads(event.data) for event in rest if event.data]
    assert len(messages) == 1
    assert messages[0]["id"] == 7
    assert messages[0]["result"]["content"][0]["text"] == "Reconnection test completed"


async def test_sse_poll_interval_closes_long_streams(start: Any) -> None:
    target: Target = await start(sse_poll_interval=0.05, sse_retry_ms=250)
    session_id = await initialize(target)
    first = await post_call(target, session_id, "test_tool_with_progress")
    with trio.fail_after(WAIT):
        closed = await first.read_events()
    await first.aclose()
    assert closed[-1].retry == 250
    last_id = [event.id for event in closed if event.id][-1]
    resumed = await resume(target, session_id, last_id)
    assert (await resumed.read_head()).status == 200
    with trio.fail_after(WAIT):
        rest = await resumed.read_events()
    await resumed.aclose()
    messages = [json.loads(event.data) for event in closed + rest if event.data]
    progress = [m["params"]["progress"] for m in messages if m.get("method") == PROGRESS]
    assert progress == [0, 50, 100]  # each exactly once across the two streams
    assert "result" in messages[-1]


async def test_without_an_event_store_a_stream_is_never_closed_early(start: Any) -> None:
    target: Target = await start(event_store="none", sse_poll_interval=0.05)
    session_id = await initialize(target)
    first = await post_call(target, session_id, "test_reconnection", token=None)
    with trio.fail_after(WAIT):
        events = await first.read_events()
    await first.aclose()
    messages = [json.loads(event.data) for event in events if event.data]
    assert messages[-1]["result"]["content"][0]["text"] == "Reconnection test completed"
    assert all(event.retry is None for event in events)


async def test_a_stream_whose_instance_died_ends_with_a_retryable_error(start: Any) -> None:
    """The log of a stream written by an instance that is gone (no heartbeat): the resume replays what it
    recorded, then answers the unanswered request with -32603 and data.retryable, and ends."""
    target: Target = await start(heartbeat_interval=0.2)
    session_id = await initialize(target)
    events = target.app.events
    progress = {"jsonrpc": "2.0", "method": PROGRESS, "params": {"progressToken": "t", "progress": 1}}
    await events.record(
        session_id,
        "pdead",
        [
            StoredEvent(seq=1, kind="prime", payload=prime_payload([7])),
            StoredEvent(seq=2, kind="message", payload=json.dumps(progress).encode()),
        ],
        owner="an-instance-that-died",
    )
    resumed = await resume(target, session_id, "pdead:1")
    assert (await resumed.read_head()).status == 200
    with trio.fail_after(WAIT):
        rest = await resumed.read_events()
    await resumed.aclose()
    messages = [json.loads(event.data) for event in rest if event.data]
    assert messages[0] == progress
    error = messages[1]
    assert error["id"] == 7
    assert error["error"]["code"] == -32603
    assert error["error"]["data"] == {"retryable": True}
    assert "may be sent again" in error["error"]["message"]
    assert len(messages) == 2


# -- the standalone GET stream --


async def get_stream(target: Target, session_id: str, last_event_id: str | None = None) -> RawConnection:
    conn = await target.connect()
    await conn.send("GET", target.path, get_headers(session_id, last_event_id=last_event_id), None)
    head = await conn.read_head()
    assert head.status == 200, head
    return conn


async def next_data(conn: RawConnection) -> sse.SSEEvent:
    with trio.fail_after(WAIT):
        while True:
            event = await conn.next_event()
            assert event is not None, "the GET stream ended"
            if event.data:
                return event


async def until_closed_here(app: Any, session_id: str) -> None:
    """The instance noticed the client left: the session's GET stream there is over."""
    with trio.fail_after(WAIT):
        while (live := app._sessions.live.get(session_id)) is not None and live.standalone is not None:
            await trio.sleep(0.01)


async def test_a_resumed_get_stream_gets_what_followed_and_what_was_sent_while_it_was_closed(
    cluster: Cluster,
) -> None:
    session_id = await initialize(cluster.target_a)
    conn = await get_stream(cluster.target_b, session_id)
    await cluster.a.streams.broadcast(Notify(method=TOOLS_CHANGED))
    seen = await next_data(conn)  # the client's last event...
    await cluster.a.streams.broadcast(Notify(method="notifications/prompts/list_changed"))
    missed = await next_data(conn)  # ...though this one was sent too before the connection dropped
    await conn.aclose()
    await until_closed_here(cluster.b, session_id)
    # While no GET is open: a JSON-mode call's log messages (parked) and a list_changed (parked by B).
    response = await cluster.target_a.request(
        "POST",
        post_headers(session_id, accept="application/json", version=VERSION),
        rpc("tools/call", {"name": "test_tool_with_logging", "arguments": {}}, id=3),
    )
    assert response.status == 200, response.body
    await cluster.a.streams.broadcast(Notify(method=TOOLS_CHANGED))
    resumed = await get_stream(cluster.target_a, session_id, seen.id)
    got = [await next_data(resumed) for _ in range(5)]
    await resumed.aclose()
    stream, first_seq = seq_of(seen)
    assert [seq_of(event)[0] for event in got] == [stream] * 5
    assert [seq_of(event)[1] for event in got] == list(range(first_seq + 1, first_seq + 6))
    methods = [json.loads(event.data)["method"] for event in got]
    assert got[0].data == missed.data
    assert sorted(methods[1:]) == sorted([TOOLS_CHANGED] + ["notifications/message"] * 3)


async def test_a_fresh_get_starts_from_now(start: Any) -> None:
    target: Target = await start()
    session_id = await initialize(target)
    response = await target.request(
        "POST",
        post_headers(session_id, accept="application/json", version=VERSION),
        rpc("tools/call", {"name": "test_tool_with_logging", "arguments": {}}, id=3),
    )
    assert response.status == 200
    conn = await get_stream(target, session_id)  # no Last-Event-ID: what was parked is not for it
    await target.app.streams.broadcast(Notify(method=TOOLS_CHANGED))
    first = await next_data(conn)
    await conn.aclose()
    assert json.loads(first.data)["method"] == TOOLS_CHANGED


async def test_a_quick_call_answered_in_one_write_needs_no_event_log(start: Any) -> None:
    """Priming event and response in one small write: the client gets both or neither, so no log is kept
    (and the event store costs such a call nothing)."""
    target: Target = await start()
    session_id = await initialize(target)
    conn = await post_call(target, session_id, "test_simple_text", token=None)
    events = await conn.read_events()
    await conn.aclose()
    assert [bool(event.data) for event in events] == [False, True]
    assert not any(key[0] == session_id for key in target.app.events._logs)


async def test_a_superseded_get_stream_keeps_nothing_for_its_session(cluster: Cluster) -> None:
    """A newer GET (on A) takes the stream from B: B keeps no fan-outs for the session (they reach A's
    stream live, and parking them too would send them twice on the next resume)."""
    session_id = await initialize(cluster.target_a)
    old = await get_stream(cluster.target_b, session_id)
    new = await get_stream(cluster.target_a, session_id)
    with trio.fail_after(WAIT):
        await old.read_events()  # B ended it (retry:)
    await old.aclose()
    if cluster.a is not cluster.b:  # one app: the new GET holds the stream there
        await until_closed_here(cluster.b, session_id)
    assert session_id not in cluster.b.sessions_hub._recent
    await cluster.a.streams.broadcast(Notify(method=TOOLS_CHANGED))
    assert json.loads((await next_data(new)).data)["method"] == TOOLS_CHANGED
    await new.aclose()
    assert await cluster.b.events.take_parked(session_id) == []


async def test_a_get_stream_the_client_left_keeps_its_fan_outs(start: Any) -> None:
    target: Target = await start()
    session_id = await initialize(target)
    conn = await get_stream(target, session_id)
    await conn.aclose()
    await until_closed_here(target.app, session_id)
    assert session_id in target.app.sessions_hub._recent
    await target.app.streams.broadcast(Notify(method=TOOLS_CHANGED))
    with trio.fail_after(WAIT):
        while not (parked := await target.app.events.take_parked(session_id)):
            await trio.sleep(0.01)
    assert [json.loads(p)["method"] for p in parked] == [TOOLS_CHANGED]


async def test_a_refused_resume_leaves_the_parked_messages_for_one_that_works(start: Any) -> None:
    target: Target = await start()
    session_id = await initialize(target)
    conn = await get_stream(target, session_id)
    await target.app.streams.broadcast(Notify(method=TOOLS_CHANGED))
    seen = await next_data(conn)
    await conn.aclose()
    await until_closed_here(target.app, session_id)
    response = await target.request(
        "POST",
        post_headers(session_id, accept="application/json", version=VERSION),
        rpc("tools/call", {"name": "test_tool_with_logging", "arguments": {}}, id=3),
    )
    assert response.status == 200
    refused = await refused_resume(target, session_id, "g0000:1")
    assert_error(refused, 400, INVALID_REQUEST, "unknown or expired")
    resumed = await get_stream(target, session_id, seen.id)
    got = [json.loads((await next_data(resumed)).data)["method"] for _ in range(3)]
    await resumed.aclose()
    assert got == ["notifications/message"] * 3


async def test_a_get_stream_resumes_from_an_id_its_log_missed(start: Any) -> None:
    """A writer sends, then records: an instance that stopped in between leaves the client an id past the
    log's end. Those events reached the client, so the resumed stream goes on after that id (it used to be a
    400: an id "never sent")."""
    target: Target = await start()
    session_id = await initialize(target)
    await target.app.events.record(
        session_id,
        "gahead",
        [
            StoredEvent(seq=1, kind="prime"),
            StoredEvent(seq=2, kind="message", payload=b'{"jsonrpc":"2.0","method":"x"}'),
        ],
        owner="an-instance-that-stopped",
    )
    resumed = await get_stream(target, session_id, "gahead:4")  # 3 and 4 were sent, never recorded
    await target.app.streams.broadcast(Notify(method=TOOLS_CHANGED))
    event = await next_data(resumed)
    await resumed.aclose()
    assert json.loads(event.data)["method"] == TOOLS_CHANGED  # nothing replayed: the client had it all
    assert seq_of(event) == ("gahead", 5)
    log = await target.app.events.after(session_id, "gahead", 4)
    assert [entry.seq for entry in log.events] == [5]
