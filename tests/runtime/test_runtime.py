"""The trio runtime end to end over the in-memory pair: dispatcher, Context, Peer, serve_connection, ClientSession."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from trio_mcp import Context, LocalProtocolError, McpError, Server
from trio_mcp._proto import types as t
from trio_mcp._proto.session import NEW, READY
from trio_mcp._runtime.connection import serve_connection
from trio_mcp._runtime.dispatcher import Dispatcher, ServerIdentity
from trio_mcp._runtime.registry import HandlerRegistry
from trio_mcp._runtime.state import ServerSession
from trio_mcp.testing import open_memory_client

FORM_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@attrs.frozen
class Person:
    name: str
    age: int


def text_of(result: t.CallToolResult) -> str:
    assert len(result.content) == 1
    block = result.content[0]
    assert isinstance(block, t.TextContent)
    return block.text


@attrs.define
class Recorder:
    """A notification_callback that keeps what arrives, with an event per method."""

    items: list[tuple[str, Any]] = attrs.field(factory=list)

    async def __call__(self, method: str, params: Any) -> None:
        self.items.append((method, params))

    def of(self, method: str) -> list[Any]:
        return [params for m, params in self.items if m == method]


def probe_server(name: str = "test-server", **kwargs: Any) -> tuple[Server, list[ServerSession]]:
    """A Server with a `probe` tool that records the ServerSession serving the call."""
    server = Server(name, **kwargs)
    sessions: list[ServerSession] = []

    @server.tool
    async def probe(ctx: Context) -> str:
        """Report the session's negotiated version."""
        sessions.append(ctx.session)
        return f"{ctx.protocol_version}|{ctx.client_info.name if ctx.client_info else None}"

    return server, sessions


def assert_idle(session: ServerSession) -> None:
    assert session.in_flight == {}
    assert session.peer.waiting == 0


# --- a raw JSON-RPC peer, to see exactly what goes over the wire --------------------------------------------


@attrs.define
class Wire:
    to_server: trio.MemorySendChannel[bytes]
    from_server: trio.MemoryReceiveChannel[bytes]
    session: ServerSession

    async def send(self, obj: Any) -> None:
        await self.to_server.send(json.dumps(obj).encode())

    async def receive(self) -> dict[str, Any]:
        return json.loads(await self.from_server.receive())

    async def nothing_within(self, seconds: float) -> bool:
        with trio.move_on_after(seconds):
            message = await self.receive()
            raise AssertionError(f"unexpected message {message}")
        return True

    async def initialize(self, version: str = "2025-11-25") -> dict[str, Any]:
        await self.send(
            {
                "jsonrpc": "2.0",
                "id": "init",
                "method": "initialize",
                "params": {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "wire", "version": "1"},
                },
            }
        )
        reply = await self.receive()
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply


@asynccontextmanager
async def open_wire(server: Server | HandlerRegistry) -> AsyncIterator[Wire]:
    to_server_send, to_server_recv = trio.open_memory_channel[bytes](256)
    to_client_send, to_client_recv = trio.open_memory_channel[bytes](256)
    if isinstance(server, Server):
        dispatcher = server.dispatcher()
    else:
        identity = ServerIdentity(
            info=t.Implementation(name="raw", version="0"), capabilities=t.ServerCapabilities()
        )
        dispatcher = Dispatcher(server, lambda: identity)
    session = ServerSession.new("wire-session")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_connection, dispatcher, session, to_server_recv, to_client_send.send)
        async with to_server_send:
            yield Wire(to_server_send, to_client_recv, session)
        nursery.cancel_scope.cancel()


# --- initialize and version negotiation ---------------------------------------------------------------------


async def test_initialize_handshake() -> None:
    server, sessions = probe_server("srv", version="1.2", instructions="Be kind.")
    async with open_memory_client(server) as client:
        assert client.initialize_result == t.InitializeResult(
            protocol_version="2025-11-25",
            capabilities=t.ServerCapabilities(
                tools=t.ToolsCapability(list_changed=True),
                resources=t.ResourcesCapability(subscribe=True, list_changed=True),
                prompts=t.PromptsCapability(list_changed=True),
                logging={},
                completions={},
            ),
            server_info=t.Implementation(name="srv", version="1.2"),
            instructions="Be kind.",
        )
        assert client.protocol.state is READY
        assert client.protocol.protocol_version == "2025-11-25"
        assert text_of(await client.call_tool("probe")) == "2025-11-25|trio_mcp-memory-client"
        (session,) = sessions
        assert session.protocol.state is READY
        assert session.protocol.client_info == t.Implementation(name="trio_mcp-memory-client", version="0")
        # No callbacks given: no client capabilities declared.
        assert session.protocol.client_capabilities == t.ClientCapabilities()
        assert_idle(session)


