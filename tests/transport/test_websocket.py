"""The WebSocket transport end to end (trio_mcp/_transport/websocket.py, ws_connection.py, ws_socket.py):
a real hypercorn, trio-websocket as the client (a hand-driven wsproto client for a client that stops reading).

One JSON-RPC message per text frame, subprotocol `mcp`; the session is the app's, shared with Streamable HTTP.
Every refusal is a close code after the accept (trio_mcp/_proto/websocket.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import trio
import trio.lowlevel
import wsproto
import wsproto.events as wse
from _rawhttp import Target, body_message, post_headers, rpc, start_app
from _ws import open_ws as open_url
from _ws import rejected_upgrade
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
)
from wsproto.utilities import RemoteProtocolError as WsProtocolError

from examples.cluster import server as cluster_server
from examples.everything import WATCHED_RESOURCE_URI, server
from trio_mcp._proto.websocket import Close
from trio_mcp._streams.memory import MemoryStreamManager
from trio_mcp._transport.http import McpASGIApp

Start = Callable[..., Awaitable[Target]]
Json = dict[str, Any]

VERSION = "2025-11-25"
WAIT = 20.0
SIMPLE_TEXT = "This is a simple text response for testing."
SIMPLE_CALL: Json = {"name": "test_simple_text", "arguments": {}}


# -- helpers --


def ws_url(target: Target, path: str = "/mcp") -> str:
    return f"ws://{target.host}:{target.port}{path}"


@asynccontextmanager
async def open_ws(
    target: Target,
    session_id: str | None = None,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    subprotocols: Sequence[str] = ("mcp",),
    path: str = "/mcp",
) -> AsyncGenerator[WebSocketConnection]:
    """A client connection (resuming `session_id` if given)."""
    extra = [] if session_id is None else [(b"mcp-session-id", session_id.encode())]
    async with open_url(ws_url(target, path), subprotocols, [*extra, *headers]) as ws:
        yield ws


def app_of(target: Target) -> McpASGIApp:
    assert isinstance(target.app, McpASGIApp)
    return target.app


def request(id: Any, method: str, params: Json | None = None) -> Json:
    message: Json = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: Json | None = None) -> Json:
    message: Json = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def initialize_params(capabilities: Json | None = None) -> Json:
    return {
        "protocolVersion": VERSION,
        "capabilities": capabilities or {},
        "clientInfo": {"name": "ws-test", "version": "0"},
    }


async def send(ws: WebSocketConnection, message: Json | list[Json]) -> None:
    await ws.send_message(json.dumps(message))


async def receive(ws: WebSocketConnection) -> Json:
    data = await ws.get_message()
    assert isinstance(data, str), f"a binary frame from the server: {data!r}"
    return cast(Json, json.loads(data))


async def init_result(ws: WebSocketConnection, capabilities: Json | None = None) -> tuple[str, Json]:
    """initialize + notifications/initialized; the session id (from the accept response) and the result."""
    await send(ws, request(0, "initialize", initialize_params(capabilities)))
    reply = await receive(ws)
    assert reply.get("id") == 0, reply
    assert "result" in reply, reply
    assert reply["result"]["protocolVersion"] == VERSION, reply
    await send(ws, notification("notifications/initialized"))
    session_id = dict(ws.handshake_headers).get(b"mcp-session-id")
    assert session_id, ws.handshake_headers
    return session_id.decode(), reply["result"]


async def init(ws: WebSocketConnection, capabilities: Json | None = None) -> str:
    session_id, _ = await init_result(ws, capabilities)
    return session_id


async def call(
    ws: WebSocketConnection,
    id: Any,
    method: str,
    params: Json | None = None,
    *,
    others: list[Json] | None = None,
) -> Json:
    """Send a request and read until its response (returned); what else arrives goes to `others`. The server's
    keep-alive pings are answered (and kept in `others` too)."""
    await send(ws, request(id, method, params))
    while True:
        message = await receive(ws)
        if message.get("id") == id and "method" not in message:
            return message
        if others is not None:
            others.append(message)
        if message.get("method") == "ping" and "id" in message:
            await send(ws, {"jsonrpc": "2.0", "id": message["id"], "result": {}})


def result_of(reply: Json) -> Json:
    assert "result" in reply, reply
    return cast(Json, reply["result"])


def text_of(reply: Json) -> str:
    result = result_of(reply)
    assert not result.get("isError"), result
    content = cast(list[Json], result["content"])
    assert content, result
    assert content[0]["type"] == "text", result
    return cast(str, content[0]["text"])


async def read_until_closed(ws: WebSocketConnection) -> tuple[list[Json], int, str]:
    """Read messages until the server closes the socket: the messages, its close code and reason."""
    messages: list[Json] = []
    while True:
        try:
            messages.append(await receive(ws))
        except ConnectionClosed as exc:
            reason = exc.reason
            break
    assert reason is not None
    return messages, reason.code, reason.reason or ""


async def closed_with(ws: WebSocketConnection) -> tuple[int, str]:
    """Read (and drop) messages until the server closes the socket: its close code and reason."""
    _, code, reason = await read_until_closed(ws)
    return code, reason


async def next_with_method(ws: WebSocketConnection, method: str, seen: list[Json] | None = None) -> Json:
    """The next message with `method`; those before it go to `seen`."""
    while True:
        message = await receive(ws)
        if message.get("method") == method:
            return message
        if seen is not None:
            seen.append(message)


async def assert_healthy(target: Target) -> None:
    """A new connection initializes and calls a tool."""
    with trio.fail_after(10):
        async with open_ws(target) as ws:
            await init(ws)
            assert text_of(await call(ws, "health", "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    with trio.move_on_after(timeout):
        while not condition():
            await trio.sleep(0.01)
        return
    raise AssertionError(f"{what} within {timeout:g} s")


def live_ids(target: Target) -> set[str]:
    return set(app_of(target)._sessions.live)


def in_flight(target: Target, session_id: str) -> list[Any]:
    live = app_of(target)._sessions.live.get(session_id)
    return [] if live is None else list(live.session.in_flight)


# -- 1. every basic method --


async def test_initialize_over_websocket_answers_with_the_servers_capabilities(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            assert ws.subprotocol == "mcp"
            session_id, result = await init_result(ws)
            assert result["serverInfo"] == {"name": "trio-mcp-everything", "version": "1.0.0"}
            capabilities = result["capabilities"]
            assert capabilities["tools"] == {"listChanged": True}
            assert capabilities["resources"] == {"subscribe": True, "listChanged": True}
            assert {"prompts", "logging", "completions"} <= set(capabilities)
            assert result["instructions"].startswith("Conformance fixture")
            # The accept response named the session, and the session now lives here.
            assert session_id in live_ids(target)


async def test_every_basic_method_over_websocket(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            assert result_of(await call(ws, 1, "ping")) == {}

            tools = {tool["name"] for tool in result_of(await call(ws, 2, "tools/list"))["tools"]}
            assert {"test_simple_text", "test_elicitation", "test_tool_with_progress"} <= tools
            assert text_of(await call(ws, 3, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT
            failed = result_of(await call(ws, 4, "tools/call", {"name": "test_error_handling"}))
            assert failed["isError"] is True

            resources = result_of(await call(ws, 5, "resources/list"))["resources"]
            assert "test://static-text" in {r["uri"] for r in resources}
            read = result_of(await call(ws, 6, "resources/read", {"uri": "test://static-text"}))
            assert read["contents"] == [
                {
                    "uri": "test://static-text",
                    "mimeType": "text/plain",
                    "text": "This is the content of the static text resource.",
                }
            ]
            templates = result_of(await call(ws, 7, "resources/templates/list"))["resourceTemplates"]
            assert "test://template/{id}/data" in {r["uriTemplate"] for r in templates}
            data = result_of(await call(ws, 8, "resources/read", {"uri": "test://template/42/data"}))
            assert json.loads(data["contents"][0]["text"])["id"] == "42"

            prompts = {p["name"] for p in result_of(await call(ws, 9, "prompts/list"))["prompts"]}
            assert {"test_simple_prompt", "test_prompt_with_arguments"} <= prompts
            prompt = result_of(
                await call(
                    ws,
                    10,
                    "prompts/get",
                    {"name": "test_prompt_with_arguments", "arguments": {"arg1": "a", "arg2": "b"}},
                )
            )
            assert prompt["messages"][0]["content"]["text"] == "Prompt with arguments: arg1='a', arg2='b'"

            completion = result_of(
                await call(
                    ws,
                    11,
                    "completion/complete",
                    {
                        "ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
                        "argument": {"name": "arg1", "value": "test"},
                    },
                )
            )
            assert completion["completion"]["values"] == ["testValue1", "testAlpha"]

            unknown = await call(ws, 12, "no/such/method")
            assert unknown["error"]["code"] == -32601, unknown


async def test_log_messages_follow_the_level_set_over_websocket(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            assert result_of(await call(ws, 1, "logging/setLevel", {"level": "error"})) == {}
            quiet: list[Json] = []
            reply = await call(ws, 2, "tools/call", {"name": "test_tool_with_logging"}, others=quiet)
            assert text_of(reply) == "Tool with logging executed successfully"
            assert [m for m in quiet if m.get("method") == "notifications/message"] == []

            assert result_of(await call(ws, 3, "logging/setLevel", {"level": "info"})) == {}
            others: list[Json] = []
            reply = await call(ws, 4, "tools/call", {"name": "test_tool_with_logging"}, others=others)
            assert text_of(reply) == "Tool with logging executed successfully"
            logs = [m["params"] for m in others if m.get("method") == "notifications/message"]
            assert [p["data"] for p in logs] == [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed",
            ], others
            assert {p["level"] for p in logs} == {"info"}


async def test_progress_notifications_arrive_on_the_websocket(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            others: list[Json] = []
            params: Json = {"name": "test_tool_with_progress", "_meta": {"progressToken": "tok-1"}}
            reply = await call(ws, 1, "tools/call", params, others=others)
            assert text_of(reply) == "tok-1"
            progress = [m["params"] for m in others if m.get("method") == "notifications/progress"]
            assert [p["progress"] for p in progress] == [0, 50, 100], others
            assert {p["progressToken"] for p in progress} == {"tok-1"}
            assert {p["total"] for p in progress} == {100}


# -- 2. bad frames leave the server healthy --


async def test_invalid_json_is_a_parse_error_and_the_connection_stays_open(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            await ws.send_message("{bad")
            reply = await receive(ws)
            assert reply["id"] is None, reply
            assert reply["error"]["code"] == -32700, reply
            assert text_of(await call(ws, 1, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT
        await assert_healthy(target)


async def test_deeply_nested_json_is_a_parse_error_and_the_connection_stays_open(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            await ws.send_message("[" * 100_000)
            reply = await receive(ws)
            assert reply["id"] is None, reply
            assert reply["error"]["code"] == -32700, reply
            await ws.send_message("[" * 50_000 + "]" * 50_000)  # well-formed, just as deep
            reply = await receive(ws)
            assert reply["id"] is None, reply
            assert reply["error"]["code"] == -32700, reply
            assert text_of(await call(ws, 1, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT
        await assert_healthy(target)


async def test_a_batch_is_refused_on_a_2025_11_25_session(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            await send(ws, [request(1, "ping"), request(2, "tools/list")])
            reply = await receive(ws)
            assert reply["id"] is None, reply
            assert reply["error"]["code"] == -32600, reply
            assert "batch" in reply["error"]["message"].lower(), reply
            # Neither request of the batch ran: the next message is the answer to the next request.
            assert text_of(await call(ws, 3, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT
        await assert_healthy(target)


async def test_a_request_before_initialize_is_refused_and_initialize_still_works(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            reply = await call(ws, 1, "tools/list")
            assert "error" in reply, reply
            assert "result" not in reply, reply
            await init(ws)
            assert text_of(await call(ws, 2, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT


async def test_a_binary_frame_closes_with_1003(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            await ws.send_message(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
            code, reason = await closed_with(ws)
            assert code == Close.UNSUPPORTED_DATA == 1003, reason
            assert "binary" in reason
        await assert_healthy(target)


async def test_a_message_over_max_body_size_closes_with_1009(start: Start) -> None:
    target = await start(max_body_size=2048)
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            # Just under the limit is served...
            fits = request(1, "tools/call", {**SIMPLE_CALL, "_meta": {"pad": ""}})
            fits["params"]["_meta"]["pad"] = "x" * (2000 - len(json.dumps(fits)))
            await send(ws, fits)
            assert text_of(await receive(ws)) == SIMPLE_TEXT
            # ... over it closes the connection.
            too_big = request(2, "tools/call", {**SIMPLE_CALL, "_meta": {"pad": "x" * 3000}})
            await send(ws, too_big)
            code, reason = await closed_with(ws)
            assert code == Close.TOO_BIG == 1009, reason
            assert "2048" in reason
        await assert_healthy(target)


async def test_a_multibyte_message_over_max_body_size_in_utf8_closes_with_1009(start: Start) -> None:
    """1500 characters, 4500 bytes of UTF-8: the limit is in bytes."""
    target = await start(max_body_size=2048)
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            await send(ws, request(1, "tools/call", {**SIMPLE_CALL, "_meta": {"pad": "€" * 1400}}))
            code, reason = await closed_with(ws)
            assert code == 1009, reason
        await assert_healthy(target)


async def test_no_subprotocol_closes_with_1002(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target, subprotocols=()) as ws:
            code, reason = await closed_with(ws)
            assert code == Close.PROTOCOL_ERROR == 1002, reason
            assert "'mcp'" in reason, reason
        async with open_ws(target, subprotocols=("graphql-ws",)) as ws:
            code, reason = await closed_with(ws)
            assert code == 1002, reason
            assert "mcp" in reason, reason
        await assert_healthy(target)


async def test_an_unsupported_protocol_version_header_closes_with_1002(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target, headers=[(b"mcp-protocol-version", b"1999-01-01")]) as ws:
            code, reason = await closed_with(ws)
            assert code == 1002, reason
            assert "1999-01-01" in reason, reason
        await assert_healthy(target)


async def test_a_disallowed_origin_closes_with_1008(start: Start) -> None:
    target = await start(allowed_origins=("https://good.example",))
    with trio.fail_after(WAIT):
        async with open_ws(target, headers=[(b"origin", b"https://evil.example")]) as ws:
            code, reason = await closed_with(ws)
            assert code == Close.POLICY == 1008, reason
            assert "evil.example" in reason, reason
        assert live_ids(target) == set()
        async with open_ws(target, headers=[(b"origin", b"https://good.example")]) as ws:
            await init(ws)
            assert text_of(await call(ws, 1, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT
        await assert_healthy(target)


async def test_a_disallowed_host_closes_with_1008(start: Start) -> None:
    target = await start(allowed_hosts=("mcp.example",))
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:  # Host: 127.0.0.1:<port>
            code, reason = await closed_with(ws)
            assert code == 1008, reason
            assert "Host" in reason, reason


async def test_an_unknown_session_id_closes_with_4404(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target, "no-such-session") as ws:
            assert ws.subprotocol == "mcp"
            assert b"mcp-session-id" not in dict(ws.handshake_headers)
            code, reason = await closed_with(ws)
            assert code == Close.SESSION_NOT_FOUND == 4404, reason
            assert "initialize" in reason
        await assert_healthy(target)


async def test_a_path_other_than_the_endpoint_is_rejected_in_the_handshake(target: Target) -> None:
    with trio.fail_after(WAIT):
        rejection = await rejected_upgrade(target.host, target.port, "/nope")
        assert isinstance(rejection, HandshakeError)
        assert rejection.status_code == 404, rejection
        await assert_healthy(target)


async def test_a_socket_that_never_initializes_is_closed_after_pending_timeout(start: Start) -> None:
    target = await start(pending_timeout=0.5)
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            began = trio.current_time()
            code, reason = await closed_with(ws)
            assert code == 4408, reason
            assert "initialize" in reason, reason
            assert 0.4 <= trio.current_time() - began < 5
        async with open_ws(target) as ws:  # one that initializes in time stays
            await init(ws)
            await trio.sleep(0.8)
            assert text_of(await call(ws, 1, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT


async def test_an_invalid_initialize_is_refused_and_leaves_no_session(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            session_id = dict(ws.handshake_headers)[b"mcp-session-id"].decode()
            reply = await call(ws, 0, "initialize", {"capabilities": {}})  # no protocolVersion, no clientInfo
            assert reply["error"]["code"] == -32602, reply
            assert "protocolVersion" in reply["error"]["message"], reply
            assert session_id not in live_ids(target)
            # The socket may still initialize properly.
            assert await init(ws) == session_id
            assert text_of(await call(ws, 1, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT
        await assert_healthy(target)


async def test_an_initialize_over_the_session_cap_closes_with_1013(start: Start) -> None:
    target = await start(max_sessions=1)
    with trio.fail_after(WAIT):
        async with open_ws(target) as first:
            await init(first)
            async with open_ws(target) as second:
                await send(second, request(0, "initialize", initialize_params()))
                messages, code, reason = await read_until_closed(second)
                assert messages == [], messages
                assert code == Close.TRY_AGAIN_LATER == 1013, reason
                assert "maximum" in reason, reason
            assert text_of(await call(first, 1, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT


# -- 3. sessions --


async def test_a_second_websocket_resumes_the_session_and_supersedes_the_first(any_start: Start) -> None:
    target = await any_start()
    with trio.fail_after(WAIT):
        async with open_ws(target) as first:
            session_id = await init(first)
            assert text_of(await call(first, 1, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT
            async with open_ws(target, session_id) as second:
                # Resumed: no new session id, no initialize.
                assert b"mcp-session-id" not in dict(second.handshake_headers)
                assert text_of(await call(second, 2, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT
                code, reason = await closed_with(first)
                assert code == Close.SUPERSEDED == 4409, reason
                # The newest connection keeps the session.
                assert result_of(await call(second, 3, "ping")) == {}
            # Closed by the client: the session lives on and can be resumed again.
            async with open_ws(target, session_id) as third:
                assert text_of(await call(third, 4, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT


async def test_a_get_stream_of_the_session_supersedes_its_websocket(any_start: Start) -> None:
    target = await any_start()
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            session_id = await init(ws)
            assert result_of(await call(ws, 1, "ping")) == {}
            async with await target.connect() as conn:
                headers: list[tuple[str | bytes, str | bytes]] = [
                    ("accept", "text/event-stream"),
                    ("mcp-session-id", session_id),
                    ("mcp-protocol-version", VERSION),
                ]
                await conn.send("GET", "/mcp", headers, None)
                head = await conn.read_head()
                assert head.status == 200, head
                code, reason = await closed_with(ws)
                assert code == 4409, reason


async def test_an_http_delete_of_the_session_closes_its_websocket_with_4404(any_start: Start) -> None:
    target = await any_start()
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            session_id = await init(ws)
            assert result_of(await call(ws, 1, "ping")) == {}
            deleted = await target.request(
                "DELETE", [("mcp-session-id", session_id), ("mcp-protocol-version", VERSION)], None
            )
            assert deleted.status in (200, 204), (deleted.status, deleted.body)
            code, reason = await closed_with(ws)
            assert code == Close.SESSION_NOT_FOUND == 4404, reason
        # Gone for every transport.
        async with open_ws(target, session_id) as ws:
            code, _ = await closed_with(ws)
            assert code == 4404
        response = await target.request(
            "POST", post_headers(session_id, version=VERSION), rpc("tools/call", SIMPLE_CALL)
        )
        assert response.status == 404, (response.status, response.body)
        await assert_healthy(target)


async def test_http_requests_in_the_websockets_session_share_its_state(any_start: Start) -> None:
    target = await any_start()
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            session_id = await init(ws)
            headers = post_headers(session_id, version=VERSION)
            response = await target.request("POST", headers, rpc("tools/call", SIMPLE_CALL, id=1))
            assert response.status == 200, (response.status, response.body)
            assert text_of(body_message(response)) == SIMPLE_TEXT
            # A subscription made over HTTP is the WebSocket's too: the session is one.
            response = await target.request(
                "POST", headers, rpc("resources/subscribe", {"uri": WATCHED_RESOURCE_URI}, id=2)
            )
            assert response.status == 200, response.body
            assert "result" in body_message(response), response.body
            await server.notify_resource_updated(WATCHED_RESOURCE_URI)
            update = await next_with_method(ws, "notifications/resources/updated")
            assert update["params"] == {"uri": WATCHED_RESOURCE_URI}
            # The WebSocket is still the session's connection.
            assert text_of(await call(ws, 3, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT


async def test_tools_list_changed_reaches_the_websocket(any_start: Start) -> None:
    target = await any_start()
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            assert result_of(await call(ws, 1, "ping")) == {}
            await server.send_tools_list_changed()
            message = await next_with_method(ws, "notifications/tools/list_changed")
            assert message.get("params") in (None, {}), message
            await server.send_prompts_list_changed()
            await next_with_method(ws, "notifications/prompts/list_changed")


async def test_a_resource_update_reaches_a_websocket_subscribed_over_websocket(any_start: Start) -> None:
    target = await any_start()
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            subscribed = await call(ws, 1, "resources/subscribe", {"uri": WATCHED_RESOURCE_URI})
            assert result_of(subscribed) == {}
            await server.notify_resource_updated("test://static-text")  # not subscribed: not sent
            await server.notify_resource_updated(WATCHED_RESOURCE_URI)
            update = await next_with_method(ws, "notifications/resources/updated")
            assert update["params"] == {"uri": WATCHED_RESOURCE_URI}


# -- 4. keep-alive --


async def test_a_client_that_answers_keepalive_pings_stays_connected(start: Start) -> None:
    target = await start(websocket_ping_interval=0.3, websocket_ping_timeout=0.5)
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            pings: list[Json] = []
            with trio.move_on_after(2.0):
                while True:
                    message = await receive(ws)
                    assert message.get("method") == "ping", message
                    pings.append(message)
                    await send(ws, {"jsonrpc": "2.0", "id": message["id"], "result": {}})
            assert ws.closed is None, ws.closed
            # About one ping every 0.3 s of silence (each answer is the client speaking).
            assert len(pings) >= 3, pings
            assert len({json.dumps(p["id"]) for p in pings}) == len(pings), pings
            assert text_of(await call(ws, 1, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT


async def test_a_client_that_never_answers_pings_is_closed_with_4408(start: Start) -> None:
    target = await start(websocket_ping_interval=0.3, websocket_ping_timeout=0.5)
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            session_id = await init(ws)
            began = trio.current_time()
            messages, code, reason = await read_until_closed(ws)
            elapsed = trio.current_time() - began
            pings = [m for m in messages if m.get("method") == "ping"]
            assert code == Close.PING_TIMEOUT == 4408, reason
            assert "ping" in reason, reason
            assert len(pings) == 1, pings
            assert 0.7 <= elapsed < 5, elapsed
        # The session outlives its connection.
        async with open_ws(target, session_id) as ws:
            assert text_of(await call(ws, 1, "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT


# -- 5. server-to-client requests --


async def test_elicitation_over_websocket(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws, {"elicitation": {}})
            await send(
                ws, request(1, "tools/call", {"name": "test_elicitation", "arguments": {"message": "Who?"}})
            )
            ask = await next_with_method(ws, "elicitation/create")
            assert "id" in ask, ask
            assert ask["params"]["message"] == "Who?"
            assert set(ask["params"]["requestedSchema"]["required"]) == {"username", "email"}
            content = {"username": "u", "email": "e@x.org"}
            await send(
                ws, {"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "accept", "content": content}}
            )
            while (reply := await receive(ws)).get("id") != 1:
                pass
            assert (
                text_of(reply) == 'User response: action=accept, content={"username":"u","email":"e@x.org"}'
            )


# -- 6. drain --


async def test_a_drain_closes_an_idle_websocket_with_1012_and_refuses_new_ones(start: Start) -> None:
    target = await start(drain_notice=0)
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            session_id = await init(ws)
            assert result_of(await call(ws, 1, "ping")) == {}
            await app_of(target).drain()
            code, reason = await closed_with(ws)
            assert code == Close.SERVICE_RESTART == 1012, reason
            assert "Mcp-Session-Id" in reason, reason
        assert app_of(target).draining
        async with open_ws(target) as ws:
            code, _ = await closed_with(ws)
            assert code == 1012
        async with open_ws(target, session_id) as ws:
            code, _ = await closed_with(ws)
            assert code == 1012


async def test_a_drain_lets_a_running_websocket_request_answer_before_closing(nursery: trio.Nursery) -> None:
    target = await start_app(nursery, cluster_server.asgi_app(drain_notice=0))
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            await init(ws)
            count = {"name": "count_slowly", "arguments": {"n": 6, "interval_ms": 100}}
            await send(ws, request(1, "tools/call", count))
            await next_with_method(ws, "notifications/message")  # running
            drained = trio.Event()

            async def drain() -> None:
                await app_of(target).drain()
                drained.set()

            nursery.start_soon(drain)
            await trio.sleep(0.05)
            # Read during the drain: not run (the client sends it again on its next connection).
            await send(ws, request(2, "tools/call", SIMPLE_CALL))
            messages, code, reason = await read_until_closed(ws)
            replies = [m for m in messages if "id" in m and "method" not in m]
            assert code == 1012, reason
            assert [r["id"] for r in replies] == [1], replies
            assert replies[0]["result"]["structuredContent"] == {"count": 6}, replies
            with trio.fail_after(5):
                await drained.wait()


# -- 7. cancellation --


async def test_requests_in_flight_are_cancelled_when_the_socket_drops(nursery: trio.Nursery) -> None:
    target = await start_app(nursery, cluster_server.asgi_app())
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            session_id = await init(ws)
            count = {
                "name": "count_slowly",
                "arguments": {"n": 1000, "interval_ms": 50},
                "_meta": {"progressToken": "slow"},
            }
            await send(ws, request(7, "tools/call", count))
            await next_with_method(ws, "notifications/progress")
            assert in_flight(target, session_id) == [7]
        # The client closed: the call is cancelled, and with nothing left the live copy goes.
        await eventually(lambda: session_id not in live_ids(target), "the live copy was released")
        assert in_flight(target, session_id) == []
        # The session itself lives on: resumed, it works, and the cancelled call sends nothing more.
        async with open_ws(target, session_id) as ws:
            others: list[Json] = []
            assert text_of(await call(ws, 8, "tools/call", SIMPLE_CALL, others=others)) == SIMPLE_TEXT
            with trio.move_on_after(0.3):
                others.append(await receive(ws))
            assert others == [], others
        await assert_healthy(target)


async def test_notifications_cancelled_over_websocket_stops_the_request(nursery: trio.Nursery) -> None:
    target = await start_app(nursery, cluster_server.asgi_app())
    with trio.fail_after(WAIT):
        async with open_ws(target) as ws:
            session_id = await init(ws)
            count = {"name": "count_slowly", "arguments": {"n": 1000, "interval_ms": 50}}
            await send(ws, request(7, "tools/call", count))
            await next_with_method(ws, "notifications/message")
            await send(ws, notification("notifications/cancelled", {"requestId": 7, "reason": "enough"}))
            await eventually(lambda: in_flight(target, session_id) == [], "the call was cancelled")
            # U§Cancellation: no response to a cancelled request; the connection goes on.
            others: list[Json] = []
            assert text_of(await call(ws, 8, "tools/call", SIMPLE_CALL, others=others)) == SIMPLE_TEXT
            assert all(m.get("id") != 7 for m in others), others


# -- 8. a client that stops reading --


class RawWebSocket:
    """A WebSocket client driven by hand (wsproto over a trio socket with a small receive buffer), so a test
    can stop reading while the server writes."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self.session_id: str | None = None
        self._events: list[wse.Event] = []
        self._text: list[str] = []

    @classmethod
    async def connect(cls, target: Target, *, rcvbuf: int = 4096) -> RawWebSocket:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
        sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, rcvbuf)
        await sock.connect((target.host, target.port))
        client = cls(trio.SocketStream(sock))
        upgrade = wse.Request(host=f"{target.host}:{target.port}", target="/mcp", subprotocols=["mcp"])
        await client.stream.send_all(client.ws.send(upgrade))
        event = await client._next_event()
        assert isinstance(event, wse.AcceptConnection), event
        assert event.subprotocol == "mcp"
        headers = {bytes(k).lower(): bytes(v) for k, v in event.extra_headers}
        client.session_id = headers[b"mcp-session-id"].decode()
        return client

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def _next_event(self) -> wse.Event | None:
        """The next wsproto event; None when the connection ended."""
        while not self._events:
            data = await self.stream.receive_some(65536)
            self.ws.receive_data(data or None)
            self._events.extend(self.ws.events())
            if not data and not self._events:
                return None
        return self._events.pop(0)

    async def send(self, message: Json) -> None:
        await self.stream.send_all(self.ws.send(wse.Message(data=json.dumps(message))))

    async def receive(self) -> Json:
        while True:
            event = await self._next_event()
            assert isinstance(event, wse.TextMessage), event
            self._text.append(event.data)
            if event.message_finished:
                text, self._text = "".join(self._text), []
                return cast(Json, json.loads(text))

    async def init(self) -> str:
        await self.send(request(0, "initialize", initialize_params()))
        reply = await self.receive()
        assert reply.get("id") == 0, reply
        assert "result" in reply, reply
        await self.send(notification("notifications/initialized"))
        assert self.session_id is not None
        return self.session_id

    async def close_code(self) -> int | None:
        """Read (and drop) what the server still sends: its close code, or None if the connection was cut
        without a close frame."""
        while True:
            try:
                event = await self._next_event()
            except (trio.BrokenResourceError, WsProtocolError):
                return None
            if event is None:
                return None
            if isinstance(event, wse.CloseConnection):
                return event.code


