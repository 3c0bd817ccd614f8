"""A client app on two processes sharing a Redis client session registry: the record instance 1 made (and the
session it opened) is continued by instance 2 after instance 1 exited: same MCP session on the server, no new
initialize, the record kept up to date."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest
import trio
from _rawhttp import Target, start_app
from _redis_server import RedisServer

from examples.everything import server
from trio_mcp._transport.http import McpASGIApp
from trio_mcp.client_sessions import open_client_registry

pytestmark = [pytest.mark.multiprocess, pytest.mark.redis]

PREFIX = "registry-cluster:"
WAIT = 60

# One "request" of the client app: connect the user to the server through the registry, call a tool, say which
# MCP session served it, and exit (the session stays open on the server).
APP_INSTANCE = textwrap.dedent(
    """
    import json, sys, trio
    from trio_mcp import open_client
    from trio_mcp.client_sessions import open_client_registry

    async def main(url):
        async with open_client_registry() as registry:
            async with open_client(url, registry=registry, user_id="alice", server_id="everything") as client:
                result = await client.call_tool("test_simple_text", {})
                print(json.dumps({"session": client.session_id, "text": result.content[0].text}))

    trio.run(main, sys.argv[1])
    """
)


@pytest.fixture
async def app() -> McpASGIApp:
    return server.asgi_app()


@pytest.fixture
async def target(nursery: trio.Nursery, app: McpASGIApp) -> Target:
    return await start_app(nursery, app)


def environment(redis_server: RedisServer) -> dict[str, str]:
    if not redis_server.running:
        redis_server.start()
    return {
        **os.environ,
        "TRIO_MCP_CLIENT_STORE": "redis",
        "REDIS_URL": redis_server.url,
        "TRIO_MCP_CLIENT_REDIS_PREFIX": PREFIX,
    }


async def run_instance(url: str, env: dict[str, str]) -> dict[str, str]:
    done = await trio.run_process(
        [sys.executable, "-c", APP_INSTANCE, url],
        env=env,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    answer: dict[str, str] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return answer


async def test_a_record_made_by_one_app_instance_is_continued_by_another(
    redis_server: RedisServer, target: Target, app: McpASGIApp
) -> None:
    env = environment(redis_server)
    with trio.fail_after(WAIT):
        first = await run_instance(target.url, env)  # instance 1: makes the record, initializes, exits
        sessions = await app.sessions.count()
        second = await run_instance(target.url, env)  # instance 2, after 1 exited: resumes
    assert first["text"] == second["text"] == "This is a simple text response for testing."
    assert second["session"] == first["session"]
    assert await app.sessions.count() == sessions  # no new session on the server
    async with open_client_registry(
        store="redis", redis_url=redis_server.url, redis_prefix=PREFIX
    ) as registry:
        (record,) = await registry.list("alice")
        assert record.status == "active"
        assert record.mcp_session_id == first["session"]
        assert record.server_url == target.url
        await registry.clear_all()