async def test_declared_client_capabilities_follow_callbacks() -> None:
    server, sessions = probe_server()

    async def sample(params: t.CreateMessageRequestParams) -> t.CreateMessageResult:
        raise AssertionError("not called")

    async def elicit(params: t.ElicitRequestParams) -> t.ElicitResult:
        raise AssertionError("not called")

    async with open_memory_client(
        server, sampling_callback=sample, elicitation_callback=elicit, roots=[t.Root(uri="file:///r")]
    ) as client:
        await client.call_tool("probe")
    assert sessions[0].protocol.client_capabilities == t.ClientCapabilities(
        sampling=t.SamplingCapability(),
        elicitation=t.ElicitationCapability(form={}),
        roots=t.RootsCapability(list_changed=True),
    )


@pytest.mark.parametrize(
    ("requested", "negotiated"),
    [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2024-11-05", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
    ],
)
async def test_version_negotiation(requested: str, negotiated: str) -> None:
    server, sessions = probe_server()
    async with open_memory_client(server, protocol_version=requested) as client:
        assert client.initialize_result is not None
        assert client.initialize_result.protocol_version == negotiated
        assert client.protocol.protocol_version == negotiated
        assert text_of(await client.call_tool("probe")) == f"{negotiated}|trio_mcp-memory-client"
        assert sessions[0].protocol.protocol_version == negotiated
        assert sessions[0].protocol.batches_allowed is (negotiated == "2025-03-26")


async def test_raw_registry_identity() -> None:
    async with open_memory_client(HandlerRegistry()) as client:
        assert client.initialize_result == t.InitializeResult(
            protocol_version="2025-11-25",
            capabilities=t.ServerCapabilities(),
            server_info=t.Implementation(name="registry", version="0"),
        )
        # Nothing registered: a known method this server does not offer.
        with pytest.raises(McpError) as info:
            await client.list_tools()
        assert info.value.code == -32601
        assert info.value.message == "Method not found: this server does not offer tools/list"


