"""`subscriptions/listen` (2026-07-28; trio_mcp/_transport/listen.py): the acknowledgement first, with the filter
the server honours; then only the notifications asked for, each tagged with the subscription id; fed by the
control events of every instance; a drain ends it with the listen result.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import trio
from _modern import SUBSCRIPTION_ID, WAIT, headers, listen, meta, next_message, send
from _rawhttp import Target, rpc, start_app

from examples.cluster import server as cluster_server
from examples.everything import server

META = meta()


async def call(target: Target, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    message = await send(target, "tools/call", {"name": tool, "arguments": arguments or {}}, id=5, m=META)
    result: dict[str, Any] = message["result"]
    return result


async def test_the_first_frame_acknowledges_with_the_filter_the_server_honours(target: Target) -> None:
    with trio.fail_after(WAIT):
        asked = {"toolsListChanged": True, "promptsListChanged": False, "somethingElse": True}
        conn = await listen(target, asked, id="sub-1")
        ack = await next_message(conn)
        assert ack is not None
        assert ack["method"] == "notifications/subscriptions/acknowledged"
        assert ack["params"]["notifications"] == {
            "toolsListChanged": True
        }  # only what was asked and is served
        assert ack["params"]["_meta"][SUBSCRIPTION_ID] == "sub-1"
        await conn.aclose()


async def test_only_what_was_asked_for_arrives_tagged_with_the_subscription_id(nursery: trio.Nursery) -> None:
    target = await start_app(nursery, cluster_server.asgi_app())
    with trio.fail_after(WAIT):
        tools = await listen(target, {"toolsListChanged": True}, id=1)
        prompts = await listen(target, {"promptsListChanged": True}, id=2)
        watched = await listen(target, {"resourceSubscriptions": ["test://watched"]}, id=3)
        for conn in (tools, prompts, watched):
            ack = await next_message(conn)
            assert ack is not None
            assert ack["method"] == "notifications/subscriptions/acknowledged"
        await call(target, "trigger_tools_list_changed")
        await call(target, "trigger_resource_update", {"uri": "test://other"})
        await call(target, "trigger_resource_update", {"uri": "test://watched"})
        note = await next_message(tools)
        assert note is not None
        assert note["method"] == "notifications/tools/list_changed"
        assert note["params"]["_meta"][SUBSCRIPTION_ID] == 1
        update = await next_message(watched)
        assert update is not None
        assert update["method"] == "notifications/resources/updated"
        assert update["params"]["uri"] == "test://watched"  # test://other was not asked for
        assert update["params"]["_meta"][SUBSCRIPTION_ID] == 3
        # The prompts listener got nothing of it.
        with trio.move_on_after(0.3):
            unexpected = await next_message(prompts)
            raise AssertionError(f"a prompts-only listener got {unexpected}")
        for conn in (tools, prompts, watched):
            await conn.aclose()


@pytest.mark.redis
async def test_a_change_announced_on_one_instance_reaches_a_listener_on_another(
    nursery: trio.Nursery, redis_url: str
) -> None:
    config = {"store": "redis", "redis_url": redis_url, "redis_prefix": f"listen-{secrets.token_hex(4)}:"}
    a = await start_app(nursery, cluster_server.asgi_app(**config))
    b = await start_app(nursery, cluster_server.asgi_app(**config))
    with trio.fail_after(WAIT):
        conn = await listen(b, {"toolsListChanged": True, "resourceSubscriptions": ["test://watched"]})
        assert await next_message(conn) is not None  # the acknowledgement
        await call(a, "trigger_tools_list_changed")
        await call(a, "trigger_resource_update", {"uri": "test://watched"})
        # (Both apps of this process serve the same Server object, so each announcement goes out twice.)
        seen: list[str] = []
        while "notifications/resources/updated" not in seen:
            message = await next_message(conn)
            assert message is not None
            seen.append(message["method"])
        assert seen[0] == "notifications/tools/list_changed", seen
        assert set(seen) == {"notifications/tools/list_changed", "notifications/resources/updated"}, seen
        await conn.aclose()


async def test_a_drain_ends_the_listen_stream_with_its_result(nursery: trio.Nursery) -> None:
    app = server.asgi_app(drain_notice=0)
    target = await start_app(nursery, app)
    with trio.fail_after(WAIT):
        conn = await listen(target, {"toolsListChanged": True}, id=9)
        assert await next_message(conn) is not None
        await app.drain()
        result = await next_message(conn)
        assert result == {"jsonrpc": "2.0", "id": 9, "result": {"resultType": "complete"}}
        assert await conn.next_data_event() is None  # and the stream ends
        await conn.aclose()


async def test_discover_advertises_the_list_changes_listen_streams_carry(target: Target) -> None:
    body = rpc("server/discover", {"_meta": META})
    response = await target.request("POST", headers("server/discover"), body)
    capabilities = json.loads(response.body)["result"]["capabilities"]
    assert capabilities["tools"] == {"listChanged": True}
    assert capabilities["prompts"] == {"listChanged": True}
    assert capabilities["resources"] == {"subscribe": True, "listChanged": True}


@pytest.fixture
async def target(nursery: trio.Nursery) -> Target:
    return await start_app(nursery, server.asgi_app())
