"""Backend selection (trio_mcp/_transport/backends.py): explicit argument > environment > default (memory).

The environment is read by load_config only; selection sees the parsed configuration.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trio_mcp._runtime.sealing import new_key
from trio_mcp._transport.backends import select_request_states, select_store, select_streams
from trio_mcp._transport.config import ConfigError, load_config
from trio_mcp.stores import (
    ExpiryPolicy,
    FileSessionStore,
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
    StoreConfigError,
)
from trio_mcp.streams import MemoryStreamManager, RedisStreamManager, StreamConfigError

POLICY = ExpiryPolicy(idle_timeout=123, pending_timeout=4)
ENV = ("TRIO_MCP_STORE", "TRIO_MCP_STORE_FILE", "TRIO_MCP_STREAMS", "REDIS_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def select(
    store: SessionStore | str | None = None,
    *,
    file: str | None = None,
    redis_url: str | None = None,
    prefix: str = "mcp:",
) -> SessionStore:
    config = load_config(
        store=store,
        store_file=file,
        redis_url=redis_url,
        redis_prefix=prefix,
        idle_timeout=POLICY.idle_timeout,
        pending_timeout=POLICY.pending_timeout,
    )
    return select_store(config)


def test_memory_by_default() -> None:
    store = select()
    assert isinstance(store, MemorySessionStore)
    assert store.policy == POLICY


def test_an_instance_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_STORE", "redis")
    mine = MemorySessionStore()
    assert select(mine) is mine


def test_file_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRIO_MCP_STORE", "file")
    monkeypatch.setenv("TRIO_MCP_STORE_FILE", str(tmp_path / "env.json"))
    store = select()
    assert isinstance(store, FileSessionStore)
    assert store.path == tmp_path / "env.json"
    assert store.policy == POLICY
    explicit = select(file=str(tmp_path / "arg.json"))  # the argument wins over TRIO_MCP_STORE_FILE
    assert isinstance(explicit, FileSessionStore)
    assert explicit.path == tmp_path / "arg.json"


def test_an_explicit_name_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_STORE", "file")
    assert isinstance(select("memory"), MemorySessionStore)
    assert isinstance(select(" Memory "), MemorySessionStore)


def test_file_without_a_path_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StoreConfigError, match=r"store='file' needs a file path: .*TRIO_MCP_STORE_FILE"):
        select("file")
    monkeypatch.setenv("TRIO_MCP_STORE", "file")
    with pytest.raises(StoreConfigError, match=r"TRIO_MCP_STORE='file' needs a file path"):
        select()


def test_redis_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_STORE", "redis")
    monkeypatch.setenv("REDIS_URL", "redis://env-host:6379/0")
    store = select(prefix="app:")
    assert isinstance(store, RedisSessionStore)
    assert store.prefix == "app:"
    assert store.policy == POLICY
    assert "env-host" in repr(store)
    explicit = select(redis_url="redis://arg-host:6379/0")  # the argument wins over REDIS_URL
    assert "arg-host" in repr(explicit)


def test_redis_without_a_url_is_a_clear_error() -> None:
    with pytest.raises(StoreConfigError, match=r"store='redis' needs a Redis URL: .*REDIS_URL="):
        select("redis")


def test_redis_without_coredis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "coredis", None)  # makes `import coredis` fail
    with pytest.raises(ImportError, match=r"pip install 'trio_mcp\[redis\]'"):
        select("redis", redis_url="redis://localhost:6379/0")
    with pytest.raises(ImportError, match=r"pip install 'trio_mcp\[redis\]'"):
        RedisSessionStore.from_url("redis://localhost:6379/0")
    assert isinstance(select("memory"), MemorySessionStore)  # the other stores still work


def test_an_unknown_name_lists_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        StoreConfigError, match=r"unknown session store store='postgres'; choose one of: memory, file, redis"
    ):
        select("postgres")
    monkeypatch.setenv("TRIO_MCP_STORE", "sqlite")
    with pytest.raises(
        StoreConfigError, match=r"TRIO_MCP_STORE='sqlite'; choose one of: memory, file, redis"
    ):
        select()


def test_an_empty_environment_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_STORE", "")
    assert isinstance(select(), MemorySessionStore)


def test_a_bad_choice_is_both_the_apps_config_error_and_the_backends_error() -> None:
    with pytest.raises(ConfigError) as info:
        select("postgres")
    assert isinstance(info.value, StoreConfigError)
    with pytest.raises(StreamConfigError, match=r"unknown stream manager streams='kafka'"):
        select_streams(load_config(streams="kafka"), MemorySessionStore())
    with pytest.raises(ConfigError, match=r"TRIO_MCP_STREAMS='kafka'; choose one of: memory, redis"):
        select_streams(load_config(environ={"TRIO_MCP_STREAMS": "kafka"}), MemorySessionStore())


def test_streams_follow_the_store_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(select_streams(load_config(), MemorySessionStore()), MemoryStreamManager)
    redis_store = select("redis", redis_url="redis://127.0.0.1:6379/0")
    config = load_config(redis_url="redis://127.0.0.1:6379/0", redis_prefix="p:", heartbeat_interval=2.5)
    manager = select_streams(config, redis_store)
    assert isinstance(manager, RedisStreamManager)
    assert manager.prefix == "p:"
    assert manager.heartbeat_interval == 2.5
    assert manager.layout.stream("x") == "p:stream:x"
    assert manager.layout.control == "p:control"
    assert manager.layout.alive(manager.instance_id) == f"p:alive:{manager.instance_id}"
    named = select_streams(load_config(streams="memory"), redis_store)
    assert isinstance(named, MemoryStreamManager)
    monkeypatch.setenv("REDIS_URL", "redis://env-host:6379/0")
    from_env = select_streams(load_config(streams="redis"), MemorySessionStore())
    assert "env-host" in repr(from_env)


def test_the_redis_stream_manager_without_a_url_is_a_clear_error() -> None:
    with pytest.raises(
        StreamConfigError, match=r"stream manager \(streams='redis'\) needs a Redis URL.*REDIS_URL="
    ):
        select_streams(load_config(streams="redis"), MemorySessionStore())
    # A Redis store passed as an instance implies Redis streams: the URL is still needed.
    store = RedisSessionStore.from_url("redis://127.0.0.1:6379/0")
    with pytest.raises(StreamConfigError, match=r"implied by the Redis store\) needs a Redis URL"):
        select_streams(load_config(), store)


# -- the requestState key ring (2026-07-28 multi-round-trip requests) --


def test_the_redis_stream_manager_requires_request_state_keys() -> None:
    streams = RedisStreamManager.from_url("redis://127.0.0.1:1/0")
    config = load_config({})
    with pytest.raises(ConfigError, match=r"request_state_keys is required with the Redis stream manager.*"):
        select_request_states(config, streams, audience="a")
    config = load_config({"TRIO_MCP_REQUEST_STATE_KEYS": f"{new_key()}, {new_key()}"})
    states = select_request_states(config, streams, audience="a")
    assert not states.ephemeral


def test_without_keys_the_memory_streams_get_a_key_of_their_own() -> None:
    states = select_request_states(load_config({}), MemoryStreamManager(), audience="a")
    assert states.ephemeral
    assert states.ttl == 600


def test_a_bad_key_names_the_variable_it_came_from() -> None:
    config = load_config(
        {"TRIO_MCP_REQUEST_STATE_KEYS": f"{new_key()},tooshort", "TRIO_MCP_REQUEST_STATE_TTL": "60"}
    )
    assert config.request_state_ttl == 60
    with pytest.raises(
        ConfigError, match=r"TRIO_MCP_REQUEST_STATE_KEYS='.*': key 2 of the ring is not 32 bytes"
    ):
        select_request_states(config, MemoryStreamManager(), audience="a")
