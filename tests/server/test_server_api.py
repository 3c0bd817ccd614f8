"""The user-facing Server API, observed through a real client: decorators, schemas, calls, results, notifications."""

from __future__ import annotations

import base64
import enum
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict

import attrs
import pytest
import trio

from trio_mcp import Audio, ClientSession, Context, Image, McpError, RegistrationError, Server
from trio_mcp import types as t
from trio_mcp.testing import open_memory_client

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
WAV = base64.b64decode("UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Point:
    x: int
    y: int = 0


@attrs.frozen
class Forecast:
    city: str
    days: list[str]


class Movie(TypedDict):
    title: str
    year: NotRequired[int]


class Notifications:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    async def __call__(self, method: str, params: Any) -> None:
        self.seen.append((method, params))

    def methods(self) -> list[str]:
        return [method for method, _ in self.seen]


@asynccontextmanager
async def client_for(server: Server, notes: Notifications | None = None) -> AsyncIterator[ClientSession]:
    async with open_memory_client(server, notification_callback=notes) as client:
        yield client


async def listed_tool(server: Server, name: str) -> t.Tool:
    async with client_for(server) as client:
        tools = {tool.name: tool for tool in await client.list_all_tools()}
    return tools[name]


def text_of(result: t.CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, t.TextContent)
    return block.text


# ===== schema generation, checked through tools/list =====


async def test_input_schema_for_every_supported_hint() -> None:
    server = Server("schemas")

    @server.tool
    async def everything(
        s: str,
        i: int,
        f: float,
        b: bool,
        n: None,
        lit: Literal["a", "b"],
        color: Color,
        priority: Priority,
        opt: Optional[int],  # noqa: UP045 - the typing spelling must work too
        union: int | str,
        items: list[str],
        mapping: dict[str, int],
        point: Point,
        movie: Movie,
        described: Annotated[str, "A described parameter"],
        defaulted: int = 3,
        maybe: Annotated[str | None, "Optional text"] = None,
        flags: list[bool] | None = None,
    ) -> str:
        """Takes one of everything."""
        return "ok"

    tool = await listed_tool(server, "everything")
    assert tool.description == "Takes one of everything."
    assert tool.input_schema == {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "f": {"type": "number"},
            "b": {"type": "boolean"},
            "n": {"type": "null"},
            "lit": {"type": "string", "enum": ["a", "b"]},
            "color": {"type": "string", "enum": ["red", "green"]},
            "priority": {"type": "integer", "enum": [1, 2]},
            "opt": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "union": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "items": {"type": "array", "items": {"type": "string"}},
            "mapping": {"type": "object", "additionalProperties": {"type": "integer"}},
            "point": {
                "type": "object",
                "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 0}},
                "required": ["x"],
            },
            "movie": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
                "required": ["title"],
            },
            "described": {"type": "string", "description": "A described parameter"},
            "defaulted": {"type": "integer", "default": 3},
            "maybe": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "Optional text",
                "default": None,
            },
            "flags": {
                "anyOf": [{"type": "array", "items": {"type": "boolean"}}, {"type": "null"}],
                "default": None,
            },
        },
        "required": [
            "s",
            "i",
            "f",
            "b",
            "n",
            "lit",
            "color",
            "priority",
            "opt",
            "union",
            "items",
            "mapping",
            "point",
            "movie",
            "described",
        ],
    }
    assert tool.output_schema is None  # a str result is plain content


async def test_arguments_are_converted_to_the_declared_types() -> None:
    server = Server("convert")
    received: dict[str, Any] = {}

    @server.tool
    async def convert(
        color: Color, point: Point, movie: Movie, f: float, items: list[str], maybe: str | None = None
    ) -> str:
        """Records what it was given."""
        received.update(color=color, point=point, movie=movie, f=f, items=items, maybe=maybe)
        return "ok"

    async with client_for(server) as client:
        result = await client.call_tool(
            "convert",
            {"color": "green", "point": {"x": 5}, "movie": {"title": "Heat"}, "f": 2, "items": ["a"]},
        )
    assert not result.is_error, result
    assert received["color"] is Color.GREEN
    assert received["point"] == Point(x=5, y=0)
    assert received["movie"] == {"title": "Heat"}
    assert received["f"] == 2.0
    assert isinstance(received["f"], float)
    assert received["items"] == ["a"]
    assert received["maybe"] is None


