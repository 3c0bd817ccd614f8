"""open_client_registry: the backend and its settings from keywords or TRIO_MCP_CLIENT_* / REDIS_URL."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from trio_mcp.client_sessions import (
    DEFAULT_DORMANT_AGE,
    DEFAULT_PENDING_TTL,
    ClientRegistryConfigError,
    ClientSessionExpiry,
    ClientSessionRecord,
    FileClientRegistry,
    MemoryClientRegistry,
    RedisClientRegistry,
    client_registry_from_config,
    open_client_registry,
)


def test_memory_is_the_default_with_the_default_expiry() -> None:
    registry = client_registry_from_config(environ={})
    assert isinstance(registry, MemoryClientRegistry)
    assert registry.expiry == ClientSessionExpiry(pending_ttl=600.0, dormant_age=30 * 86_400.0)
    assert (DEFAULT_PENDING_TTL, DEFAULT_DORMANT_AGE) == (600.0, 2_592_000.0)


def test_the_process_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_CLIENT_PENDING_TTL", "120")
    assert client_registry_from_config().expiry.pending_ttl == 120.0


def test_the_file_backend_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    registry = client_registry_from_config(
        environ={
            "TRIO_MCP_CLIENT_STORE": "file",
            "TRIO_MCP_CLIENT_STORE_FILE": str(path),
            "TRIO_MCP_CLIENT_DORMANT_AGE": "86400",
            "TRIO_MCP_CLIENT_PENDING_TTL": "300.5",
        }
    )
    assert isinstance(registry, FileClientRegistry)
    assert registry.path == path
    assert registry.expiry == ClientSessionExpiry(pending_ttl=300.5, dormant_age=86_400.0)


def test_keywords_win_over_the_environment(tmp_path: Path) -> None:
    environ = {"TRIO_MCP_CLIENT_STORE": "redis", "TRIO_MCP_CLIENT_DORMANT_AGE": "not a number"}
    registry = client_registry_from_config(
        store="file", store_file=tmp_path / "c.json", dormant_age=math.inf, environ=environ
    )
    assert isinstance(registry, FileClientRegistry)
    assert registry.expiry.dormant_age == math.inf


def test_infinite_lifetimes_are_allowed() -> None:
    registry = client_registry_from_config(environ={"TRIO_MCP_CLIENT_DORMANT_AGE": "inf"})
    assert registry.expiry.dormant_age == math.inf


def test_the_redis_backend_and_its_prefix() -> None:
    pytest.importorskip("coredis")
    registry = client_registry_from_config(
        environ={"TRIO_MCP_CLIENT_STORE": "Redis", "REDIS_URL": "redis://:secret@127.0.0.1:1/0"}
    )
    assert isinstance(registry, RedisClientRegistry)
    assert registry.prefix == "mcp-client:"
    assert "secret" not in repr(registry)
    registry = client_registry_from_config(
        store="redis",
        redis_url="redis://127.0.0.1:1/0",
        environ={"TRIO_MCP_CLIENT_REDIS_PREFIX": "chat-app:clients:"},
    )
    assert isinstance(registry, RedisClientRegistry)
    assert registry.prefix == "chat-app:clients:"
    registry = client_registry_from_config(
        store="redis", redis_url="redis://127.0.0.1:1/0", redis_prefix="kw:", environ={}
    )
    assert isinstance(registry, RedisClientRegistry)
    assert registry.prefix == "kw:"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TRIO_MCP_CLIENT_STORE": "postgres"}, r"^TRIO_MCP_CLIENT_STORE must be one of memory, file, redis"),
        (
            {"TRIO_MCP_CLIENT_STORE": "file"},
            r"needs a path: pass store_file=\.\.\. or set TRIO_MCP_CLIENT_STORE_FILE",
        ),
        ({"TRIO_MCP_CLIENT_STORE": "redis"}, r"needs a Redis URL: pass redis_url=\.\.\. or set REDIS_URL"),
        (
            {"TRIO_MCP_CLIENT_STORE": "redis", "REDIS_URL": "http://localhost:6379"},
            r"^REDIS_URL must start with redis://, rediss://, unix://",
        ),
        ({"TRIO_MCP_CLIENT_DORMANT_AGE": "30d"}, r"^TRIO_MCP_CLIENT_DORMANT_AGE must be a positive number"),
        ({"TRIO_MCP_CLIENT_DORMANT_AGE": "0"}, r"^TRIO_MCP_CLIENT_DORMANT_AGE must be a positive number"),
        ({"TRIO_MCP_CLIENT_PENDING_TTL": "-5"}, r"^TRIO_MCP_CLIENT_PENDING_TTL must be a positive number"),
        ({"TRIO_MCP_CLIENT_PENDING_TTL": "nan"}, r"^TRIO_MCP_CLIENT_PENDING_TTL must be a positive number"),
    ],
)
def test_bad_environment_values_name_their_variable(environ: dict[str, str], message: str) -> None:
    if environ.get("TRIO_MCP_CLIENT_STORE") == "redis":
        pytest.importorskip("coredis")
    with pytest.raises(ClientRegistryConfigError, match=message):
        client_registry_from_config(environ=environ)


def test_bad_keyword_values_name_their_keyword() -> None:
    with pytest.raises(ClientRegistryConfigError, match=r"^store= must be one of"):
        client_registry_from_config(store="sqlite", environ={})
    with pytest.raises(ClientRegistryConfigError, match=r"^pending_ttl= must be a positive number"):
        client_registry_from_config(pending_ttl=0, environ={})
    with pytest.raises(ClientRegistryConfigError, match=r"^redis_prefix= must be a non-empty string"):
        client_registry_from_config(store="redis", redis_url="redis://h:1", redis_prefix="", environ={})


def test_a_config_error_is_a_value_error() -> None:
    assert issubclass(ClientRegistryConfigError, ValueError)


def test_direct_construction_checks_its_lifetimes() -> None:
    with pytest.raises(ValueError, match="dormant_age must be a positive number of seconds"):
        MemoryClientRegistry(dormant_age=0)


async def test_open_client_registry_opens_and_closes_the_backend(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    async with open_client_registry(store="file", store_file=path, environ={}) as registry:
        assert isinstance(registry, FileClientRegistry)
        assert registry.is_open
        await registry.create(
            ClientSessionRecord(
                session_id=registry.generate_session_id(),
                user_id="alice",
                server_id="files",
                transport="stdio",
                command="uvx",
                args=["mcp-server-files"],
            )
        )
    assert not registry.is_open
    with pytest.raises(RuntimeError, match="is not open"):
        await registry.list("alice")
    async with open_client_registry(
        environ={"TRIO_MCP_CLIENT_STORE": "file", "TRIO_MCP_CLIENT_STORE_FILE": str(path)}
    ) as again:
        assert [r.server_id for r in await again.list("alice")] == ["files"]
