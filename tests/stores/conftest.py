from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncGenerator[Any]:
    """A raw coredis client (decoded strings) on the flushed test server, to inspect what a store wrote."""
    import coredis

    async with coredis.Redis.from_url(redis_url, decode_responses=True, stream_timeout=5) as client:
        yield client