class Mode(str, enum.Enum):  # noqa: UP042 - the classic spelling must work as well as StrEnum
    FAST = "fast"
    SAFE = "safe"


class Level(enum.StrEnum):
    LOW = "low"
    TOP = "top"


async def test_int_and_str_enum_arguments_are_converted_to_members() -> None:
    server = Server("convert-enums")
    received: dict[str, Any] = {}

    @server.tool
    async def pick(priority: Priority, mode: Mode, level: Level) -> str:
        """Records what it was given."""
        received.update(priority=priority, mode=mode, level=level)
        return "ok"

    async with client_for(server) as client:
        result = await client.call_tool("pick", {"priority": 2, "mode": "safe", "level": "top"})
    assert not result.is_error, result
    assert received["priority"] is Priority.HIGH
    assert received["mode"] is Mode.SAFE
    assert received["level"] is Level.TOP


async def test_ctx_parameter_is_injected_and_not_in_the_schema() -> None:
    server = Server("ctx")
    seen: dict[str, Any] = {}

    @server.tool
    async def who(name: str, context: Context) -> str:
        """Uses the context under any parameter name."""
        seen.update(
            method=context.method,
            request_id=context.request_id,
            session_id=context.session_id,
            client=context.client_info.name if context.client_info else None,
        )
        return f"hi {name}"

    @server.tool
    async def optional_ctx(*, ctx: Context | None = None) -> str:
        """Context declared as Optional."""
        return "has ctx" if isinstance(ctx, Context) else "no ctx"

    async with client_for(server) as client:
        tools = {tool.name: tool for tool in await client.list_all_tools()}
        assert tools["who"].input_schema == {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        }
        assert tools["optional_ctx"].input_schema == {"type": "object", "properties": {}}
        result = await client.call_tool("who", {"name": "Ada"})
        optional = await client.call_tool("optional_ctx")
    assert text_of(result) == "hi Ada"
    assert text_of(optional) == "has ctx"
    assert seen["method"] == "tools/call"
    assert seen["request_id"] is not None
    assert seen["session_id"]
    assert seen["client"] == "trio_mcp-memory-client"


async def test_input_schema_override_is_sent_verbatim_and_arguments_pass_by_name() -> None:
    server = Server("raw")
    raw_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"q": {"type": "string", "minLength": 2}, "page": {"type": "integer", "minimum": 1}},
        "required": ["q"],
        "additionalProperties": False,
        "x-vendor": {"keep": ["me", 1]},
    }
    got: dict[str, Any] = {}

    @server.tool(input_schema=raw_schema, description="Search with a hand-written schema.")
    async def search(q: str, page: int = 1) -> str:
        got.update(q=q, page=page)
        return f"{q}:{page}"

    tool = await listed_tool(server, "search")
    assert tool.input_schema == raw_schema
    assert tool.description == "Search with a hand-written schema."
    async with client_for(server) as client:
        ok = await client.call_tool("search", {"q": "trio", "page": 2})
        too_short = await client.call_tool("search", {"q": "t"})
        extra = await client.call_tool("search", {"q": "trio", "sort": "asc"})
    assert text_of(ok) == "trio:2"
    assert got == {"q": "trio", "page": 2}
    assert too_short.is_error is True
    assert "q" in text_of(too_short)
    assert extra.is_error is True
    assert "sort" in text_of(extra)


async def test_output_schema_override_and_explicit_name() -> None:
    server = Server("named")
    out = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

    @server.tool(name="count.things", output_schema=out, title="Count things")
    async def count() -> dict[str, int]:
        """Counts."""
        return {"n": 3}

    tool = await listed_tool(server, "count.things")
    assert tool.output_schema == out
    assert tool.title == "Count things"
    async with client_for(server) as client:
        result = await client.call_tool("count.things")
    assert result.structured_content == {"n": 3}


