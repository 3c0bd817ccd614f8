"""The conformance fixture: every tool, resource and prompt the official MCP conformance suite (0.1.16) calls.

Names and contents follow the reference "everything" servers and the official conformance suite's scenarios.

    hypercorn --worker-class trio -b 127.0.0.1:8000 examples.everything:app
    npx -y -p node@22 -p @modelcontextprotocol/conformance@0.1.16 conformance server --url http://127.0.0.1:8000/mcp

or over stdio: ``python examples/everything.py``.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import trio

from trio_mcp import Audio, Context, Image, Server
from trio_mcp import types as t

# A 1x1 PNG and a minimal WAV file, the test data of both reference servers.
TEST_IMAGE_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
TEST_AUDIO_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
TEST_IMAGE = base64.b64decode(TEST_IMAGE_BASE64)
TEST_AUDIO = base64.b64decode(TEST_AUDIO_BASE64)

WATCHED_RESOURCE_URI = "test://watched-resource"
WATCHED_RESOURCE_CONTENT = "Watched resource content"

# SEP-1613 and SEP-2106: a raw JSON Schema 2020-12 input schema, sent exactly as written ($schema, $defs with
# an $anchor, $ref, allOf/anyOf, if/then/else kept).
JSON_SCHEMA_2020_12_INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {
                "street": {"type": "string"},
                "city": {"type": "string"},
            },
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

# test_elicitation: username and email, both required strings.
USER_INFO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "Your username"},
        "email": {"type": "string", "description": "Your email address"},
    },
    "required": ["username", "email"],
}

# SEP-1034: a default for every primitive type.
SEP1034_DEFAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
    "required": [],
}

# SEP-1330: the five enum shapes of elicitation forms.
SEP1330_ENUMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "untitledSingle": {
            "type": "string",
            "description": "Select one option",
            "enum": ["option1", "option2", "option3"],
        },
        "titledSingle": {
            "type": "string",
            "description": "Select one option with titles",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "description": "Select one option (legacy)",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "description": "Select multiple options",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "description": "Select multiple options with titles",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
    "required": [],
}

# Suggestions offered by completion/complete for test_prompt_with_arguments.
PROMPT_ARGUMENT_SUGGESTIONS: dict[str, list[str]] = {
    "arg1": ["testValue1", "testAlpha", "paris", "prague"],
    "arg2": ["testValue2", "testBeta", "london", "lisbon"],
}

server = Server(
    "trio-mcp-everything",
    version="1.0.0",
    instructions="Conformance fixture for trio_mcp: every MCP feature the official test suite exercises.",
)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# ===== tools =====


@server.tool
async def test_simple_text() -> str:
    """Tests simple text content response."""
    return "This is a simple text response for testing."


@server.tool
async def test_image_content() -> Image:
    """Tests image content response."""
    return Image(TEST_IMAGE, "image/png")


@server.tool
async def test_audio_content() -> Audio:
    """Tests audio content response."""
    return Audio(TEST_AUDIO, "audio/wav")


@server.tool
async def test_embedded_resource() -> t.EmbeddedResource:
    """Tests embedded resource content response."""
    return t.EmbeddedResource(
        resource=t.TextResourceContents(
            uri="test://embedded-resource",
            mime_type="text/plain",
            text="This is an embedded resource content.",
        )
    )


@server.tool
async def test_multiple_content_types() -> list[t.ContentBlock]:
    """Tests response with multiple content types (text, image, resource)."""
    return [
        t.TextContent(text="Multiple content types test:"),
        t.ImageContent(data=TEST_IMAGE_BASE64, mime_type="image/png"),
        t.EmbeddedResource(
            resource=t.TextResourceContents(
                uri="test://mixed-content-resource",
                mime_type="application/json",
                text=_json({"test": "data", "value": 123}),
            )
        ),
    ]


@server.tool
async def test_tool_with_logging(*, ctx: Context) -> str:
    """Tests tool that emits log messages during execution."""
    await ctx.log("info", "Tool execution started")
    await trio.sleep(0.05)
    await ctx.log("info", "Tool processing data")
    await trio.sleep(0.05)
    await ctx.log("info", "Tool execution completed")
    return "Tool with logging executed successfully"


@server.tool
async def test_tool_with_progress(*, ctx: Context) -> str:
    """Tests tool that reports progress notifications."""
    for step in (0, 50, 100):
        if step:
            await trio.sleep(0.05)
        await ctx.report_progress(step, 100, f"Completed step {step} of 100")
    return str(ctx.progress_token)


# -- 2026-07-28 (SEP-2575) fixtures: what the harness's server-stateless scenario calls --


@server.tool
async def test_missing_capability(*, ctx: Context) -> str:
    """Tests a tool that needs the client's sampling capability: called without it, the request is refused
    (2026-07-28: -32021 with data.requiredCapabilities)."""
    result = await ctx.sample(
        [t.SamplingMessage(role="user", content=t.TextContent(text="Say hello"))], max_tokens=10
    )
    return f"Sampled with the model {result.model}"


@server.tool
async def test_logging_tool(*, ctx: Context) -> str:
    """Tests log messages: sent only at or above the level the client asked for (2026-07-28: _meta logLevel;
    none asked, none sent)."""
    for step in ("started", "working", "done"):
        await ctx.info(f"test_logging_tool {step}")
    return "Logged three messages at info level"


@server.tool
async def test_streaming_elicitation(*, ctx: Context) -> str:
    """Tests that a call which asks the user something never puts a request of its own on its response stream
    in 2026-07-28 (where a server asks through multi-round-trip results instead)."""
    await ctx.report_progress(0, 1, "asking the user")
    try:
        answer = await ctx.elicit("Continue?", {"type": "object", "properties": {"ok": {"type": "boolean"}}})
    except Exception as exc:  # no way to ask on this request: say so in the result
        return f"Could not ask the user: {exc}"
    return f"User response: action={answer.action}"


@server.tool
async def test_trigger_tool_change() -> str:
    """Tests list-change notifications: announces notifications/tools/list_changed to every session (the set of
    tools stays the same)."""
    await server.send_tools_list_changed()
    return "tools/list_changed sent"


@server.tool
async def test_trigger_prompt_change() -> str:
    """Tests list-change notifications: announces notifications/prompts/list_changed to every session (the set
    of prompts stays the same)."""
    await server.send_prompts_list_changed()
    return "prompts/list_changed sent"


# ===== multi-round-trip requests (2026-07-28, SEP-2322) =====
# The same handler code as in the 2025 era: each ask returns the client's answer. In 2026-07-28 the first call
# ends in an input_required result, and the retry with the answers runs the handler again with them.

NAME_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}

CONFIRM_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
}


def _sampled_text(result: t.CreateMessageResult) -> str:
    blocks = result.content if isinstance(result.content, list) else [result.content]
    return next((b.text for b in blocks if isinstance(b, t.TextContent)), "")


@server.tool
async def test_input_required_result_elicitation(*, ctx: Context) -> str:
    """Tests a multi-round-trip request with one elicitation: asks the user's name, then greets them."""
    answer = await ctx.elicit("What is your name?", NAME_FORM, key="user_name")
    return f"Hello, {(answer.content or {}).get('name', 'stranger')}!"


