"""Real hypercorn processes for multi-instance tests: start on a free loopback port, wait, stop, check logs."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import attrs
import trio
from _rawhttp import RawConnection, Target, post_headers
from _redis_server import RedisServer, free_port

from trio_mcp._proto.sse import SSEEvent

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0


def bounded(timeout: float) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    """Run a test under trio.fail_after(timeout): a hung instance fails the test instead of CI."""

    def decorate(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(test)
        async def wrapper(*args: Any, **kwargs: Any) -> None:
            with trio.fail_after(timeout):
                await test(*args, **kwargs)

        return wrapper

    return decorate


@attrs.define
class Instance:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def target(self) -> Target:
        return Target(app=None, host="127.0.0.1", port=self.port)

    def output(self) -> str:
        out = self.stdout.read_text(errors="replace")[-2000:]
        err = self.stderr.read_text(errors="replace")[-4000:]
        return f"--- stdout ---\n{out}\n--- stderr ---\n{err}"


def spawn(name: str, app: str, env: dict[str, str], logs: Path, *extra: str) -> Instance:
    """`python -m hypercorn --worker-class trio` serving `app` on a free 127.0.0.1 port (not yet ready)."""
    port = free_port()
    argv = [
        "-m", "hypercorn", "--worker-class", "trio", "--graceful-timeout", "1", "-b", f"127.0.0.1:{port}",
        *extra, app,
    ]  # fmt: skip
    return _start(name, port, argv, env, logs)


def spawn_cli(
    name: str, app: str, env: dict[str, str], logs: Path, *extra: str, port: int | None = None
) -> Instance:
    """`python -m trio_mcp serve` serving `app` on `port` (a free 127.0.0.1 port by default; not yet ready):
    one process, which drains on SIGTERM."""
    port = port or free_port()
    return _start(name, port, ["-m", "trio_mcp", "serve", app, "-b", f"127.0.0.1:{port}", *extra], env, logs)


def _start(name: str, port: int, python_args: list[str], env: dict[str, str], logs: Path) -> Instance:
    stdout, stderr = logs / f"{name}.out", logs / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, *python_args],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True,  # its own process group: `kill` reaches hypercorn's worker process too
        )  # fmt: skip
    return Instance(name, port, proc, stdout, stderr)


def wait_ready(instance: Instance, deadline: float) -> None:
    while time.monotonic() < deadline:
        if instance.proc.poll() is not None:
            raise RuntimeError(
                f"instance {instance.name} exited ({instance.proc.returncode}):\n{instance.output()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", instance.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        f"instance {instance.name} did not listen within {START_TIMEOUT:g} s:\n{instance.output()}"
    )


def stop(instance: Instance) -> None:
    """SIGTERM (hypercorn shuts down gracefully: lifespan shutdown, the store closes), then wait."""
    if instance.proc.poll() is None:
        instance.proc.terminate()
        try:
            instance.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            instance.proc.kill()
            instance.proc.wait()


def kill(instance: Instance) -> None:
    """SIGKILL of the instance, as a crash: hypercorn and its worker process (no shutdown of any kind)."""
    if instance.proc.poll() is None:
        os.killpg(instance.proc.pid, signal.SIGKILL)
        instance.proc.wait()


TOOL_FAILURE = re.compile(r"tool '[^']*' raised ")


def assert_clean(instance: Instance) -> None:
    """A clean run and shutdown: no traceback in the instance's output, but those of a tool that raised
    (logged on purpose, with the line naming the tool right before)."""
    out = instance.stdout.read_text(errors="replace") + instance.stderr.read_text(errors="replace")
    lines = out.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("Traceback"):
            cause = next(
                (lines[k] for k in range(n - 1, -1, -1) if lines[k] and not lines[k][0].isspace()), ""
            )
            assert TOOL_FAILURE.search(cause), f"instance {instance.name}:\n{instance.output()}"


ADA = {"username": "ada", "email": "ada@example.org"}


async def answer_elicitation(
    instance: Instance, session_id: str, version: str, request: dict[str, Any]
) -> None:
    """POST the client's accept answer (as ada) to `instance`: a reply may land on any instance (202)."""
    answer = {"jsonrpc": "2.0", "id": request["id"], "result": {"action": "accept", "content": ADA}}
    response = await instance.target.request(
        "POST", post_headers(session_id, version=version), json.dumps(answer).encode()
    )
    assert response.status == 202, response.body


