"""Multi-round-trip requests of 2026-07-28 over HTTP (SEP-2322; trio_mcp/_runtime/input_round.py, served by
_transport/modern.py): the handler's asks end in an input_required result with a sealed requestState, the
retry with the answers runs it again, and a state that does not verify is refused with -32602."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import _modern as modern
import pytest
import trio
from _rawhttp import Target, start_app

from trio_mcp import Context, Server
from trio_mcp import types as t
from trio_mcp._proto.errors import INVALID_PARAMS
from trio_mcp._transport.http import McpASGIApp

Json = dict[str, Any]
NAME_FORM: Json = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}

server = Server("mrtr-test")
runs: list[str] = []  # what ran, in order: a handler runs again from the top on every round


@server.tool
async def greet(greeting: str = "Hello", *, ctx: Context) -> str:
    """Asks the user's name, then greets them."""
    runs.append("greet")
    answer = await ctx.elicit("What is your name?", NAME_FORM)
    return f"{greeting}, {(answer.content or {})['name']}! (resumed={ctx.resumed})"


@server.tool
async def survey(*, ctx: Context) -> str:
    """Two asks side by side (one round), then one that depends on their answers (a second round)."""
    answers: dict[str, Any] = {}

    async def ask_name() -> None:
        answers["name"] = await ctx.elicit("What is your name?", NAME_FORM)

    async def ask_roots() -> None:
        answers["roots"] = await ctx.list_roots()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask_name)
        nursery.start_soon(ask_roots)
    name = answers["name"].content["name"]
    sampled = await ctx.sample(f"A poem for {name} about {len(answers['roots'])} roots", max_tokens=20)
    assert isinstance(sampled.content, t.TextContent)
    return f"{name}: {sampled.content.text}"


@server.tool
async def careless(*, ctx: Context) -> str:
    """Asks inside a broad `except Exception`."""
    try:
        await ctx.elicit("Sure?", NAME_FORM)
    except Exception:  # the round's end is not an Exception: a broad handler does not swallow it
        return "swallowed"
    return "answered"


@server.resource("test://secret", mime_type="text/plain")
async def secret(ctx: Context) -> str:
    """Opens with the right password."""
    answer = await ctx.elicit("Password?", {"type": "object", "properties": {"pw": {"type": "string"}}})
    return "open sesame" if (answer.content or {}).get("pw") == "swordfish" else "no"


@server.prompt
async def haiku(*, ctx: Context) -> str:
    """A haiku prompt on a topic the user gives."""
    answer = await ctx.elicit("Topic?", {"type": "object", "properties": {"topic": {"type": "string"}}})
    return f"Write a haiku about {(answer.content or {}).get('topic')}"


def principal_from_header(scope: Mapping[str, Any]) -> str | None:
    value = dict(scope["headers"]).get(b"x-user")
    return value.decode() if value else None


async def send(
    target: Target, method: str, params: Json, *, id: int = 1, user: str | None = None, m: Json | None = None
) -> Json:
    return await modern.send(target, method, params, id=id, m=m, extra=[("x-user", user)] if user else ())


def input_required(message: Json) -> Json:
    assert "error" not in message, message
    result: Json = message["result"]
    assert result["resultType"] == "input_required", result
    assert isinstance(result["requestState"], str)
    assert result["requestState"]
    return result


def refused(message: Json) -> str:
    assert "result" not in message, message
    assert message["error"]["code"] == INVALID_PARAMS, message
    text: str = message["error"]["message"]
    return text


@pytest.fixture
async def app() -> McpASGIApp:
    return server.asgi_app(principal=principal_from_header)


@pytest.fixture
async def target(nursery: trio.Nursery, app: McpASGIApp) -> Target:
    return await start_app(nursery, app)


def accept(content: Json) -> Json:
    return {"action": "accept", "content": content}


def answered(params: Json, first: Json, content: Json) -> Json:
    """The retry of a request whose first round asked one thing: `content` accepted, the state echoed."""
    key = next(iter(first["inputRequests"]))
    return {**params, "inputResponses": {key: accept(content)}, "requestState": first["requestState"]}