@server.tool
async def test_input_required_result_sampling(*, ctx: Context) -> str:
    """Tests a multi-round-trip request with one sampling request."""
    result = await ctx.sample("What is the capital of France?", max_tokens=100, key="capital_question")
    return f"LLM response: {_sampled_text(result)}"


@server.tool
async def test_input_required_result_list_roots(*, ctx: Context) -> str:
    """Tests a multi-round-trip request with one roots/list request."""
    roots = await ctx.list_roots(key="client_roots")
    return "Client roots: " + ", ".join(root.uri for root in roots)


@server.tool
async def test_input_required_result_request_state(*, ctx: Context) -> str:
    """Tests the requestState round trip: the answer counts only with the state this server sealed."""
    answer = await ctx.elicit("Please confirm", CONFIRM_FORM, key="confirm")
    return f"Confirmed ({'state-ok' if ctx.resumed else 'no state'}): action={answer.action}"


@server.tool
async def test_input_required_result_multiple_inputs(*, ctx: Context) -> str:
    """Tests one round asking three things at once: asks made side by side go out together."""
    answers: dict[str, Any] = {}

    async def ask_name() -> None:
        answers["name"] = await ctx.elicit("What is your name?", NAME_FORM, key="user_name")

    async def ask_greeting() -> None:
        answers["greeting"] = await ctx.sample("Generate a greeting", max_tokens=50, key="greeting")

    async def ask_roots() -> None:
        answers["roots"] = await ctx.list_roots(key="client_roots")

    async with trio.open_nursery() as nursery:
        for ask in (ask_name, ask_greeting, ask_roots):
            nursery.start_soon(ask)
    name = (answers["name"].content or {}).get("name")
    return f"{_sampled_text(answers['greeting'])} {name}, with {len(answers['roots'])} root(s)"


