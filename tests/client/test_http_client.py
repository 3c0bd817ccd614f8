"""`trio_mcp.open_client(url)` against the conformance fixture on a real hypercorn (127.0.0.1, port 0).

The client POSTs each message and reads JSON or SSE answers; `listen=True` holds the GET stream; server requests
(sampling, elicitation) are answered by its callbacks with a POST of their own; leaving the `async with` DELETEs
the session. An httpx event hook records every response so the tests can tell which wire form was used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio
from _rawhttp import Target, assert_error, post_headers, rpc, start_app

from examples.everything import server
from trio_mcp import ClientSession, McpError, open_client
from trio_mcp import types as t
from trio_mcp._transport.http import McpASGIApp

SESSION_NOT_FOUND = -32001
INVALID_PARAMS = -32602
WAIT = 30


class Wire:
    """What went over HTTP: (method, status, content type, Mcp-Session-Id) of every response."""

    def __init__(self) -> None:
        self.responses: list[tuple[str, int, str, str | None]] = []

    async def hook(self, response: httpx.Response) -> None:
        content_type = response.headers.get("content-type", "").partition(";")[0].strip()
        self.responses.append(
            (
                response.request.method,
                response.status_code,
                content_type,
                response.headers.get("mcp-session-id"),
            )
        )

    @property
    def session_id(self) -> str:
        ids = {sid for method, _, _, sid in self.responses if method == "POST" and sid}
        assert len(ids) == 1, self.responses
        return ids.pop()

    def posts(self) -> list[tuple[int, str]]:
        return [(status, ctype) for method, status, ctype, _ in self.responses if method == "POST"]


@pytest.fixture
async def target(nursery: trio.Nursery) -> Target:
    return await start_app(nursery, server.asgi_app())


def app_of(target: Target) -> McpASGIApp:
    app: McpASGIApp = target.app
    return app


@asynccontextmanager
async def connect(target: Target, wire: Wire, **options: Any) -> AsyncIterator[ClientSession]:
    async with (
        httpx.AsyncClient(
            event_hooks={"response": [wire.hook]}, timeout=httpx.Timeout(WAIT, read=None)
        ) as http,
        open_client(target.url, http_client=http, request_timeout=WAIT, **options) as client,
    ):
        yield client


def text_of(result: t.CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, t.TextContent), block
    return block.text


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    with trio.move_on_after(WAIT):
        while not condition():
            await trio.sleep(0.01)
        return
    raise AssertionError(f"timed out waiting for {what}")


async def test_progress_notifications_then_the_result_of_a_tool_answered_as_sse(target: Target) -> None:
    """A tools/call answered as an SSE body: the progress callback sees every step before the call returns."""
    wire = Wire()
    seen: list[tuple[float, float | None, str | None]] = []
    tokens: set[t.ProgressToken] = set()

    async def on_progress(params: t.ProgressNotificationParams) -> None:
        seen.append((params.progress, params.total, params.message))
        tokens.add(params.progress_token)

    with trio.fail_after(WAIT):
        async with connect(target, wire) as client:
            result = await client.call_tool("test_tool_with_progress", {}, progress=on_progress)
    assert result.is_error is not True
    (token,) = tokens
    assert text_of(result) == str(token)  # the tool returns the progress token the client chose
    assert seen == [
        (0, 100, "Completed step 0 of 100"),
        (50, 100, "Completed step 50 of 100"),
        (100, 100, "Completed step 100 of 100"),
    ]
    # initialize, notifications/initialized (202), tools/call: the call's answer was an event stream.
    assert wire.posts()[-1] == (200, "text/event-stream"), wire.responses


async def test_log_messages_of_a_tool_reach_the_logging_callback_before_its_result(target: Target) -> None:
    """notifications/message on the POST's SSE stream go to logging_callback, in order, before the result."""
    wire = Wire()
    events: list[str] = []

    async def on_log(params: t.LoggingMessageNotificationParams) -> None:
        assert params.level == "info"
        events.append(str(params.data))

    with trio.fail_after(WAIT):
        async with connect(target, wire, logging_callback=on_log) as client:
            await client.set_logging_level("info")
            result = await client.call_tool("test_tool_with_logging", {})
            events.append(text_of(result))
    assert events == [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
        "Tool with logging executed successfully",
    ]


