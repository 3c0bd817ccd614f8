"""Real hypercorn processes for multi-instance tests: start on a free loopback port, wait, stop, check logs."""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import trio
from _rawhttp import Target, post_headers
from _redis_server import free_port

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
    stdout, stderr = logs / f"{name}.out", logs / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "hypercorn",
                "--worker-class", "trio",
                "--graceful-timeout", "1",
                "-b", f"127.0.0.1:{port}",
                *extra,
                app,
            ],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
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


def assert_clean(instance: Instance) -> None:
    """A clean run and shutdown: no traceback in the instance's output."""
    assert "Traceback" not in instance.output(), f"instance {instance.name}:\n{instance.output()}"


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
