"""Fixtures for the HTTP transport tests: the conformance fixture server's app on a real hypercorn (port 0).

`start` / `target` serve the app on the memory backends. `any_start` / `any_target` do the same once per
`backend`: "memory" (the defaults) and "redis" (the Redis session store, so the Redis stream manager too, on
the test session's Redis under a prefix of its own; marked `redis`).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from _cluster import Cluster, memory_cluster, redis_cluster
from _rawhttp import Target, start_app

from examples.everything import server

Start = Callable[..., Awaitable[Target]]
BackendConfig = Callable[[], dict[str, Any]]


@pytest.fixture
async def start(nursery: trio.Nursery) -> Start:
    """`await start(**config)`: a fresh app on hypercorn, stopped when the test ends."""

    async def _start(**config: Any) -> Target:
        return await start_app(nursery, server.asgi_app(**config))

    return _start


@pytest.fixture
async def target(start: Start) -> Target:
    return await start()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)], ids=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def backend_config(backend: str, request: pytest.FixtureRequest) -> BackendConfig:
    """`backend_config()`: the app keywords selecting the backend; a new Redis prefix on each call.

    Only the redis param asks for `redis_url`, so memory runs never start the test Redis.
    """
    if backend == "memory":
        return dict
    redis_url: str = request.getfixturevalue("redis_url")

    def _config() -> dict[str, Any]:
        return {"store": "redis", "redis_url": redis_url, "redis_prefix": f"t-{secrets.token_hex(4)}:"}

    return _config


@pytest.fixture
async def any_start(nursery: trio.Nursery, backend_config: BackendConfig) -> Start:
    """`await any_start(**config)`: like `start`, on the test's backend (explicit keywords win)."""

    async def _start(**config: Any) -> Target:
        return await start_app(nursery, server.asgi_app(**{**backend_config(), **config}))

    return _start


@pytest.fixture
async def any_target(any_start: Start) -> Target:
    return await any_start()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def cluster(request: pytest.FixtureRequest, nursery: trio.Nursery) -> Cluster:
    """Instance A and instance B (see tests/_cluster.py): one memory app, or two apps on the test Redis."""
    if request.param == "redis":
        return await redis_cluster(nursery, request.getfixturevalue("redis_url"))
    return await memory_cluster(nursery)
