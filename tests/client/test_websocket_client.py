"""The WebSocket client (trio_mcp/_client/websocket.py): `open_client("ws://…")` with the HTTP client's API and
callbacks, and its recovery: a dropped or drained socket resumes the same session (on whatever instance the
address reaches), requests in flight are sent again, a gone session (4404) is replaced once, and a close that
asks the client to change something fails for good with one plain TransportError.

Servers are apps on a real hypercorn in this process; `TcpSwitch` (tests/_tcp_proxy.py) plays the load
balancer in front of them.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import trio
from _rawhttp import Target, start_app
from _redis_server import free_port
from _tcp_proxy import TcpSwitch
from _ws import open_ws

from examples.cluster import server
from trio_mcp import McpError, TransportError, accept_with_defaults, open_client
from trio_mcp import types as t
from trio_mcp._transport.http import McpASGIApp

WAIT = 20


def ws_url(target: Target) -> str:
    return f"ws://{target.host}:{target.port}/mcp"


def text_of(result: t.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, t.TextContent), block
    return block.text


def live_sessions(app: McpASGIApp) -> dict[str, Any]:
    return app._sessions.live  # pyright: ignore[reportPrivateUsage]


async def test_every_client_method_and_callback_over_a_websocket(nursery: trio.Nursery) -> None:
    target = await start_app(nursery, server.asgi_app())
    logs: list[t.LoggingMessageNotificationParams] = []
    notes: list[str] = []

    async def on_log(params: t.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async def on_note(method: str, params: Any) -> None:
        notes.append(method)

    async def sample(params: t.CreateMessageRequestParams) -> t.CreateMessageResult:
        return t.CreateMessageResult(
            role="assistant", content=t.TextContent(type="text", text="sampled!"), model="m"
        )

    with trio.fail_after(WAIT):
        async with open_client(
            ws_url(target),
            logging_callback=on_log,
            notification_callback=on_note,
            sampling_callback=sample,
            elicitation_callback=accept_with_defaults,
        ) as client:
            assert client.initialize_result is not None
            assert client.initialize_result.server_info.name == "trio-mcp-everything"
            await client.ping()
            names = {tool.name for tool in await client.list_all_tools()}
            assert {"test_simple_text", "count_slowly", "test_sampling"} <= names
            assert text_of(await client.call_tool("test_simple_text")) == (
                "This is a simple text response for testing."
            )
            resources = await client.list_resources()
            first = resources.resources[0]
            read = await client.read_resource(first.uri)
            assert read.contents
            prompts = await client.list_prompts()
            assert prompts.prompts
            prompt = await client.get_prompt("test_simple_prompt")
            assert prompt.messages
            # Logging over the socket: the level set, then a tool that logs.
            await client.set_logging_level("debug")
            await client.call_tool("test_tool_with_logging")
            assert logs
            # Progress of a call, on the same socket.
            progress: list[float] = []

            async def on_progress(params: t.ProgressNotificationParams) -> None:
                progress.append(params.progress)

            await client.call_tool("count_slowly", {"n": 3, "interval_ms": 1}, progress=on_progress)
            assert progress == [1, 2, 3]
            # Server-to-client requests: sampling, elicitation with defaults (SEP-1034).
            assert "sampled!" in text_of(await client.call_tool("test_sampling", {"prompt": "hi"}))
            elicited = text_of(await client.call_tool("test_elicitation_sep1034_defaults"))
            assert "accept" in elicited
            # Server notifications reach the socket: list_changed and a subscribed resource's update.
            await client.subscribe("test://watched")
            await client.call_tool("trigger_tools_list_changed")
            await client.call_tool("trigger_resource_update", {"uri": "test://watched"})
            with trio.fail_after(5):
                while not {
                    "notifications/tools/list_changed",
                    "notifications/resources/updated",
                } <= set(notes):
                    await trio.sleep(0.02)


async def test_a_dropped_socket_resumes_the_same_session_and_the_call_in_flight_is_answered(
    nursery: trio.Nursery,
) -> None:
    target = await start_app(nursery, server.asgi_app())
    switch = await TcpSwitch(target.port).start(nursery)
    with trio.fail_after(WAIT):
        async with open_client(switch.url) as client:
            sid = live_session_id(target.app)
            result: list[Any] = []

            async def call() -> None:
                result.append(await client.call_tool("count_slowly", {"n": 3, "interval_ms": 200}))

            nursery.start_soon(call)
            await trio.sleep(0.3)  # the call runs on the server
            switch.drop()  # a network blip: the server cancels the call, the client resumes and sends it again
            while not result:
                await trio.sleep(0.05)
            assert result[0].structured_content == {"count": 3}
            assert switch.connections == 2
            # The same session all along, on its second socket.
            assert live_session_id(target.app) == sid
            assert text_of(await client.call_tool("test_simple_text"))


def live_session_id(app: McpASGIApp) -> str:
    (sid,) = live_sessions(app)
    return sid


@pytest.mark.redis
async def test_a_drain_moves_the_session_to_another_instance_after_the_call_in_flight_finished(
    nursery: trio.Nursery, redis_url: str
) -> None:
    config: dict[str, Any] = {
        "store": "redis",
        "redis_url": redis_url,
        "redis_prefix": f"wsdrain-{secrets.token_hex(4)}:",
        "drain_notice": 0,
    }
    a = await start_app(nursery, server.asgi_app(**config))
    b = await start_app(nursery, server.asgi_app(**config))
    switch = await TcpSwitch(a.port).start(nursery)
    replaced: list[str] = []
    with trio.fail_after(WAIT):
        async with open_client(
            switch.url, on_session_replaced=lambda old, new: replaced.append(new)
        ) as client:
            sid = live_session_id(a.app)
            result: list[Any] = []

            async def call() -> None:
                result.append(await client.call_tool("count_slowly", {"n": 4, "interval_ms": 100}))

            nursery.start_soon(call)
            await trio.sleep(0.15)
            switch.point_to(b.port)  # the balancer sees A's readiness fail
            await a.app.drain()  # waits for the call: it finishes on A, then the socket closes with 1012
            while not result:
                await trio.sleep(0.02)
            assert result[0].structured_content == {"count": 4}
            # The next call runs on B, in the same session.
            assert text_of(await client.call_tool("test_simple_text"))
            assert live_session_id(b.app) == sid
            assert replaced == []


async def test_a_restarted_server_gives_one_new_session_with_the_log_level_replayed(
    nursery: trio.Nursery,
) -> None:
    port = free_port()
    replaced: list[tuple[str, str]] = []

    async def serve_on_port(task_status: trio.TaskStatus[McpASGIApp]) -> None:
        from trio_mcp import serve

        app = server.asgi_app()
        with trio.CancelScope() as scope:
            scopes.append(scope)
            task_status.started(app)
            await serve(app, host="127.0.0.1", port=port, graceful_timeout=0.2)

    scopes: list[trio.CancelScope] = []
    first: McpASGIApp = await nursery.start(serve_on_port)
    with trio.fail_after(WAIT):
        while not first.started:
            await trio.sleep(0.02)
        async with open_client(
            f"ws://127.0.0.1:{port}/mcp", on_session_replaced=lambda old, new: replaced.append((old, new))
        ) as client:
            await client.set_logging_level("debug")
            old = live_session_id(first)
            scopes[0].cancel()  # a restart: the memory store goes with the app
            await trio.sleep(0.3)
            second: McpASGIApp = await nursery.start(serve_on_port)
            # The socket dropped; its resume gets 4404; the client opens one new session and goes on.
            assert text_of(await client.call_tool("test_simple_text"))
            ((was, new),) = replaced
            assert was == old
            assert new != old
            record = await second._sessions.record(new)  # pyright: ignore[reportPrivateUsage]
            assert record is not None
            assert record.log_level == "debug"


async def test_a_close_that_asks_for_a_change_fails_at_once_with_a_transport_error(
    nursery: trio.Nursery,
) -> None:
    target = await start_app(nursery, server.asgi_app(max_body_size=4096))
    with trio.fail_after(WAIT):
        async with open_client(ws_url(target)) as client:
            with pytest.raises(TransportError, match="1009"):
                await client.call_tool("test_simple_text", {"padding": "x" * 10_000})
            # Broken for good: later calls say so too, without waiting.
            with pytest.raises(TransportError, match="1009"):
                await client.ping()


async def test_a_refused_origin_fails_the_connection_with_the_servers_reason(nursery: trio.Nursery) -> None:
    target = await start_app(nursery, server.asgi_app(allowed_origins=("https://good.example",)))
    with trio.fail_after(WAIT), pytest.raises(TransportError, match="Origin"):
        async with open_client(ws_url(target), headers={"origin": "https://evil.example"}):
            pass


async def test_a_server_that_cannot_be_reached_is_a_transport_error_after_the_reconnect_timeout() -> None:
    with trio.fail_after(WAIT), pytest.raises(TransportError, match="cannot reach"):
        async with open_client(f"ws://127.0.0.1:{free_port()}/mcp", reconnect_timeout=0.5):
            pass


async def test_an_error_the_server_answers_is_an_mcp_error_and_the_socket_stays_up(
    nursery: trio.Nursery,
) -> None:
    target = await start_app(nursery, server.asgi_app())
    with trio.fail_after(WAIT):
        async with open_client(ws_url(target)) as client:
            with pytest.raises(McpError, match="nope"):
                await client.get_prompt("nope")
            assert text_of(await client.call_tool("test_simple_text"))


async def test_a_socket_that_never_initializes_is_closed_after_the_pending_timeout(
    nursery: trio.Nursery,
) -> None:
    import trio_websocket

    target = await start_app(nursery, server.asgi_app(pending_timeout=0.5))
    with trio.fail_after(WAIT):
        async with open_ws(ws_url(target)) as ws:
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await ws.get_message()
    reason = closed.value.reason
    assert reason is not None
    assert reason.code == 4408
    assert "initialize" in (reason.reason or "")


async def test_the_session_cap_holds_over_websockets_and_a_bad_initialize_takes_no_place(
    nursery: trio.Nursery,
) -> None:
    import json

    import trio_websocket

    target = await start_app(nursery, server.asgi_app(max_sessions=1))
    with trio.fail_after(WAIT):
        async with open_ws(ws_url(target)) as ws:
            # Invalid params: refused before anything is reserved; the socket stays open for a good one.
            await ws.send_message(
                json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
            )
            reply = json.loads(await ws.get_message())
            assert reply["error"]["code"] == -32602
            async with open_client(ws_url(target)) as client:  # takes the one place
                assert text_of(await client.call_tool("test_simple_text"))
                good = {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"},
                }
                await ws.send_message(
                    json.dumps({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": good})
                )
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await ws.get_message()
                reason = closed.value.reason
                assert reason is not None
                assert reason.code == 1013
                assert "maximum of 1 sessions" in (reason.reason or "")
