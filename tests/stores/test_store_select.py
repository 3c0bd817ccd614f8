"""store_from_config: explicit argument > environment > default (memory)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trio_mcp._stores.select import store_from_config
from trio_mcp.stores import (
    ExpiryPolicy,
    FileSessionStore,
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
    StoreConfigError,
)

POLICY = ExpiryPolicy(idle_timeout=123, pending_timeout=4)
ENV = ("TRIO_MCP_STORE", "TRIO_MCP_STORE_FILE", "REDIS_URL")


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
    return store_from_config(store, file=file, redis_url=redis_url, prefix=prefix, policy=POLICY)


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
