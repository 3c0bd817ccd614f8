"""The conformance fixture (examples/everything.py) serves exactly what conformance.md §3 documents.

The official harness checks mostly shapes; these tests pin the documented texts and values too. Most go
through the in-memory client; the exact-wire checks (raw schemas, integer progress tokens) read JSON-RPC lines.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from examples import everything
from trio_mcp import McpError
from trio_mcp import types as t
from trio_mcp._transport.stdio import serve_streams
from trio_mcp.testing import open_memory_client

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

EXPECTED_TOOLS = {
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_error_handling",
    "test_tool_with_progress",
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "test_reconnection",
    "json_schema_2020_12_tool",
    # 2026-07-28 (SEP-2575) fixtures of the harness's server-stateless scenario
    "test_missing_capability",
    "test_logging_tool",
    "test_streaming_elicitation",
    "test_trigger_tool_change",
    "test_trigger_prompt_change",
    # 2026-07-28 multi-round-trip requests (SEP-2322): the input-required-result-* scenarios
    "test_input_required_result_elicitation",
    "test_input_required_result_sampling",
    "test_input_required_result_list_roots",
    "test_input_required_result_request_state",
    "test_input_required_result_multiple_inputs",
    "test_input_required_result_multi_round",
    "test_input_required_result_tampered_state",
    "test_input_required_result_capabilities",
}
EXPECTED_PROMPTS = {
    "test_simple_prompt",
    "test_prompt_with_arguments",
    "test_prompt_with_embedded_resource",
    "test_prompt_with_image",
    "test_input_required_result_prompt",
}
EXPECTED_2020_12_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


class Recorder:
    """Client callbacks that answer like the conformance harness and remember what the server asked."""

    def __init__(self) -> None:
        self.sampling: list[t.CreateMessageRequestParams] = []
        self.elicitations: list[t.ElicitRequestParams] = []
        self.logs: list[tuple[float, t.LoggingMessageNotificationParams]] = []
        self.notifications: list[tuple[str, Any]] = []

    async def sample(self, params: t.CreateMessageRequestParams) -> t.CreateMessageResult:
        self.sampling.append(params)
        return t.CreateMessageResult(
            role="assistant",
            content=t.TextContent(text="This is a test response from the client"),
            model="test-model",
            stop_reason="endTurn",
        )

    async def elicit(self, params: t.ElicitRequestParams) -> t.ElicitResult:
        self.elicitations.append(params)
        if params.message == "Please provide your information":
            return t.ElicitResult(
                action="accept", content={"username": "testuser", "email": "test@example.com"}
            )
        return t.ElicitResult(action="accept", content={})

    async def log(self, params: t.LoggingMessageNotificationParams) -> None:
        self.logs.append((trio.current_time(), params))

    async def notify(self, method: str, params: Any) -> None:
        self.notifications.append((method, params))


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@asynccontextmanager
async def connect(rec: Recorder) -> AsyncIterator[Any]:
    async with open_memory_client(
        everything.server,
        sampling_callback=rec.sample,
        elicitation_callback=rec.elicit,
        logging_callback=rec.log,
        notification_callback=rec.notify,
    ) as client:
        yield client


def only_text(result: t.CallToolResult) -> str:
    assert not result.is_error, result
    assert len(result.content) == 1
    block = result.content[0]
    assert isinstance(block, t.TextContent)
    return block.text


# ----- the raw wire: newline-delimited JSON-RPC over an in-memory stream pair -----


class Wire:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buffer = bytearray()
        self.ids = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.stream.send_all(json.dumps(message).encode() + b"\n")

    async def receive(self) -> dict[str, Any]:
        with trio.fail_after(5):
            while b"\n" not in self.buffer:
                chunk = await self.stream.receive_some(65536)
                assert chunk, "the server closed the stream"
                self.buffer += chunk
        end = self.buffer.index(b"\n")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return json.loads(line)

    async def request(self, method: str, params: dict[str, Any] | None = None) -> int:
        self.ids += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.ids, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return self.ids

    async def until_response(
        self, request_id: int, seen: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if message.get("id") == request_id and "method" not in message:
                return message
            if seen is not None:
                seen.append(message)


@asynccontextmanager
async def open_wire() -> AsyncIterator[Wire]:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_streams, everything.server, server_stream, server_stream)
        wire = Wire(client_stream)
        init = await wire.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {"sampling": {}, "elicitation": {}},
                "clientInfo": {"name": "conformance-test-client", "version": "1.0.0"},
            },
        )
        reply = await wire.until_response(init)
        assert reply["result"]["protocolVersion"] == "2025-11-25"
        await wire.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        yield wire
        await client_stream.send_stream.aclose()


# ----- handshake and listing -----


async def test_initialize_declares_everything_the_harness_expects(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = client.initialize_result
        assert result is not None
        assert result.server_info.name == "trio-mcp-everything"
        caps = result.capabilities
        assert caps.tools is not None
        assert caps.resources is not None
        assert caps.resources.subscribe is True
        assert caps.prompts is not None
        assert caps.logging == {}
        assert caps.completions == {}
        await client.ping()
        await client.set_logging_level("info")


async def test_every_tool_is_listed_with_a_description_and_input_schema(rec: Recorder) -> None:
    async with connect(rec) as client:
        tools = await client.list_all_tools()
    assert {tool.name for tool in tools} == EXPECTED_TOOLS
    for tool in tools:
        assert tool.description, tool.name
        assert tool.description.strip(), tool.name
        assert tool.input_schema["type"] == "object", tool.name
    by_name = {tool.name: tool for tool in tools}
    assert by_name["test_sampling"].input_schema["required"] == ["prompt"]
    assert by_name["test_sampling"].input_schema["properties"]["prompt"]["type"] == "string"
    assert by_name["test_elicitation"].input_schema["required"] == ["message"]
    assert by_name["test_simple_text"].input_schema == {"type": "object", "properties": {}}


async def test_json_schema_2020_12_tool_schema_is_kept_verbatim(rec: Recorder) -> None:
    async with connect(rec) as client:
        tools = {tool.name: tool for tool in await client.list_all_tools()}
    assert tools["json_schema_2020_12_tool"].input_schema == EXPECTED_2020_12_SCHEMA
    # ... and on the wire, key for key (nothing renamed, nothing added).
    async with open_wire() as wire:
        reply = await wire.until_response(await wire.request("tools/list", {}))
    (raw,) = [tool for tool in reply["result"]["tools"] if tool["name"] == "json_schema_2020_12_tool"]
    assert raw["inputSchema"] == EXPECTED_2020_12_SCHEMA
    assert list(raw["inputSchema"]) == [
        "$schema", "type", "$defs", "properties", "allOf", "if", "then", "else", "additionalProperties"
    ]  # fmt: skip
    assert raw["inputSchema"]["additionalProperties"] is False
    assert raw["description"] == (
        "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613, SEP-2106)."
    )


async def test_json_schema_2020_12_tool_validates_and_calls(rec: Recorder) -> None:
    async with connect(rec) as client:
        address = {"street": "1 Main St", "city": "Oslo"}
        ok = await client.call_tool(
            "json_schema_2020_12_tool", {"name": "Ada", "address": address, "email": "a@b"}
        )
        assert only_text(ok) == (
            "JSON Schema 2020-12 tool called with: "
            '{"name":"Ada","address":{"street":"1 Main St","city":"Oslo"},"email":"a@b"}'
        )
        by_phone = await client.call_tool(
            "json_schema_2020_12_tool", {"contactMethod": "phone", "phone": "1"}
        )
        assert (
            only_text(by_phone)
            == 'JSON Schema 2020-12 tool called with: {"contactMethod":"phone","phone":"1"}'
        )
        # allOf/anyOf and if/then/else are enforced: phone chosen, but none given.
        neither = await client.call_tool(
            "json_schema_2020_12_tool", {"contactMethod": "phone", "email": "a@b"}
        )
        assert neither.is_error is True
        assert isinstance(neither.content[0], t.TextContent)
        assert "arguments.phone: required property is missing" in neither.content[0].text
        # additionalProperties: false is enforced.
        bad = await client.call_tool("json_schema_2020_12_tool", {"name": "Ada", "nickname": "A"})
        assert bad.is_error is True
        assert isinstance(bad.content[0], t.TextContent)
        assert "nickname" in bad.content[0].text


# ----- tools -----


async def test_simple_text_without_arguments(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("test_simple_text")  # no `arguments` key at all
    assert only_text(result) == "This is a simple text response for testing."


async def test_image_content(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("test_image_content", {})
    assert not result.is_error
    assert result.content == [t.ImageContent(data=PNG, mime_type="image/png")]
    assert base64.b64decode(PNG).startswith(b"\x89PNG\r\n\x1a\n")


async def test_audio_content(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("test_audio_content", {})
    assert not result.is_error
    assert result.content == [t.AudioContent(data=WAV, mime_type="audio/wav")]
    assert base64.b64decode(WAV).startswith(b"RIFF")


async def test_embedded_resource(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("test_embedded_resource", {})
    assert not result.is_error
    assert result.structured_content is None
    assert result.content == [
        t.EmbeddedResource(
            resource=t.TextResourceContents(
                uri="test://embedded-resource",
                mime_type="text/plain",
                text="This is an embedded resource content.",
            )
        )
    ]


async def test_multiple_content_types(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("test_multiple_content_types", {})
    assert not result.is_error
    text, image, resource = result.content
    assert text == t.TextContent(text="Multiple content types test:")
    assert image == t.ImageContent(data=PNG, mime_type="image/png")
    assert isinstance(resource, t.EmbeddedResource)
    assert isinstance(resource.resource, t.TextResourceContents)
    assert resource.resource.uri == "test://mixed-content-resource"
    assert resource.resource.mime_type == "application/json"
    assert json.loads(resource.resource.text) == {"test": "data", "value": 123}


async def test_tool_with_logging_sends_three_info_messages_50ms_apart(rec: Recorder) -> None:
    async with connect(rec) as client:
        await client.set_logging_level("debug")
        result = await client.call_tool("test_tool_with_logging", {})
        await trio.sleep(0.2)  # as the harness does
    assert only_text(result) == "Tool with logging executed successfully"
    assert len(rec.logs) >= 3
    assert [(p.level, p.data) for _, p in rec.logs] == [
        ("info", "Tool execution started"),
        ("info", "Tool processing data"),
        ("info", "Tool execution completed"),
    ]
    times = [when for when, _ in rec.logs]
    assert all(later - earlier >= 0.04 for earlier, later in itertools.pairwise(times)), times


async def test_tool_with_logging_respects_the_level(rec: Recorder) -> None:
    async with connect(rec) as client:
        await client.set_logging_level("warning")
        result = await client.call_tool("test_tool_with_logging", {})
    assert not result.is_error
    assert rec.logs == []


async def test_error_handling_is_a_tool_result_not_a_jsonrpc_error(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("test_error_handling", {})
    assert result.is_error is True
    assert result.content == [t.TextContent(text="This tool intentionally returns an error for testing")]


async def test_tool_with_progress_reports_0_50_100_of_100(rec: Recorder) -> None:
    seen: list[tuple[float, t.ProgressNotificationParams]] = []

    async def on_progress(params: t.ProgressNotificationParams) -> None:
        seen.append((trio.current_time(), params))

    async with connect(rec) as client:
        result = await client.call_tool("test_tool_with_progress", {}, progress=on_progress)
    token = only_text(result)  # the tool answers with the token it saw
    assert [(p.progress, p.total) for _, p in seen] == [(0, 100), (50, 100), (100, 100)]
    assert {p.progress_token for _, p in seen} == {token}
    assert [p.message for _, p in seen] == [
        "Completed step 0 of 100",
        "Completed step 50 of 100",
        "Completed step 100 of 100",
    ]
    times = [when for when, _ in seen]
    assert all(later - earlier >= 0.04 for earlier, later in itertools.pairwise(times)), times


async def test_integer_progress_token_is_echoed_unchanged_on_the_wire() -> None:
    async with open_wire() as wire:
        call = await wire.request(
            "tools/call", {"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": 7}}
        )
        seen: list[dict[str, Any]] = []
        reply = await wire.until_response(call, seen)
    progress = [m["params"] for m in seen if m.get("method") == "notifications/progress"]
    assert [p["progressToken"] for p in progress] == [7, 7, 7]
    assert all(type(p["progressToken"]) is int for p in progress)
    assert [(p["progress"], p["total"]) for p in progress] == [(0, 100), (50, 100), (100, 100)]
    assert reply["result"]["content"] == [{"type": "text", "text": "7"}]


async def test_progress_without_a_token_sends_nothing(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("test_tool_with_progress", {})
    assert only_text(result) == "None"
    assert not [m for m, _ in rec.notifications if m == "notifications/progress"]


async def test_sampling(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("test_sampling", {"prompt": "Test prompt for sampling"})
    assert only_text(result) == "LLM response: This is a test response from the client"
    (request,) = rec.sampling
    assert request.max_tokens == 100
    assert request.messages == [
        t.SamplingMessage(role="user", content=t.TextContent(text="Test prompt for sampling"))
    ]


async def test_sampling_request_on_the_wire() -> None:
    async with open_wire() as wire:
        call = await wire.request("tools/call", {"name": "test_sampling", "arguments": {"prompt": "Hi"}})
        asked = await wire.receive()
        assert asked["method"] == "sampling/createMessage"
        assert asked["params"] == {
            "messages": [{"role": "user", "content": {"type": "text", "text": "Hi"}}],
            "maxTokens": 100,
        }
        await wire.send(
            {
                "jsonrpc": "2.0",
                "id": asked["id"],
                "result": {
                    "role": "assistant",
                    "content": {"type": "text", "text": "This is a test response from the client"},
                    "model": "test-model",
                    "stopReason": "endTurn",
                },
            }
        )
        reply = await wire.until_response(call)
    assert reply["result"]["content"] == [
        {"type": "text", "text": "LLM response: This is a test response from the client"}
    ]


async def test_elicitation(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.call_tool("test_elicitation", {"message": "Please provide your information"})
    assert only_text(result) == (
        'User response: action=accept, content={"username":"testuser","email":"test@example.com"}'
    )
    (request,) = rec.elicitations
    assert isinstance(request, t.ElicitRequestFormParams)
    assert request.message == "Please provide your information"
    schema = request.requested_schema
    assert set(schema.properties) == {"username", "email"}
    assert all(isinstance(p, t.StringSchema) for p in schema.properties.values())
    assert sorted(schema.required or []) == ["email", "username"]


async def elicited_schema(wire: Wire, tool: str, answer: dict[str, Any]) -> tuple[dict[str, Any], str]:
    call = await wire.request("tools/call", {"name": tool, "arguments": {}})
    asked = await wire.receive()
    assert asked["method"] == "elicitation/create"
    await wire.send({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "accept", "content": answer}})
    reply = await wire.until_response(call)
    (block,) = reply["result"]["content"]
    return asked["params"], block["text"]


async def test_elicitation_request_on_the_wire() -> None:
    async with open_wire() as wire:
        call = await wire.request(
            "tools/call",
            {"name": "test_elicitation", "arguments": {"message": "Please provide your information"}},
        )
        asked = await wire.receive()
        assert asked["method"] == "elicitation/create"
        assert asked["params"]["message"] == "Please provide your information"
        schema = asked["params"]["requestedSchema"]
        assert schema["type"] == "object"
        assert {name: prop["type"] for name, prop in schema["properties"].items()} == {
            "username": "string",
            "email": "string",
        }
        assert sorted(schema["required"]) == ["email", "username"]
        await wire.send({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "decline"}})
        reply = await wire.until_response(call)
    assert reply["result"]["content"][0]["text"] == "User response: action=decline, content={}"


async def test_elicitation_sep1034_defaults_schema_exactly() -> None:
    async with open_wire() as wire:
        params, text = await elicited_schema(
            wire, "test_elicitation_sep1034_defaults", {"name": "Jane", "age": 31}
        )
    assert params["message"] == "Please review and update the form fields with defaults"
    schema = params["requestedSchema"]
    assert schema == everything.SEP1034_DEFAULTS_SCHEMA
    props = schema["properties"]
    assert props["name"] == {"type": "string", "description": "User name", "default": "John Doe"}
    assert props["age"]["type"] == "integer"
    assert props["age"]["default"] == 30
    assert type(props["age"]["default"]) is int
    assert props["score"]["type"] == "number"
    assert props["score"]["default"] == 95.5
    assert props["status"]["type"] == "string"
    assert props["status"]["default"] == "active"
    assert "active" in props["status"]["enum"]
    assert props["verified"] == {"type": "boolean", "description": "Verification status", "default": True}
    assert text == 'Elicitation completed: action=accept, content={"name":"Jane","age":31}'


async def test_elicitation_sep1330_enums_schema_exactly() -> None:
    answer = {"untitledSingle": "option2", "titledMulti": ["value1", "value3"]}
    async with open_wire() as wire:
        params, text = await elicited_schema(wire, "test_elicitation_sep1330_enums", answer)
    assert params["message"] == "Please select options from the enum fields"
    schema = params["requestedSchema"]
    assert schema == everything.SEP1330_ENUMS_SCHEMA
    props = schema["properties"]

    untitled_single = props["untitledSingle"]
    assert untitled_single["type"] == "string"
    assert untitled_single["enum"] == ["option1", "option2", "option3"]
    assert "oneOf" not in untitled_single
    assert "enumNames" not in untitled_single

    titled_single = props["titledSingle"]
    assert titled_single["type"] == "string"
    assert "enum" not in titled_single
    assert titled_single["oneOf"] == [
        {"const": "value1", "title": "First Option"},
        {"const": "value2", "title": "Second Option"},
        {"const": "value3", "title": "Third Option"},
    ]

    legacy = props["legacyEnum"]
    assert legacy["type"] == "string"
    assert len(legacy["enum"]) == len(legacy["enumNames"]) == 3

    untitled_multi = props["untitledMulti"]
    assert untitled_multi["type"] == "array"
    assert untitled_multi["items"] == {"type": "string", "enum": ["option1", "option2", "option3"]}
    assert "anyOf" not in untitled_multi["items"]

    titled_multi = props["titledMulti"]
    assert titled_multi["type"] == "array"
    assert "enum" not in titled_multi["items"]
    assert [option["const"] for option in titled_multi["items"]["anyOf"]] == ["value1", "value2", "value3"]
    assert all(isinstance(option["title"], str) for option in titled_multi["items"]["anyOf"])

    assert (
        text == f"Elicitation completed: action=accept, content={json.dumps(answer, separators=(',', ':'))}"
    )


async def test_elicitation_schemas_reach_the_typed_client(rec: Recorder) -> None:
    async with connect(rec) as client:
        first = await client.call_tool("test_elicitation_sep1034_defaults", {})
        second = await client.call_tool("test_elicitation_sep1330_enums", {})
    assert only_text(first) == "Elicitation completed: action=accept, content={}"
    assert only_text(second) == "Elicitation completed: action=accept, content={}"
    defaults, enums = rec.elicitations
    assert isinstance(defaults, t.ElicitRequestFormParams)
    assert isinstance(enums, t.ElicitRequestFormParams)
    assert set(defaults.requested_schema.properties) == {"name", "age", "score", "status", "verified"}
    assert set(enums.requested_schema.properties) == {
        "untitledSingle",
        "titledSingle",
        "legacyEnum",
        "untitledMulti",
        "titledMulti",
    }


async def test_reconnection_tool_finishes_after_a_pause(rec: Recorder) -> None:
    async with connect(rec) as client:
        start = trio.current_time()
        result = await client.call_tool("test_reconnection", {})
        elapsed = trio.current_time() - start
    assert only_text(result) == "Reconnection test completed"
    assert 0.4 <= elapsed < 5


# ----- resources -----


async def test_resources_list(rec: Recorder) -> None:
    async with connect(rec) as client:
        listed = await client.list_resources()
    assert listed.next_cursor is None
    by_uri = {r.uri: r for r in listed.resources}
    assert set(by_uri) == {"test://static-text", "test://static-binary", "test://watched-resource"}
    assert by_uri["test://static-text"].name == "static-text"
    assert by_uri["test://static-text"].mime_type == "text/plain"
    assert by_uri["test://static-binary"].name == "static-binary"
    assert by_uri["test://static-binary"].mime_type == "image/png"
    assert by_uri["test://watched-resource"].name == "watched-resource"
    for resource in listed.resources:
        assert resource.description


async def test_resource_templates_list(rec: Recorder) -> None:
    async with connect(rec) as client:
        listed = await client.list_resource_templates()
    (template,) = listed.resource_templates
    assert template.uri_template == "test://template/{id}/data"
    assert template.name == "template"
    assert template.mime_type == "application/json"


async def test_read_static_text(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.read_resource("test://static-text")
    assert result.contents == [
        t.TextResourceContents(
            uri="test://static-text",
            mime_type="text/plain",
            text="This is the content of the static text resource.",
        )
    ]


async def test_read_static_binary(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.read_resource("test://static-binary")
    assert result.contents == [
        t.BlobResourceContents(uri="test://static-binary", mime_type="image/png", blob=PNG)
    ]


async def test_read_template(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.read_resource("test://template/123/data")
        other = await client.read_resource("test://template/abc-9/data")
    (contents,) = result.contents
    assert isinstance(contents, t.TextResourceContents)
    assert contents.uri == "test://template/123/data"
    assert contents.mime_type == "application/json"
    assert "123" in contents.text
    assert json.loads(contents.text) == {"id": "123", "templateTest": True, "data": "Data for ID: 123"}
    (other_contents,) = other.contents
    assert isinstance(other_contents, t.TextResourceContents)
    assert json.loads(other_contents.text)["id"] == "abc-9"


async def test_read_watched_and_unknown(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.read_resource("test://watched-resource")
        with pytest.raises(McpError) as excinfo:
            await client.read_resource("test://no-such-thing")
    assert result.contents == [
        t.TextResourceContents(
            uri="test://watched-resource", mime_type="text/plain", text="Watched resource content"
        )
    ]
    assert excinfo.value.code == -32002


async def test_subscribe_receive_update_then_unsubscribe(rec: Recorder) -> None:
    async with connect(rec) as client:
        await client.subscribe("test://watched-resource")
        await everything.server.notify_resource_updated("test://watched-resource")
        await everything.server.notify_resource_updated("test://static-text")  # not subscribed
        await client.ping()  # the update, if any, is delivered before the pong
        updates = [p.uri for m, p in rec.notifications if m == "notifications/resources/updated"]
        assert updates == ["test://watched-resource"]
        await client.unsubscribe("test://watched-resource")
        await everything.server.notify_resource_updated("test://watched-resource")
        await client.ping()
    updates = [p.uri for m, p in rec.notifications if m == "notifications/resources/updated"]
    assert updates == ["test://watched-resource"]


# ----- prompts -----


async def test_prompts_list(rec: Recorder) -> None:
    async with connect(rec) as client:
        listed = await client.list_prompts()
    by_name = {p.name: p for p in listed.prompts}
    assert set(by_name) == EXPECTED_PROMPTS
    for prompt in listed.prompts:
        assert prompt.description, prompt.name
        assert prompt.description.strip(), prompt.name
    args = by_name["test_prompt_with_arguments"].arguments
    assert args is not None
    assert [(a.name, a.required) for a in args] == [("arg1", True), ("arg2", True)]
    assert [a.description for a in args] == ["First test argument", "Second test argument"]
    embedded_args = by_name["test_prompt_with_embedded_resource"].arguments
    assert embedded_args is not None
    assert [(a.name, a.required) for a in embedded_args] == [("resourceUri", True)]
    assert by_name["test_simple_prompt"].arguments is None
    assert by_name["test_prompt_with_image"].arguments is None


async def test_simple_prompt(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.get_prompt("test_simple_prompt")
    assert result.messages == [
        t.PromptMessage(role="user", content=t.TextContent(text="This is a simple prompt for testing."))
    ]


async def test_prompt_with_arguments(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.get_prompt(
            "test_prompt_with_arguments", {"arg1": "testValue1", "arg2": "testValue2"}
        )
        with pytest.raises(McpError) as excinfo:
            await client.get_prompt("test_prompt_with_arguments", {"arg1": "only one"})
    assert result.messages == [
        t.PromptMessage(
            role="user",
            content=t.TextContent(text="Prompt with arguments: arg1='testValue1', arg2='testValue2'"),
        )
    ]
    assert excinfo.value.code == -32602
    assert "arg2" in excinfo.value.message


async def test_prompt_with_embedded_resource(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.get_prompt(
            "test_prompt_with_embedded_resource", {"resourceUri": "test://example-resource"}
        )
    assert result.messages == [
        t.PromptMessage(
            role="user",
            content=t.EmbeddedResource(
                resource=t.TextResourceContents(
                    uri="test://example-resource",
                    mime_type="text/plain",
                    text="Embedded resource content for testing.",
                )
            ),
        ),
        t.PromptMessage(
            role="user", content=t.TextContent(text="Please process the embedded resource above.")
        ),
    ]


async def test_prompt_with_image(rec: Recorder) -> None:
    async with connect(rec) as client:
        result = await client.get_prompt("test_prompt_with_image")
    assert result.messages == [
        t.PromptMessage(role="user", content=t.ImageContent(data=PNG, mime_type="image/png")),
        t.PromptMessage(role="user", content=t.TextContent(text="Please analyze the image above.")),
    ]


# ----- completion -----


async def test_completion_for_prompt_arguments(rec: Recorder) -> None:
    ref = t.PromptReference(name="test_prompt_with_arguments")
    async with connect(rec) as client:
        arg1 = await client.complete(ref, "arg1", "test")
        arg2 = await client.complete(ref, "arg2", "l")
        everything_arg1 = await client.complete(ref, "arg1", "")
        nothing = await client.complete(ref, "arg1", "zzz")
        other = await client.complete(t.ResourceTemplateReference(uri="test://template/{id}/data"), "id", "1")
        with pytest.raises(McpError) as excinfo:
            await client.complete(t.PromptReference(name="no_such_prompt"), "arg1", "x")
    assert arg1.values == ["testValue1", "testAlpha"]
    assert arg1.total == 2
    assert arg1.has_more is False
    assert arg2.values == ["london", "lisbon"]
    assert everything_arg1.values == everything.PROMPT_ARGUMENT_SUGGESTIONS["arg1"]
    assert nothing.values == []
    assert other.values == []
    assert excinfo.value.code == -32602


async def test_completion_request_exactly_as_the_harness_sends_it() -> None:
    async with open_wire() as wire:
        reply = await wire.until_response(
            await wire.request(
                "completion/complete",
                {
                    "ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
                    "argument": {"name": "arg1", "value": "test"},
                },
            )
        )
    values = reply["result"]["completion"]["values"]
    assert isinstance(values, list)
    assert values == ["testValue1", "testAlpha"]


# ----- ping and setLevel on the wire -----


async def test_ping_and_set_level_results_are_empty_objects() -> None:
    async with open_wire() as wire:
        pong = await wire.until_response(await wire.request("ping"))
        level = await wire.until_response(await wire.request("logging/setLevel", {"level": "info"}))
    assert pong["result"] == {}
    assert level["result"] == {}


def test_module_exposes_the_asgi_app() -> None:
    assert everything.app is not None
    assert callable(everything.app)
