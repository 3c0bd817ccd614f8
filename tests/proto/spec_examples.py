"""Hand-written wire examples for every non-task MCP 2025-11-25 method.

Every dict below was written by hand from the official schema
(``schema/2025-11-25/schema.ts`` in modelcontextprotocol/modelcontextprotocol) and the
spec pages under ``docs/specification/2025-11-25/``; none of it is produced by trio_mcp.

Conventions:

* keys are camelCase exactly as in the schema (``_meta``, ``$schema``, ``const``, ...);
* no key ever holds ``None`` (the encoder omits absent optionals, so a round trip would drop it);
* floats appear only where the schema's value is a non-integer number (priorities, temperature,
  fractional progress, ...); integer-valued things are ints.

``PARAMS[method]`` holds examples of the JSON-RPC ``params`` object, ``RESULTS[method]`` examples of
the ``result`` object, and ``INVALID`` holds payloads that must be rejected with -32602 and a message
naming the offending field (alternatives separated by ``|``).

The ``tasks/*`` methods and ``notifications/tasks/status`` are deliberately absent; the ``task``
field of task-augmentable requests and the task capabilities are covered.
"""

from __future__ import annotations

from typing import Any

# --------------------------------------------------------------------------------------------------
# Shared building blocks (each use site gets its own copy via the helper functions, so a test that
# mutates one example can never leak into another).
# --------------------------------------------------------------------------------------------------

_PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
_WAV_B64 = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA="


def _icons() -> list[dict[str, Any]]:
    return [
        {
            "src": "https://example.com/icons/weather-48.png",
            "mimeType": "image/png",
            "sizes": ["48x48"],
            "theme": "light",
        },
        {
            "src": "https://example.com/icons/weather.svg",
            "mimeType": "image/svg+xml",
            "sizes": ["any"],
            "theme": "dark",
        },
        {"src": "data:image/png;base64," + _PNG_B64},
    ]


def _annotations() -> dict[str, Any]:
    return {
        "audience": ["user", "assistant"],
        "priority": 0.5,
        "lastModified": "2025-01-12T15:00:58Z",
    }


def _all_content_blocks() -> list[dict[str, Any]]:
    """One of each of the five ContentBlock kinds, with every optional field somewhere."""
    return [
        {
            "type": "text",
            "text": "Current weather in New York: 72°F, partly cloudy",
            "annotations": {"audience": ["user"], "priority": 0.9},
            "_meta": {"com.example/source": "noaa"},
        },
        {
            "type": "image",
            "data": _PNG_B64,
            "mimeType": "image/png",
            "annotations": {"audience": ["assistant"], "priority": 0.25},
            "_meta": {"com.example/width": 1, "com.example/height": 1},
        },
        {
            "type": "audio",
            "data": _WAV_B64,
            "mimeType": "audio/wav",
            "annotations": {"lastModified": "2025-05-01T08:30:00Z"},
            "_meta": {"com.example/durationMs": 0},
        },
        {
            "type": "resource_link",
            "uri": "file:///project/src/main.rs",
            "name": "main.rs",
            "title": "Main entry point",
            "description": "Primary application entry point",
            "mimeType": "text/x-rust",
            "annotations": _annotations(),
            "size": 2048,
            "icons": [{"src": "https://example.com/icons/rust.png", "mimeType": "image/png"}],
            "_meta": {"com.example/lang": "rust"},
        },
        {
            "type": "resource",
            "resource": {
                "uri": "file:///project/README.md",
                "mimeType": "text/markdown",
                "text": "# Project\n\nHello.",
                "_meta": {"com.example/etag": 'W/"abc"'},
            },
            "annotations": {"audience": ["user"], "priority": 0.75},
            "_meta": {"com.example/embedded": True},
        },
        {
            "type": "resource",
            "resource": {
                "uri": "file:///project/logo.png",
                "mimeType": "image/png",
                "blob": _PNG_B64,
            },
        },
    ]


