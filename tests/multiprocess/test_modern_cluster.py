"""The 2026-07-28 era on REAL hypercorn processes sharing the test Redis: a multi-round-trip request started on
one instance and finished on another, listen streams fed by announcements made on another instance, and the
requestState key ring (refusals on every instance, rotation)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trio
from _instances import Instance, bounded, run_cluster
from _modern import SUBSCRIPTION_ID, Json, listen, meta, next_message, send
from _redis_server import RedisServer

from trio_mcp._proto.errors import INVALID_PARAMS
from trio_mcp._runtime.sealing import new_key

pytestmark = [pytest.mark.multiprocess, pytest.mark.redis]

PREFIX = "modern:"
WATCHED = "test://watched-resource"
TOOL = "test_input_required_result_multi_round"


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Instance]]:
    logs = tmp_path_factory.mktemp("modern-cluster")
    with run_cluster(redis_server, logs, PREFIX, names="AB") as instances:
        yield instances


def accept(content: Json) -> Json:
    return {"action": "accept", "content": content}


def round_of(message: Json) -> Json:
    assert "error" not in message, message
    result: Json = message["result"]
    assert result["resultType"] == "input_required", result
    return result


def retry(state: str, answers: Json) -> Json:
    return {"name": TOOL, "arguments": {}, "inputResponses": answers, "requestState": state}


@bounded(60)
async def test_a_round_started_on_one_instance_is_finished_on_another(cluster: list[Instance]) -> None:
    a, b = cluster
    first = round_of(await send(a.target, "tools/call", {"name": TOOL, "arguments": {}}))
    assert list(first["inputRequests"]) == ["step1"]
    second = round_of(
        await send(
            b.target, "tools/call", retry(first["requestState"], {"step1": accept({"name": "Ada"})}), id=2
        )
    )
    assert list(second["inputRequests"]) == ["step2"]
    done = await send(
        a.target, "tools/call", retry(second["requestState"], {"step2": accept({"color": "teal"})}), id=3
    )
    assert done["result"]["resultType"] == "complete", done
    assert done["result"]["content"][0]["text"] == "Ada likes teal"


@bounded(60)
async def test_an_altered_state_is_refused_on_every_instance(cluster: list[Instance]) -> None:
    a, _ = cluster
    first = round_of(await send(a.target, "tools/call", {"name": TOOL, "arguments": {}}))
    state = first["requestState"]
    altered = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
    for n, instance in enumerate(cluster, 2):
        message = await send(
            instance.target, "tools/call", retry(altered, {"step1": accept({"name": "Eve"})}), id=n
        )
        assert message["error"]["code"] == INVALID_PARAMS, (instance.name, message)
        assert message["error"]["message"].startswith("Invalid or expired requestState"), message


@bounded(60)
async def test_a_listener_on_one_instance_hears_what_another_announces(cluster: list[Instance]) -> None:
    a, b = cluster
    conn = await listen(a.target, {"toolsListChanged": True, "resourceSubscriptions": [WATCHED]}, id="sub-9")
    try:
        ack = await next_message(conn)
        assert ack is not None
        assert ack["method"] == "notifications/subscriptions/acknowledged"
        m = meta()
        assert "result" in await send(b.target, "tools/call", {"name": "trigger_tools_list_changed"}, m=m)
        assert "result" in await send(
            b.target,
            "tools/call",
            {"name": "trigger_resource_update", "arguments": {"uri": "test://other"}},
            m=m,
            id=2,
        )
        assert "result" in await send(
            b.target,
            "tools/call",
            {"name": "trigger_resource_update", "arguments": {"uri": WATCHED}},
            m=m,
            id=3,
        )
        seen: list[Json] = []
        with trio.fail_after(10):
            while len(seen) < 2:
                message = await next_message(conn)
                assert message is not None, seen
                seen.append(message)
        assert [message["method"] for message in seen] == [
            "notifications/tools/list_changed",
            "notifications/resources/updated",
        ]
        assert seen[1]["params"]["uri"] == WATCHED  # test://other was not listened to
        assert all(message["params"]["_meta"][SUBSCRIPTION_ID] == "sub-9" for message in seen)
    finally:
        await conn.aclose()


@bounded(120)
async def test_a_rotated_out_key_is_refused_and_the_second_key_of_the_ring_opens(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    logs = tmp_path_factory.mktemp("key-rotation")
    old, new = new_key(), new_key()
    rings: dict[str, str] = {"before": old, "during": f"{new},{old}", "after": new}
    sealed: dict[str, Any] = {}
    for phase, keys in rings.items():
        with run_cluster(
            redis_server, logs, f"rot-{phase}:", names=phase[0].upper(), TRIO_MCP_REQUEST_STATE_KEYS=keys
        ) as (instance,):
            if phase == "during":
                # sealed with the old key, which is the second of this ring: accepted
                opened = await send(
                    instance.target,
                    "tools/call",
                    retry(sealed["before"], {"step1": accept({"name": "Ada"})}),
                    id=2,
                )
                assert "step2" in round_of(opened)["inputRequests"]
            if phase == "after":
                # the old key is gone: what it sealed is refused; what the new key sealed still opens
                message = await send(
                    instance.target,
                    "tools/call",
                    retry(sealed["before"], {"step1": accept({"name": "Ada"})}),
                    id=3,
                )
                assert message["error"]["code"] == INVALID_PARAMS, message
                opened = await send(
                    instance.target,
                    "tools/call",
                    retry(sealed["during"], {"step1": accept({"name": "Ada"})}),
                    id=4,
                )
                assert "step2" in round_of(opened)["inputRequests"]
            sealed[phase] = round_of(
                await send(instance.target, "tools/call", {"name": TOOL, "arguments": {}})
            )["requestState"]