@server.tool
async def test_input_required_result_multi_round(*, ctx: Context) -> str:
    """Tests a request of three rounds: the second question comes only after the first answer."""
    name = await ctx.elicit("Step 1: What is your name?", NAME_FORM, key="step1")
    color = await ctx.elicit(
        "Step 2: What is your favorite color?",
        {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]},
        key="step2",
    )
    return f"{(name.content or {}).get('name')} likes {(color.content or {}).get('color')}"


@server.tool
async def test_input_required_result_tampered_state(*, ctx: Context) -> str:
    """Tests that an altered requestState is refused (-32602) before the tool runs again."""
    answer = await ctx.elicit("Please confirm", CONFIRM_FORM, key="confirm")
    return f"Confirmed: action={answer.action}"


@server.tool
async def test_input_required_result_capabilities(*, ctx: Context) -> str:
    """Tests that a round asks only what the client declared it can answer."""
    capabilities = ctx.client_capabilities
    if capabilities is not None and capabilities.elicitation is not None:
        answer = await ctx.elicit("What is your name?", NAME_FORM, key="user_name")
        return f"Elicited: action={answer.action}"
    if capabilities is not None and capabilities.sampling is not None:
        result = await ctx.sample("Say hello", max_tokens=20, key="hello")
        return f"Sampled: {_sampled_text(result)}"
    return "The client declared neither elicitation nor sampling"


@server.tool
async def test_error_handling() -> str:
    """Tests error response handling (the result has isError: true)."""
    raise RuntimeError("This tool intentionally returns an error for testing")


@server.tool
async def test_reconnection(*, ctx: Context) -> str:
    """Tests SSE stream disconnection and client reconnection (SEP-1699): the server closes the stream, the
    call goes on, and the client resumes it with Last-Event-ID to get the result."""
    ctx.close_stream(retry_ms=100)  # T§Resumability: closed after the priming event's id and `retry:`
    await trio.sleep(0.5)
    return "Reconnection test completed"


@server.tool
async def test_sampling(prompt: Annotated[str, "The prompt to send to the LLM"], *, ctx: Context) -> str:
    """Tests server-initiated sampling (LLM completion request)."""
    result = await ctx.sample(
        [t.SamplingMessage(role="user", content=t.TextContent(text=prompt))],
        max_tokens=100,
    )
    blocks = result.content if isinstance(result.content, list) else [result.content]
    text = next((b.text for b in blocks if isinstance(b, t.TextContent)), "No response")
    return f"LLM response: {text}"


@server.tool
async def test_elicitation(message: Annotated[str, "The message to show the user"], *, ctx: Context) -> str:
    """Tests server-initiated elicitation (user input request): asks for a username and an email."""
    answer = await ctx.elicit(message, USER_INFO_SCHEMA)
    return f"User response: action={answer.action}, content={_json(answer.content or {})}"


@server.tool
async def test_elicitation_sep1034_defaults(*, ctx: Context) -> str:
    """Tests elicitation with default values per SEP-1034."""
    answer = await ctx.elicit(
        "Please review and update the form fields with defaults", SEP1034_DEFAULTS_SCHEMA
    )
    return f"Elicitation completed: action={answer.action}, content={_json(answer.content or {})}"


@server.tool
async def test_elicitation_sep1330_enums(*, ctx: Context) -> str:
    """Tests elicitation with enum schema improvements per SEP-1330."""
    answer = await ctx.elicit("Please select options from the enum fields", SEP1330_ENUMS_SCHEMA)
    return f"Elicitation completed: action={answer.action}, content={_json(answer.content or {})}"