async def test_annotations_are_listed() -> None:
    server = Server("annotated")

    @server.tool(annotations=t.ToolAnnotations(read_only_hint=True, open_world_hint=False))
    async def look() -> str:
        """Only looks."""
        return "seen"

    tool = await listed_tool(server, "look")
    assert tool.annotations == t.ToolAnnotations(read_only_hint=True, open_world_hint=False)


# ===== registration errors =====


def test_tool_without_description_is_refused_clearly() -> None:
    server = Server("strict")

    async def undocumented(x: int) -> int:
        return x

    with pytest.raises(
        RegistrationError, match=r"tool 'undocumented' has no description.*docstring.*description="
    ):
        server.tool(undocumented)
    with pytest.raises(RegistrationError, match="has no description"):
        server.tool(description="   ")(undocumented)
    assert "undocumented" not in server.tools
    # An explicit description is enough.
    server.tool(description="Echo x.")(undocumented)
    assert server.tools["undocumented"].description == "Echo x."


def test_invalid_tool_name_is_refused() -> None:
    server = Server("strict")

    async def fine() -> str:
        """Fine."""
        return ""

    with pytest.raises(RegistrationError, match="not valid"):
        server.tool(name="has space")(fine)
    with pytest.raises(RegistrationError, match="not valid"):
        server.tool(name="x" * 129)(fine)


def test_prompt_without_description_is_refused() -> None:
    server = Server("strict")

    async def bare() -> str:
        return "x"

    with pytest.raises(RegistrationError, match="prompt 'bare' has no description"):
        server.prompt(bare)


def test_resource_parameters_must_match_the_template_variables() -> None:
    server = Server("strict")

    async def wrong(name: str) -> str:
        return name

    with pytest.raises(RegistrationError, match="template variables"):
        server.resource("users://{id}")(wrong)
    with pytest.raises(RegistrationError, match="needs a scheme"):
        server.resource("no-scheme")


# ===== calling tools =====


async def test_argument_validation_errors_are_tool_results_naming_the_field() -> None:
    server = Server("validate")

    @server.tool
    async def add(a: int, b: int = 0) -> int:
        """Add two integers."""
        return a + b

    async with client_for(server) as client:
        missing = await client.call_tool("add", {"b": 1})
        wrong_type = await client.call_tool("add", {"a": "one"})
        ok = await client.call_tool("add", {"a": 2, "b": 3})
    assert missing.is_error is True
    assert "Invalid arguments for tool 'add'" in text_of(missing)
    assert "arguments.a" in text_of(missing)
    assert "required" in text_of(missing)
    assert wrong_type.is_error is True
    assert "arguments.a" in text_of(wrong_type)
    assert "integer" in text_of(wrong_type)
    assert not ok.is_error
    assert text_of(ok) == "5"


async def test_unknown_tool_is_a_jsonrpc_invalid_params_error() -> None:
    server = Server("empty")
    async with client_for(server) as client:
        with pytest.raises(McpError) as excinfo:
            await client.call_tool("nope", {})
    assert excinfo.value.code == -32602
    assert "nope" in excinfo.value.message


async def test_a_raising_tool_gives_an_error_result_with_its_message() -> None:
    server = Server("raising")

    @server.tool
    async def explode() -> str:
        """Always fails."""
        raise ValueError("the flux capacitor is empty")

    @server.tool
    def silent() -> str:
        """Fails without a message."""
        raise KeyError()

    @server.tool
    async def protocol_error() -> str:
        """Raises an McpError, which stays a JSON-RPC error."""
        raise McpError(-32001, "custom protocol failure")

    async with client_for(server) as client:
        result = await client.call_tool("explode")
        quiet = await client.call_tool("silent")
        with pytest.raises(McpError) as excinfo:
            await client.call_tool("protocol_error")
        # The session survives all of it.
        await client.ping()
    assert result.is_error is True
    assert result.content == [t.TextContent(text="the flux capacitor is empty")]
    assert quiet.is_error is True
    assert text_of(quiet) == "KeyError in tool 'silent'"
    assert excinfo.value.code == -32001
    assert excinfo.value.message == "custom protocol failure"