async def test_initialize_on_the_wire() -> None:
    server, _ = probe_server("srv", version="3")
    async with open_wire(server) as wire:
        # Only ping before initialize (L§Initialization).
        await wire.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert await wire.receive() == {"jsonrpc": "2.0", "id": 1, "result": {}}
        await wire.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        reply = await wire.receive()
        assert reply["id"] == 2
        assert reply["error"]["code"] == -32600
        assert "before initialization" in reply["error"]["message"]
        assert wire.session.protocol.state is NEW
        reply = await wire.initialize("2025-06-18")
        assert reply == {
            "jsonrpc": "2.0",
            "id": "init",
            "result": {
                "protocolVersion": "2025-06-18",
                "capabilities": {
                    "logging": {},
                    "completions": {},
                    "prompts": {"listChanged": True},
                    "resources": {"subscribe": True, "listChanged": True},
                    "tools": {"listChanged": True},
                },
                "serverInfo": {"name": "srv", "version": "3"},
            },
        }
        params = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "w", "version": "2"},
        }
        await wire.send({"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": params})
        assert await wire.receive() == {
            "jsonrpc": "2.0",
            "id": 3,
            "error": {
                "code": -32600,
                "message": "Invalid Request: initialize may be sent only once, as the first request of a session",
            },
        }
        assert wire.session.protocol.state is READY
        assert wire.session.protocol.protocol_version == "2025-06-18"
        await wire.send({"jsonrpc": "2.0", "id": 4, "method": "sampling/createMessage", "params": {}})
        assert await wire.receive() == {
            "jsonrpc": "2.0",
            "id": 4,
            "error": {"code": -32601, "message": "Method not found: sampling/createMessage"},
        }
        await wire.send({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": 3}})
        assert await wire.receive() == {
            "jsonrpc": "2.0",
            "id": 5,
            "error": {"code": -32602, "message": "Invalid params: params.name: expected a string, got 3"},
        }


async def test_ping() -> None:
    server, sessions = probe_server()
    async with open_memory_client(server) as client:
        assert await client.ping() is None
        assert await client.request("ping") == t.EmptyResult()
        await client.call_tool("probe")
        assert_idle(sessions[0])


async def test_client_ping_before_initialize() -> None:
    server, _ = probe_server()
    async with open_memory_client(server, initialize=False) as client:
        assert client.protocol.state is NEW
        await client.ping()
        # The client's own sans-IO core refuses what the protocol forbids before it even sends.
        with pytest.raises(
            LocalProtocolError, match=r"cannot send tools/list before initialization finished"
        ):
            await client.request("tools/list", t.PaginatedRequestParams())
        result = await client.initialize()
        assert result.protocol_version == "2025-11-25"
        assert client.protocol.state is READY
        assert [tool.name for tool in (await client.list_tools()).tools] == ["probe"]


# --- cancellation ----------------------------------------------------------------------------------------------


def cancellable_server() -> tuple[Server, dict[str, Any]]:
    server = Server("cancel")
    log: dict[str, Any] = {"started": {}, "cancelled": [], "finished": [], "ids": {}}
    started_events: dict[int, trio.Event] = {}
    log["events"] = started_events

    @server.tool
    async def work(n: int, ctx: Context) -> str:
        """Sleep n seconds (n == 0: forever)."""
        log["ids"][n] = ctx.request_id
        log["session"] = ctx.session
        started_events.setdefault(n, trio.Event()).set()
        try:
            if n == 0:
                await trio.sleep_forever()
            await trio.sleep(n)
        except trio.Cancelled:
            log["cancelled"].append(n)
            raise
        log["finished"].append(n)
        return f"done {n}"

    return server, log


async def test_client_timeout_cancels_exactly_one_request(autojump_clock: trio.testing.MockClock) -> None:
    server, log = cancellable_server()
    results: dict[int, Any] = {}
    async with open_memory_client(server) as client:

        async def call(n: int, timeout: float | None = None) -> None:
            try:
                results[n] = text_of(await client.call_tool("work", {"n": n}, timeout=timeout))
            except McpError as exc:
                results[n] = (exc.code, exc.message)

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, 1)
            nursery.start_soon(call, 0, 5)
            nursery.start_soon(call, 3)
        assert trio.current_time() - start == pytest.approx(5)
        assert results == {
            1: "done 1",
            3: "done 3",
            0: (-32003, "tools/call got no reply within 5 s (timeout)"),
        }
        # L§Timeouts: the client sent notifications/cancelled and the server cancelled only that handler.
        await client.ping()
        assert log["cancelled"] == [0]
        assert sorted(log["finished"]) == [1, 3]
        assert_idle(log["session"])
        assert client.peer.waiting == 0
        assert not client.protocol.expects_response(log["ids"][0])


async def test_explicit_cancel_from_client(autojump_clock: trio.testing.MockClock) -> None:
    server, log = cancellable_server()
    results: dict[int, str] = {}
    started = log["events"].setdefault(0, trio.Event())
    async with open_memory_client(server) as client:

        async def call(n: int) -> None:
            results[n] = text_of(await client.call_tool("work", {"n": n}))

        stop_waiting = trio.CancelScope()

        async def call_forever() -> None:
            with stop_waiting:
                await client.call_tool("work", {"n": 0})
                raise AssertionError("the cancelled request was answered")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, 2)
            nursery.start_soon(call_forever)
            nursery.start_soon(call, 4)
            await started.wait()
            # Cancel on the server (U/cancellation), then stop waiting here.
            await client.cancel(log["ids"][0], reason="user pressed stop")
            stop_waiting.cancel()
        assert results == {2: "done 2", 4: "done 4"}
        assert log["cancelled"] == [0]
        assert sorted(log["finished"]) == [2, 4]
        assert_idle(log["session"])
        assert client.peer.waiting == 0