async def test_an_ask_ends_the_round_and_the_retry_with_the_answer_completes(target: Target) -> None:
    runs.clear()
    first = input_required(
        await send(target, "tools/call", {"name": "greet", "arguments": {"greeting": "Hi"}})
    )
    ((key, request),) = first["inputRequests"].items()
    assert request == {
        "method": "elicitation/create",
        "params": {"message": "What is your name?", "requestedSchema": NAME_FORM},
    }
    retry = {
        "name": "greet",
        "arguments": {"greeting": "Hi"},
        "inputResponses": {key: accept({"name": "Ada"})},
        "requestState": first["requestState"],
    }
    done = await send(target, "tools/call", retry, id=2)
    assert done["result"]["resultType"] == "complete"
    assert done["result"]["content"][0]["text"] == "Hi, Ada! (resumed=True)"
    assert runs == ["greet", "greet"]  # re-run from the top with the answer (docs/architecture.md §9)


async def test_answers_without_a_state_count_as_the_first_round(target: Target) -> None:
    # MRTR: a state is the server's to give; answers alone are what the client says, as any argument is
    first = input_required(await send(target, "tools/call", {"name": "greet"}))
    key = next(iter(first["inputRequests"]))
    answers = {key: accept({"name": "Bo"}), "unknown": {"anything": 1}}
    done = await send(target, "tools/call", {"name": "greet", "inputResponses": answers}, id=2)
    assert done["result"]["content"][0]["text"] == "Hello, Bo! (resumed=False)"


async def test_a_missing_answer_asks_again_rather_than_failing(target: Target) -> None:
    first = input_required(await send(target, "tools/call", {"name": "greet"}))
    retry = {
        "name": "greet",
        "inputResponses": {"wrong-key": accept({"name": "Ada"})},
        "requestState": first["requestState"],
    }
    again = input_required(await send(target, "tools/call", retry, id=2))
    assert again["inputRequests"] == first["inputRequests"]


async def test_asks_side_by_side_go_in_one_round_and_answers_accumulate_in_the_state(target: Target) -> None:
    first = input_required(await send(target, "tools/call", {"name": "survey"}))
    methods = {key: r["method"] for key, r in first["inputRequests"].items()}
    assert sorted(methods.values()) == ["elicitation/create", "roots/list"]
    answers = {
        key: accept({"name": "Ada"}) if method == "elicitation/create" else {"roots": [{"uri": "file:///a"}]}
        for key, method in methods.items()
    }
    params = {"name": "survey", "inputResponses": answers, "requestState": first["requestState"]}
    second = input_required(await send(target, "tools/call", params, id=2))
    ((sample_key, request),) = second["inputRequests"].items()
    assert request["method"] == "sampling/createMessage"
    assert request["params"]["messages"][0]["content"]["text"] == "A poem for Ada about 1 roots"
    assert second["requestState"] != first["requestState"]
    # Round three carries only the new answer: the first two are sealed in the state.
    reply = {"role": "assistant", "content": {"type": "text", "text": "roses"}, "model": "m"}
    params = {"name": "survey", "inputResponses": {sample_key: reply}, "requestState": second["requestState"]}
    done = await send(target, "tools/call", params, id=3)
    assert done["result"]["content"][0]["text"] == "Ada: roses"


async def test_a_broad_except_in_the_handler_does_not_swallow_the_round(target: Target) -> None:
    input_required(await send(target, "tools/call", {"name": "careless"}))


async def test_resources_read_and_prompts_get_may_ask_too(target: Target) -> None:
    first = input_required(await send(target, "resources/read", {"uri": "test://secret"}))
    assert "ttlMs" not in first
    assert "cacheScope" not in first
    params = answered({"uri": "test://secret"}, first, {"pw": "swordfish"})
    done = await send(target, "resources/read", params, id=2)
    assert done["result"]["contents"][0]["text"] == "open sesame"
    assert done["result"]["resultType"] == "complete"
    assert "ttlMs" in done["result"]

    first = input_required(await send(target, "prompts/get", {"name": "haiku"}))
    params = answered({"name": "haiku"}, first, {"topic": "tea"})
    done = await send(target, "prompts/get", params, id=2)
    assert done["result"]["messages"][0]["content"]["text"] == "Write a haiku about tea"