async def test_return_values_map_to_content() -> None:
    server = Server("results")

    @server.tool
    async def text() -> str:
        """Text."""
        return "plain"

    @server.tool(mime_type="image/png")
    async def png_bytes() -> bytes:
        """Image bytes."""
        return PNG

    @server.tool(mime_type="audio/wav")
    async def wav_bytes() -> bytes:
        """Audio bytes."""
        return WAV

    @server.tool
    async def raw_bytes() -> bytes:
        """Bytes without a mime type."""
        return b"\x00\x01"

    @server.tool(mime_type="application/pdf")
    async def pdf_bytes() -> bytes:
        """Bytes of another type."""
        return b"%PDF-1.7"

    @server.tool
    async def image_helper() -> Image:
        """Image helper."""
        return Image(PNG)

    @server.tool
    async def audio_helper() -> Audio:
        """Audio helper."""
        return Audio(WAV, "audio/mpeg")

    @server.tool
    async def content_object() -> t.TextContent:
        """A content block."""
        return t.TextContent(text="as is", annotations=t.Annotations(priority=0.5))

    @server.tool
    async def resource_contents() -> t.TextResourceContents:
        """Resource contents get embedded."""
        return t.TextResourceContents(uri="mem://x", text="x", mime_type="text/plain")

    @server.tool
    async def mixed() -> list[Any]:
        """A list, flattened."""
        return ["one", Image(PNG), [t.TextContent(text="nested")], None]

    @server.tool
    async def number() -> int:
        """A number is JSON text."""
        return 42

    @server.tool
    async def nothing() -> None:
        """No content."""

    @server.tool
    async def whole_result() -> t.CallToolResult:
        """Returned as it is."""
        return t.CallToolResult(content=[t.TextContent(text="custom")], is_error=True)

    async with client_for(server) as client:
        tools = {tool.name: tool for tool in await client.list_all_tools()}

        async def call(name: str) -> t.CallToolResult:
            result = await client.call_tool(name)
            assert result.structured_content is None, name
            assert tools[name].output_schema is None, name
            return result

        assert (await call("text")).content == [t.TextContent(text="plain")]
        assert (await call("png_bytes")).content == [t.ImageContent(data=b64(PNG), mime_type="image/png")]
        assert (await call("wav_bytes")).content == [t.AudioContent(data=b64(WAV), mime_type="audio/wav")]
        assert (await call("raw_bytes")).content == [
            t.EmbeddedResource(
                resource=t.BlobResourceContents(
                    uri="tool://raw_bytes/result", blob=b64(b"\x00\x01"), mime_type="application/octet-stream"
                )
            )
        ]
        assert (await call("pdf_bytes")).content == [
            t.EmbeddedResource(
                resource=t.BlobResourceContents(
                    uri="tool://pdf_bytes/result", blob=b64(b"%PDF-1.7"), mime_type="application/pdf"
                )
            )
        ]
        assert (await call("image_helper")).content == [t.ImageContent(data=b64(PNG), mime_type="image/png")]
        assert (await call("audio_helper")).content == [t.AudioContent(data=b64(WAV), mime_type="audio/mpeg")]
        assert (await call("content_object")).content == [
            t.TextContent(text="as is", annotations=t.Annotations(priority=0.5))
        ]
        assert (await call("resource_contents")).content == [
            t.EmbeddedResource(
                resource=t.TextResourceContents(uri="mem://x", text="x", mime_type="text/plain")
            )
        ]
        assert (await call("mixed")).content == [
            t.TextContent(text="one"),
            t.ImageContent(data=b64(PNG), mime_type="image/png"),
            t.TextContent(text="nested"),
        ]
        assert (await call("number")).content == [t.TextContent(text="42")]
        assert (await call("nothing")).content == []
        whole = await call("whole_result")
        assert whole.content == [t.TextContent(text="custom")]
        assert whole.is_error is True