def _weather_tool() -> dict[str, Any]:
    """A Tool with every optional field set."""
    return {
        "name": "get_weather_data",
        "title": "Weather Data Retriever",
        "description": "Get current weather data for a location",
        "icons": _icons(),
        "inputSchema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name or zip code"},
                "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
            },
            "required": ["location"],
        },
        "execution": {"taskSupport": "optional"},
        "outputSchema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "temperature": {"type": "number", "description": "Temperature in celsius"},
                "conditions": {"type": "string", "description": "Weather conditions description"},
                "humidity": {"type": "number", "description": "Humidity percentage"},
            },
            "required": ["temperature", "conditions", "humidity"],
        },
        "annotations": {
            "title": "Weather (annotation title)",
            "readOnlyHint": True,
            "destructiveHint": False,
            "idempotentHint": True,
            "openWorldHint": True,
        },
        "_meta": {"com.example/category": "weather", "com.example/version": 3},
    }


def _minimal_tool() -> dict[str, Any]:
    return {"name": "list_files", "inputSchema": {"type": "object"}}


def _calculator_tool() -> dict[str, Any]:
    return {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression",
        "inputSchema": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
        "execution": {"taskSupport": "forbidden"},
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    }


# --------------------------------------------------------------------------------------------------
# PARAMS
# --------------------------------------------------------------------------------------------------

