"""The client recovers by itself (trio_mcp/_client/http.py): plain errors, a new session after a 404 (once, for
every request that hit it), and streams resumed with `Last-Event-ID` on whatever instance the URL reaches.

The servers are apps on a real hypercorn in this process; a "restart" stops one app and serves a new one (its
own memory store: the old session is gone) on the same port. A switch in front of two apps on the test Redis
plays the load balancer: it sends every request to A until A drains, then to B.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
import trio
from _rawhttp import start_app
from _redis_server import free_port
from _switch import Switch

from examples.cluster import server
from trio_mcp import McpError, TransportError, open_client, serve
from trio_mcp import types as t
from trio_mcp._transport.http import McpASGIApp

WAIT = 30
SESSION_NOT_FOUND = -32001


class Counting:
    """An ASGI app in front of `app` that counts the initialize POSTs it sees."""

    def __init__(self, app: McpASGIApp) -> None:
        self.app = app
        self.initializes = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        messages: list[Any] = []
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if b'"initialize"' in body:
            self.initializes += 1

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class Server:
    """An app on a fixed port that can be stopped and replaced by a fresh one (a restart)."""

    def __init__(self, nursery: trio.Nursery, **config: Any) -> None:
        self.nursery = nursery
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.front: Counting | None = None
        self._scope: trio.CancelScope | None = None

    async def start(self) -> Counting:
        self.front = Counting(server.asgi_app(**self.config))
        scope = trio.CancelScope()

        async def run(task_status: trio.TaskStatus[None]) -> None:
            with scope:
                await serve(
                    self.front,
                    host="127.0.0.1",
                    port=self.port,
                    graceful_timeout=0.2,
                    task_status=task_status,
                )

        await self.nursery.start(run)
        self._scope = scope
        return self.front

    def stop(self) -> None:
        assert self._scope is not None
        self._scope.cancel()

    async def restart(self) -> Counting:
        self.stop()
        await trio.sleep(0.2)  # hypercorn lets go of the port
        return await self.start()


def text_of(result: t.CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, t.TextContent), block
    return block.text


async def test_after_a_restart_the_next_call_succeeds_in_one_new_session(nursery: trio.Nursery) -> None:
    running = Server(nursery)
    await running.start()
    replaced: list[tuple[str, str]] = []

    def on_replaced(old: str, new: str) -> None:
        replaced.append((old, new))

    async with open_client(running.url, request_timeout=WAIT, on_session_replaced=on_replaced) as client:
        await client.set_logging_level("debug")
        assert (
            text_of(await client.call_tool("test_simple_text"))
            == "This is a simple text response for testing."
        )
        fresh = await running.restart()  # the memory store went with it: the session is unknown now
        results: list[str] = []

        async def call() -> None:
            results.append(text_of(await client.call_tool("test_simple_text")))

        async with trio.open_nursery() as calls:
            for _ in range(10):
                calls.start_soon(call)
        assert len(results) == 10
        assert fresh.initializes == 1  # ten calls hit the 404; one new initialize served them all
        ((old, new),) = replaced
        assert old != new
        # The new session is set up as the old one was: its log level came along.
        sessions = fresh.app._sessions  # pyright: ignore[reportPrivateUsage]
        record = await sessions.record(new)
        assert record is not None
        assert record.log_level == "debug"


async def test_a_second_404_in_a_row_is_an_error(nursery: trio.Nursery) -> None:
    running = Server(nursery)
    await running.start()

    async def call_after_a_restart() -> None:
        async with open_client(running.url, request_timeout=WAIT, recover=False) as client:
            await running.restart()
            await client.call_tool("test_simple_text")

    with pytest.raises(McpError) as caught:
        await call_after_a_restart()
    assert caught.value.http_status == 404
    assert caught.value.code == SESSION_NOT_FOUND


async def test_errors_are_plain_exceptions_not_groups(nursery: trio.Nursery) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/mcp"
    with pytest.raises(TransportError, match="cannot reach the MCP server"):
        async with open_client(nobody, reconnect_timeout=0.3):
            pass
    target = await start_app(nursery, server.asgi_app())
    with pytest.raises(McpError) as caught:
        async with open_client(target.url, request_timeout=WAIT) as client:
            await client.call_tool("no_such_tool")
    assert caught.value.code == -32602
    assert isinstance(caught.value, McpError)
    with pytest.raises(ValueError, match="the application's own"):
        async with open_client(target.url, request_timeout=WAIT):
            raise ValueError("the application's own error")


async def test_a_call_that_waits_for_a_restarting_server_is_retried_until_it_is_back(
    nursery: trio.Nursery,
) -> None:
    running = Server(nursery)
    await running.start()
    async with open_client(running.url, request_timeout=WAIT, reconnect_timeout=10) as client:
        running.stop()
        await trio.sleep(0.3)  # nobody listens now: the call's connection is refused, and retried

        async def back_later() -> None:
            await trio.sleep(0.5)
            await running.start()

        nursery.start_soon(back_later)
        result = await client.call_tool("test_simple_text")
        assert text_of(result) == "This is a simple text response for testing."


async def test_a_stream_the_server_closes_is_resumed_with_last_event_id(nursery: trio.Nursery) -> None:
    # conformance `sse-retry`: the server ends the stream after its priming event with `retry: 100`.
    target = await start_app(nursery, server.asgi_app())
    gets: list[str | None] = []

    async def hook(request: httpx.Request) -> None:
        if request.method == "GET":
            gets.append(request.headers.get("last-event-id"))

    async with (
        httpx.AsyncClient(event_hooks={"request": [hook]}, timeout=httpx.Timeout(WAIT, read=None)) as http,
        open_client(target.url, http_client=http, request_timeout=WAIT) as client,
    ):
        result = await client.call_tool("test_reconnection")
    assert text_of(result) == "Reconnection test completed"
    assert gets, "no GET: the client did not resume the stream"
    assert all(gets), gets  # it came back with the id it had


@pytest.fixture
def cluster_config(redis_url: str) -> dict[str, Any]:
    return {
        "store": "redis",
        "redis_url": redis_url,
        "redis_prefix": f"client-{secrets.token_hex(4)}:",
        "heartbeat_interval": 0.2,
        "sse_retry_ms": 200,
        "drain_notice": 0,
    }


@pytest.mark.redis
async def test_a_call_on_a_draining_instance_finishes_through_the_other(
    nursery: trio.Nursery, cluster_config: dict[str, Any]
) -> None:
    a = await start_app(nursery, server.asgi_app(**cluster_config))
    b = await start_app(nursery, server.asgi_app(**cluster_config))
    switch = Switch(a.port, b.port)
    steps: list[float] = []

    async def on_progress(params: t.ProgressNotificationParams) -> None:
        steps.append(params.progress)
        if len(steps) == 3:  # mid-call: A drains, and the balancer sends everything to B from now on
            switch.to_b()
            nursery.start_soon(a.app.drain)

    async with (
        httpx.AsyncClient(transport=switch, timeout=httpx.Timeout(WAIT, read=None)) as http,
        open_client(a.url, http_client=http, request_timeout=WAIT) as client,
    ):
        result = await client.call_tool("count_slowly", {"n": 10, "interval_ms": 100}, progress=on_progress)
    assert result.structured_content == {"count": 10}
    assert steps == list(range(1, 11))  # every step exactly once, across the two instances


@pytest.mark.redis
async def test_a_call_whose_instance_dies_ends_with_the_retryable_error(
    nursery: trio.Nursery, cluster_config: dict[str, Any]
) -> None:
    b = await start_app(nursery, server.asgi_app(**cluster_config))
    a_scope = trio.CancelScope()
    a_app = server.asgi_app(**cluster_config)

    async def run_a(task_status: trio.TaskStatus[list[str]]) -> None:
        with a_scope:
            await serve(a_app, host="127.0.0.1", port=0, graceful_timeout=0, task_status=task_status)

    (url,) = await nursery.start(run_a)
    switch = Switch(int(url.rpartition(":")[2]), b.port)
    steps: list[float] = []

    async def on_progress(params: t.ProgressNotificationParams) -> None:
        steps.append(params.progress)
        if len(steps) == 2:  # A goes away without a drain; the balancer sends the resume to B
            switch.to_b()
            a_scope.cancel()

    async def call() -> None:
        async with (
            httpx.AsyncClient(transport=switch, timeout=httpx.Timeout(WAIT, read=None)) as http,
            open_client(f"{url}/mcp", http_client=http, request_timeout=WAIT) as client,
        ):
            with trio.fail_after(WAIT):
                await client.call_tool("count_slowly", {"n": 1000, "interval_ms": 100}, progress=on_progress)

    with pytest.raises(McpError) as caught:
        await call()
    assert caught.value.retryable
    assert caught.value.code == -32603


async def test_the_get_listener_follows_the_new_session(nursery: trio.Nursery) -> None:
    running = Server(nursery)
    await running.start()
    seen: list[str] = []

    async def on_notification(method: str, params: Any) -> None:
        seen.append(method)

    async with open_client(
        running.url, request_timeout=WAIT, listen=True, notification_callback=on_notification
    ) as client:
        fresh = await running.restart()
        await client.call_tool("test_simple_text")  # the 404, and the new session
        with trio.fail_after(WAIT):
            while not fresh.app._sessions.live or not any(  # pyright: ignore[reportPrivateUsage]
                live.standalone
                for live in fresh.app._sessions.live.values()  # pyright: ignore[reportPrivateUsage]
            ):
                await trio.sleep(0.02)  # the listener reconnected in the new session
            # The stream is in the table a moment before it subscribes: send until one arrives.
            while "notifications/tools/list_changed" not in seen:
                await server.send_tools_list_changed()
                await trio.sleep(0.1)
    assert fresh.initializes == 1


async def test_a_resumed_stream_that_never_brings_anything_ends_in_a_transport_error(
    nursery: trio.Nursery,
) -> None:
    # A broken server: the call's stream ends after its priming event, and every resume is an empty stream.
    app = server.asgi_app()

    async def empty_streams(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        first = await receive() if scope["method"] == "POST" else {"body": b""}
        if scope["method"] == "POST" and b'"tools/call"' not in first.get("body", b""):
            replayed = [first]

            async def again() -> Any:
                return replayed.pop() if replayed else await receive()

            await app(scope, again, send)
            return
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = b"id: p1:1\nretry: 10\ndata: \n\n" if scope["method"] == "POST" else b""
        await send({"type": "http.response.body", "body": body})

    front = await start_app(nursery, empty_streams)
    with trio.fail_after(WAIT), pytest.raises(TransportError, match="brought nothing new"):
        async with open_client(front.url, request_timeout=WAIT, reconnect_timeout=0.5) as client:
            await client.call_tool("test_simple_text")
