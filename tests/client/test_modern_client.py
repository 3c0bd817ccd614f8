"""The client's protocol era (`open_client(url, mode=...)`, trio_mcp/_client/http.py): "modern" speaks 2026-07-28
(no handshake, every request carries its `_meta` and mirrored headers), "auto" probes `server/discover` and
falls back to initialize on a server of the handshake era, "legacy" (the default) initializes. The official SDK
2.3.0 client in its auto mode picks the modern era against our server."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from _rawhttp import Target, start_app
from mcp.client.client import Client as SdkClient

from examples.everything import server
from trio_mcp import Context, McpError, Server, TransportError, open_client
from trio_mcp import types as t

WAIT = 20
SIMPLE = "This is a simple text response for testing."


@pytest.fixture
async def target(nursery: trio.Nursery) -> Target:
    return await start_app(nursery, server.asgi_app())


def text_of(result: t.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, t.TextContent), block
    return block.text


class HandshakeEraOnly:
    """An older server in front of the app: a 2026-07-28 request (Mcp-Method header) is refused with the 400 an
    older server answers, so a client in auto mode must fall back to initialize."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.refused = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or [])
        if scope["type"] == "http" and b"mcp-method" in headers:
            self.refused += 1
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": -32600, "message": "Bad Request: no session"},
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


async def test_modern_mode_speaks_2026_07_28_without_a_session(target: Target) -> None:
    logs: list[str] = []

    async def on_log(params: t.LoggingMessageNotificationParams) -> None:
        logs.append(str(params.data))

    with trio.fail_after(WAIT):
        async with open_client(target.url, mode="modern", logging_callback=on_log) as client:
            assert client.era == "modern"
            assert client.session_id is None
            assert client.discover_result is not None
            assert "2026-07-28" in client.discover_result.supported_versions
            assert client.initialize_result is None  # no handshake
            names = [tool.name for tool in await client.list_all_tools()]
            assert "test_simple_text" in names
            assert text_of(await client.call_tool("test_simple_text")) == SIMPLE
            progress: list[float] = []

            async def on_progress(params: t.ProgressNotificationParams) -> None:
                progress.append(params.progress)

            await client.call_tool("test_tool_with_progress", progress=on_progress)
            assert progress == [0, 50, 100]
            read = await client.read_resource("test://static-text")
            assert read.contents
            # Log messages come only once a level is set: it travels in each request's _meta.
            await client.call_tool("test_logging_tool")
            assert logs == []
            await client.set_logging_level("info")
            await client.call_tool("test_logging_tool")
            assert len(logs) == 3
            # What the era does not have says so at once.
            with pytest.raises(McpError, match="does not exist in MCP 2026-07-28"):
                await client.ping()
            with pytest.raises(McpError, match="subscriptions/listen"):
                await client.subscribe("test://static-text")
    assert target.app._sessions.live == {}  # pyright: ignore[reportPrivateUsage]


async def test_auto_mode_picks_the_modern_era_and_falls_back_to_initialize_on_an_older_server(
    nursery: trio.Nursery, target: Target
) -> None:
    with trio.fail_after(WAIT):
        async with open_client(target.url, mode="auto") as client:
            assert client.era == "modern"
            assert text_of(await client.call_tool("test_simple_text")) == SIMPLE
        older = HandshakeEraOnly(server.asgi_app())
        legacy = await start_app(nursery, older)
        async with open_client(legacy.url, mode="auto") as client:
            assert older.refused == 1  # the probe, once
            assert client.era == "legacy"
            assert client.session_id is not None
            assert client.initialize_result is not None
            assert text_of(await client.call_tool("test_simple_text")) == SIMPLE
            await client.ping()


async def test_modern_mode_against_an_older_server_fails_with_its_error(nursery: trio.Nursery) -> None:
    legacy = await start_app(nursery, HandshakeEraOnly(server.asgi_app()))
    with trio.fail_after(WAIT), pytest.raises(McpError, match="HTTP 400"):
        async with open_client(legacy.url, mode="modern"):
            pass