# -- a cluster of instances on one Redis, and GET streams on them --

STREAM_WAIT = 10.0


@contextmanager
def run_cluster(
    redis_server: RedisServer,
    logs: Path,
    prefix: str,
    *,
    names: str = "ABC",
    app: str = "examples.cluster:app",
    **env: str,
) -> Iterator[list[Instance]]:
    """`app` once per name, sharing the test Redis under `prefix` (Redis streams, a 1 s heartbeat and
    keep-alive; `env` adds or overrides variables); stopped, then checked for tracebacks."""
    environment = cluster_env(redis_server, prefix, **env)
    instances: list[Instance] = []
    try:
        for name in names:
            instances.append(spawn(name, app, environment, logs))
        deadline = time.monotonic() + START_TIMEOUT
        for instance in instances:
            wait_ready(instance, deadline)
        yield instances
    finally:
        for instance in instances:
            stop(instance)
    for instance in instances:
        assert_clean(instance)


def cluster_env(redis_server: RedisServer, prefix: str, **env: str) -> dict[str, str]:
    """The environment of an instance of a cluster on the test Redis under `prefix` (started if need be)."""
    if not redis_server.running:
        redis_server.start()
    redis_server.resume()
    environment = {
        **os.environ,
        "TRIO_MCP_STORE": "redis",
        "REDIS_URL": redis_server.url,
        "TRIO_MCP_REDIS_PREFIX": prefix,
        "TRIO_MCP_HEARTBEAT_INTERVAL": "1",
        "TRIO_MCP_KEEPALIVE_INTERVAL": "1",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    environment.pop("TRIO_MCP_STREAMS", None)
    return environment


class Stream:
    """The client's GET stream (one SSE response) on one instance, read message by message."""

    def __init__(self, conn: RawConnection, where: str) -> None:
        self.conn = conn
        self.where = where
        self.seen: list[dict[str, Any]] = []  # messages passed over while waiting for another method

    async def next_message(self, method: str) -> dict[str, Any]:
        """The next message with `method`; the ones before it are kept in `seen`."""
        with trio.move_on_after(STREAM_WAIT):
            while True:
                event = await self.conn.next_event()
                if event is None:
                    raise AssertionError(f"the GET stream on {self.where} ended while waiting for {method}")
                if not event.data:
                    continue
                message: dict[str, Any] = json.loads(event.data)
                if message.get("method") == method:
                    return message
                self.seen.append(message)
        raise AssertionError(
            f"no {method} on the GET stream on {self.where} within {STREAM_WAIT:g} s: {self.seen}"
        )

    async def expect_end(self) -> None:
        """The stream ends with no further message."""
        with trio.fail_after(STREAM_WAIT):
            while (event := await self.conn.next_event()) is not None:
                assert not event.data, f"unexpected message on a closing stream: {event.data!r}"

    async def read_to_end(self) -> list[SSEEvent]:
        with trio.fail_after(STREAM_WAIT):
            return list(await self.conn.read_events())


@asynccontextmanager
async def open_stream(
    instance: Instance, session_id: str, version: str = "2025-11-25"
) -> AsyncIterator[Stream]:
    """A GET stream of the session on `instance` (asserts the 200)."""
    async with await RawConnection.open("127.0.0.1", instance.port) as conn:
        headers = [
            ("accept", "text/event-stream"),
            ("mcp-session-id", session_id),
            ("mcp-protocol-version", version),
        ]
        await conn.send("GET", "/mcp", headers, None)
        with trio.fail_after(STREAM_WAIT):
            head = await conn.read_head()
        assert head.status == 200, (instance.name, head)
        yield Stream(conn, instance.name)


@contextmanager
def serving(app: str, env: dict[str, str] | None = None, timeout: float = 60) -> Iterator[str]:
    """`python -m trio_mcp serve app` on a free port, as a user starts it; yields the endpoint's URL once its
    startup line is out, and stops it (SIGTERM) when the block ends."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "trio_mcp", "serve", app, "--bind", f"127.0.0.1:{port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().startswith("trio-mcp ")  # serving
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.communicate(timeout=timeout)  # waits, and closes its pipe