PARAMS: dict[str, list[dict[str, Any]]] = {
    # ---- client -> server requests ---------------------------------------------------------------
    "initialize": [
        # Full client capabilities, clientInfo with every optional field.
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {
                "experimental": {"com.example/streamingDiffs": {"maxBytes": 65536}},
                "roots": {"listChanged": True},
                "sampling": {"context": {}, "tools": {}},
                "elicitation": {"form": {}, "url": {}},
                "tasks": {
                    "list": {},
                    "cancel": {},
                    "requests": {
                        "sampling": {"createMessage": {}},
                        "elicitation": {"create": {}},
                    },
                },
            },
            "clientInfo": {
                "name": "ExampleClient",
                "title": "Example Client Display Name",
                "version": "1.0.0",
                "description": "An example MCP client application",
                "icons": _icons(),
                "websiteUrl": "https://example.com",
            },
            "_meta": {"progressToken": "init-1"},
        },
        # Legacy-ish: empty capability objects (elicitation {} == form only).
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {"roots": {}, "sampling": {}, "elicitation": {}},
            "clientInfo": {"name": "tiny-client", "version": "0.0.1"},
        },
        # No capabilities at all.
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bare", "version": "2.3.4", "title": "Bare Client"},
        },
    ],
    "ping": [
        {},
        {"_meta": {"progressToken": 17}},
    ],
    # 2026-07-28 (SEP-2575): the request's _meta says who the client is.
    "server/discover": [
        {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        },
    ],
    "completion/complete": [
        {
            "ref": {"type": "ref/prompt", "name": "code_review"},
            "argument": {"name": "language", "value": "py"},
        },
        {
            "ref": {"type": "ref/prompt", "name": "code_review", "title": "Request Code Review"},
            "argument": {"name": "framework", "value": "fla"},
            "context": {"arguments": {"language": "python"}},
            "_meta": {"progressToken": "complete-7"},
        },
        {
            "ref": {"type": "ref/resource", "uri": "file:///{path}"},
            "argument": {"name": "path", "value": "src/"},
            "context": {},
        },
        {
            "ref": {"type": "ref/resource", "uri": "github://repos/{owner}/{repo}"},
            "argument": {"name": "repo", "value": ""},
            "context": {"arguments": {"owner": "modelcontextprotocol"}},
        },
    ],
    "logging/setLevel": [
        {"level": "info"},
        {"level": "emergency", "_meta": {"progressToken": 3}},
        {"level": "debug"},
        {"level": "warning"},
    ],
    "prompts/get": [
        {"name": "code_review", "arguments": {"code": "def hello():\n    print('world')"}},
        {"name": "greeting"},
        {
            "name": "summarize",
            "arguments": {"style": "bullet", "length": "short", "empty": ""},
            "_meta": {"progressToken": "prompt-9", "com.example/trace": "abc123"},
        },
    ],
    "prompts/list": [
        {},
        {"cursor": "optional-cursor-value"},
        {"cursor": "eyJwYWdlIjogMn0=", "_meta": {"progressToken": 1}},
    ],
    "resources/list": [
        {},
        {"cursor": "page-2"},
        {"_meta": {"progressToken": "res-list"}},
    ],
    "resources/templates/list": [
        {},
        {"cursor": "tmpl-cursor", "_meta": {"progressToken": 99}},
    ],
    "resources/read": [
        {"uri": "file:///project/src/main.rs"},
        {"uri": "https://example.com/data.json", "_meta": {"progressToken": "read-1"}},
    ],
    "resources/subscribe": [
        {"uri": "file:///project/src/main.rs"},
        {"uri": "db://tables/users", "_meta": {"progressToken": 5}},
    ],
    "resources/unsubscribe": [
        {"uri": "file:///project/src/main.rs"},
        {"uri": "db://tables/users", "_meta": {"com.example/reason": "closed tab"}},
    ],
    "tools/call": [
        {"name": "get_weather", "arguments": {"location": "New York"}},
        {"name": "list_files"},
        {
            "name": "get_weather_data",
            "arguments": {
                "location": "Berlin",
                "days": 3,
                "threshold": 0.5,
                "verbose": False,
                "tags": ["a", "b"],
                "nested": {"deep": {"deeper": [1, 2, {"x": "y"}]}},
            },
            "task": {"ttl": 60000},
            "_meta": {"progressToken": "call-42", "com.example/trace": "t-1"},
        },
        {
            "name": "long_job",
            "arguments": {},
            "task": {},
            "_meta": {"progressToken": 42},
        },
    ],
    "tools/list": [
        {},
        {"cursor": "tools-page-2"},
        {"cursor": "tools-page-3", "_meta": {"progressToken": "tl"}},
    ],
    # ---- server -> client requests ---------------------------------------------------------------
    "sampling/createMessage": [
        # Classic spec example, every classic optional field.
        {
            "messages": [
                {"role": "user", "content": {"type": "text", "text": "What is the capital of France?"}},
            ],
            "modelPreferences": {
                "hints": [{"name": "claude-3-sonnet"}, {"name": "gpt"}, {}],
                "costPriority": 0.3,
                "speedPriority": 0.8,
                "intelligencePriority": 0.5,
            },
            "systemPrompt": "You are a helpful assistant.",
            "includeContext": "thisServer",
            "temperature": 0.7,
            "maxTokens": 100,
            "stopSequences": ["\n\nHuman:", "STOP"],
            "metadata": {"anthropic": {"user_id": "u-123"}, "priority": "low"},
            "_meta": {"progressToken": "sample-1"},
        },
        # Tool use: tools, toolChoice, content as arrays, tool_use + tool_result blocks, task.
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What's the weather in Paris and London?"},
                        {
                            "type": "image",
                            "data": _PNG_B64,
                            "mimeType": "image/png",
                            "annotations": {"audience": ["assistant"]},
                        },
                        {"type": "audio", "data": _WAV_B64, "mimeType": "audio/wav"},
                    ],
                    "_meta": {"com.example/turn": 1},
                },
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "call_abc123",
                            "name": "get_weather_data",
                            "input": {"location": "Paris"},
                            "_meta": {"com.example/cacheKey": "k1"},
                        },
                        {
                            "type": "tool_use",
                            "id": "call_def456",
                            "name": "get_weather_data",
                            "input": {"location": "London", "units": "metric"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "toolUseId": "call_abc123",
                            "content": [{"type": "text", "text": "Paris: 18°C, sunny"}],
                            "structuredContent": {"temperature": 18, "conditions": "sunny", "humidity": 40},
                            "isError": False,
                            "_meta": {"com.example/cacheKey": "k2"},
                        },
                        {
                            "type": "tool_result",
                            "toolUseId": "call_def456",
                            "content": _all_content_blocks(),
                            "isError": True,
                        },
                    ],
                },
            ],
            "tools": [_weather_tool(), _minimal_tool()],
            "toolChoice": {"mode": "auto"},
            "maxTokens": 1000,
            "includeContext": "none",
            "task": {"ttl": 300000},
            "_meta": {"progressToken": 8},
        },
        # Minimal, plus toolChoice without mode and allServers context.
        {
            "messages": [
                {"role": "assistant", "content": {"type": "text", "text": "Hi"}},
                {
                    "role": "user",
                    "content": {
                        "type": "tool_result",
                        "toolUseId": "call_1",
                        "content": [],
                    },
                },
            ],
            "maxTokens": 16,
            "includeContext": "allServers",
            "tools": [_calculator_tool()],
            "toolChoice": {},
            "temperature": 0.0,
            "modelPreferences": {},
            "stopSequences": [],
            "metadata": {},
        },
        {
            "messages": [],
            "maxTokens": 4096,
            "toolChoice": {"mode": "required"},
            "tools": [_minimal_tool()],
            "task": {},
        },
    ],
    "roots/list": [
        {},
        {"_meta": {"progressToken": "roots-1"}},
    ],
    "elicitation/create": [
        # Form mode, with every primitive schema kind.
        {
            "mode": "form",
            "message": "Please complete your profile",
            "requestedSchema": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "email": {
                        "type": "string",
                        "title": "Email",
                        "description": "Your email address",
                        "format": "email",
                        "minLength": 3,
                        "maxLength": 254,
                        "default": "user@example.com",
                    },
                    "website": {"type": "string", "format": "uri"},
                    "birthday": {"type": "string", "format": "date"},
                    "meetingAt": {"type": "string", "format": "date-time", "title": "Meeting time"},
                    "nickname": {"type": "string"},
                    "height": {
                        "type": "number",
                        "title": "Height (m)",
                        "description": "Your height in meters",
                        "minimum": 0.5,
                        "maximum": 2.5,
                        "default": 1.75,
                    },
                    "age": {
                        "type": "integer",
                        "title": "Age",
                        "description": "Your age in years",
                        "minimum": 18,
                        "maximum": 130,
                        "default": 30,
                    },
                    "newsletter": {
                        "type": "boolean",
                        "title": "Subscribe",
                        "description": "Receive the weekly newsletter",
                        "default": False,
                    },
                    "color": {
                        "type": "string",
                        "title": "Color Selection",
                        "description": "Choose your favorite color",
                        "enum": ["Red", "Green", "Blue"],
                        "default": "Red",
                    },
                    "colorHex": {
                        "type": "string",
                        "title": "Color Selection",
                        "description": "Choose your favorite color",
                        "oneOf": [
                            {"const": "#FF0000", "title": "Red"},
                            {"const": "#00FF00", "title": "Green"},
                            {"const": "#0000FF", "title": "Blue"},
                        ],
                        "default": "#FF0000",
                    },
                    "size": {
                        "type": "string",
                        "title": "Size",
                        "description": "Pick a size",
                        "enum": ["s", "m", "l"],
                        "enumNames": ["Small", "Medium", "Large"],
                        "default": "m",
                    },
                    "colors": {
                        "type": "array",
                        "title": "Color Selection",
                        "description": "Choose your favorite colors",
                        "minItems": 1,
                        "maxItems": 2,
                        "items": {"type": "string", "enum": ["Red", "Green", "Blue"]},
                        "default": ["Red", "Green"],
                    },
                    "colorsHex": {
                        "type": "array",
                        "title": "Color Selection",
                        "description": "Choose your favorite colors",
                        "minItems": 1,
                        "maxItems": 2,
                        "items": {
                            "anyOf": [
                                {"const": "#FF0000", "title": "Red"},
                                {"const": "#00FF00", "title": "Green"},
                                {"const": "#0000FF", "title": "Blue"},
                            ]
                        },
                        "default": ["#FF0000", "#00FF00"],
                    },
                },
                "required": ["email", "age"],
            },
            "task": {"ttl": 120000},
            "_meta": {"progressToken": "elicit-1"},
        },
        # Form mode with `mode` omitted (backwards compatible), spec example.
        {
            "message": "Please provide your GitHub username",
            "requestedSchema": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
            },
        },
        # Form mode: bare enum kinds without optional fields, legacy enum without enumNames.
        {
            "mode": "form",
            "message": "Quick survey",
            "requestedSchema": {
                "type": "object",
                "properties": {
                    "rating": {"type": "integer"},
                    "score": {"type": "number"},
                    "ok": {"type": "boolean"},
                    "pick": {"type": "string", "enum": ["a", "b"]},
                    "pickTitled": {"type": "string", "oneOf": [{"const": "a", "title": "Option A"}]},
                    "many": {"type": "array", "items": {"type": "string", "enum": ["x", "y", "z"]}},
                    "manyTitled": {
                        "type": "array",
                        "items": {"anyOf": [{"const": "x", "title": "Ex"}, {"const": "y", "title": "Why"}]},
                    },
                },
            },
        },
        # URL mode (spec example).
        {
            "mode": "url",
            "elicitationId": "550e8400-e29b-41d4-a716-446655440000",
            "url": "https://mcp.example.com/ui/set_api_key",
            "message": "Please provide your API key to continue.",
            "task": {"ttl": 60000},
            "_meta": {"progressToken": 77},
        },
    ],
    # ---- notifications ---------------------------------------------------------------------------
    "notifications/cancelled": [
        {"requestId": "123", "reason": "User requested cancellation"},
        {"requestId": 7},
        {"requestId": 0, "_meta": {"com.example/origin": "ui"}},
        # requestId is optional in 2025-11-25 (only required for non-task requests).
        {"reason": "Shutting down"},
    ],
    "notifications/progress": [
        {"progressToken": "abc123", "progress": 50, "total": 100, "message": "Reticulating splines..."},
        {"progressToken": 42, "progress": 1},
        {"progressToken": 0, "progress": 0.25, "total": 1.0, "_meta": {"com.example/stage": "upload"}},
    ],
    "notifications/initialized": [
        {},
        {"_meta": {"com.example/startupMs": 12}},
    ],
    "notifications/roots/list_changed": [
        {},
        {"_meta": {"com.example/reason": "workspace opened"}},
    ],
    "notifications/message": [
        {
            "level": "error",
            "logger": "database",
            "data": {"error": "Connection failed", "details": {"host": "localhost", "port": 5432}},
        },
        {"level": "info", "data": "Server started"},
        {"level": "debug", "data": [1, "two", 3.5, True, None], "_meta": {"com.example/seq": 9}},
        {"level": "critical", "logger": "kernel", "data": 0},
    ],
    "notifications/resources/updated": [
        {"uri": "file:///project/src/main.rs"},
        {"uri": "db://tables/users", "_meta": {"com.example/rev": 12}},
    ],
    "notifications/resources/list_changed": [
        {},
        {"_meta": {"com.example/added": ["file:///a.txt"]}},
    ],
    "notifications/tools/list_changed": [
        {},
        {"_meta": {"com.example/generation": 4}},
    ],
    "notifications/prompts/list_changed": [
        {},
        {"_meta": {"com.example/generation": 2}},
    ],
    "notifications/elicitation/complete": [
        {"elicitationId": "550e8400-e29b-41d4-a716-446655440000"},
    ],
}


