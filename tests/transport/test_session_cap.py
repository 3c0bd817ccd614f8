"""The session cap holds under concurrency and across instances: it is checked and taken in one step."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

import pytest
import trio
from _rawhttp import Target, assert_error, init_body, post_headers

Start = Callable[..., Awaitable[Target]]
INTERNAL_ERROR = -32603


async def _initialize_all(targets: list[Target], count: int) -> list[int]:
    statuses: list[int] = []

    async def one(n: int) -> None:
        target = targets[n % len(targets)]
        response = await target.request("POST", post_headers(), init_body())
        if response.status == 503:
            assert_error(response, 503, INTERNAL_ERROR, "maximum of 2 sessions")
            assert response.header("mcp-session-id") is None
        else:
            assert response.status == 200, response.body
            assert response.header("mcp-session-id")
        statuses.append(response.status)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for n in range(count):
                nursery.start_soon(one, n)
    return statuses


async def test_concurrent_initializes_never_overshoot_the_cap(start: Start) -> None:
    target = await start(max_sessions=2)
    statuses = await _initialize_all([target], 20)
    assert statuses.count(200) == 2, statuses
    assert await target.app.store.count() == 2


@pytest.mark.redis
async def test_the_cap_holds_across_instances_sharing_redis(start: Start, redis_url: str) -> None:
    prefix = f"cap-{secrets.token_hex(4)}:"
    a = await start(store="redis", redis_url=redis_url, redis_prefix=prefix, max_sessions=2)
    b = await start(store="redis", redis_url=redis_url, redis_prefix=prefix, max_sessions=2)
    statuses = await _initialize_all([a, b], 20)
    assert statuses.count(200) == 2, statuses
    assert await a.app.store.count() == 2


async def test_a_refused_initialize_gives_its_place_back(start: Start) -> None:
    target = await start(max_sessions=1)
    refused = await target.request("POST", post_headers(), init_body(capabilities={"sampling": 5}))
    assert refused.header("mcp-session-id") is None
    assert await target.app.store.count() == 0
    accepted = await target.request("POST", post_headers(), init_body())
    assert accepted.status == 200, accepted.body
    assert accepted.header("mcp-session-id")