@server.tool(input_schema=JSON_SCHEMA_2020_12_INPUT_SCHEMA)
async def json_schema_2020_12_tool(
    name: str | None = None,
    address: dict[str, str] | None = None,
    contactMethod: str | None = None,  # the wire name is camelCase
    phone: str | None = None,
    email: str | None = None,
) -> str:
    """Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613, SEP-2106)."""
    given = {"name": name, "address": address, "contactMethod": contactMethod, "phone": phone, "email": email}
    args = {key: value for key, value in given.items() if value is not None}
    return f"JSON Schema 2020-12 tool called with: {_json(args)}"


# ===== resources =====


@server.resource(
    "test://static-text",
    name="static-text",
    title="Static Text Resource",
    description="A static text resource for testing",
    mime_type="text/plain",
)
async def static_text() -> str:
    return "This is the content of the static text resource."


@server.resource(
    "test://static-binary",
    name="static-binary",
    title="Static Binary Resource",
    description="A static binary resource (image) for testing",
    mime_type="image/png",
)
async def static_binary() -> bytes:
    return TEST_IMAGE


@server.resource(
    "test://template/{id}/data",
    name="template",
    title="Resource Template",
    description="A resource template with parameter substitution",
    mime_type="application/json",
)
async def template(id: str) -> str:
    return _json({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@server.resource(
    WATCHED_RESOURCE_URI,
    name="watched-resource",
    title="Watched Resource",
    description="A resource for subscription tests",
    mime_type="text/plain",
)
async def watched_resource() -> str:
    return WATCHED_RESOURCE_CONTENT


# ===== prompts =====


@server.prompt(title="Simple Test Prompt")
async def test_simple_prompt() -> str:
    """A simple prompt without arguments."""
    return "This is a simple prompt for testing."


@server.prompt(title="Prompt With Arguments")
async def test_prompt_with_arguments(
    arg1: Annotated[str, "First test argument"], arg2: Annotated[str, "Second test argument"]
) -> str:
    """A prompt with required arguments."""
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@server.prompt(title="Prompt With Embedded Resource")
async def test_prompt_with_embedded_resource(
    resourceUri: Annotated[str, "URI of the resource to embed"],  # the wire name is camelCase
) -> list[t.PromptMessage]:
    """A prompt that includes an embedded resource."""
    return [
        t.PromptMessage(
            role="user",
            content=t.EmbeddedResource(
                resource=t.TextResourceContents(
                    uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
                )
            ),
        ),
        t.PromptMessage(
            role="user", content=t.TextContent(text="Please process the embedded resource above.")
        ),
    ]


@server.prompt(title="Prompt With Image")
async def test_prompt_with_image() -> list[t.PromptMessage]:
    """A prompt that includes image content."""
    return [
        t.PromptMessage(role="user", content=t.ImageContent(data=TEST_IMAGE_BASE64, mime_type="image/png")),
        t.PromptMessage(role="user", content=t.TextContent(text="Please analyze the image above.")),
    ]


@server.prompt(title="Prompt With Input")
async def test_input_required_result_prompt(*, ctx: Context) -> str:
    """A prompt that asks the user for its context first (a multi-round-trip prompts/get)."""
    answer = await ctx.elicit(
        "What context should the prompt use?",
        {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]},
        key="user_context",
    )
    return f"Use this context: {(answer.content or {}).get('context', '')}"


# ===== completion =====


@server.completion
async def complete(
    ref: t.CompletionReference, argument: t.CompletionArgument, context: t.CompletionContext | None
) -> list[str]:
    """Suggest values for the arguments of test_prompt_with_arguments that start with what was typed."""
    if not isinstance(ref, t.PromptReference) or ref.name != "test_prompt_with_arguments":
        return []
    prefix = argument.value.lower()
    return [v for v in PROMPT_ARGUMENT_SUGGESTIONS.get(argument.name, []) if v.lower().startswith(prefix)]


app = server.asgi_app()

if __name__ == "__main__":
    server.run_stdio()