async def test_structured_results_for_dict_attrs_and_typeddict() -> None:
    server = Server("structured")

    @server.tool
    async def as_dict() -> dict[str, int]:
        """A dict."""
        return {"a": 1, "b": 2}

    @server.tool
    async def as_attrs(city: str) -> Forecast:
        """An attrs instance."""
        return Forecast(city=city, days=["sun", "rain"])

    @server.tool
    async def as_typeddict() -> Movie:
        """A TypedDict."""
        return {"title": "Heat", "year": 1995}

    async with client_for(server) as client:
        tools = {tool.name: tool for tool in await client.list_all_tools()}
        results = {
            name: await client.call_tool(name, args)
            for name, args in [
                ("as_dict", {}),
                ("as_attrs", {"city": "Oslo"}),
                ("as_typeddict", {}),
            ]
        }

    assert tools["as_dict"].output_schema == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert tools["as_attrs"].output_schema == {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "array", "items": {"type": "string"}}},
        "required": ["city", "days"],
    }
    assert tools["as_typeddict"].output_schema == {
        "type": "object",
        "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
        "required": ["title"],
    }
    expected = {
        "as_dict": {"a": 1, "b": 2},
        "as_attrs": {"city": "Oslo", "days": ["sun", "rain"]},
        "as_typeddict": {"title": "Heat", "year": 1995},
    }
    for name, value in expected.items():
        result = results[name]
        assert not result.is_error, name
        assert result.structured_content == value, name
        # The same JSON as a text block, for clients that do not read structuredContent.
        assert json.loads(text_of(result)) == value, name


async def test_sync_tool_runs_inline_and_blocking_tool_in_a_thread() -> None:
    server = Server("threads")
    main_thread = threading.get_ident()
    threads: dict[str, int] = {}

    @server.tool
    def inline(x: int) -> int:
        """Runs on the trio thread."""
        threads["inline"] = threading.get_ident()
        return x * 2

    @server.tool(blocking=True)
    def worker(x: int) -> int:
        """Runs in a worker thread."""
        threads["worker"] = threading.get_ident()
        return x * 3

    async with client_for(server) as client:
        doubled = await client.call_tool("inline", {"x": 4})
        tripled = await client.call_tool("worker", {"x": 4})
    assert text_of(doubled) == "8"
    assert text_of(tripled) == "12"
    assert threads["inline"] == main_thread
    assert threads["worker"] != main_thread


