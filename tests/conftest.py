from __future__ import annotations

from collections.abc import Iterator

import pytest
from _redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real Redis/Valkey server for the whole session (see ``_redis_server.find_redis_binary``)."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session server, emptied with FLUSHALL before the test.

    Revives the server first if an earlier (fault-injection) test left it stopped or paused.
    """
    if not redis_server.running:
        redis_server.start()
    redis_server.resume()
    redis_server.command("FLUSHALL")
    return redis_server.url