# --------------------------------------------------------------------------------------------------
# RESULTS
# --------------------------------------------------------------------------------------------------

RESULTS: dict[str, list[dict[str, Any]]] = {
    "initialize": [
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {
                "experimental": {"com.example/batching": {}},
                "logging": {},
                "completions": {},
                "prompts": {"listChanged": True},
                "resources": {"subscribe": True, "listChanged": True},
                "tools": {"listChanged": True},
                "tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}},
            },
            "serverInfo": {
                "name": "ExampleServer",
                "title": "Example Server Display Name",
                "version": "1.0.0",
                "description": "An example MCP server providing tools and resources",
                "icons": _icons(),
                "websiteUrl": "https://example.com/server",
            },
            "instructions": "Optional instructions for the client",
            "_meta": {"com.example/region": "eu-west-1"},
        },
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {"prompts": {}, "resources": {}, "tools": {}},
            "serverInfo": {"name": "tiny-server", "version": "0.1.0"},
        },
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "serverInfo": {"name": "old", "version": "9"},
        },
    ],
    "ping": [
        {},
        {"_meta": {"com.example/serverTime": "2025-11-25T00:00:00Z"}},
    ],
    "server/discover": [
        {
            "supportedVersions": ["2026-07-28", "2025-11-25"],
            "capabilities": {"tools": {}, "prompts": {}},
            "instructions": "Use the tools.",
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "example", "version": "1.0.0"}},
        },
        {"supportedVersions": ["2026-07-28"], "capabilities": {}},
    ],
    "completion/complete": [
        {"completion": {"values": ["python", "pytorch", "pyside"], "total": 10, "hasMore": True}},
        {"completion": {"values": []}},
        {"completion": {"values": ["flask"], "hasMore": False}, "_meta": {"com.example/cached": True}},
    ],
    "logging/setLevel": [
        {},
        {"_meta": {"com.example/previousLevel": "warning"}},
    ],
    "prompts/get": [
        {
            "description": "Code review prompt",
            "messages": [
                {
                    "role": "user",
                    "content": {
                        "type": "text",
                        "text": "Please review this Python code:\ndef hello():\n    print('world')",
                    },
                }
            ],
        },
        {
            "messages": [
                {"role": role, "content": block}
                for role, block in zip(
                    ["user", "assistant", "user", "assistant", "user", "user"],
                    _all_content_blocks(),
                    strict=True,
                )
            ],
            "_meta": {"com.example/promptVersion": 2},
        },
        {"messages": []},
    ],
    "prompts/list": [
        {
            "prompts": [
                {
                    "name": "code_review",
                    "title": "Request Code Review",
                    "description": "Asks the LLM to analyze code quality and suggest improvements",
                    "arguments": [
                        {
                            "name": "code",
                            "title": "Code",
                            "description": "The code to review",
                            "required": True,
                        },
                        {"name": "style", "required": False},
                        {"name": "notes"},
                    ],
                    "icons": _icons(),
                    "_meta": {"com.example/category": "dev"},
                },
                {"name": "greeting"},
            ],
            "nextCursor": "next-page-cursor",
        },
        {"prompts": [], "_meta": {"com.example/total": 0}},
    ],
    "resources/list": [
        {
            "resources": [
                {
                    "uri": "file:///project/src/main.rs",
                    "name": "main.rs",
                    "title": "Rust Software Application Main File",
                    "description": "Primary application entry point",
                    "mimeType": "text/x-rust",
                    "annotations": _annotations(),
                    "size": 1024,
                    "icons": _icons(),
                    "_meta": {"com.example/owner": "alice"},
                },
                {"uri": "https://example.com/data.json", "name": "data"},
                {"uri": "db://tables/users", "name": "users", "annotations": {}},
            ],
            "nextCursor": "next-page-cursor",
        },
        {"resources": []},
    ],
    "resources/templates/list": [
        {
            "resourceTemplates": [
                {
                    "uriTemplate": "file:///{path}",
                    "name": "Project Files",
                    "title": "📁 Project Files",
                    "description": "Access files in the project directory",
                    "mimeType": "application/octet-stream",
                    "annotations": {"audience": ["assistant"], "priority": 0.2},
                    "icons": _icons(),
                    "_meta": {"com.example/readonly": True},
                },
                {"uriTemplate": "github://repos/{owner}/{repo}", "name": "repo"},
            ],
            "nextCursor": "tmpl-next",
        },
        {"resourceTemplates": [], "_meta": {"com.example/x": 1}},
    ],
    "resources/read": [
        {
            "contents": [
                {
                    "uri": "file:///project/src/main.rs",
                    "mimeType": "text/x-rust",
                    "text": 'fn main() {\n    println!("Hello world!");\n}',
                    "_meta": {"com.example/lines": 3},
                },
                {"uri": "file:///project/logo.png", "mimeType": "image/png", "blob": _PNG_B64},
                {"uri": "file:///project/empty.txt", "text": ""},
                {"uri": "file:///project/blob.bin", "blob": "", "_meta": {"com.example/empty": True}},
            ],
            "_meta": {"com.example/cache": "hit"},
        },
        {"contents": []},
    ],
    "resources/subscribe": [
        {},
        {"_meta": {"com.example/subscriptionId": "sub-1"}},
    ],
    "resources/unsubscribe": [
        {},
    ],
    "tools/call": [
        # Spec example with structuredContent.
        {
            "content": [
                {
                    "type": "text",
                    "text": '{"temperature": 22.5, "conditions": "Partly cloudy", "humidity": 65}',
                }
            ],
            "structuredContent": {"temperature": 22.5, "conditions": "Partly cloudy", "humidity": 65},
            "isError": False,
        },
        # Tool-level error.
        {
            "content": [{"type": "text", "text": "Failed to fetch weather data: API rate limit exceeded"}],
            "isError": True,
            "_meta": {"com.example/retryAfterMs": 1500},
        },
        # Every content block type.
        {"content": _all_content_blocks(), "structuredContent": {}},
    ],
    "tools/list": [
        {"tools": [_weather_tool(), _minimal_tool(), _calculator_tool()], "nextCursor": "next-page-cursor"},
        {
            "tools": [
                {
                    "name": "run_migration",
                    "inputSchema": {"type": "object", "properties": {}, "required": []},
                    "execution": {"taskSupport": "required"},
                    "annotations": {"destructiveHint": True, "idempotentHint": False},
                }
            ],
            "_meta": {"com.example/etag": "v5"},
        },
        {"tools": []},
    ],
    "sampling/createMessage": [
        # Spec example.
        {
            "role": "assistant",
            "content": {"type": "text", "text": "The capital of France is Paris."},
            "model": "claude-3-sonnet-20240307",
            "stopReason": "endTurn",
        },
        # Tool use result, content as an array.
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check both cities."},
                {
                    "type": "tool_use",
                    "id": "call_abc123",
                    "name": "get_weather_data",
                    "input": {"location": "Paris"},
                    "_meta": {"com.example/cacheKey": "k1"},
                },
                {"type": "tool_use", "id": "call_def456", "name": "get_weather_data", "input": {}},
            ],
            "model": "claude-sonnet-4-5",
            "stopReason": "toolUse",
            "_meta": {"com.example/usage": {"inputTokens": 120, "outputTokens": 40}},
        },
        # stopReason is an open string: provider-specific values must survive; single image content.
        {
            "role": "assistant",
            "content": {"type": "image", "data": _PNG_B64, "mimeType": "image/png"},
            "model": "some-image-model",
            "stopReason": "refusal",
        },
    ],
    "roots/list": [
        {
            "roots": [
                {"uri": "file:///home/user/projects/myproject", "name": "My Project"},
                {
                    "uri": "file:///home/user/repos/frontend",
                    "name": "Frontend Repository",
                    "_meta": {"com.example/vcs": "git"},
                },
                {"uri": "file:///tmp"},
            ]
        },
        {"roots": [], "_meta": {"com.example/x": "y"}},
    ],
    "elicitation/create": [
        {
            "action": "accept",
            "content": {
                "email": "octocat@github.com",
                "name": "Monalisa Octocat",
                "age": 30,
                "height": 1.75,
                "newsletter": True,
                "optOut": False,
                "colors": ["Red", "Green"],
                "none": [],
            },
            "_meta": {"com.example/formVersion": 1},
        },
        {"action": "decline"},
        {"action": "cancel"},
    ],
}


