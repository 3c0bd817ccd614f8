"""The `trio-mcp` command (trio_mcp/_cli.py), run as `python -m trio_mcp` in a real process."""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _redis_server import RedisServer, free_port

REPO = Path(__file__).resolve().parents[1]
WAIT = 20.0


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trio_mcp", "serve", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def startup_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("trio-mcp "), (line, proc.stderr.read() if proc.stderr else "")
    return line


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGINT) -> int:
    proc.send_signal(sig)
    try:
        proc.communicate(timeout=WAIT)  # reads (and closes) its pipes
        return proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def stop_with_output(proc: subprocess.Popen[str], sig: int) -> tuple[int, str]:
    """Like `stop`; also what the process wrote on stderr."""
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=WAIT)
        return proc.returncode, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def run_to_exit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_mcp", "serve", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_one_startup_line_serves_and_stops_on_a_signal(sig: int) -> None:
    port = free_port()
    proc = start("examples.everything:app", "--bind", f"127.0.0.1:{port}", "--path", "/api/mcp")
    try:
        line = startup_line(proc)
        assert f"serving http://127.0.0.1:{port}/api/mcp" in line
        assert "store MemorySessionStore" in line
        assert "streams MemoryStreamManager" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        code, err = stop_with_output(proc, sig)
    assert code == 0
    assert "draining" in err
    assert "did not stop" not in err  # it stopped once drained, not when its own deadline cut it
    with socket.socket() as sock:  # nothing left listening on the port
        # As servers bind: the server's side of the closed connection may sit in TIME_WAIT; a listener
        # would still make this bind fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_the_access_log_flags_write_hypercorns_access_log(tmp_path: Path) -> None:
    port = free_port()
    access = tmp_path / "access.log"
    proc = start(
        "examples.everything:app",
        "-b",
        f"127.0.0.1:{port}",
        "--keep-alive",
        "75",
        "--access-logfile",
        str(access),
        "--access-logformat",
        "%(m)s %(U)s %(s)s",
    )
    try:
        startup_line(proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        stop(proc)
    assert "GET /healthz 200" in access.read_text()


def test_flags_set_the_knobs_environment_twins() -> None:
    port = free_port()
    proc = start(
        "examples.everything:app",
        "-b",
        f"127.0.0.1:{port}",
        "--event-store",
        "none",
        "--ready-path",
        "/ready",
    )
    try:
        line = startup_line(proc)
        assert "event store none" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as response:
            assert response.status == 200
    finally:
        stop(proc)


@pytest.mark.parametrize(
    ("args", "code", "phrase"),
    [
        (["nope.module:app"], 2, "cannot import 'nope.module'"),
        (["examples.everything"], 2, "module:attribute"),
        (["examples.everything:nothing"], 2, "has no attribute 'nothing'"),
        (
            ["examples.everything:app", "--max-sessions", "many"],
            2,
            "TRIO_MCP_MAX_SESSIONS='many' is not a number",
        ),
        (["examples.everything:app", "--store", "bogus"], 2, "TRIO_MCP_STORE='bogus'; choose one of: memory"),
        (
            ["examples.everything:app", "--store", "file", "--store-file", "/nonexistent-dir/s.json"],
            1,
            "the app did not start",
        ),
        (["examples.everything:app", "--certfile", "x.pem"], 2, "needs both --certfile and --keyfile"),
    ],
)
def test_a_startup_failure_is_one_clear_line_and_a_non_zero_exit(
    args: list[str], code: int, phrase: str
) -> None:
    result = run_to_exit(*args)
    assert result.returncode == code, result
    assert phrase in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_a_clear_startup_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = run_to_exit("examples.everything:app", "--bind", f"127.0.0.1:{port}")
    assert result.returncode == 1, result
    assert "the app did not start" in result.stderr
    assert "Address already in use" in result.stderr or "in use" in result.stderr
    assert time.monotonic() - started < WAIT


@pytest.mark.redis
def test_a_redis_that_refuses_the_password_is_a_startup_failure(redis_server: RedisServer) -> None:
    user = f"cli-{secrets.token_hex(3)}"
    redis_server.command("ACL", "SETUSER", user, "on", ">secret", "~*", "&*", "+@all")
    try:
        url = f"redis://{user}:wrong@127.0.0.1:{redis_server.port}/0"
        result = run_to_exit(
            "examples.everything:app", "--store", "redis", "--redis-url", url, "-b", "127.0.0.1:0"
        )
    finally:
        redis_server.command("ACL", "DELUSER", user)
    assert result.returncode == 1, result
    assert "the session store refused this server" in result.stderr
    assert ":wrong@" not in result.stderr


def test_the_trio_mcp_command_is_installed_as_a_console_script() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "trio-mcp"]
    assert script.value == "trio_mcp._cli:main"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("trio-mcp")), "--version"],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("trio_mcp ")