async def test_a_websocket_url_is_legacy_only(target: Target) -> None:
    with pytest.raises(ValueError, match="legacy"):
        async with open_client(f"ws://{target.host}:{target.port}/mcp", mode="auto"):
            pass
    with pytest.raises(ValueError, match="mode must be"):
        async with open_client(target.url, mode="newest"):  # pyright: ignore[reportArgumentType]
            pass


async def test_an_unreachable_server_in_auto_mode_is_a_transport_error() -> None:
    from _redis_server import free_port

    with trio.fail_after(WAIT), pytest.raises(TransportError, match="cannot reach"):
        async with open_client(f"http://127.0.0.1:{free_port()}/mcp", mode="auto", reconnect_timeout=0.3):
            pass


async def test_the_official_sdk_client_in_auto_mode_picks_the_modern_era(target: Target) -> None:
    with trio.fail_after(WAIT):
        async with SdkClient(target.url, mode="auto") as sdk:
            assert sdk.protocol_version == "2026-07-28"
            tools = await sdk.list_tools()
            assert any(tool.name == "test_simple_text" for tool in tools.tools)
            result = await sdk.call_tool("test_simple_text", {})
            first = result.content[0]
            assert getattr(first, "text", None) == SIMPLE
        async with SdkClient(target.url, mode="2026-07-28") as sdk:
            result = await sdk.call_tool("test_simple_text", {})
            assert getattr(result.content[0], "text", None) == SIMPLE
    assert target.app._sessions.live == {}  # pyright: ignore[reportPrivateUsage]


# -- multi-round-trip requests (SEP-2322): the client answers input requests with its callbacks, and retries --


async def test_modern_mode_answers_input_requests_with_its_callbacks_and_retries(target: Target) -> None:
    asked: list[str] = []

    async def on_elicit(params: t.ElicitRequestParams) -> t.ElicitResult:
        asked.append(params.message)
        content = {"color": "teal"} if "color" in params.message else {"name": "Ada", "context": "tea"}
        return t.ElicitResult(action="accept", content=content)

    async def on_sample(params: t.CreateMessageRequestParams) -> t.CreateMessageResult:
        asked.append("sample")
        return t.CreateMessageResult(role="assistant", content=t.TextContent(text="Hi"), model="m")

    roots = [t.Root(uri="file:///work", name="work")]
    with trio.fail_after(WAIT):
        async with open_client(
            target.url,
            mode="modern",
            elicitation_callback=on_elicit,
            sampling_callback=on_sample,
            roots=roots,
        ) as client:
            result = await client.call_tool("test_input_required_result_multi_round")
            assert text_of(result) == "Ada likes teal"
            assert asked == ["Step 1: What is your name?", "Step 2: What is your favorite color?"]
            asked.clear()
            result = await client.call_tool("test_input_required_result_multiple_inputs")
            assert text_of(result) == "Hi Ada, with 1 root(s)"
            assert sorted(asked) == ["What is your name?", "sample"]  # one round, both asked
            prompt = await client.get_prompt("test_input_required_result_prompt")
            assert isinstance(prompt.messages[0].content, t.TextContent)
            assert prompt.messages[0].content.text == "Use this context: tea"


async def test_a_server_that_never_stops_asking_is_given_up_on(nursery: trio.Nursery) -> None:
    endless = Server("endless")

    @endless.tool
    async def forever(*, ctx: Context) -> str:
        """Asks one more question every round."""
        n = 0
        while True:
            await ctx.elicit(f"Question {n}?", {"type": "object", "properties": {}}, key=f"q{n}")
            n += 1

    async def on_elicit(params: t.ElicitRequestParams) -> t.ElicitResult:
        return t.ElicitResult(action="accept", content={})

    target = await start_app(nursery, endless.asgi_app())
    with trio.fail_after(WAIT):
        async with open_client(target.url, mode="modern", elicitation_callback=on_elicit) as client:
            with pytest.raises(McpError, match="still needed input after 16 rounds"):
                await client.call_tool("forever")