async def test_cancelled_request_gets_no_response_on_the_wire(autojump_clock: trio.testing.MockClock) -> None:
    server, log = cancellable_server()
    async with open_wire(server) as wire:
        await wire.initialize()
        for request_id, n in ((10, 1), (11, 0), (12, 2)):
            await wire.send(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "method": "tools/call",
                    "params": {"name": "work", "arguments": {"n": n}},
                }
            )
        log["events"].setdefault(0, trio.Event())
        await log["events"][0].wait()
        assert set(wire.session.in_flight) == {10, 11, 12}
        await wire.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 11}})
        replies = [await wire.receive(), await wire.receive()]
        assert replies == [
            {"jsonrpc": "2.0", "id": 10, "result": {"content": [{"type": "text", "text": "done 1"}]}},
            {"jsonrpc": "2.0", "id": 12, "result": {"content": [{"type": "text", "text": "done 2"}]}},
        ]
        assert await wire.nothing_within(100)
        assert log["cancelled"] == [0]
        assert_idle(wire.session)
        # Unknown and finished ids are ignored; the session stays usable.
        await wire.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 10}})
        await wire.send(
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "nope"}}
        )
        await wire.send({"jsonrpc": "2.0", "id": 13, "method": "ping"})
        assert await wire.receive() == {"jsonrpc": "2.0", "id": 13, "result": {}}


async def test_cancel_in_the_same_batch_is_not_lost(autojump_clock: trio.testing.MockClock) -> None:
    # 2025-03-26 allows batches; a cancellation right behind its request must still find it (U/cancellation races).
    server, log = cancellable_server()
    for _ in range(10):
        async with open_wire(server) as wire:
            assert (await wire.initialize("2025-03-26"))["result"]["protocolVersion"] == "2025-03-26"
            await wire.send(
                [
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "tools/call",
                        "params": {"name": "work", "arguments": {"n": 5}},
                    },
                    {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
                    {"jsonrpc": "2.0", "id": 2, "method": "ping"},
                ]
            )
            assert await wire.receive() == {"jsonrpc": "2.0", "id": 2, "result": {}}
            assert await wire.nothing_within(30)
            assert_idle(wire.session)
    assert log["finished"] == []


# --- progress and logging ----------------------------------------------------------------------------------


async def test_progress_notifications() -> None:
    server = Server("progress")

    @server.tool
    async def count(steps: int, ctx: Context) -> str:
        """Count with progress."""
        for i in range(1, steps + 1):
            await ctx.report_progress(i, steps, f"step {i}")
        return "counted"

    seen: list[t.ProgressNotificationParams] = []

    async def on_progress(params: t.ProgressNotificationParams) -> None:
        seen.append(params)

    recorder = Recorder()
    async with open_memory_client(server, notification_callback=recorder) as client:
        result = await client.call_tool("count", {"steps": 3}, progress=on_progress)
        assert text_of(result) == "counted"
        assert seen == [
            t.ProgressNotificationParams(progress_token="p1", progress=1, total=3, message="step 1"),
            t.ProgressNotificationParams(progress_token="p1", progress=2, total=3, message="step 2"),
            t.ProgressNotificationParams(progress_token="p1", progress=3, total=3, message="step 3"),
        ]
        # A second call has its own token; a call without a callback asks for no progress at all.
        await client.call_tool("count", {"steps": 1}, progress=on_progress)
        assert seen[-1] == t.ProgressNotificationParams(
            progress_token="p2", progress=1, total=1, message="step 1"
        )
        before = len(recorder.of("notifications/progress"))
        assert before == 4
        await client.call_tool("count", {"steps": 5})
        assert len(recorder.of("notifications/progress")) == before


