"""Fixtures for the HTTP transport tests: the conformance fixture server's app on a real hypercorn (port 0)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from _rawhttp import Target, start_app

from examples.everything import server

Start = Callable[..., Awaitable[Target]]


@pytest.fixture
async def start(nursery: trio.Nursery) -> Start:
    """`await start(**config)`: a fresh app on hypercorn, stopped when the test ends."""

    async def _start(**config: Any) -> Target:
        return await start_app(nursery, server.asgi_app(**config))

    return _start


@pytest.fixture
async def target(start: Start) -> Target:
    return await start()
