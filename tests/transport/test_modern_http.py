"""The 2026-07-28 era over HTTP (trio_mcp/_transport/modern.py, routed in post.py), end to end on hypercorn:
stateless requests carrying their `_meta`, the era's refusals, JSON or SSE answers, and the handshake era
still served on the same endpoint."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from _rawhttp import (
    ACCEPT_BOTH,
    JSON,
    HeaderList,
    RawResponse,
    Target,
    assert_error,
    assert_no_traceback,
    get_headers,
    initialize,
    note,
    post_headers,
    rpc,
    start_app,
    tools_list_ok,
)

from trio_mcp._proto.errors import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND
from trio_mcp._transport.config import ConfigError
from trio_mcp._transport.http import McpASGIApp

Start = Callable[..., Awaitable[Target]]
Json = dict[str, Any]

MODERN = "2026-07-28"
PV = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"
INFO = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL = "io.modelcontextprotocol/logLevel"
SERVER_INFO = "io.modelcontextprotocol/serverInfo"
HEADER_MISMATCH = -32020
MISSING_CAPABILITY = -32021
UNSUPPORTED_VERSION = -32022
WAIT = 10
NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def meta(
    *, capabilities: Json | None = None, version: str = MODERN, log_level: str | None = None, **extra: Any
) -> Json:
    m: Json = {
        PV: version,
        CAPS: {} if capabilities is None else capabilities,
        INFO: {"name": "t", "version": "0"},
    }
    if log_level is not None:
        m[LOG_LEVEL] = log_level
    m.update(extra)
    return m


def modern_headers(
    method: str | None,
    *,
    version: str | None = MODERN,
    name: str | None = None,
    accept: str = ACCEPT_BOTH,
    extra: HeaderList = (),
) -> list[tuple[str | bytes, str | bytes]]:
    headers: list[tuple[str | bytes, str | bytes]] = [("content-type", JSON), ("accept", accept)]
    if version is not None:
        headers.append(("mcp-protocol-version", version))
    if method is not None:
        headers.append(("mcp-method", method))
    if name is not None:
        headers.append(("mcp-name", name))
    headers += list(extra)
    return headers


def modern_request(
    method: str, params: Json | None = None, *, id: Any = 1, m: Json | None = None
) -> tuple[list[tuple[str | bytes, str | bytes]], bytes]:
    """A well-formed 2026-07-28 request: `_meta` in the body (`m`, or the default), the headers that mirror it."""
    p: Json = dict(params or {})
    p.setdefault("_meta", meta() if m is None else m)
    field = NAMED.get(method)
    name = p.get(field) if field is not None else None
    return modern_headers(method, name=name if isinstance(name, str) else None), rpc(method, p, id=id)


async def post(target: Target, method: str, params: Json | None = None, **kwargs: Any) -> RawResponse:
    headers, body = modern_request(method, params, **kwargs)
    response = await target.request("POST", headers, body)
    assert_modern_answer(response)
    return response


def assert_modern_answer(response: RawResponse) -> None:
    assert response.header("mcp-session-id") is None, response.headers
    assert_no_traceback(response)


def result_of(response: RawResponse, id: Any = 1) -> Json:
    assert response.status == 200, (response.status, response.body)
    assert response.content_type == "application/json", response.headers
    message = response.json()
    assert message["id"] == id, message
    assert "error" not in message, message
    result: Json = message["result"]
    return result


def sse_messages(response: RawResponse) -> list[Json]:
    """The messages of a 2026-07-28 SSE answer: one `data:` line per event, no event ids, no priming event."""
    assert response.status == 200, (response.status, response.body)
    assert response.content_type == "text/event-stream", response.headers
    blocks = [block for block in response.body.decode().split("\n\n") if block]
    for block in blocks:
        lines = block.split("\n")
        assert len(lines) == 1, block
        assert lines[0].startswith("data: "), block
    events = response.events()
    assert len(events) == len(blocks)
    assert all(event.id is None and event.data for event in events), events
    return [json.loads(event.data) for event in events]


def refusal(response: RawResponse, status: int, code: int, id: Any, *phrases: str) -> Json:
    assert_modern_answer(response)
    error = assert_error(response, status, code, *phrases)
    assert response.json()["id"] == id, response.body
    return error


# -- results --


async def test_server_discover(target: Target) -> None:
    with trio.fail_after(WAIT):
        result = result_of(await post(target, "server/discover", id="d"), "d")
    assert result["resultType"] == "complete"
    assert result["ttlMs"] == 0
    assert result["cacheScope"] == "private"
    assert {MODERN, "2025-11-25"} <= set(result["supportedVersions"])
    capabilities = result["capabilities"]
    # List changes and resource updates reach subscriptions/listen streams (test_listen.py).
    assert capabilities["tools"] == {"listChanged": True}
    assert capabilities["prompts"] == {"listChanged": True}
    assert capabilities["resources"] == {"subscribe": True, "listChanged": True}
    assert result["instructions"].startswith("Conformance fixture")
    assert result["_meta"][SERVER_INFO] == {"name": "trio-mcp-everything", "version": "1.0.0"}


@pytest.mark.parametrize(
    ("method", "params", "key"),
    [
        ("tools/list", {}, "tools"),
        ("prompts/list", {}, "prompts"),
        ("resources/list", {}, "resources"),
        ("resources/templates/list", {}, "resourceTemplates"),
        ("resources/read", {"uri": "test://static-text"}, "contents"),
    ],
)
async def test_cacheable_results_carry_the_caching_hints(
    target: Target, method: str, params: Json, key: str
) -> None:
    with trio.fail_after(WAIT):
        result = result_of(await post(target, method, params, id=3), 3)
    assert result[key], result
    assert (result["resultType"], result["ttlMs"], result["cacheScope"]) == ("complete", 0, "private")


@pytest.mark.parametrize(
    ("method", "params"),
    [("tools/call", {"name": "test_simple_text"}), ("prompts/get", {"name": "test_simple_prompt"})],
)
async def test_other_results_carry_only_the_result_type(target: Target, method: str, params: Json) -> None:
    with trio.fail_after(WAIT):
        result = result_of(await post(target, method, params, id=4), 4)
    assert result["resultType"] == "complete"
    assert "ttlMs" not in result, result
    assert "cacheScope" not in result, result
    if method == "tools/call":
        assert result["content"][0]["text"] == "This is a simple text response for testing."
    else:
        assert result["messages"][0]["content"]["text"] == "This is a simple prompt for testing."


async def test_the_cache_knobs_show_up(start: Start) -> None:
    with trio.fail_after(WAIT):
        target = await start(cache_ttl_ms=60000, cache_scope="public")
        for method in ("server/discover", "tools/list"):
            result = result_of(await post(target, method))
            assert (result["ttlMs"], result["cacheScope"]) == (60000, "public"), result
        call = result_of(await post(target, "tools/call", {"name": "test_simple_text"}))
        assert "ttlMs" not in call, call


async def test_a_resource_s_own_caching_hints_win_over_the_servers(nursery: trio.Nursery) -> None:
    from trio_mcp import Server

    own = Server("hints")

    @own.resource("test://cached", cache_ttl_ms=5000, cache_scope="public")
    async def cached() -> str:
        return "kept a while"

    @own.resource("test://plain")
    async def plain() -> str:
        return "the server's hints"

    with trio.fail_after(WAIT):
        target = await start_app(nursery, own.asgi_app(cache_ttl_ms=100))
        result = result_of(await post(target, "resources/read", {"uri": "test://cached"}))
        assert (result["ttlMs"], result["cacheScope"]) == (5000, "public"), result
        result = result_of(await post(target, "resources/read", {"uri": "test://plain"}))
        assert (result["ttlMs"], result["cacheScope"]) == (100, "private"), result


@pytest.mark.parametrize(
    ("options", "phrase"),
    [({"cache_ttl_ms": -1}, "cache_ttl_ms"), ({"cache_scope": "shared"}, "cache_scope")],
)
def test_a_resource_s_caching_hints_are_checked_when_it_is_registered(
    options: dict[str, Any], phrase: str
) -> None:
    from trio_mcp import Server
    from trio_mcp._server.tools import RegistrationError

    own = Server("hints")
    with pytest.raises(RegistrationError, match=phrase):

        @own.resource("test://bad", **options)
        async def bad() -> str:  # pyright: ignore[reportUnusedFunction]
            return ""


def test_an_unknown_cache_scope_is_a_config_error() -> None:
    from examples.everything import server

    with pytest.raises(ConfigError, match="cache_scope"):
        server.asgi_app(cache_scope="shared")


async def test_a_base64_mcp_name_is_accepted(target: Target) -> None:
    headers, body = modern_request("tools/call", {"name": "test_simple_text"})
    headers = [(k, v) for k, v in headers if k != "mcp-name"]
    headers.append(("mcp-name", "=?base64?dGVzdF9zaW1wbGVfdGV4dA==?="))
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, body)
    assert result_of(response)["content"][0]["text"] == "This is a simple text response for testing."


async def test_a_modern_notification_is_accepted(target: Target) -> None:
    body = note("notifications/cancelled", {"requestId": 1, "_meta": meta()})
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers("notifications/cancelled"), body)
    assert response.status == 202, (response.status, response.body)
    assert response.header("mcp-session-id") is None


# -- refusals --


async def test_no_meta_is_invalid_params(target: Target) -> None:
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers("tools/list"), rpc("tools/list", {}, id=11))
    refusal(response, 400, INVALID_PARAMS, 11, "no _meta")


async def test_no_params_is_invalid_params(target: Target) -> None:
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers("tools/list"), rpc("tools/list", id="np"))
    refusal(response, 400, INVALID_PARAMS, "np", "no _meta")


async def test_meta_without_the_version_is_invalid_params(target: Target) -> None:
    m = meta()
    del m[PV]
    headers, body = modern_request("tools/list", id=12, m=m)
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, body)
    refusal(response, 400, INVALID_PARAMS, 12, PV)


async def test_meta_without_the_capabilities_is_invalid_params(target: Target) -> None:
    m = meta()
    del m[CAPS]
    headers, body = modern_request("tools/list", id=13, m=m)
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, body)
    refusal(response, 400, INVALID_PARAMS, 13, CAPS)


async def test_capabilities_that_are_not_client_capabilities_are_invalid_params(target: Target) -> None:
    headers, body = modern_request("tools/list", id=14, m=meta(capabilities={"sampling": 5}))
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, body)
    refusal(response, 400, INVALID_PARAMS, 14, CAPS)


async def test_a_malformed_client_info_is_ignored(target: Target) -> None:
    m = meta()
    m[INFO] = {"name": 5}
    headers, body = modern_request("tools/list", id=15, m=m)
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, body)
    assert result_of(response, 15)["tools"]


async def test_no_client_info_is_fine(target: Target) -> None:
    m = meta()
    del m[INFO]
    headers, body = modern_request("tools/list", id=16, m=m)
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, body)
    assert result_of(response, 16)["tools"]


async def test_a_version_header_other_than_meta_is_a_header_mismatch(target: Target) -> None:
    _, body = modern_request("tools/list", id=21)
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers("tools/list", version="2025-11-25"), body)
    refusal(response, 400, HEADER_MISMATCH, 21, "MCP-Protocol-Version")


async def test_no_version_header_with_a_meta_version_is_a_header_mismatch(target: Target) -> None:
    _, body = modern_request("tools/list", id=22)
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers("tools/list", version=None), body)
    refusal(response, 400, HEADER_MISMATCH, 22, "MCP-Protocol-Version")


async def test_a_meta_version_of_v999_under_a_2026_header_is_a_header_mismatch(target: Target) -> None:
    _, body = modern_request("tools/list", id=23, m=meta(version="v999.0.0"))
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers("tools/list"), body)
    refusal(response, 400, HEADER_MISMATCH, 23)


async def test_an_unsupported_version_is_refused_with_the_supported_list(target: Target) -> None:
    _, body = modern_request("tools/list", id=24, m=meta(version="v999.0.0"))
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers("tools/list", version="v999.0.0"), body)
    error = refusal(response, 400, UNSUPPORTED_VERSION, 24, "v999.0.0")
    assert error["data"]["requested"] == "v999.0.0"
    assert {MODERN, "2025-11-25"} <= set(error["data"]["supported"])


async def test_a_missing_mcp_method_is_a_header_mismatch(target: Target) -> None:
    _, body = modern_request("tools/list", id=31)
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers(None), body)
    refusal(response, 400, HEADER_MISMATCH, 31, "Mcp-Method")


@pytest.mark.parametrize("header", ["prompts/list", "TOOLS/LIST"])
async def test_another_mcp_method_is_a_header_mismatch(target: Target, header: str) -> None:
    _, body = modern_request("tools/list", id=32)
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers(header), body)
    refusal(response, 400, HEADER_MISMATCH, 32, "Mcp-Method")


@pytest.mark.parametrize(
    "name",
    [
        "test_image_content",
        None,
        "=?base64?dGVzdF9zaW1wbGVfdGV4dA?=",  # bad padding
        "=?base64?dGVz*F9zaW1wbGVfdGV4dA==?=",  # not Base64
    ],
    ids=["other", "missing", "padding", "chars"],
)
async def test_a_wrong_mcp_name_is_a_header_mismatch(target: Target, name: str | None) -> None:
    _, body = modern_request("tools/call", {"name": "test_simple_text"}, id=33)
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers("tools/call", name=name), body)
    refusal(response, 400, HEADER_MISMATCH, 33, "Mcp-Name")


async def test_a_resources_read_with_another_uri_in_mcp_name_is_a_header_mismatch(target: Target) -> None:
    _, body = modern_request("resources/read", {"uri": "test://static-text"}, id=34)
    headers = modern_headers("resources/read", name="test://static-binary")
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, body)
    refusal(response, 400, HEADER_MISMATCH, 34, "Mcp-Name")


@pytest.mark.parametrize(
    ("method", "params"),
    [
        (
            "initialize",
            {"protocolVersion": MODERN, "capabilities": {}, "clientInfo": {"name": "c", "version": "0"}},
        ),
        ("ping", {}),
        ("logging/setLevel", {"level": "info"}),
        ("resources/subscribe", {"uri": "test://static-text"}),
        ("resources/unsubscribe", {"uri": "test://static-text"}),
        ("no/such/method", {}),
    ],
)
async def test_methods_the_era_does_not_have_are_404(target: Target, method: str, params: Json) -> None:
    headers, body = modern_request(method, params, id=f"m-{method}")
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, body)
    refusal(response, 404, METHOD_NOT_FOUND, f"m-{method}", method)


async def test_a_batch_is_refused(target: Target) -> None:
    _, one = modern_request("tools/list", id=41)
    _, two = modern_request("prompts/list", id=42)
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers("tools/list"), b"[" + one + b"," + two + b"]")
    assert_modern_answer(response)
    assert_error(response, 400, INVALID_REQUEST, "batch")


async def test_a_missing_client_capability_is_400_with_what_is_required(target: Target) -> None:
    with trio.fail_after(WAIT):
        response = await post(target, "tools/call", {"name": "test_missing_capability"}, id=51)
    error = refusal(response, 400, MISSING_CAPABILITY, 51, "sampling")
    assert error["data"] == {"requiredCapabilities": {"sampling": {}}}


# -- notifications on the request's own answer --


async def test_without_a_log_level_no_log_message_is_sent(target: Target) -> None:
    with trio.fail_after(WAIT):
        response = await post(target, "tools/call", {"name": "test_logging_tool"}, id=61)
    result = result_of(response, 61)  # JSON: nothing came before the result
    assert result["content"][0]["text"] == "Logged three messages at info level"
    assert b"notifications/message" not in response.body


async def test_with_log_level_info_the_log_messages_precede_the_result(target: Target) -> None:
    with trio.fail_after(WAIT):
        response = await post(
            target, "tools/call", {"name": "test_logging_tool"}, id=62, m=meta(log_level="info")
        )
    *logs, final = sse_messages(response)
    assert [m["method"] for m in logs] == ["notifications/message"] * 3, logs
    assert [m["params"]["data"] for m in logs] == [
        f"test_logging_tool {s}" for s in ("started", "working", "done")
    ]
    assert all(m["params"]["level"] == "info" for m in logs)
    assert final["id"] == 62
    assert final["result"]["resultType"] == "complete"


async def test_with_log_level_error_no_info_message_is_sent(target: Target) -> None:
    with trio.fail_after(WAIT):
        response = await post(
            target, "tools/call", {"name": "test_logging_tool"}, id=63, m=meta(log_level="error")
        )
    result_of(response, 63)
    assert b"notifications/message" not in response.body


async def test_a_client_that_accepts_only_json_gets_the_result_alone(target: Target) -> None:
    params = {"name": "test_tool_with_progress", "_meta": meta(progressToken="tok-8")}
    headers, body = modern_request("tools/call", params)
    headers = [(k, JSON if k == "accept" else v) for k, v in headers]
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, body)
    assert response.status == 200, response.body
    assert response.content_type == JSON, response.headers
    assert result_of(response)["content"][0]["text"] == "tok-8"


async def test_progress_notifications_carry_the_token_then_the_result(target: Target) -> None:
    params = {"name": "test_tool_with_progress", "_meta": meta(progressToken="tok-7")}
    with trio.fail_after(WAIT):
        response = await post(target, "tools/call", params, id=64)
    *progress, final = sse_messages(response)
    assert [m["method"] for m in progress] == ["notifications/progress"] * 3, progress
    assert [m["params"]["progressToken"] for m in progress] == ["tok-7"] * 3
    assert [m["params"]["progress"] for m in progress] == [0, 50, 100]
    assert final["id"] == 64
    assert final["result"]["resultType"] == "complete"
    assert final["result"]["content"][0]["text"] == "tok-7"


async def test_no_server_request_goes_on_the_stream(target: Target) -> None:
    # the client cannot elicit: the handler's ask is refused (-32021, which the fixture reports in its result)
    params = {"name": "test_streaming_elicitation", "_meta": meta(capabilities={}, progressToken=1)}
    with trio.fail_after(WAIT):
        response = await post(target, "tools/call", params, id=65)
    messages = sse_messages(response)
    assert not [m for m in messages if "method" in m and "id" in m], messages  # no request
    assert [m["method"] for m in messages[:-1]] == ["notifications/progress"]
    assert messages[0]["params"]["progressToken"] == 1
    final = messages[-1]
    assert final["id"] == 65
    assert final["result"]["resultType"] == "complete"
    text = final["result"]["content"][0]["text"]
    assert text.startswith("Could not ask the user: Missing required client capability"), text


async def test_a_declared_ask_becomes_an_input_request_not_a_request_on_the_stream(target: Target) -> None:
    # SEP-2322: the era's way to ask is the input_required result (tests/transport/test_mrtr_http.py)
    params = {
        "name": "test_streaming_elicitation",
        "_meta": meta(capabilities={"elicitation": {}}, progressToken=1),
    }
    with trio.fail_after(WAIT):
        response = await post(target, "tools/call", params, id=66)
    *progress, final = sse_messages(response)
    assert [m["method"] for m in progress] == ["notifications/progress"]
    assert final["id"] == 66
    result = final["result"]
    assert result["resultType"] == "input_required", result
    (request,) = result["inputRequests"].values()
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == "Continue?"
    assert isinstance(result["requestState"], str)


async def test_elicitation_without_a_stream_is_answered_in_json(target: Target) -> None:
    with trio.fail_after(WAIT):
        response = await post(target, "tools/call", {"name": "test_streaming_elicitation"}, id=66)
    result = result_of(response, 66)
    assert result["content"][0]["text"].startswith("Could not ask the user")


# -- the handshake era on the same endpoint --


async def test_a_legacy_initialize_still_works(target: Target) -> None:
    with trio.fail_after(WAIT):
        assert_modern_answer(await post(target, "tools/list"))
        session_id = await initialize(target)  # asserts the Mcp-Session-Id header
        await tools_list_ok(target, session_id, version="2025-11-25")


async def test_the_modern_version_header_without_meta_is_modern_and_missing_meta(target: Target) -> None:
    headers = post_headers(version=MODERN)
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, rpc("tools/list", id=70))
    refusal(response, 400, INVALID_PARAMS, 70, "_meta")


async def test_an_unknown_version_header_without_meta_gets_the_legacy_400(target: Target) -> None:
    # is_modern: neither _meta fields nor a 2026-07-28 header, so the handshake era's header check answers
    headers = post_headers(version="v999")
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, rpc("tools/list", id=71))
    assert response.header("mcp-session-id") is None
    assert_error(response, 400, INVALID_REQUEST, "unsupported MCP-Protocol-Version", "v999")


async def test_an_unknown_version_header_with_meta_is_the_modern_mismatch(target: Target) -> None:
    _, body = modern_request("tools/list", id=74)
    with trio.fail_after(WAIT):
        response = await target.request("POST", modern_headers("tools/list", version="v999"), body)
    refusal(response, 400, HEADER_MISMATCH, 74, "MCP-Protocol-Version")


async def test_a_legacy_post_with_an_old_unsupported_version_gets_the_legacy_400(target: Target) -> None:
    # 2024-11-05 is of the handshake era, but not served: the handshake-era header check refuses it.
    headers = post_headers(version="2024-11-05")
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, rpc("tools/list", id=72))
    assert_error(response, 400, INVALID_REQUEST, "unsupported MCP-Protocol-Version")


async def test_a_get_with_an_unknown_version_gets_the_legacy_400(target: Target) -> None:
    with trio.fail_after(WAIT):
        session_id = await initialize(target)
        response = await target.request("GET", get_headers(session_id, version="v999"), None)
    assert_error(response, 400, INVALID_REQUEST, "unsupported MCP-Protocol-Version", "v999")


async def test_a_get_with_the_modern_version_gets_the_legacy_400(target: Target) -> None:
    with trio.fail_after(WAIT):
        session_id = await initialize(target)
        response = await target.request("GET", get_headers(session_id, version=MODERN), None)
    assert_error(response, 400, INVALID_REQUEST, "unsupported MCP-Protocol-Version")


async def test_a_foreign_host_is_refused_for_a_modern_request(target: Target) -> None:
    headers, body = modern_request("tools/list", id=73)
    with trio.fail_after(WAIT):
        response = await target.request("POST", headers, body, host="evil.example.com")
    assert_error(response, 421, INVALID_REQUEST, "evil.example.com")


# -- cancellation --


async def test_closing_the_response_cancels_the_request(nursery: trio.Nursery) -> None:
    from examples.cluster import server as cluster_server

    target = await start_app(nursery, cluster_server.asgi_app())
    app = target.app
    assert isinstance(app, McpASGIApp)
    work = app._drain._work  # pyright: ignore[reportPrivateUsage]
    params = {
        "name": "count_slowly",
        "arguments": {"n": 100, "interval_ms": 50},
        "_meta": meta(progressToken="p"),
    }
    headers, body = modern_request("tools/call", params, id=81)
    # the whole count takes 100 x 50 ms = 5 s: a cancelled request ends long before that
    with trio.fail_after(WAIT):
        conn = await target.connect()
        await conn.send("POST", target.path, headers, body)
        head = await conn.read_head()
        assert head.status == 200, head
        assert head.content_type == "text/event-stream", head.headers
        assert head.header("mcp-session-id") is None
        event = await conn.next_event()
        assert event is not None
        assert event.id is None
        first = json.loads(event.data)
        assert first["method"] == "notifications/progress", first
        assert first["params"]["progressToken"] == "p"
        assert first["params"]["progress"] < 100
        assert work, "the call is not in flight"
        await conn.aclose()
    closed_at = trio.current_time()
    with trio.fail_after(2):
        while work:
            await trio.sleep(0.01)
    assert trio.current_time() - closed_at < 2
    # the server goes on serving, promptly
    with trio.fail_after(2):
        assert result_of(await post(target, "tools/call", {"name": "test_simple_text"}, id=82), 82)
