from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _rawhttp import close_left_open
from _redis_server import RedisServer
from hypothesis import HealthCheck, settings

from trio_mcp._runtime.sealing import new_key

# Property-based fuzz tests (marked `fuzz`). Plain `pytest` and `nox -s tests` run a fixed, modest number of
# derandomized examples (the same inputs on every run, so CI is deterministic); `--hypothesis-profile=fuzz`
# (`nox -s fuzz`) runs 20 times as many random ones. No example database, and Hypothesis' caches (Unicode
# tables, constants) go to the temp directory rather than `.hypothesis/` in the checkout.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "trio_mcp-hypothesis")
)
settings.register_profile(
    "trio_mcp",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz", parent=settings.get_profile("trio_mcp"), max_examples=1000, derandomize=False, print_blob=True
)
settings.load_profile("trio_mcp")


# Every knob has an environment twin: a TRIO_MCP_* (or REDIS_URL) set where the tests run must not change what
# they test. Cleared when this conftest is imported, before any test module or nested conftest imports an
# example (examples build their app at import). Tests of configuration from the environment set what they
# need themselves (monkeypatch).
for _name in [n for n in os.environ if n.startswith("TRIO_MCP_") or n == "REDIS_URL"]:
    del os.environ[_name]
# ... but one: every app of the suite on the Redis stream manager needs the requestState key ring (the apps of
# one test, in this process or spawned with this environment, share it, as a deployment's instances do).
os.environ["TRIO_MCP_REQUEST_STATE_KEYS"] = new_key()


@pytest.fixture(autouse=True)
def _close_connections_left_open() -> Iterator[None]:
    """A failed test's open test-client sockets are closed with it, not in a later test's garbage collection
    (whose ResourceWarning would fail that unrelated test too)."""
    yield
    close_left_open()


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