class Pinger:
    """A healthy client of the same app: each of its requests must be answered within 2 s."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.answered = 0

    async def until(self, done: Callable[[], bool], what: str, bound: float) -> float:
        """Ping until `done()`; how long it took. Fails naming `what` after `bound` seconds."""
        began = trio.current_time()
        with trio.move_on_after(bound) as scope:
            while not done():
                with trio.fail_after(2):
                    assert result_of(await call(self.ws, f"h{self.answered}", "ping")) == {}
                self.answered += 1
                await trio.sleep(0.05)
        if scope.cancelled_caught:
            raise AssertionError(f"not within {bound:g} s: {what}")
        return trio.current_time() - began


def stream_released(target: Target, session_id: str) -> bool:
    """The server no longer feeds the session's stream to this connection."""
    live = app_of(target)._sessions.live.get(session_id)
    return live is None or live.standalone is None


async def test_a_client_that_stops_reading_a_tools_messages_is_disconnected(nursery: trio.Nursery) -> None:
    """A call floods the socket (count_slowly: a log message and a progress notification per step) while the
    client reads nothing: the connection's queue fills, and `slow_stream_timeout` later the server gives up
    on the client, well before the keep-alive (20 s by default) would: its calls are cancelled, the session's
    stream is released, and the connection ends (the live copy goes). Meanwhile another client is answered
    promptly."""
    target = await start_app(nursery, cluster_server.asgi_app(stream_buffer=8, slow_stream_timeout=0.5))
    with trio.fail_after(WAIT + 10):
        slow = await RawWebSocket.connect(target)
        try:
            session_id = await slow.init()
            for i in range(3):
                flood = {
                    "name": "count_slowly",
                    "arguments": {"n": 10_000, "interval_ms": 0},
                    "_meta": {"progressToken": f"flood-{i}"},
                }
                await slow.send(request(10 + i, "tools/call", flood))
            # From here on the slow client reads nothing.
            await eventually(lambda: session_id in live_ids(target), "the slow client's session is live")
            async with open_ws(target) as ws:
                await init(ws)
                healthy = Pinger(ws)
                await healthy.until(
                    lambda: stream_released(target, session_id), "the server released the slow stream", 8
                )
                await eventually(lambda: in_flight(target, session_id) == [], "the slow client's calls ended")
                # The connection itself must end: nothing of it may stay held (the live copy goes).
                await healthy.until(
                    lambda: session_id not in live_ids(target),
                    f"the slow client's connection ended (its live copy is still held; in flight: "
                    f"{in_flight(target, session_id)})",
                    5,
                )
                assert healthy.answered >= 1
                assert text_of(await call(ws, "after", "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT
            code = await slow.close_code()
            assert code in (None, Close.TRY_AGAIN_LATER), code
        finally:
            await slow.aclose()
    await assert_healthy(target)


async def test_a_client_that_stops_reading_its_sessions_stream_is_disconnected_with_bounded_memory(
    nursery: trio.Nursery,
) -> None:
    """Resource updates (the session's stream, fed by the fan-out) flood a subscribed client that reads
    nothing: the stream's buffer never grows past its hard limit, the server stops feeding the client and
    ends its connection. Meanwhile another client is answered promptly."""
    target = await start_app(nursery, server.asgi_app(stream_buffer=8, slow_stream_timeout=0.5))
    streams = app_of(target).streams
    assert isinstance(streams, MemoryStreamManager)
    with trio.fail_after(WAIT + 10):
        slow = await RawWebSocket.connect(target)
        try:
            session_id = await slow.init()
            await slow.send(request(1, "resources/subscribe", {"uri": WATCHED_RESOURCE_URI}))
            assert (await slow.receive()).get("id") == 1
            # From here on the slow client reads nothing.
            seen: list[Any] = []

            async def flood() -> None:
                while session_id in live_ids(target):
                    for _ in range(200):
                        await server.notify_resource_updated(WATCHED_RESOURCE_URI)
                    buffer = streams._streams.get(session_id)
                    if buffer is not None:
                        stats = buffer.statistics()
                        seen.append(stats)
                        assert stats.current_buffer_used <= stats.hard_limit, stats
                    await trio.lowlevel.checkpoint()

            async with open_ws(target) as ws, trio.open_nursery() as tasks:
                await init(ws)
                healthy = Pinger(ws)
                tasks.start_soon(flood)
                await healthy.until(
                    lambda: stream_released(target, session_id), "the server released the slow stream", 10
                )
                assert session_id not in streams._streams
                assert seen, "the session's stream buffer was never seen"
                assert max(s.current_buffer_used for s in seen) <= seen[0].hard_limit, seen
                # The connection itself must end: nothing of it may stay held (the live copy goes).
                await healthy.until(
                    lambda: session_id not in live_ids(target),
                    "the slow client's connection ended (its live copy is still held)",
                    5,
                )
                assert healthy.answered >= 1
                assert text_of(await call(ws, "after", "tools/call", SIMPLE_CALL)) == SIMPLE_TEXT
            code = await slow.close_code()
            assert code in (None, Close.TRY_AGAIN_LATER), code
        finally:
            await slow.aclose()
    await assert_healthy(target)
