"""End-to-end Streamable HTTP tests: a real hypercorn on 127.0.0.1:0 and a raw HTTP/1.1 client (tests/_rawhttp.py).

Each test starts its own app (a fresh McpASGIApp over the shared `examples.everything` server) in the test's
nursery, so configuration can differ per test; hypercorn starts in a few milliseconds. Timed behaviour (expiry,
keep-alive) runs on real time: the memory store's TTLs run on the trio clock, which is the real clock here, and
autojump_clock would jump time while the test waits on sockets.

The tests of a session's HTTP behaviour take `any_target` / `any_start` (tests/transport/conftest.py) and run
once on the memory backends and once on Redis (store and stream manager, under a prefix of their own). The
tests that never reach a session -- stateless requests, and requests refused before any session lookup --
keep `target` / `start` (memory only): the backend cannot change what they see.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from _rawhttp import (
    ACCEPT_BOTH,
    JSON,
    RawConnection,
    RawResponse,
    Target,
    assert_error,
    assert_no_traceback,
    body_message,
    init_body,
    initialize,
    note,
    post_headers,
    rpc,
    start_app,
    tools_list_ok,
)

from examples.everything import server

INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SESSION_NOT_FOUND = -32001
SUPPORTED = ("2025-11-25", "2025-06-18", "2025-03-26")
EVENT_ID = re.compile(r"^([^:]+):(\d+)$")

Start = Callable[..., Awaitable[Target]]
BackendConfig = Callable[[], dict[str, Any]]


def get_headers(session_id: str | None, **extra: str) -> list[tuple[str | bytes, str | bytes]]:
    headers: list[tuple[str | bytes, str | bytes]] = [("accept", "text/event-stream")]
    if session_id is not None:
        headers.append(("mcp-session-id", session_id))
    headers += list(extra.items())
    return headers


async def open_get(target: Target, session_id: str) -> tuple[RawConnection, RawResponse]:
    conn = await target.connect()
    await conn.send("GET", target.path, get_headers(session_id), None)
    head = await conn.read_head()
    return conn, head


# ===== status codes =====


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
@pytest.mark.parametrize("bad", ["2024-01-01", "2026-07-28", "latest", "2025-11-25, 2025-06-18"])
async def test_unsupported_protocol_version_header_is_400(any_target: Target, method: str, bad: str) -> None:
    session_id = await initialize(any_target)
    if method == "POST":
        response = await any_target.request("POST", post_headers(session_id, version=bad), rpc("tools/list"))
    else:
        headers = [
            ("mcp-session-id", session_id),
            ("mcp-protocol-version", bad),
            ("accept", "text/event-stream"),
        ]
        response = await any_target.request(method, headers, None)
    if method == "POST" and bad == "2026-07-28":
        # A POST naming 2026-07-28 is of that era (no session), and this one lacks the era's _meta.
        assert_error(response, 400, INVALID_PARAMS, "_meta", "io.modelcontextprotocol/protocolVersion")
    else:
        assert_error(response, 400, INVALID_REQUEST, "MCP-Protocol-Version", bad, *SUPPORTED)
    # The rejected DELETE did not end the session.
    await tools_list_ok(any_target, session_id)


@pytest.mark.parametrize("header", [*SUPPORTED, None])
async def test_any_supported_protocol_version_header_is_accepted(
    any_target: Target, header: str | None
) -> None:
    # The header may name any supported version, even one other than the negotiated 2025-11-25; missing is fine.
    session_id = await initialize(any_target, "2025-11-25")
    response = await any_target.request("POST", post_headers(session_id, version=header), rpc("ping", id=7))
    assert response.status == 200
    assert body_message(response) == {"jsonrpc": "2.0", "id": 7, "result": {}}
    conn, head = await open_get(any_target, session_id)
    async with conn:
        assert head.status == 200
        assert head.content_type == "text/event-stream"


@pytest.mark.parametrize(
    "accept",
    [
        "application/json, text/event-stream",
        "text/event-stream, application/json",
        "application/json;q=0.9, text/event-stream",
        "text/event-stream;q=0.5,application/json;q=0.4",
        "TEXT/EVENT-STREAM , Application/JSON; charset=utf-8",
        "*/*",
        "application/*, text/*",
    ],
)
async def test_accept_header_is_order_and_q_value_tolerant(any_target: Target, accept: str) -> None:
    response = await any_target.request("POST", post_headers(accept=accept), init_body())
    assert response.status == 200, (response.status, response.body)
    session_id = response.header("mcp-session-id")
    assert session_id
    assert body_message(response)["result"]["protocolVersion"] == "2025-11-25"
    ack = await any_target.request(
        "POST", post_headers(session_id, accept=accept), note("notifications/initialized")
    )
    assert ack.status == 202


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml, text/plain", "application/json;q=0, text/event-stream;q=0"]
)
async def test_accept_with_neither_type_is_406(any_target: Target, accept: str) -> None:
    response = await any_target.request("POST", post_headers(accept=accept), init_body())
    assert_error(response, 406, INVALID_REQUEST, "Not Acceptable", "application/json", "text/event-stream")
    assert response.header("mcp-session-id") is None
    assert await any_target.app.store.count() == 0


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example.com",
        "http://localhost.evil.example",
        "https://127.0.0.1.evil.example",
        "null",
        "file://",
    ],
)
async def test_bad_origin_is_403(any_target: Target, origin: str) -> None:
    response = await any_target.request("POST", post_headers(extra=[("origin", origin)]), init_body())
    assert_error(response, 403, INVALID_REQUEST, "Forbidden", "Origin", "allowed_origins")
    assert response.header("mcp-session-id") is None
    # Also on GET and DELETE of a real session.
    session_id = await initialize(any_target)
    for method in ("GET", "DELETE"):
        response = await any_target.request(method, get_headers(session_id, origin=origin), None)
        assert_error(response, 403, INVALID_REQUEST, "Origin")
    await tools_list_ok(any_target, session_id)


@pytest.mark.parametrize(
    "origin", ["http://localhost:6274", "http://127.0.0.1:8080", "https://localhost", "http://[::1]:3000"]
)
async def test_loopback_origin_with_port_is_allowed(any_target: Target, origin: str) -> None:
    response = await any_target.request("POST", post_headers(extra=[("origin", origin)]), init_body())
    assert response.status == 200, response.body
    assert response.header("mcp-session-id")


async def test_allowed_origins_config(any_start: Start) -> None:
    target = await any_start(allowed_origins=["https://app.example.com"])
    ok = await target.request(
        "POST", post_headers(extra=[("origin", "https://app.example.com")]), init_body()
    )
    assert ok.status == 200
    bad = await target.request(
        "POST", post_headers(extra=[("origin", "https://app.example.com:8443")]), init_body()
    )
    assert_error(bad, 403, INVALID_REQUEST, "https://app.example.com:8443")


@pytest.mark.parametrize("host", ["evil.example.com", "localhost.evil.example", "evil.example.com:80"])
async def test_host_outside_allowlist_is_421(any_target: Target, host: str) -> None:
    async with await any_target.connect() as conn:
        response = await conn.request("POST", any_target.path, post_headers(), init_body(), host=host)
    assert_error(response, 421, INVALID_REQUEST, "Host", host, "allowed_hosts")
    assert await any_target.app.store.count() == 0


async def test_allowed_hosts_config(start: Start) -> None:
    target = await start(allowed_hosts=["mcp.example.com"])
    async with await target.connect() as conn:
        ok = await conn.request(
            "POST", target.path, post_headers(accept=JSON), rpc("ping"), host="mcp.example.com"
        )
        assert ok.status == 200
        local = await conn.request("POST", target.path, post_headers(accept=JSON), rpc("ping"))
        assert_error(local, 421, INVALID_REQUEST, "Host")


async def test_body_over_max_body_size_is_413(any_start: Start) -> None:
    target = await any_start(max_body_size=1024)
    session_id = await initialize(target)
    # Exactly at the limit is fine.
    exact = rpc("ping", id=1)
    exact += b" " * (1024 - len(exact))
    response = await target.request("POST", post_headers(session_id), exact)
    assert response.status == 200
    # Over it, announced by Content-Length.
    over = rpc("ping", {"pad": "x" * 1100}, id=2)
    response = await target.request("POST", post_headers(session_id), over)
    assert_error(response, 413, INVALID_REQUEST, "Payload Too Large", "1024 bytes")
    # Over it, chunked with no Content-Length: the app counts while reading.
    response = await target.request("POST", post_headers(session_id), None, chunks=[over[:600], over[600:]])
    assert_error(response, 413, INVALID_REQUEST, "Payload Too Large", "1024 bytes")
    # Chunked within the limit works.
    response = await target.request("POST", post_headers(session_id), None, chunks=[exact[:10], exact[10:]])
    assert response.status == 200
    await tools_list_ok(target, session_id)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", None]
)
async def test_wrong_content_type_is_415(target: Target, content_type: str | None) -> None:
    headers: list[tuple[str | bytes, str | bytes]] = [("accept", ACCEPT_BOTH)]
    if content_type is not None:
        headers.append(("content-type", content_type))
    response = await target.request("POST", headers, init_body())
    assert_error(response, 415, INVALID_REQUEST, "Unsupported Media Type", "application/json")


async def test_json_content_type_with_charset_is_accepted(target: Target) -> None:
    headers = post_headers(accept=JSON, content_type="Application/JSON; charset=utf-8")
    response = await target.request("POST", headers, rpc("ping"))
    assert response.status == 200


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
async def test_unknown_session_is_404(any_target: Target, method: str) -> None:
    unknown = secrets.token_urlsafe(24)
    if method == "POST":
        response = await any_target.request("POST", post_headers(unknown), rpc("tools/list"))
    else:
        response = await any_target.request(method, get_headers(unknown), None)
    assert_error(response, 404, SESSION_NOT_FOUND, "Session not found", "initialize")


async def test_missing_session_id_is_400(any_target: Target) -> None:
    await initialize(any_target)
    # A non-initialize request from a client that accepts SSE must carry the session id.
    response = await any_target.request("POST", post_headers(), rpc("tools/list"))
    assert_error(response, 400, INVALID_REQUEST, "missing Mcp-Session-Id", "initialize")
    response = await any_target.request("POST", post_headers(), note("notifications/initialized"))
    assert_error(response, 400, INVALID_REQUEST, "missing Mcp-Session-Id")
    for method in ("GET", "DELETE"):
        response = await any_target.request(method, get_headers(None), None)
        assert_error(response, 400, INVALID_REQUEST, "missing Mcp-Session-Id")


async def test_session_cap_is_503(any_start: Start) -> None:
    target = await any_start(max_sessions=2)
    first = await initialize(target)
    await initialize(target, initialized=False)
    response = await target.request("POST", post_headers(), init_body())
    assert_error(response, 503, INTERNAL_ERROR, "Service Unavailable", "maximum of 2 sessions", "DELETE")
    assert response.header("mcp-session-id") is None
    # Existing sessions still work; ending one makes room.
    await tools_list_ok(target, first)
    assert (await target.request("DELETE", get_headers(first), None)).status == 200
    await initialize(target)


@pytest.mark.parametrize("accept", ["application/json", "text/html", None])
async def test_get_without_event_stream_accept_is_406(any_target: Target, accept: str | None) -> None:
    session_id = await initialize(any_target)
    headers: list[tuple[str | bytes, str | bytes]] = [("mcp-session-id", session_id)]
    if accept is not None:
        headers.append(("accept", accept))
    if accept is None:
        # No Accept means "anything" (RFC 9110 §12.5.1): the stream opens.
        async with await any_target.connect() as conn:
            await conn.send("GET", any_target.path, headers, None)
            head = await conn.read_head()
        assert head.status == 200
        assert head.content_type == "text/event-stream"
        return
    response = await any_target.request("GET", headers, None)
    assert_error(response, 406, INVALID_REQUEST, "Not Acceptable", "text/event-stream")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "HEAD"])
async def test_other_methods_are_405(any_target: Target, method: str) -> None:
    session_id = await initialize(any_target)
    response = await any_target.request(method, post_headers(session_id), None if method == "HEAD" else b"{}")
    assert response.status == 405
    assert response.header("allow") == "GET, POST, DELETE"
    if method != "HEAD":
        assert_error(response, 405, INVALID_REQUEST, "Method Not Allowed", method)


async def test_initialize_with_session_id_is_400(any_target: Target) -> None:
    session_id = await initialize(any_target)
    response = await any_target.request("POST", post_headers(session_id), init_body())
    assert_error(response, 400, INVALID_REQUEST, "initialize", "without an Mcp-Session-Id")
    assert response.header("mcp-session-id") is None
    assert await any_target.app.store.count() == 1
    await tools_list_ok(any_target, session_id)


@pytest.mark.parametrize("version", ["2025-03-26", "2025-11-25"])
async def test_initialize_in_a_batch_is_400(any_target: Target, version: str) -> None:
    body = b"[" + init_body(version) + b"," + rpc("ping", id=2) + b"]"
    response = await any_target.request("POST", post_headers(), body)
    assert_error(response, 400, INVALID_REQUEST, "initialize", "batch")
    assert response.header("mcp-session-id") is None
    assert await any_target.app.store.count() == 0


@pytest.mark.parametrize("accept", [ACCEPT_BOTH, "text/event-stream"])
async def test_a_refused_initialize_hands_out_no_session_id(any_target: Target, accept: str) -> None:
    # capabilities.sampling must be an object: -32602, and no Mcp-Session-Id the client would 404 on next.
    body = init_body(capabilities={"sampling": 5})
    response = await any_target.request("POST", post_headers(accept=accept), body)
    assert response.status == 200, response.body
    assert response.header("mcp-session-id") is None
    message = body_message(response)
    assert message["error"]["code"] == -32602, message
    assert await any_target.app.store.count() == 0


# ===== SSE framing =====


async def test_post_sse_progress_framing(any_target: Target) -> None:
    session_id = await initialize(any_target, "2025-11-25")
    body = rpc(
        "tools/call",
        {"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "tok-1"}},
        id=11,
    )
    async with await any_target.connect() as conn:
        await conn.send("POST", any_target.path, post_headers(session_id, version="2025-11-25"), body)
        head = await conn.read_head()
        assert head.status == 200
        assert head.content_type == "text/event-stream"
        assert head.header("cache-control") == "no-cache, no-transform"
        assert head.header("mcp-session-id") is None  # only the initialize response carries it
        events = await conn.read_events()  # returns once the server ended the stream
        # The connection stays usable after the stream ended (the chunked body was terminated).
        assert conn.reusable
        again = await conn.request("POST", any_target.path, post_headers(session_id), rpc("ping", id=12))
        assert body_message(again)["id"] == 12

    # T§Sending.6: a priming event (an id and empty data) first.
    assert events[0].id is not None
    assert events[0].data == ""
    messages = [json.loads(e.data) for e in events[1:]]
    assert all(e.data for e in events[1:])
    progress = [m for m in messages if m.get("method") == "notifications/progress"]
    assert [p["params"]["progress"] for p in progress] == [0, 50, 100]
    assert all(p["params"]["progressToken"] == "tok-1" and p["params"]["total"] == 100 for p in progress)
    assert "id" not in progress[0]
    # Then the response, last.
    assert messages[-1] == {
        "jsonrpc": "2.0",
        "id": 11,
        "result": {"content": [{"type": "text", "text": "tok-1"}]},
    }
    assert len(messages) == len(progress) + 1
    # Event ids: every event has one, of the form <stream>:<seq>, one stream, unique, increasing.
    ids = [e.id for e in events]
    assert all(i is not None for i in ids)
    parsed = [EVENT_ID.match(i or "") for i in ids]
    assert all(parsed), ids
    assert len({m.group(1) for m in parsed if m}) == 1
    seqs = [int(m.group(2)) for m in parsed if m]
    assert seqs == sorted(set(seqs))


async def test_no_priming_event_before_2025_11_25(any_target: Target) -> None:
    # The priming event is new in 2025-11-25; an older session gets the messages only.
    session_id = await initialize(any_target, "2025-06-18")
    body = rpc("tools/call", {"name": "test_tool_with_progress", "_meta": {"progressToken": 5}}, id=1)
    response = await any_target.request("POST", post_headers(session_id, version="2025-06-18"), body)
    assert response.content_type == "text/event-stream"
    events = response.events()
    assert all(e.data for e in events)
    messages = [json.loads(e.data) for e in events]
    assert [m.get("method") for m in messages[:-1]] == ["notifications/progress"] * 3
    assert messages[-1]["id"] == 1
    assert messages[-1]["result"]["content"][0]["text"] == "5"


async def test_logs_go_on_the_post_stream_after_set_level(any_target: Target) -> None:
    session_id = await initialize(any_target)
    response = await any_target.request(
        "POST", post_headers(session_id), rpc("logging/setLevel", {"level": "info"})
    )
    assert body_message(response) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    body = rpc("tools/call", {"name": "test_tool_with_logging", "arguments": {}}, id=2)
    response = await any_target.request("POST", post_headers(session_id), body)
    assert response.content_type == "text/event-stream"
    messages = [json.loads(e.data) for e in response.events() if e.data]
    logs = [m for m in messages if m.get("method") == "notifications/message"]
    assert [m["params"]["level"] for m in logs] == ["info"] * 3
    assert [m["params"]["data"] for m in logs] == [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ]
    assert messages[-1]["id"] == 2
    assert messages[-1]["result"]["content"][0]["text"] == "Tool with logging executed successfully"
    # Above the level, nothing is sent.
    await any_target.request(
        "POST", post_headers(session_id), rpc("logging/setLevel", {"level": "error"}, id=3)
    )
    response = await any_target.request(
        "POST", post_headers(session_id), rpc("tools/call", {"name": "test_tool_with_logging"}, id=4)
    )
    messages = [json.loads(e.data) for e in response.events() if e.data]
    assert [m.get("id") for m in messages] == [4]


async def test_event_ids_are_unique_across_the_streams_of_a_session(any_target: Target) -> None:
    session_id = await initialize(any_target)
    all_ids: list[str] = []
    conn, head = await open_get(any_target, session_id)
    async with conn:
        assert head.status == 200

        async def call(n: int) -> None:
            body = rpc("tools/call", {"name": "test_tool_with_progress", "_meta": {"progressToken": n}}, id=n)
            response = await any_target.request("POST", post_headers(session_id), body)
            all_ids.extend(e.id for e in response.events() if e.id is not None)

        async with trio.open_nursery() as nursery:
            for n in range(3):
                nursery.start_soon(call, n)
        await server.send_tools_list_changed()
        with trio.fail_after(2):
            event = await conn.next_data_event()
        assert event is not None
        assert event.id is not None
        assert json.loads(event.data)["method"] == "notifications/tools/list_changed"
        all_ids.append(event.id)
    assert len(all_ids) == 3 * 5 + 1
    assert len(set(all_ids)) == len(all_ids)
    streams = {i.split(":")[0] for i in all_ids}
    assert len(streams) == 4  # three POST streams and the GET stream, each its own prefix


async def test_keepalive_comments_on_an_open_get_stream(any_start: Start) -> None:
    target = await any_start(keepalive_interval=0.2)
    session_id = await initialize(target)
    conn, head = await open_get(target, session_id)
    async with conn:
        assert head.status == 200
        assert head.content_type == "text/event-stream"
        raw = b""
        with trio.fail_after(3):
            while raw.count(b": keepalive\n\n") < 3:
                chunk = await conn.next_chunk()
                assert chunk is not None, "the GET stream ended"
                raw += chunk
        # Nothing else but comments, after the priming event (T§Sending.6: an id and empty data).
        assert re.fullmatch(rb"id: g[0-9a-f]+:1\ndata: \n\n", raw.replace(b": keepalive\n\n", b""))


# ===== 202, DELETE =====


async def test_notifications_and_responses_get_202_with_empty_body(any_target: Target) -> None:
    session_id = await initialize(any_target, initialized=False)
    for body in (
        note("notifications/initialized"),
        b'{"jsonrpc":"2.0","id":"srv-1","result":{}}',
        b'{"jsonrpc":"2.0","id":"srv-2","error":{"code":-1,"message":"User rejected"}}',
        note("notifications/cancelled", {"requestId": 99, "reason": "gone"}),
        note("notifications/roots/list_changed"),
    ):
        response = await any_target.request("POST", post_headers(session_id), body)
        assert response.status == 202, (body, response.status, response.body)
        assert response.body == b""
        assert response.content_type != "text/event-stream"
    await tools_list_ok(any_target, session_id)


async def test_delete_then_404_for_post_get_delete(any_target: Target) -> None:
    session_id = await initialize(any_target)
    other = await initialize(any_target)
    response = await any_target.request("DELETE", [("mcp-session-id", session_id)], None)
    assert response.status == 200
    assert_no_traceback(response)
    response = await any_target.request("POST", post_headers(session_id), rpc("tools/list"))
    assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")
    response = await any_target.request("POST", post_headers(session_id), note("notifications/initialized"))
    assert_error(response, 404, SESSION_NOT_FOUND)
    response = await any_target.request("GET", get_headers(session_id), None)
    assert_error(response, 404, SESSION_NOT_FOUND)
    response = await any_target.request("DELETE", [("mcp-session-id", session_id)], None)
    assert_error(response, 404, SESSION_NOT_FOUND)
    await tools_list_ok(any_target, other)


async def test_delete_closes_an_open_get_stream(any_target: Target) -> None:
    session_id = await initialize(any_target)
    conn, head = await open_get(any_target, session_id)
    async with conn:
        assert head.status == 200
        assert (await any_target.request("DELETE", [("mcp-session-id", session_id)], None)).status == 200
        with trio.fail_after(2):
            await conn.read_events()  # ends
    with trio.fail_after(2):
        while any_target.app._sessions.live:  # the stream's task unwinds right after its last byte
            await trio.sleep(0.01)


# ===== stateless =====


async def test_stateless_request_gets_json_and_no_session(any_target: Target) -> None:
    response = await any_target.request("POST", post_headers(accept=JSON), rpc("tools/list", id="s1"))
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.header("mcp-session-id") is None
    assert response.json()["id"] == "s1"
    assert response.json()["result"]["tools"]
    # initialize too: answered, but no session is created.
    response = await any_target.request("POST", post_headers(accept=JSON), init_body())
    assert response.status == 200
    assert response.header("mcp-session-id") is None
    assert response.json()["result"]["serverInfo"]["name"] == "trio-mcp-everything"
    assert await any_target.app.store.count() == 0


async def test_stateless_elicitation_is_an_error_result(target: Target) -> None:
    body = rpc("tools/call", {"name": "test_elicitation", "arguments": {"message": "who are you?"}}, id=3)
    response = await target.request("POST", post_headers(accept=JSON), body)
    assert response.status == 200
    message = response.json()
    assert message["id"] == 3
    result = message["result"]
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "connected statelessly" in text
    assert "elicitation" in text


async def test_stateless_config_refuses_get_and_delete(start: Start) -> None:
    target = await start(stateless=True)
    for method in ("GET", "DELETE"):
        response = await target.request(method, get_headers("whatever"), None)
        assert_error(response, 405, INVALID_REQUEST, "Method Not Allowed", "stateless")
        assert response.header("allow") == "POST"
    # Even a client that accepts SSE is served statelessly: JSON, no session.
    response = await target.request("POST", post_headers(), init_body())
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.header("mcp-session-id") is None
    response = await target.request("POST", post_headers(), rpc("tools/list"))
    assert response.status == 200
    assert response.json()["result"]["tools"]


# ===== GET stream =====


async def test_new_get_supersedes_the_previous_stream(any_target: Target) -> None:
    session_id = await initialize(any_target)
    first, head1 = await open_get(any_target, session_id)
    async with first:
        assert head1.status == 200
        second, head2 = await open_get(any_target, session_id)
        async with second:
            assert head2.status == 200
            with trio.fail_after(2):
                events = await first.read_events()  # the first stream ends...
            assert any(e.retry is not None and e.retry > 0 for e in events)  # ...after a retry: field
            assert not [e for e in events if e.data]
            await server.send_tools_list_changed()
            with trio.fail_after(2):
                event = await second.next_data_event()
            assert event is not None
            assert json.loads(event.data) == {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
            assert event.id is not None
            assert EVENT_ID.match(event.id)
            # The second stream stays open.
            with trio.move_on_after(0.2) as idle:
                await second.next_data_event()
            assert idle.cancelled_caught


# ===== expiry =====

# The memory store expires records on the trio clock (the real clock here), the Redis store by real time (key
# TTLs kept by Redis). So these tests use short timeouts and wait on the store itself -- `has()` neither
# touches nor refreshes a record -- under a generous deadline, rather than sleeping a fixed time and hoping.
EXPIRY_DEADLINE = 10.0


async def wait_until_expired(target: Target, session_id: str) -> None:
    with trio.fail_after(EXPIRY_DEADLINE):
        while await target.app.store.has(session_id):
            await trio.sleep(0.02)


async def test_pending_session_expires(any_start: Start) -> None:
    target = await any_start(pending_timeout=0.5)
    active = await initialize(target)
    session_id = await initialize(target, initialized=False)
    response = await target.request("POST", post_headers(session_id), rpc("ping"))
    assert response.status == 200
    await wait_until_expired(target, session_id)
    response = await target.request("POST", post_headers(session_id), note("notifications/initialized"))
    assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")
    # An initialized session is not bound by the pending timeout: `active` became active before the pending
    # one was even created, and outlived it.
    await tools_list_ok(target, active)


async def test_idle_session_expires(any_start: Start) -> None:
    target = await any_start(idle_timeout=0.5)
    session_id = await initialize(target)
    await tools_list_ok(target, session_id)
    await wait_until_expired(target, session_id)
    response = await target.request("POST", post_headers(session_id), rpc("tools/list"))
    assert_error(response, 404, SESSION_NOT_FOUND)
    response = await target.request("GET", get_headers(session_id), None)
    assert_error(response, 404, SESSION_NOT_FOUND)


async def test_activity_and_open_streams_keep_a_session_alive(any_start: Start) -> None:
    idle = 1.0  # each step below is 0.1 s: a loaded machine has 0.9 s of slack before a false expiry
    target = await any_start(idle_timeout=idle, heartbeat_interval=0.05)
    session_id = await initialize(target)
    # Requests more often than the idle timeout keep it alive (touches flushed by the heartbeat) for well over
    # the idle timeout.
    with trio.fail_after(EXPIRY_DEADLINE):
        until = trio.current_time() + 2.5 * idle
        while trio.current_time() < until:
            await trio.sleep(0.1)
            await tools_list_ok(target, session_id)
    # So does an open GET stream, with no request at all.
    conn, head = await open_get(target, session_id)
    async with conn:
        assert head.status == 200
        until = trio.current_time() + 2.5 * idle
        while trio.current_time() < until:
            assert await target.app.store.has(session_id)
            await trio.sleep(0.05)
    await tools_list_ok(target, session_id)
    # Once the stream is closed and no request comes, it expires.
    await wait_until_expired(target, session_id)
    response = await target.request("POST", post_headers(session_id), rpc("tools/list"))
    assert_error(response, 404, SESSION_NOT_FOUND)


# ===== batches and versions =====


def batch(*messages: bytes) -> bytes:
    return b"[" + b",".join(messages) + b"]"


@pytest.mark.parametrize("accept", [ACCEPT_BOTH, JSON])
async def test_batches_accepted_on_2025_03_26(any_target: Target, accept: str) -> None:
    session_id = await initialize(any_target, "2025-03-26")
    body = batch(rpc("ping", id=1), rpc("tools/list", id=2), note("notifications/roots/list_changed"))
    response = await any_target.request(
        "POST", post_headers(session_id, accept=accept, version="2025-03-26"), body
    )
    assert response.status == 200
    if response.content_type == "text/event-stream":
        messages = [json.loads(e.data) for e in response.events() if e.data]
    else:
        messages = response.json()
        assert isinstance(messages, list)
    by_id = {m["id"]: m for m in messages}
    assert sorted(by_id) == [1, 2]
    assert by_id[1]["result"] == {}
    assert by_id[2]["result"]["tools"]
    # A batch of notifications only is accepted with 202.
    response = await any_target.request(
        "POST", post_headers(session_id), batch(note("notifications/roots/list_changed"))
    )
    assert response.status == 202
    assert response.body == b""
    # A bad item gets its own error, the good ones their answers.
    body = batch(rpc("ping", id=5), b'{"jsonrpc":"2.0","id":6}', b"42")
    response = await any_target.request("POST", post_headers(session_id, accept=JSON), body)
    assert response.status == 200
    messages = response.json()
    assert len(messages) == 3  # JSON-RPC 2.0 §6: answers may come in any order
    assert {"jsonrpc": "2.0", "id": 5, "result": {}} in messages
    errors = sorted((m for m in messages if "error" in m), key=lambda m: m["id"] is None)
    assert [m["id"] for m in errors] == [6, None]
    assert all(m["error"]["code"] == INVALID_REQUEST for m in errors)


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18"])
@pytest.mark.parametrize("accept", [ACCEPT_BOTH, JSON])
async def test_batches_rejected_after_2025_03_26(any_target: Target, version: str, accept: str) -> None:
    session_id = await initialize(any_target, version)
    body = batch(rpc("ping", id=1), rpc("tools/list", id=2))
    response = await any_target.request(
        "POST", post_headers(session_id, accept=accept, version=version), body
    )
    assert_error(response, 400, INVALID_REQUEST, "batch", version)
    await tools_list_ok(any_target, session_id)


async def test_stateless_batch_follows_the_header_version(target: Target) -> None:
    body = batch(rpc("ping", id=1), rpc("ping", id=2))
    response = await target.request("POST", post_headers(accept=JSON, version="2025-11-25"), body)
    assert_error(response, 400, INVALID_REQUEST, "batch")
    # No header: assume 2025-03-26 (T§Protocol Version Header), where batches exist.
    response = await target.request("POST", post_headers(accept=JSON), body)
    assert response.status == 200
    assert [m["id"] for m in response.json()] == [1, 2]


async def test_a_2026_07_28_request_is_served_without_a_session(any_target: Target) -> None:
    """The other era on the same endpoint (SEP-2575; tests/transport/test_modern_http.py has the rest): no
    initialize, no Mcp-Session-Id, nothing stored. Without the mirrored Mcp-Method header it is -32020."""
    params = {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    }
    modern = [*post_headers(version="2026-07-28")]
    response = await any_target.request("POST", modern, rpc("tools/list", params, id=3))
    assert_error(response, 400, -32020, "Mcp-Method")
    response = await any_target.request(
        "POST", [*modern, ("mcp-method", "tools/list")], rpc("tools/list", params)
    )
    assert response.status == 200, response.body
    assert response.header("mcp-session-id") is None
    result = body_message(response)["result"]
    assert result["resultType"] == "complete"
    assert {"ttlMs", "cacheScope", "tools"} <= set(result)
    assert await any_target.app.store.count() == 0


async def test_a_2026_07_28_header_without_the_eras_meta_is_400(target: Target) -> None:
    for accept in (ACCEPT_BOTH, JSON):
        response = await target.request(
            "POST", post_headers(accept=accept, version="2026-07-28"), rpc("tools/list", id=9)
        )
        assert_error(response, 400, INVALID_PARAMS, "_meta", "io.modelcontextprotocol/clientCapabilities")
        assert body_message(response)["id"] == 9


# ===== shutdown =====


async def test_shutdown_with_open_streams_and_requests_in_flight(backend_config: BackendConfig) -> None:
    app = server.asgi_app(**backend_config(), keepalive_interval=0.1)
    async with trio.open_nursery() as nursery:
        target = await start_app(nursery, app)
        session_id = await initialize(target)
        conn, head = await open_get(target, session_id)
        assert head.status == 200
        post = await target.connect()
        await post.send(
            "POST", target.path, post_headers(session_id), rpc("tools/call", {"name": "test_reconnection"})
        )
        assert (await post.read_head()).status == 200
        await trio.sleep(0.1)
        assert session_id in app._sessions.live
        nursery.cancel_scope.cancel()
    # Everything the app ran is gone: lifespan closed, no live session copies, no hub left on the server.
    assert app._sessions.live == {}
    assert app.hub not in server._hubs
    await conn.aclose()
    await post.aclose()


async def test_notification_right_after_get_headers_is_delivered(any_target: Target) -> None:
    # The stream subscribes before it sends its 200: whatever is published once the client saw the headers
    # reaches it (no window where a GET is open but deaf).
    session_id = await initialize(any_target)
    for _ in range(5):
        conn, head = await open_get(any_target, session_id)
        async with conn:
            assert head.status == 200
            await server.send_tools_list_changed()
            with trio.fail_after(2):
                event = await conn.next_data_event()
            assert event is not None
            assert json.loads(event.data)["method"] == "notifications/tools/list_changed"


async def test_session_ids_are_unique_visible_ascii(any_target: Target) -> None:
    # T§Session Management: globally unique, cryptographically secure, only visible ASCII 0x21-0x7E.
    ids = [await initialize(any_target, initialized=False) for _ in range(20)]
    assert len(set(ids)) == 20
    for session_id in ids:
        assert len(session_id) >= 16
        assert all(0x21 <= ord(c) <= 0x7E for c in session_id), session_id


async def test_json_answers_inside_a_session(any_start: Start) -> None:
    target = await any_start()
    session_id = await initialize(target)
    body = rpc("tools/call", {"name": "test_tool_with_progress", "_meta": {"progressToken": "j"}}, id=4)
    # A client of the session that asks for JSON only gets one JSON object.
    response = await target.request("POST", post_headers(session_id, accept=JSON), body)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 4,
        "result": {"content": [{"type": "text", "text": "j"}]},
    }
    # json_response=True answers JSON even to clients accepting SSE.
    target = await any_start(json_response=True)
    session_id = await initialize(target)
    response = await target.request("POST", post_headers(session_id), body)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.json()["result"]["content"][0]["text"] == "j"