async def test_context_progress_and_logging_from_a_tool() -> None:
    server = Server("ctx-io")
    progress: list[t.ProgressNotificationParams] = []
    logs: list[t.LoggingMessageNotificationParams] = []

    @server.tool
    async def work(steps: int, *, ctx: Context) -> str:
        """Reports progress and logs."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step}")
        await ctx.log("debug", {"detail": "hidden at info"})
        await ctx.log("warning", "careful", logger="worker")
        return "done"

    async def on_progress(params: t.ProgressNotificationParams) -> None:
        progress.append(params)

    async def on_log(params: t.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async with open_memory_client(server, logging_callback=on_log) as client:
        await client.set_logging_level("info")
        result = await client.call_tool("work", {"steps": 3}, progress=on_progress)
    assert text_of(result) == "done"
    assert [(p.progress, p.total, p.message) for p in progress] == [
        (1, 3, "step 1"),
        (2, 3, "step 2"),
        (3, 3, "step 3"),
    ]
    assert len({p.progress_token for p in progress}) == 1
    assert [(p.level, p.data, p.logger) for p in logs] == [("warning", "careful", "worker")]


# ===== pagination =====


async def test_pagination_chains_through_every_list() -> None:
    server = Server("paged", page_size=2)
    for index in range(5):

        async def tool_fn() -> str:
            return "x"

        server.tool(name=f"tool{index}", description=f"Tool number {index}.")(tool_fn)

        async def prompt_fn() -> str:
            return "p"

        server.prompt(name=f"prompt{index}", description=f"Prompt number {index}.")(prompt_fn)

        async def resource_fn() -> str:
            return "r"

        server.resource(f"mem://r{index}")(resource_fn)

    async with client_for(server) as client:
        names: list[str] = []
        cursors: list[str] = []
        page = await client.list_tools()
        while True:
            assert len(page.tools) <= 2
            names.extend(tool.name for tool in page.tools)
            if page.next_cursor is None:
                break
            cursors.append(page.next_cursor)
            page = await client.list_tools(page.next_cursor)
        assert names == [f"tool{i}" for i in range(5)]
        assert len(cursors) == 2
        assert [tool.name for tool in await client.list_all_tools()] == names

        prompts = await client.list_prompts()
        assert [p.name for p in prompts.prompts] == ["prompt0", "prompt1"]
        assert prompts.next_cursor is not None
        second = await client.list_prompts(prompts.next_cursor)
        assert [p.name for p in second.prompts] == ["prompt2", "prompt3"]

        resources = await client.list_resources()
        assert [r.uri for r in resources.resources] == ["mem://r0", "mem://r1"]
        assert resources.next_cursor is not None
        last = await client.list_resources(resources.next_cursor)
        last = await client.list_resources(last.next_cursor)
        assert [r.uri for r in last.resources] == ["mem://r4"]
        assert last.next_cursor is None

        for bad in ("garbage!", "bm90LWEtY3Vyc29y", ""):
            if not bad:
                continue
            with pytest.raises(McpError) as excinfo:
                await client.list_tools(bad)
            assert excinfo.value.code == -32602


# ===== run-time changes and notifications =====


async def test_add_and_remove_tool_send_list_changed() -> None:
    server = Server("dynamic")
    notes = Notifications()

    async with client_for(server, notes) as client:
        assert await client.list_all_tools() == []

        async def late(x: int) -> int:
            """Added at run time."""
            return x + 1

        definition = await server.add_tool(late)
        assert definition.name == "late"
        await client.ping()  # notifications sent before the pong arrive before it
        assert notes.methods() == ["notifications/tools/list_changed"]
        assert [tool.name for tool in await client.list_all_tools()] == ["late"]
        assert text_of(await client.call_tool("late", {"x": 1})) == "2"

        await server.remove_tool("late")
        await client.ping()
        assert notes.methods() == ["notifications/tools/list_changed"] * 2
        assert await client.list_all_tools() == []
        with pytest.raises(McpError) as excinfo:
            await client.call_tool("late", {"x": 1})
        assert excinfo.value.code == -32602
        with pytest.raises(KeyError):
            await server.remove_tool("late")

        await server.send_resources_list_changed()
        await server.send_prompts_list_changed()
        await client.ping()
    assert notes.methods()[2:] == [
        "notifications/resources/list_changed",
        "notifications/prompts/list_changed",
    ]


async def test_list_changed_reaches_every_connected_session() -> None:
    server = Server("broadcast")
    first, second = Notifications(), Notifications()

    async def fresh() -> str:
        """Fresh."""
        return "new"

    async with client_for(server, first) as one, client_for(server, second) as two:
        await server.add_tool(fresh)
        await one.ping()
        await two.ping()
    assert first.methods() == ["notifications/tools/list_changed"]
    assert second.methods() == ["notifications/tools/list_changed"]


async def test_resource_updates_reach_only_subscribers() -> None:
    server = Server("subs")

    @server.resource("mem://doc")
    async def doc() -> str:
        return "v1"

    subscribed, bystander = Notifications(), Notifications()
    async with client_for(server, subscribed) as sub, client_for(server, bystander) as other:
        await sub.subscribe("mem://doc")
        await server.notify_resource_updated("mem://doc")
        await server.notify_resource_updated("mem://other")
        await sub.ping()
        await other.ping()
        assert subscribed.seen == [
            ("notifications/resources/updated", t.ResourceUpdatedNotificationParams(uri="mem://doc"))
        ]
        assert bystander.seen == []

        await sub.unsubscribe("mem://doc")
        await server.notify_resource_updated("mem://doc")
        await sub.ping()
    assert len(subscribed.seen) == 1
    assert bystander.seen == []


# ===== resources =====


async def test_static_resources_text_bytes_json_and_ctx() -> None:
    server = Server("resources")

    @server.resource("mem://text", description="Some text")
    async def text() -> str:
        return "hello"

    @server.resource("mem://bytes", mime_type="application/octet-stream")
    def raw() -> bytes:
        return b"\x00\xff"

    @server.resource("mem://json")
    async def data() -> dict[str, Any]:
        return {"k": [1, 2]}

    @server.resource("mem://whoami")
    async def whoami(ctx: Context) -> str:
        return ctx.method

    async with client_for(server) as client:
        listed = {r.uri: r for r in (await client.list_resources()).resources}
        assert listed["mem://text"].name == "text"
        assert listed["mem://text"].description == "Some text"
        assert listed["mem://bytes"].mime_type == "application/octet-stream"
        text_result = await client.read_resource("mem://text")
        bytes_result = await client.read_resource("mem://bytes")
        json_result = await client.read_resource("mem://json")
        ctx_result = await client.read_resource("mem://whoami")
        with pytest.raises(McpError) as excinfo:
            await client.read_resource("mem://missing")
    assert text_result.contents == [
        t.TextResourceContents(uri="mem://text", text="hello", mime_type="text/plain")
    ]
    assert bytes_result.contents == [
        t.BlobResourceContents(uri="mem://bytes", blob=b64(b"\x00\xff"), mime_type="application/octet-stream")
    ]
    (json_contents,) = json_result.contents
    assert isinstance(json_contents, t.TextResourceContents)
    assert json_contents.mime_type == "application/json"
    assert json.loads(json_contents.text) == {"k": [1, 2]}
    (ctx_contents,) = ctx_result.contents
    assert isinstance(ctx_contents, t.TextResourceContents)
    assert ctx_contents.text == "resources/read"
    assert excinfo.value.code == -32002
    assert excinfo.value.data == {"uri": "mem://missing"}


async def test_resource_templates_with_rfc6570_variables() -> None:
    server = Server("templates")

    @server.resource("users://{user}/posts/{post}", mime_type="text/plain")
    async def post(user: str, post: str) -> str:
        return f"{user}/{post}"

    @server.resource("files:///{+path}")
    async def file(path: str) -> str:
        return f"path={path}"

    @server.resource("search://items{?q,lang}")
    async def search(q: str = "", lang: str = "en") -> str:
        return f"q={q} lang={lang}"

    async with client_for(server) as client:
        templates = (await client.list_resource_templates()).resource_templates
        assert [tpl.uri_template for tpl in templates] == [
            "users://{user}/posts/{post}",
            "files:///{+path}",
            "search://items{?q,lang}",
        ]
        assert templates[0].mime_type == "text/plain"
        # Templates are not static resources.
        assert (await client.list_resources()).resources == []

        async def read(uri: str) -> str:
            (contents,) = (await client.read_resource(uri)).contents
            assert isinstance(contents, t.TextResourceContents)
            assert contents.uri == uri
            return contents.text

        assert await read("users://ada/posts/42") == "ada/42"
        assert await read("users://a%20b/posts/1") == "a b/1"
        assert await read("files:///etc/hosts") == "path=etc/hosts"
        assert await read("search://items?q=trio&lang=fr") == "q=trio lang=fr"
        assert await read("search://items?q=a%20b") == "q=a b lang=en"
        assert await read("search://items") == "q= lang=en"
        with pytest.raises(McpError) as excinfo:
            await read("users://ada/comments/1")
        assert excinfo.value.code == -32002


# ===== prompts =====


async def test_prompts_arguments_and_errors() -> None:
    server = Server("prompts")

    @server.prompt
    async def review(code: Annotated[str, "The code to review"], style: str = "terse") -> str:
        """Review some code."""
        return f"Review ({style}): {code}"

    @server.prompt(name="chat", title="A chat", description="Two messages.")
    def conversation(topic: str) -> list[t.PromptMessage]:
        return [
            t.PromptMessage(role="user", content=t.TextContent(text=f"Tell me about {topic}")),
            t.PromptMessage(role="assistant", content=t.TextContent(text="Sure.")),
        ]

    async with client_for(server) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert prompts["review"].description == "Review some code."
        assert prompts["review"].arguments == [
            t.PromptArgument(name="code", description="The code to review", required=True),
            t.PromptArgument(name="style", required=False),
        ]
        assert prompts["chat"].title == "A chat"
        assert prompts["chat"].description == "Two messages."

        result = await client.get_prompt("review", {"code": "x = 1"})
        assert result.description == "Review some code."
        assert result.messages == [
            t.PromptMessage(role="user", content=t.TextContent(text="Review (terse): x = 1"))
        ]
        styled = await client.get_prompt("review", {"code": "y", "style": "kind"})
        assert styled.messages[0].content == t.TextContent(text="Review (kind): y")
        chat = await client.get_prompt("chat", {"topic": "trio"})
        assert [m.role for m in chat.messages] == ["user", "assistant"]

        with pytest.raises(McpError) as missing:
            await client.get_prompt("review", {})
        with pytest.raises(McpError) as unknown_arg:
            await client.get_prompt("review", {"code": "x", "colour": "red"})
        with pytest.raises(McpError) as unknown_prompt:
            await client.get_prompt("nope")
    assert missing.value.code == -32602
    assert "code" in missing.value.message
    assert unknown_arg.value.code == -32602
    assert "colour" in unknown_arg.value.message
    assert unknown_prompt.value.code == -32602


# ===== completion =====


async def test_completion_handler_and_limits() -> None:
    server = Server("complete")
    calls: list[tuple[Any, str, str, dict[str, str] | None]] = []

    @server.prompt
    async def greet(name: str) -> str:
        """Greet someone."""
        return f"Hello {name}"

    @server.completion
    async def complete(
        ref: t.CompletionReference, argument: t.CompletionArgument, context: t.CompletionContext | None
    ) -> list[str]:
        calls.append((ref, argument.name, argument.value, context.arguments if context else None))
        return [f"{argument.value}{i}" for i in range(150)]

    async with client_for(server) as client:
        completion = await client.complete(t.PromptReference(name="greet"), "name", "al", {"other": "v"})
    assert len(completion.values) == 100
    assert completion.values[:2] == ["al0", "al1"]
    assert completion.total == 150
    assert completion.has_more is True
    (call,) = calls
    assert call[0] == t.PromptReference(name="greet")
    assert call[1:] == ("name", "al", {"other": "v"})


async def test_completion_without_a_handler_is_empty() -> None:
    server = Server("no-complete")

    @server.prompt
    async def greet(name: str) -> str:
        """Greet someone."""
        return name

    async with client_for(server) as client:
        completion = await client.complete(t.PromptReference(name="greet"), "name", "a")
    assert completion.values == []


async def test_initialize_reports_identity_and_capabilities() -> None:
    server = Server("ident", version="2.3.4", instructions="Be nice.", title="Identity")
    async with client_for(server) as client:
        result = client.initialize_result
    assert result is not None
    assert result.server_info.name == "ident"
    assert result.server_info.version == "2.3.4"
    assert result.server_info.title == "Identity"
    assert result.instructions == "Be nice."
    caps = result.capabilities
    assert caps.tools == t.ToolsCapability(list_changed=True)
    assert caps.resources == t.ResourcesCapability(subscribe=True, list_changed=True)
    assert caps.prompts == t.PromptsCapability(list_changed=True)


def test_page_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="page_size"):
        Server("bad", page_size=0)


async def test_sleeping_tool_is_cancelled_when_the_client_goes_away() -> None:
    server = Server("cancel")
    finished = trio.Event()
    cancelled = trio.Event()

    @server.tool
    async def slow() -> str:
        """Sleeps forever."""
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()
        finished.set()
        return "never"

    async with client_for(server) as client:
        with trio.move_on_after(0.05):
            await client.call_tool("slow")
    with trio.fail_after(2):
        await cancelled.wait()
    assert not finished.is_set()