# --------------------------------------------------------------------------------------------------
# INVALID: (method, "params" | "result", payload, field-name fragment(s), "|"-separated)
# --------------------------------------------------------------------------------------------------

INVALID: list[tuple[str, str, dict[str, Any], str]] = [
    ("tools/call", "params", {"name": 5}, "name"),
    (
        "initialize",
        "params",
        {"capabilities": {}, "clientInfo": {"name": "c", "version": "1"}},
        "protocolVersion|protocol_version",
    ),
    ("resources/read", "params", {"uri": ["x"]}, "uri"),
    ("notifications/progress", "params", {"progressToken": "t", "progress": "50"}, "progress"),
    ("prompts/get", "params", {"name": "p", "arguments": {"a": 1}}, "arguments"),
    ("logging/setLevel", "params", {"level": "verbose"}, "level"),
    (
        "sampling/createMessage",
        "params",
        {"messages": [], "maxTokens": "100"},
        "maxTokens|max_tokens",
    ),
    ("notifications/cancelled", "params", {"requestId": ["a"]}, "requestId|request_id"),
    ("tools/list", "result", {"tools": [{"name": "t"}]}, "inputSchema|input_schema"),
    (
        "initialize",
        "result",
        {"protocolVersion": "2025-11-25", "capabilities": "all", "serverInfo": {"name": "s", "version": "1"}},
        "capabilities",
    ),
    ("resources/read", "result", {"contents": "hello"}, "contents"),
    ("elicitation/create", "result", {"action": "maybe"}, "action"),
]