async def test_log_notifications_filtered_by_level() -> None:
    server = Server("logs")

    @server.tool
    async def chatty(ctx: Context) -> str:
        """Log at every level."""
        for level in t.LOGGING_LEVELS:
            await ctx.log(level, {"at": level}, logger="chatty")
        await ctx.warning("plain warning")
        return "ok"

    logs: list[t.LoggingMessageNotificationParams] = []

    async def on_log(params: t.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async with open_memory_client(server, logging_callback=on_log) as client:
        await client.call_tool("chatty")
        assert [entry.level for entry in logs] == [*t.LOGGING_LEVELS, "warning"]
        assert logs[0] == t.LoggingMessageNotificationParams(
            level="debug", data={"at": "debug"}, logger="chatty"
        )
        assert logs[-1] == t.LoggingMessageNotificationParams(level="warning", data="plain warning")
        logs.clear()
        await client.set_logging_level("warning")
        await client.call_tool("chatty")
        assert logs == [
            t.LoggingMessageNotificationParams(level=level, data={"at": level}, logger="chatty")
            for level in ("warning", "error", "critical", "alert", "emergency")
        ] + [t.LoggingMessageNotificationParams(level="warning", data="plain warning")]
        logs.clear()
        await client.set_logging_level("emergency")
        await client.call_tool("chatty")
        assert [entry.level for entry in logs] == ["emergency"]
        with pytest.raises(McpError) as info:
            await client.request("logging/setLevel", {"level": "loud"})
        assert info.value.code == -32602


# --- failures stay at the request boundary ----------------------------------------------------------------


async def test_failing_raw_handler_is_internal_error_and_session_survives() -> None:
    registry = HandlerRegistry()
    calls: list[str] = []

    @registry.request("tools/call")
    async def call(ctx: Context, params: t.CallToolRequestParams) -> t.CallToolResult:
        calls.append(params.name)
        if params.name == "boom":
            raise RuntimeError("kaboom")
        if params.name == "mcp":
            raise McpError(-32002, "Resource not found", {"uri": "x://y"})
        return t.CallToolResult(content=[t.TextContent(text=f"ran {params.name}")])

    async with open_memory_client(registry) as client:
        with pytest.raises(McpError) as info:
            await client.call_tool("boom")
        assert (info.value.code, info.value.message, info.value.data) == (
            -32603,
            "Internal error while handling tools/call; see the server log",
            None,
        )
        # The handler's own text never leaks to the client.
        assert "kaboom" not in str(info.value)
        assert text_of(await client.call_tool("fine")) == "ran fine"
        with pytest.raises(McpError) as info:
            await client.call_tool("mcp")
        assert (info.value.code, info.value.message, info.value.data) == (
            -32002,
            "Resource not found",
            {"uri": "x://y"},
        )
        await client.ping()
        assert calls == ["boom", "fine", "mcp"]


async def test_failing_tool_is_error_result_and_session_survives() -> None:
    server, sessions = probe_server()

    @server.tool
    async def explode(x: int) -> str:
        """Fail on purpose."""
        raise ValueError(f"bad value {x}")

    async with open_memory_client(server) as client:
        result = await client.call_tool("explode", {"x": 7})
        assert result == t.CallToolResult(content=[t.TextContent(text="bad value 7")], is_error=True)
        assert text_of(await client.call_tool("probe")).startswith("2025-11-25|")
        with pytest.raises(McpError) as info:
            await client.call_tool("missing")
        assert (info.value.code, info.value.message) == (-32602, "Unknown tool: 'missing'")
        await client.ping()
        assert_idle(sessions[0])


# --- server -> client requests ------------------------------------------------------------------------------


async def test_elicitation_round_trip() -> None:
    server, sessions = probe_server()

    @server.tool
    async def register(ctx: Context) -> str:
        """Ask for a person."""
        answer = await ctx.elicit("Who are you?", Person)
        assert answer.accepted
        assert answer.data is not None
        return f"{answer.data.name} is {answer.data.age}"

    @server.tool
    async def ask_name(ctx: Context) -> str:
        """Ask for a name with a raw schema."""
        answer = await ctx.elicit("Name?", FORM_SCHEMA)
        return f"{answer.action}:{answer.content}:{answer.data}"

    requests: list[t.ElicitRequestParams] = []

    async def on_elicit(params: t.ElicitRequestParams) -> t.ElicitResult:
        requests.append(params)
        assert isinstance(params, t.ElicitRequestFormParams)
        if params.message == "Who are you?":
            return t.ElicitResult(action="accept", content={"name": "Ann", "age": 31})
        return t.ElicitResult(action="decline")

    async with open_memory_client(server, elicitation_callback=on_elicit) as client:
        assert text_of(await client.call_tool("register")) == "Ann is 31"
        assert text_of(await client.call_tool("ask_name")) == "decline:None:None"
        await client.call_tool("probe")
    assert requests == [
        t.ElicitRequestFormParams(
            message="Who are you?",
            requested_schema=t.ElicitRequestedSchema(
                properties={"name": t.StringSchema(), "age": t.NumberSchema(type="integer")},
                required=["name", "age"],
            ),
        ),
        t.ElicitRequestFormParams(
            message="Name?",
            requested_schema=t.ElicitRequestedSchema(
                properties={"name": t.StringSchema()}, required=["name"]
            ),
        ),
    ]
    assert_idle(sessions[0])


async def test_sampling_round_trip() -> None:
    server, sessions = probe_server()

    @server.tool
    async def summarize(text: str, ctx: Context) -> str:
        """Summarize via the client's model."""
        result = await ctx.sample(
            f"Summarize: {text}", max_tokens=50, system_prompt="Be brief.", temperature=0.5
        )
        assert isinstance(result.content, t.TextContent)
        return f"{result.content.text}|{result.model}|{result.stop_reason}"

    requests: list[t.CreateMessageRequestParams] = []

    async def on_sample(params: t.CreateMessageRequestParams) -> t.CreateMessageResult:
        requests.append(params)
        return t.CreateMessageResult(
            role="assistant", content=t.TextContent(text="short"), model="tiny-1", stop_reason="endTurn"
        )

    async with open_memory_client(server, sampling_callback=on_sample) as client:
        assert (
            text_of(await client.call_tool("summarize", {"text": "a long story"})) == "short|tiny-1|endTurn"
        )
        await client.call_tool("probe")
    assert requests == [
        t.CreateMessageRequestParams(
            messages=[t.SamplingMessage(role="user", content=t.TextContent(text="Summarize: a long story"))],
            max_tokens=50,
            system_prompt="Be brief.",
            temperature=0.5,
        )
    ]
    assert_idle(sessions[0])


async def test_roots_round_trip() -> None:
    server = Server("roots")

    @server.tool
    async def where(ctx: Context) -> str:
        """List the client's roots."""
        return ",".join(root.uri for root in await ctx.list_roots())

    roots = [t.Root(uri="file:///home/a", name="a"), t.Root(uri="file:///srv")]
    async with open_memory_client(server, roots=roots) as client:
        assert text_of(await client.call_tool("where")) == "file:///home/a,file:///srv"
    async with open_memory_client(server) as client:
        result = await client.call_tool("where")
        assert result == t.CallToolResult(
            content=[t.TextContent(text="the client did not declare the roots capability")], is_error=True
        )


async def test_client_without_capability() -> None:
    server, sessions = probe_server()

    @server.tool
    async def ask(ctx: Context) -> str:
        """Elicit."""
        answer = await ctx.elicit("Name?", FORM_SCHEMA)
        return answer.action

    @server.tool
    async def think(ctx: Context) -> str:
        """Sample."""
        await ctx.sample("hi", max_tokens=5)
        return "sampled"

    async with open_memory_client(server) as client:
        assert await client.call_tool("ask") == t.CallToolResult(
            content=[
                t.TextContent(text="the client did not declare the elicitation capability for form mode")
            ],
            is_error=True,
        )
        assert await client.call_tool("think") == t.CallToolResult(
            content=[t.TextContent(text="the client did not declare the sampling capability")], is_error=True
        )
        await client.call_tool("probe")
        assert_idle(sessions[0])
        # Nothing was left pending: the refused request never got an id.
        assert sessions[0].protocol.next_request_id() == 1


async def test_elicitation_not_offered_in_2025_03_26() -> None:
    server = Server("old")

    @server.tool
    async def ask(ctx: Context) -> str:
        """Elicit."""
        return (await ctx.elicit("Name?", FORM_SCHEMA)).action

    async def on_elicit(params: t.ElicitRequestParams) -> t.ElicitResult:
        raise AssertionError("never called: elicitation arrived in 2025-06-18")

    async with open_memory_client(
        server, elicitation_callback=on_elicit, protocol_version="2025-03-26"
    ) as client:
        result = await client.call_tool("ask")
        assert result.is_error is True
        assert "elicitation does not exist in protocol version 2025-03-26" in text_of(result)


async def test_raw_handler_without_capability_gets_method_not_found() -> None:
    registry = HandlerRegistry()

    @registry.request("tools/call")
    async def call(ctx: Context, params: t.CallToolRequestParams) -> t.CallToolResult:
        await ctx.elicit("Name?", FORM_SCHEMA)
        raise AssertionError("unreachable")

    async with open_memory_client(registry) as client:
        with pytest.raises(McpError) as info:
            await client.call_tool("x")
        assert (info.value.code, info.value.message) == (
            -32601,
            "the client did not declare the elicitation capability for form mode",
        )


async def test_reply_timeout(autojump_clock: trio.testing.MockClock) -> None:
    server, sessions = probe_server()
    callback_cancelled = trio.Event()

    @server.tool
    async def ask(ctx: Context) -> str:
        """Elicit with a short timeout."""
        answer = await ctx.elicit("Anyone?", FORM_SCHEMA, timeout=1)
        return answer.action

    async def never_answers(params: t.ElicitRequestParams) -> t.ElicitResult:
        try:
            await trio.sleep_forever()
        finally:
            callback_cancelled.set()

    recorder = Recorder()
    async with open_memory_client(
        server, elicitation_callback=never_answers, notification_callback=recorder
    ) as client:
        start = trio.current_time()
        with pytest.raises(McpError) as info:
            await client.call_tool("ask")
        assert trio.current_time() - start == pytest.approx(1)
        assert (info.value.code, info.value.message) == (
            -32003,
            "elicitation/create got no reply within 1 s (timeout)",
        )
        # L§Timeouts: the server told the client it stopped waiting ...
        await client.ping()
        assert recorder.items == [
            (
                "notifications/cancelled",
                t.CancelledNotificationParams(request_id=1, reason="timed out after 1 s"),
            )
        ]
        # ... and the client stopped the callback (U/cancellation), without answering.
        with trio.fail_after(1):
            await callback_cancelled.wait()
        await client.call_tool("probe")
        session = sessions[0]
        assert_idle(session)
        assert not session.protocol.expects_response(1)


async def test_late_reply_after_timeout_is_dropped(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_mcp")
    server, sessions = probe_server()
    answered = trio.Event()

    @server.tool
    async def ask(ctx: Context) -> str:
        """Elicit with a short timeout."""
        try:
            return (await ctx.elicit("Slow?", FORM_SCHEMA, timeout=2)).action
        except McpError as exc:
            return f"gave up: {exc.message}"

    async def slow(params: t.ElicitRequestParams) -> t.ElicitResult:
        with trio.CancelScope(shield=True):  # ignores the server's cancellation, answers late anyway
            await trio.sleep(5)
        answered.set()
        return t.ElicitResult(action="accept", content={"name": "late"})

    async with open_memory_client(server, elicitation_callback=slow) as client:
        assert (
            text_of(await client.call_tool("ask"))
            == "gave up: elicitation/create got no reply within 2 s (timeout)"
        )
        await answered.wait()
        await client.ping()
        assert text_of(await client.call_tool("probe")).startswith("2025-11-25")
        assert_idle(sessions[0])
    # The late answer reached the server, which dropped it: nobody waits for request 1 any more.
    assert "dropped a reply to request id 1 that nobody waits for" in caplog.messages


# --- load -------------------------------------------------------------------------------------------------------


async def test_200_concurrent_requests(autojump_clock: trio.testing.MockClock) -> None:
    server, sessions = probe_server()
    stats = {"now": 0, "peak": 0, "peak_in_flight": 0}

    @server.tool
    async def double(n: int, ctx: Context) -> str:
        """Double n, slowly."""
        stats["now"] += 1
        stats["peak"] = max(stats["peak"], stats["now"])
        stats["peak_in_flight"] = max(stats["peak_in_flight"], len(ctx.session.in_flight))
        await trio.sleep(1 + (n % 7) / 10)
        stats["now"] -= 1
        return str(2 * n)

    results: dict[int, str] = {}
    async with open_memory_client(server) as client:

        async def call(n: int) -> None:
            results[n] = text_of(await client.call_tool("double", {"n": n}))

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for n in range(200):
                nursery.start_soon(call, n)
        assert trio.current_time() - start == pytest.approx(1.6)
        assert results == {n: str(2 * n) for n in range(200)}
        assert stats == {"now": 0, "peak": 200, "peak_in_flight": 200}
        await client.call_tool("probe")
        assert_idle(sessions[0])
        assert client.peer.waiting == 0


# --- notifications not tied to a request ----------------------------------------------------------------------


async def test_tools_list_changed_reaches_every_client() -> None:
    server = Server("lists")
    first, second, early = Recorder(), Recorder(), Recorder()
    async with (
        open_memory_client(server, notification_callback=first) as a,
        open_memory_client(server, notification_callback=second) as b,
        open_memory_client(server, notification_callback=early, initialize=False) as c,
    ):
        # `c` is connected (a ping is allowed before initialize) but has not initialized: it gets nothing, and
        # it does not stop the others from getting theirs.
        await c.ping()
        assert c.protocol.state is NEW
        await server.send_tools_list_changed()
        for client in (a, b, c):
            await client.ping()
        expected = [("notifications/tools/list_changed", t.NotificationParams())]
        assert first.items == expected
        assert second.items == expected
        assert early.items == []

        async def added(x: int) -> int:
            """A tool added at run time."""
            return x

        await c.initialize()
        await server.add_tool(added)
        await server.send_prompts_list_changed()
        for client in (a, b, c):
            await client.ping()
        more = [
            ("notifications/tools/list_changed", t.NotificationParams()),
            ("notifications/prompts/list_changed", t.NotificationParams()),
        ]
        assert first.items == expected + more
        assert second.items == expected + more
        assert early.items == more
        assert [tool.name for tool in (await c.list_tools()).tools] == ["added"]
    # After the clients left, a broadcast reaches nobody and does not fail.
    await server.send_tools_list_changed()


async def test_resource_updates_reach_only_subscribers() -> None:
    server = Server("res")

    @server.resource("file:///a.txt")
    async def a_txt() -> str:
        """A."""
        return "a"

    @server.resource("file:///b.txt")
    async def b_txt() -> str:
        """B."""
        return "b"

    rec_a, rec_b, rec_none = Recorder(), Recorder(), Recorder()
    async with (
        open_memory_client(server, notification_callback=rec_a) as a,
        open_memory_client(server, notification_callback=rec_b) as b,
        open_memory_client(server, notification_callback=rec_none) as nobody,
    ):
        await a.subscribe("file:///a.txt")
        await b.subscribe("file:///b.txt")
        await b.subscribe("file:///a.txt")

        async def flush() -> None:
            for client in (a, b, nobody):
                await client.ping()

        await server.notify_resource_updated("file:///a.txt")
        await flush()
        updated_a = (
            "notifications/resources/updated",
            t.ResourceUpdatedNotificationParams(uri="file:///a.txt"),
        )
        updated_b = (
            "notifications/resources/updated",
            t.ResourceUpdatedNotificationParams(uri="file:///b.txt"),
        )
        assert rec_a.items == [updated_a]
        assert rec_b.items == [updated_a]
        assert rec_none.items == []

        await b.unsubscribe("file:///a.txt")
        await server.notify_resource_updated("file:///a.txt")
        await server.notify_resource_updated("file:///b.txt")
        await server.notify_resource_updated("file:///c.txt")
        await flush()
        assert rec_a.items == [updated_a, updated_a]
        assert rec_b.items == [updated_a, updated_b]
        assert rec_none.items == []


# --- everything, then nothing left behind -----------------------------------------------------------------------


async def test_in_flight_table_empty_after_everything(autojump_clock: trio.testing.MockClock) -> None:
    server, sessions = probe_server()

    @server.tool
    async def busy(ctx: Context, seconds: float) -> str:
        """Progress, logs, a question and a nap."""
        await ctx.report_progress(0.5)
        await ctx.info("working")
        answer = await ctx.elicit("ok?", FORM_SCHEMA)
        await trio.sleep(seconds)
        return answer.action

    @server.tool
    async def fails() -> str:
        """Always fails."""
        raise RuntimeError("no")

    async def on_elicit(params: t.ElicitRequestParams) -> t.ElicitResult:
        return t.ElicitResult(action="accept", content={"name": "x"})

    async def on_progress(params: t.ProgressNotificationParams) -> None:
        pass

    async with open_memory_client(server, elicitation_callback=on_elicit) as client:
        await client.call_tool("probe")
        session = sessions[0]
        outcomes: list[str] = []

        async def run(seconds: float, timeout: float | None) -> None:
            try:
                outcomes.append(
                    text_of(
                        await client.call_tool(
                            "busy", {"seconds": seconds}, timeout=timeout, progress=on_progress
                        )
                    )
                )
            except McpError as exc:
                outcomes.append(str(exc.code))

        async with trio.open_nursery() as nursery:
            for i in range(10):
                # Odd ones time out after 5 s: those that sleep 6, 8 and 10 s.
                nursery.start_soon(run, i + 1, 5 if i % 2 else None)
            nursery.start_soon(client.call_tool, "fails")
            await trio.sleep(0.5)
            assert len(session.in_flight) == 11 - 1  # `fails` has already answered
        assert sorted(outcomes) == ["-32003"] * 3 + ["accept"] * 7
        await client.ping()
        assert_idle(session)
        assert client.peer.waiting == 0