async def test_an_ask_the_client_cannot_answer_is_refused_with_its_capability(target: Target) -> None:
    message = await send(target, "tools/call", {"name": "survey"}, m=modern.meta({"elicitation": {}}))
    assert message["error"]["code"] == -32021, message
    assert message["error"]["data"] == {"requiredCapabilities": {"roots": {}}}


@pytest.mark.parametrize(
    "change",
    ["tampered", "other tool arguments", "other principal", "other target", "not a string"],
)
async def test_a_state_that_does_not_verify_is_refused(target: Target, change: str) -> None:
    first = input_required(await send(target, "tools/call", {"name": "greet"}, user="ada"))
    key = next(iter(first["inputRequests"]))
    state: Any = first["requestState"]
    params: Json = {"name": "greet", "inputResponses": {key: accept({"name": "Eve"})}}
    method, user = "tools/call", "ada"
    if change == "tampered":
        state = state[:-2] + ("AA" if not state.endswith("AA") else "BB")
    elif change == "other tool arguments":
        params["arguments"] = {"greeting": "Bye"}
    elif change == "other principal":
        user = "eve"
    elif change == "other target":
        method, params = "prompts/get", {**params, "name": "haiku"}
    else:
        state = {"forged": True}
    message = await send(target, method, {**params, "requestState": state}, id=2, user=user)
    assert refused(message).startswith("Invalid or expired requestState"), message


async def test_an_expired_state_is_refused(target: Target, app: McpASGIApp) -> None:
    first = input_required(await send(target, "tools/call", {"name": "greet"}))
    key = next(iter(first["inputRequests"]))
    app.request_states.clock = lambda: 2e10  # long after the state's TTL
    params = {
        "name": "greet",
        "inputResponses": {key: accept({"name": "Ada"})},
        "requestState": first["requestState"],
    }
    text = refused(await send(target, "tools/call", params, id=2))
    assert text.startswith("Invalid or expired requestState: it expired"), text


@pytest.mark.parametrize(
    ("responses", "why"),
    [(None, "inputResponses must be an object"), ({"KEY": 12345}, "inputResponses.KEY")],
    ids=["null", "not a result"],
)
async def test_malformed_answers_are_invalid_params(target: Target, responses: Any, why: str) -> None:
    first = input_required(await send(target, "tools/call", {"name": "greet"}))
    key = next(iter(first["inputRequests"]))
    if isinstance(responses, dict):
        responses = {key: responses["KEY"]}
        why = why.replace("KEY", key)
    text = refused(await send(target, "tools/call", {"name": "greet", "inputResponses": responses}, id=2))
    assert why in text, text


async def test_a_key_made_for_the_process_is_announced_once(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIO_MCP_REQUEST_STATE_KEYS")
    target = await start_app(nursery, server.asgi_app())
    with caplog.at_level(logging.WARNING, logger="trio_mcp"):
        input_required(await send(target, "tools/call", {"name": "greet"}))
        input_required(await send(target, "tools/call", {"name": "greet"}, id=2))
    warnings = [r for r in caplog.records if "TRIO_MCP_REQUEST_STATE_KEYS" in r.getMessage()]
    assert len(warnings) == 1, caplog.records


async def test_a_state_sealed_by_one_app_opens_on_another_with_the_same_keys(nursery: trio.Nursery) -> None:
    from trio_mcp._runtime.sealing import new_key

    first_key, second_key = new_key(), new_key()
    sealer = await start_app(nursery, server.asgi_app(request_state_keys=[first_key]))
    rotated = await start_app(nursery, server.asgi_app(request_state_keys=[second_key, first_key]))
    retired = await start_app(nursery, server.asgi_app(request_state_keys=[second_key]))
    first = input_required(await send(sealer, "tools/call", {"name": "greet"}))
    params = answered({"name": "greet"}, first, {"name": "Ada"})
    done = await send(rotated, "tools/call", params, id=2)
    assert done["result"]["content"][0]["text"] == "Hello, Ada! (resumed=True)"
    assert refused(await send(retired, "tools/call", params, id=3)).startswith(
        "Invalid or expired requestState"
    )
