"""Health endpoints (trio_mcp/_transport/health.py): liveness and readiness, before the Host/Origin gate."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import trio
from _rawhttp import Target
from _redis_server import RedisServer


async def probe(target: Target, path: str) -> tuple[int, dict[str, Any]]:
    async with await target.connect() as conn:
        response = await conn.request("GET", path, [], None, host="10.1.2.3:8000")
    return response.status, json.loads(response.body)


async def test_both_answer_with_any_host_and_no_secrets(start: Any) -> None:
    target: Target = await start()
    assert await probe(target, "/healthz") == (200, {"status": "ok"})
    assert await probe(target, "/readyz") == (200, {"status": "ready"})
    # The MCP endpoint itself still refuses that Host (DNS rebinding protection).
    async with await target.connect() as conn:
        response = await conn.request(
            "POST", "/mcp", [("content-type", "application/json")], b"{}", host="10.1.2.3"
        )
    assert response.status in (400, 403, 421)


async def test_the_paths_are_configurable(start: Any) -> None:
    target: Target = await start(health_path="/live", ready_path="/ready")
    assert (await probe(target, "/live"))[0] == 200
    assert (await probe(target, "/ready"))[0] == 200
    async with await target.connect() as conn:
        response = await conn.request("GET", "/healthz", [], None)
    assert response.status == 404


@pytest.mark.redis
async def test_readyz_is_503_while_redis_is_down_and_200_again_after(
    start: Any, redis_server: RedisServer, redis_url: str
) -> None:
    target: Target = await start(
        store="redis", redis_url=redis_url, redis_prefix=f"h{secrets.token_hex(3)}:", heartbeat_interval=0.2
    )
    assert (await probe(target, "/readyz"))[0] == 200
    redis_server.stop()
    try:
        with trio.fail_after(20):
            while (answer := await probe(target, "/readyz"))[0] != 503:
                await trio.sleep(0.1)
        _, body = answer
        assert body["status"] == "unavailable"
        assert "the session store cannot be reached" in body["problems"]
        assert redis_url.split("//")[1] not in json.dumps(body)  # no address in what a probe sees
        assert (await probe(target, "/healthz"))[0] == 200  # still alive: not a reason to restart it
    finally:
        redis_server.start()
    with trio.fail_after(30):
        while (await probe(target, "/readyz"))[0] != 200:
            await trio.sleep(0.2)
