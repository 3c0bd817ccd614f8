"""Cross-instance edges on three REAL hypercorn processes sharing the test Redis (own processes, own prefix).

A GET on another instance supersedes the old stream; an unsubscribe made on one instance holds for a stream held
on a third; a server-to-client request that gets no reply times out over HTTP (TRIO_MCP_REPLY_TIMEOUT=1) and a
late reply, POSTed anywhere, is accepted and ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from _instances import Instance, Stream, answer_elicitation, bounded, open_stream, run_cluster
from _rawhttp import JSON, body_message, initialize, post_headers, rpc
from _redis_server import RedisServer

pytestmark = [pytest.mark.multiprocess, pytest.mark.redis]

VERSION = "2025-11-25"
PREFIX = "xi:"
WATCHED = "test://watched-resource"
OTHER = "test://static-text"
WAIT = 10.0
REPLY_TIMEOUT = 1


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Instance]]:
    logs = tmp_path_factory.mktemp("cross-instance")
    with run_cluster(redis_server, logs, PREFIX, TRIO_MCP_REPLY_TIMEOUT=str(REPLY_TIMEOUT)) as instances:
        yield instances


# -- helpers --


async def call(instance: Instance, session_id: str, method: str, params: dict[str, Any] | None = None) -> Any:
    """One request in JSON mode (its notifications and requests go to the session's GET stream)."""
    response = await instance.target.request(
        "POST", post_headers(session_id, accept=JSON, version=VERSION), rpc(method, params, id=1)
    )
    assert response.status == 200, (instance.name, response.status, response.body)
    return body_message(response)


async def tool(instance: Instance, session_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    message = await call(instance, session_id, "tools/call", {"name": name, "arguments": arguments})
    assert "result" in message, message
    result: dict[str, Any] = message["result"]
    return result


def holder(redis_server: RedisServer, session_id: str) -> bytes | None:
    value = redis_server.command("GET", f"{PREFIX}holder:{session_id}")
    assert value is None or isinstance(value, bytes)
    return value


async def wait_for_holder(redis_server: RedisServer, session_id: str, other_than: bytes | None) -> bytes:
    with trio.move_on_after(WAIT):
        while (value := holder(redis_server, session_id)) is None or value == other_than:
            await trio.sleep(0.02)
        return value
    raise AssertionError(f"the holder of {session_id} did not change from {other_than!r}")


def assert_no_traceback_yet(cluster: list[Instance]) -> None:
    for instance in cluster:
        assert "Traceback" not in instance.output(), f"instance {instance.name}:\n{instance.output()}"


# -- the tests --


@bounded(60)
async def test_a_get_on_another_instance_supersedes_the_stream_which_ends_with_retry(
    cluster: list[Instance], redis_server: RedisServer
) -> None:
    """GET on A, then GET on B for the same session: A's stream ends with a `retry:` field and no message,
    and what the session's requests send afterwards reaches B's stream."""
    a, b, c = cluster
    session_id = await initialize(a.target)
    await call(c, session_id, "logging/setLevel", {"level": "info"})
    async with open_stream(a, session_id) as on_a:
        held_by_a = await wait_for_holder(redis_server, session_id, None)
        async with open_stream(b, session_id) as on_b:
            events = await on_a.read_to_end()
            assert [e.retry for e in events if e.retry is not None], f"no retry: field in {events}"
            assert all(e.retry > 0 for e in events if e.retry is not None), events
            assert not [e.data for e in events if e.data], events
            await wait_for_holder(redis_server, session_id, held_by_a)
            result = await tool(c, session_id, "test_tool_with_logging")
            assert result["content"][0]["text"] == "Tool with logging executed successfully"
            logs = [(await on_b.next_message("notifications/message"))["params"]["data"] for _ in range(3)]
    assert logs == ["Tool execution started", "Tool processing data", "Tool execution completed"]


@bounded(60)
async def test_an_unsubscribe_on_b_holds_for_the_stream_on_c(cluster: list[Instance]) -> None:
    """resources/subscribe on A then resources/unsubscribe on B: an update of that URI sent from A does not
    reach the session's GET stream on C, while a session still subscribed (its stream on C too) gets it."""
    a, b, c = cluster
    gone = await initialize(a.target)
    kept = await initialize(a.target)
    await call(a, gone, "resources/subscribe", {"uri": WATCHED})
    await call(a, kept, "resources/subscribe", {"uri": WATCHED})
    await call(b, gone, "resources/unsubscribe", {"uri": WATCHED})
    # `gone` opens its stream on C first, so C's fan-out of an update looks at it before `kept`: once `kept` has
    # the update, a wrong copy for `gone` would already be queued on its stream, ahead of the marker below.
    async with open_stream(c, gone) as on_gone, open_stream(c, kept) as on_kept:
        await tool(a, kept, "trigger_resource_update", uri=WATCHED)
        update = await on_kept.next_message("notifications/resources/updated")
        assert update["params"] == {"uri": WATCHED}
        await tool(b, kept, "trigger_tools_list_changed")  # the marker, on every stream of every instance
        await on_gone.next_message("notifications/tools/list_changed")
    assert [m for m in on_gone.seen if m.get("method") == "notifications/resources/updated"] == []


async def timed_out_elicitation(
    a: Instance, stream: Stream, session_id: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Call test_elicitation on A and leave its elicitation/create unanswered: (request, cancel, tool answer)."""
    answer: dict[str, Any] = {}

    async def call_tool() -> None:
        arguments = {"message": "Hi?"}
        answer.update(
            await call(a, session_id, "tools/call", {"name": "test_elicitation", "arguments": arguments})
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call_tool)
        request = await stream.next_message("elicitation/create")
        cancelled = await stream.next_message("notifications/cancelled")
    return request, cancelled, answer


async def post_reply(instance: Instance, session_id: str, request_id: Any, content: dict[str, str]) -> None:
    reply = {"jsonrpc": "2.0", "id": request_id, "result": {"action": "accept", "content": content}}
    response = await instance.target.request(
        "POST", post_headers(session_id, version=VERSION), json.dumps(reply).encode()
    )
    assert response.status == 202, (instance.name, response.status, response.body)
    assert response.body == b""


LATE = {"username": "late", "email": "late@example.org"}


@bounded(60)
async def test_an_unanswered_elicitation_times_out_and_a_late_reply_is_accepted_and_ignored(
    cluster: list[Instance], redis_server: RedisServer
) -> None:
    """With TRIO_MCP_REPLY_TIMEOUT=1 a tool whose elicitation gets no answer ends in an error saying it timed
    out, and the client is sent notifications/cancelled for that request; the late reply, POSTed to another
    instance (while its route still exists, then once more after it is gone), is 202 and breaks nothing."""
    a, b, c = cluster
    session_id = await initialize(a.target, capabilities={"elicitation": {}})
    async with open_stream(b, session_id) as stream:
        request, cancelled, answer = await timed_out_elicitation(a, stream, session_id)
        assert cancelled["params"]["requestId"] == request["id"], cancelled
        # The tool's answer: a JSON-RPC error or an error result, saying it timed out.
        if "error" in answer:
            text = answer["error"]["message"]
        else:
            assert answer["result"]["isError"] is True, answer
            text = answer["result"]["content"][0]["text"]
        assert re.search(r"time[ds]? ?out", text.lower()), text
        assert "elicitation/create" in text, text

        route = f"{PREFIX}route:{session_id}:{request['id']}"
        for instance in (c, b):  # the first consumes the route (forwarded to A, which no longer waits)
            await post_reply(instance, session_id, request["id"], LATE)
            assert redis_server.command("EXISTS", route) == 0
        message = await call(c, session_id, "tools/call", {"name": "test_simple_text", "arguments": {}})
        assert message["result"]["content"][0]["text"] == "This is a simple text response for testing."
    assert_no_traceback_yet(cluster)


@bounded(60)
async def test_a_late_reply_never_answers_a_later_elicitation(cluster: list[Instance]) -> None:
    """After an elicitation timed out, the session's next elicitation is a new request: the first one's late
    reply (POSTed to C) must not be taken as its answer; the client's real answer is (MCP: a request id MUST
    NOT be reused by the requestor within the session)."""
    a, b, c = cluster
    session_id = await initialize(a.target, capabilities={"elicitation": {}})
    async with open_stream(b, session_id) as stream:
        first, _, _ = await timed_out_elicitation(a, stream, session_id)
        answer: dict[str, Any] = {}

        async def call_tool() -> None:
            arguments = {"message": "Who are you?"}
            answer.update(
                await call(a, session_id, "tools/call", {"name": "test_elicitation", "arguments": arguments})
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call_tool)
            second = await stream.next_message("elicitation/create")
            assert second["params"]["message"] == "Who are you?"
            await post_reply(c, session_id, first["id"], LATE)  # late, for the first request
            await answer_elicitation(c, session_id, VERSION, second)
    assert answer["result"]["content"][0]["text"] == (
        'User response: action=accept, content={"username":"ada","email":"ada@example.org"}'
    ), f"first request id {first['id']!r}, second {second['id']!r}"
    assert second["id"] != first["id"]