async def test_the_get_listener_receives_a_server_wide_notification(target: Target) -> None:
    """listen=True holds the standalone GET stream: tools/list_changed sent by the server reaches the client."""
    wire = Wire()
    received: list[str] = []
    got_it = trio.Event()

    async def on_notification(method: str, params: Any) -> None:
        received.append(method)
        if method == "notifications/tools/list_changed":
            got_it.set()

    app = app_of(target)
    with trio.fail_after(WAIT):
        async with connect(target, wire, listen=True, notification_callback=on_notification):
            session_id = wire.session_id
            # The listener runs in the background: wait until this app holds the session's GET stream.
            await wait_until(
                lambda: (
                    (live := app._sessions.live.get(session_id)) is not None and live.standalone is not None
                ),
                "the GET stream",
            )
            await server.send_tools_list_changed()
            await got_it.wait()
    assert received.count("notifications/tools/list_changed") == 1, received
    assert ("GET", 200, "text/event-stream", None) in wire.responses


async def test_sampling_and_elicitation_are_answered_by_the_client_callbacks(target: Target) -> None:
    """Server requests on the POST stream are answered by the callbacks; the answers are POSTed back (202)."""
    wire = Wire()
    sampled: list[t.CreateMessageRequestParams] = []
    elicited: list[t.ElicitRequestParams] = []

    async def sample(params: t.CreateMessageRequestParams) -> t.CreateMessageResult:
        sampled.append(params)
        return t.CreateMessageResult(role="assistant", content=t.TextContent(text="forty-two"), model="test")

    async def elicit(params: t.ElicitRequestParams) -> t.ElicitResult:
        elicited.append(params)
        return t.ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.org"})

    with trio.fail_after(WAIT):
        async with connect(target, wire, sampling_callback=sample, elicitation_callback=elicit) as client:
            assert client.initialize_result is not None
            sampling = await client.call_tool("test_sampling", {"prompt": "What is the answer?"})
            elicitation = await client.call_tool("test_elicitation", {"message": "Who are you?"})
    assert text_of(sampling) == "LLM response: forty-two"
    assert [m.content for m in sampled[0].messages] == [t.TextContent(text="What is the answer?")]
    assert sampled[0].max_tokens == 100
    assert text_of(elicitation) == (
        'User response: action=accept, content={"username":"ada","email":"ada@example.org"}'
    )
    (asked,) = elicited
    assert isinstance(asked, t.ElicitRequestFormParams)
    assert asked.message == "Who are you?"
    # Each callback's answer was a POST of a JSON-RPC response, accepted with 202.
    assert wire.posts().count((202, "")) >= 3, wire.responses  # initialized + two answers


async def test_a_request_without_the_capability_is_refused_by_the_client(target: Target) -> None:
    """With no elicitation callback the capability is not declared, and the tool says it cannot ask."""
    wire = Wire()
    with trio.fail_after(WAIT):
        async with connect(target, wire) as client:
            result = await client.call_tool("test_elicitation", {"message": "Who are you?"})
    assert result.is_error is True
    assert "elicitation" in text_of(result).lower()


async def test_a_json_rpc_error_is_raised_as_mcp_error(target: Target) -> None:
    """An unknown tool is a JSON-RPC error (-32602), raised by call_tool; the session stays usable."""
    wire = Wire()
    with trio.fail_after(WAIT):
        async with connect(target, wire) as client:
            with pytest.raises(McpError) as info:
                await client.call_tool("no_such_tool", {})
            assert info.value.code == INVALID_PARAMS
            assert "no_such_tool" in info.value.message
            await client.ping()


