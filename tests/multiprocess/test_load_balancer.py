"""`nox -s cluster` end to end: scripts/cluster.py starts Redis (AOF, appendfsync always), three instances of
examples.cluster:app and HAProxy (round-robin per request, no stickiness); one session initialized through the
load balancer makes 30 tool calls on one keep-alive connection, and the instances' access logs show that all
three served it. Then SIGINT stops everything the script started.

HAProxy comes from the system package manager: installed with apt-get when missing, as `nox -s cluster` does.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trio
from _instances import bounded
from _rawhttp import JSON, RawConnection, Target, body_message, initialize, post_headers, rpc
from _redis_server import raw_command

pytestmark = [pytest.mark.multiprocess, pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cluster.py"
VERSION = "2025-11-25"
CALLS = 30
INSTANCES = 3
START_WAIT = 60.0
STOP_WAIT = 30.0
TEST_TIMEOUT = 120.0
APT_TIMEOUT = 900

# "  instance-1   pid 1234     127.0.0.1:40001  ..." (see scripts/cluster.py `report`)
CHILD_LINE = re.compile(r"^  (\S+)\s+pid (\d+)\s+127\.0\.0\.1:(\d+)", re.MULTILINE)
ENDPOINT_LINE = re.compile(r"^MCP endpoint: (http://127\.0\.0\.1:(\d+)/mcp)$", re.MULTILINE)


def _haproxy_installed() -> bool:
    return shutil.which("haproxy") is not None or os.access("/usr/sbin/haproxy", os.X_OK)


@pytest.fixture(scope="module")
def haproxy() -> None:
    """HAProxy installed, with apt-get when missing (as noxfile.py's `_ensure_haproxy`): never a skip."""
    if _haproxy_installed():
        return
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["update", "-qq"], ["install", "-y", "-qq", "haproxy"]):
        done = subprocess.run([*apt, *args], env=env, capture_output=True, text=True, timeout=APT_TIMEOUT)
        assert done.returncode == 0, f"{' '.join([*apt, *args])} failed:\n{done.stdout}\n{done.stderr}"
    assert _haproxy_installed(), "apt-get installed haproxy, but there is no haproxy binary"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    """Whether process `pid` or any process of its group (hypercorn's worker) exists, zombies aside."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True  # only other members of its group are left
    return state != "Z"


@attrs.define
class Script:
    proc: subprocess.Popen[bytes]
    out: Path
    logs: Path
    port: int

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def children(self) -> dict[str, tuple[int, int]]:
        """name -> (pid, port) of every process the script reported."""
        return {m[1]: (int(m[2]), int(m[3])) for m in CHILD_LINE.finditer(self.output())}


@pytest.fixture
def script(haproxy: None, tmp_path: Path) -> Iterator[Script]:
    """scripts/cluster.py on a free port, in its own process group; whatever is left is killed afterwards."""
    out, logs = tmp_path / "cluster.out", tmp_path / "logs"
    port = _free_port()
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--port", str(port), "--logs", str(logs), "--prefix", "lb-test:"],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    handle = Script(proc, out, logs, port)
    try:
        yield handle
    finally:
        if proc.poll() is None:  # the test failed before its SIGINT: stop it, the hard way if need be
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for pid, _ in handle.children().values():
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)


async def _wait_ready(script: Script) -> str:
    with trio.move_on_after(START_WAIT):
        while (found := ENDPOINT_LINE.search(script.output())) is None:
            assert script.proc.poll() is None, (
                f"cluster.py exited ({script.proc.returncode}):\n{script.output()}"
            )
            await trio.sleep(0.1)
        return found[1]
    raise AssertionError(f"cluster.py was not ready within {START_WAIT:g} s:\n{script.output()}")


async def _wait_exit(script: Script) -> int:
    with trio.move_on_after(STOP_WAIT):
        while (code := script.proc.poll()) is None:
            await trio.sleep(0.1)
        return code
    raise AssertionError(f"cluster.py did not exit within {STOP_WAIT:g} s of SIGINT:\n{script.output()}")


def _session_posts(access_log: Path, session_id: str) -> int:
    """The POSTs of the session this instance answered (hypercorn's access log, format of cluster.py).

    Only lines with a status: when the peer closes the connection as soon as it has the answer (HAProxy
    dropping a spare server connection), hypercorn may see the close before it marks the answer sent and log
    the request twice, once with status `-`."""
    answered = re.compile(rf'"POST /mcp \S+" \d{{3}} session={re.escape(session_id)} ')
    return len(answered.findall(access_log.read_text()))


@bounded(TEST_TIMEOUT)
async def test_one_session_through_the_load_balancer_is_served_by_all_three(script: Script) -> None:
    url = await _wait_ready(script)
    assert url == f"http://127.0.0.1:{script.port}/mcp"
    children = script.children()
    names = [f"instance-{k}" for k in range(1, INSTANCES + 1)]
    assert sorted(children) == sorted(["redis", "haproxy", *names]), script.output()

    # Redis persists every write before it answers.
    redis_port = children["redis"][1]
    assert raw_command(redis_port, "CONFIG", "GET", "appendonly") == [b"appendonly", b"yes"]
    assert raw_command(redis_port, "CONFIG", "GET", "appendfsync") == [b"appendfsync", b"always"]

    lb = Target(app=None, host="127.0.0.1", port=script.port)
    session_id = await initialize(lb, VERSION)
    # One keep-alive connection, as a client keeps: HAProxy balances each request, not each connection.
    async with await RawConnection.open("127.0.0.1", script.port) as conn:
        for call in range(CALLS):
            response = await conn.request(
                "POST",
                "/mcp",
                post_headers(session_id, accept=JSON, version=VERSION),
                rpc("tools/call", {"name": "test_simple_text", "arguments": {}}, id=call),
            )
            assert response.status == 200, (call, response.status, response.body)
            message = body_message(response)
            assert message["id"] == call, message
            assert "error" not in message, message
            assert message["result"]["content"][0]["text"].startswith("This is a simple text"), message
            assert conn.reusable, f"call {call}: HAProxy closed the client connection"

    script.proc.send_signal(signal.SIGINT)
    assert await _wait_exit(script) == 0, script.output()
    left = {name: pid for name, (pid, _) in children.items() if _alive(pid)}
    assert not left, f"still running after cluster.py exited: {left}"
    busy = {name: port for name, (_, port) in children.items() if not _port_free(port)}
    assert not busy, f"ports still in use after cluster.py exited: {busy}"

    # The access logs are complete once the instances have exited: every request of the session (the
    # notifications/initialized and the 30 calls) logged once, by the instance that served it.
    served = {name: _session_posts(script.logs / f"{name}.access.log", session_id) for name in names}
    assert sum(served.values()) == CALLS + 1, served
    assert all(count >= 1 for count in served.values()), f"not every instance served the session: {served}"
    new = [
        name
        for name in names
        if f"new-session={session_id} " in (script.logs / f"{name}.access.log").read_text()
    ]
    assert len(new) == 1, f"the initialize that created the session is logged by {new}"
    # HAProxy's own log names the instance of each request of the session, too.
    haproxy_log = (script.logs / "haproxy.log").read_text()
    for name in names:
        assert re.search(rf"instances/{name} .*\{{{re.escape(session_id)}\}}", haproxy_log), haproxy_log