async def test_leaving_the_client_deletes_the_session(target: Target) -> None:
    """DELETE on exit: the record is gone from the app's store and the session id then gets 404."""
    wire = Wire()
    app = app_of(target)
    with trio.fail_after(WAIT):
        async with connect(target, wire, listen=True) as client:
            session_id = wire.session_id
            assert await app.store.get(session_id) is not None
            await client.ping()
        assert ("DELETE", 200, "", None) in wire.responses, wire.responses
        assert await app.store.get(session_id) is None
        response = await target.request("POST", post_headers(session_id, version="2025-11-25"), rpc("ping"))
        assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")
        # The listener's GET stream ended with the session.
        await wait_until(lambda: session_id not in app._sessions.live, "the live copy to go")


async def test_with_listen_the_get_stream_is_open_before_the_first_request(target: Target) -> None:
    """A server may send a call's own requests on the GET stream (the TypeScript SDK does, and drops them
    when no GET is open): `open_client(listen=True)` yields only once its GET was answered."""
    wire = Wire()
    with trio.fail_after(WAIT):
        async with connect(target, wire, listen=True):
            live = app_of(target)._sessions.live  # pyright: ignore[reportPrivateUsage]
            (copy,) = live.values()
            assert copy.standalone is not None


async def test_an_answer_with_a_null_id_is_ignored_not_fatal(nursery: trio.Nursery) -> None:
    """Some servers answer notifications/initialized with a JSON-RPC error whose id is null (200, JSON): it
    belongs to no request, so the client logs it and goes on."""
    app = server.asgi_app()

    async def null_id_on_notifications(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            first = await receive()
            if b'"notifications/initialized"' in first.get("body", b""):
                body = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"unexpected"}}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            replayed = [first]

            async def again() -> Any:
                return replayed.pop() if replayed else await receive()

            await app(scope, again, send)
            return
        await app(scope, receive, send)

    front = await start_app(nursery, null_id_on_notifications)
    with trio.fail_after(WAIT):
        async with open_client(front.url, request_timeout=WAIT) as client:
            assert (
                text_of(await client.call_tool("test_simple_text"))
                == "This is a simple text response for testing."
            )


@pytest.mark.parametrize("json_response", [False, True], ids=["sse", "json"])
async def test_every_client_method_with_sse_and_json_answers(
    nursery: trio.Nursery, json_response: bool
) -> None:
    """Each convenience of ClientSession against the fixture, answered as SSE (the default) or as JSON."""
    target = await start_app(nursery, server.asgi_app(json_response=json_response))
    wire = Wire()
    with trio.fail_after(WAIT):
        async with connect(target, wire) as client:
            await client.ping()
            assert "test_simple_text" in {tool.name for tool in (await client.list_tools()).tools}
            assert "test_simple_text" in {tool.name for tool in await client.list_all_tools()}
            assert text_of(await client.call_tool("test_simple_text")).startswith("This is a simple text")
            assert "test://static-text" in {r.uri for r in (await client.list_resources()).resources}
            templates = (await client.list_resource_templates()).resource_templates
            assert "test://template/{id}/data" in {r.uri_template for r in templates}
            (content,) = (await client.read_resource("test://static-text")).contents
            assert isinstance(content, t.TextResourceContents)
            await client.subscribe("test://watched-resource")
            await client.unsubscribe("test://watched-resource")
            assert "test_simple_prompt" in {p.name for p in (await client.list_prompts()).prompts}
            assert (await client.get_prompt("test_simple_prompt")).messages
            completion = await client.complete(
                t.PromptReference(name="test_prompt_with_arguments"), "arg1", ""
            )
            assert isinstance(completion.values, list)
            await client.set_logging_level("warning")
            await client.cancel(12345, "nothing runs under that id")
    wanted = "application/json" if json_response else "text/event-stream"
    assert all(ctype == wanted for status, ctype in wire.posts() if status == 200), wire.posts()
