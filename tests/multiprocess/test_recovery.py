"""Sessions survive their instance: REAL hypercorn processes continue a session another process started.

* File store: process A serves a session, is stopped (its store writes the file on close), and process B,
  started on the same file, continues it -- same Mcp-Session-Id, same log level, same subscriptions. While A
  holds the file, a second process fails at startup and says the file's lock is held.
* Redis store: a session initialized on A is served by B, which rebuilds the protocol state from the record:
  the client's capabilities (elicitation or not), the negotiated protocol version, the log level.

The processes run ``examples.cluster:app`` (the conformance fixture plus ``trigger_resource_update``).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from _instances import START_TIMEOUT, Instance, answer_elicitation, assert_clean, spawn, stop, wait_ready
from _instances import bounded as _bounded
from _rawhttp import RawConnection, assert_error, body_message, initialize, post_headers, rpc
from _redis_server import RedisServer

pytestmark = pytest.mark.multiprocess

REPO = Path(__file__).resolve().parents[2]
APP = "examples.cluster:app"
LATEST = "2025-11-25"
OLDER = "2025-06-18"  # no priming event on SSE streams, no batches
WATCHED = "test://watched-resource"
WAIT = 10.0
TEST_TIMEOUT = 60.0
LOGGED = ["Tool execution started", "Tool processing data", "Tool execution completed"]


bounded = _bounded(TEST_TIMEOUT)


# -- processes --


def _spawn(name: str, env: dict[str, str], logs: Path, *extra: str) -> Instance:
    return spawn(name, APP, env, logs, *extra)


def _base_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "TRIO_MCP_HEARTBEAT_INTERVAL": "1",
        "TRIO_MCP_KEEPALIVE_INTERVAL": "1",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    for name in ("TRIO_MCP_STREAMS", "TRIO_MCP_STORE_FILE", "REDIS_URL", "TRIO_MCP_REDIS_PREFIX"):
        if name not in extra:
            env.pop(name, None)
    return env


@attrs.define
class Launcher:
    """Starts instances for one test and stops every one of them at its end."""

    env: dict[str, str]
    logs: Path
    started: list[Instance] = attrs.field(factory=list[Instance])

    def start(self, *names: str) -> list[Instance]:
        instances = [_spawn(name, self.env, self.logs) for name in names]
        self.started += instances
        deadline = time.monotonic() + START_TIMEOUT
        for instance in instances:
            wait_ready(instance, deadline)
        return instances

    def stop_all(self) -> None:
        for instance in self.started:
            stop(instance)


# -- HTTP helpers --


def _messages(response: Any) -> list[dict[str, Any]]:
    messages = body_message(response)
    return messages if isinstance(messages, list) else [messages]


async def post(instance: Instance, session_id: str, version: str, body: bytes) -> list[dict[str, Any]]:
    """One POST in the session (Accept: both, so requests are answered on an SSE stream); its messages."""
    response = await instance.target.request("POST", post_headers(session_id, version=version), body)
    assert response.status == 200, (instance.name, response.status, response.body)
    messages = _messages(response)
    assert "result" in messages[-1], messages
    return messages


async def set_level(instance: Instance, session_id: str, version: str, level: str) -> None:
    await post(instance, session_id, version, rpc("logging/setLevel", {"level": level}))


async def logs_of_a_tool_call(instance: Instance, session_id: str, version: str) -> list[str]:
    """Call test_tool_with_logging (three info logs) in SSE mode; the data of the logs the stream carried."""
    messages = await post(
        instance, session_id, version, rpc("tools/call", {"name": "test_tool_with_logging", "arguments": {}})
    )
    assert _text(messages[-1]) == "Tool with logging executed successfully"
    assert all(m.get("method") == "notifications/message" for m in messages[:-1]), messages
    return [m["params"]["data"] for m in messages[:-1]]


def _text(message: dict[str, Any]) -> str:
    content = message["result"]["content"]
    assert content[0]["type"] == "text", content
    return str(content[0]["text"])


async def next_message(conn: RawConnection, method: str) -> dict[str, Any]:
    skipped: list[Any] = []
    with trio.move_on_after(WAIT):
        while (event := await conn.next_event()) is not None:
            if event.data and (message := json.loads(event.data)).get("method") == method:
                return message
            skipped.append(event)
    raise AssertionError(f"no {method} within {WAIT:g} s: {skipped}")


# -- the file store --


@pytest.fixture
def file_launcher(tmp_path: Path) -> Iterator[Launcher]:
    env = _base_env(TRIO_MCP_STORE="file", TRIO_MCP_STORE_FILE=str(tmp_path / "sessions.json"))
    launcher = Launcher(env, tmp_path)
    try:
        yield launcher
    finally:
        launcher.stop_all()


def _assert_lock_failure(contender: Instance) -> str:
    """The contender exited by itself at startup; its stderr names the held lock. Returns that stderr."""
    try:
        contender.proc.wait(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"{contender.name} kept running on a locked file:\n{contender.output()}"
        ) from None
    stderr = contender.stderr.read_text(errors="replace")
    assert "is in use" in stderr, contender.output()
    assert "sessions.json.lock" in stderr, contender.output()
    assert "Only one process may use a FileSessionStore file" in stderr, contender.output()
    return stderr


@bounded
async def test_file_store_session_continues_on_the_next_process(
    file_launcher: Launcher, tmp_path: Path
) -> None:
    (a,) = file_launcher.start("A")
    session_id = await initialize(a.target)
    await set_level(a, session_id, LATEST, "warning")
    await post(a, session_id, LATEST, rpc("resources/subscribe", {"uri": WATCHED}))
    assert await logs_of_a_tool_call(a, session_id, LATEST) == []  # info logs are below warning

    # While A holds the file, another process on it fails at startup and says why. Under hypercorn's
    # default supervisor (a worker process) it exits by itself; hypercorn 0.18's supervisor then reports 0
    # (it calls _join_exited a second time, on an empty list), so the exit code is checked with -w 0, where
    # the app runs in the hypercorn process itself.
    supervised = _spawn("contender", file_launcher.env, tmp_path)
    in_process = _spawn("contender-w0", file_launcher.env, tmp_path, "-w", "0")
    file_launcher.started += [supervised, in_process]
    _assert_lock_failure(supervised)
    stderr = _assert_lock_failure(in_process)
    assert in_process.proc.returncode != 0, stderr
    assert "another process (pid " in stderr, stderr  # the holder: A's worker process
    # ...and left A and its file alone.
    assert a.proc.poll() is None, a.output()
    assert await logs_of_a_tool_call(a, session_id, LATEST) == []

    stop(a)
    assert a.proc.returncode == 0, a.output()
    assert_clean(a)
    saved = json.loads((tmp_path / "sessions.json").read_text())
    record = saved["sessions"][session_id]["record"]
    assert record["logLevel"] == "warning", record
    assert record["subscriptions"] == [WATCHED], record

    (b,) = file_launcher.start("B")
    # The same session id works on B, with the log level set on A: no notifications/message at warning.
    messages = await post(
        b, session_id, LATEST, rpc("tools/call", {"name": "test_simple_text", "arguments": {}})
    )
    assert _text(messages[-1]) == "This is a simple text response for testing."
    assert await logs_of_a_tool_call(b, session_id, LATEST) == []
    await set_level(b, session_id, LATEST, "debug")
    assert await logs_of_a_tool_call(b, session_id, LATEST) == LOGGED

    # The subscription made on A holds on B: an update reaches B's GET stream.
    async with await RawConnection.open("127.0.0.1", b.port) as conn:
        headers = [
            ("accept", "text/event-stream"),
            ("mcp-session-id", session_id),
            ("mcp-protocol-version", LATEST),
        ]
        await conn.send("GET", "/mcp", headers, None)
        with trio.fail_after(WAIT):
            head = await conn.read_head()
        assert head.status == 200, head
        await post(
            b,
            session_id,
            LATEST,
            rpc("tools/call", {"name": "trigger_resource_update", "arguments": {"uri": WATCHED}}),
        )
        note = await next_message(conn, "notifications/resources/updated")
    assert note["params"] == {"uri": WATCHED}

    stop(b)
    assert_clean(b)


# -- the Redis store --

PREFIX = "recovery:"


@pytest.fixture(scope="module")
def redis_pair(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Instance]]:
    """Instances A and B sharing the test Redis (keys under their own prefix, so no FLUSHALL is needed)."""
    if not redis_server.running:
        redis_server.start()
    redis_server.resume()
    # A record cache far longer than any test: a change can only reach the other instance through the
    # session_changed event, never because a cached copy happened to expire.
    env = _base_env(
        TRIO_MCP_STORE="redis",
        REDIS_URL=redis_server.url,
        TRIO_MCP_REDIS_PREFIX=PREFIX,
        TRIO_MCP_SESSION_CACHE_TTL="60",
    )
    launcher = Launcher(env, tmp_path_factory.mktemp("recovery"))
    try:
        yield launcher.start("A", "B")
    finally:
        launcher.stop_all()
    for instance in launcher.started:
        assert_clean(instance)


@pytest.mark.redis
@bounded
async def test_redis_session_from_a_rebuilds_protocol_state_on_b(redis_pair: list[Instance]) -> None:
    a, b = redis_pair
    session_id = await initialize(a.target, OLDER, capabilities={"elicitation": {}})
    await set_level(a, session_id, OLDER, "error")

    # The log level set on A holds on B (info logs are below error).
    assert await logs_of_a_tool_call(b, session_id, OLDER) == []

    # The negotiated version holds on B: no batches in 2025-06-18.
    response = await b.target.request(
        "POST", post_headers(session_id, version=OLDER), b"[" + rpc("tools/list") + b"]"
    )
    assert_error(response, 400, -32600, "batches", OLDER)

    # The elicitation capability holds on B: elicitation/create goes out on the POST's SSE stream, and
    # that stream has no priming event (2025-06-18 has none).
    arguments = {"message": "Who are you?"}
    async with await RawConnection.open("127.0.0.1", b.port) as conn:
        await conn.send(
            "POST",
            "/mcp",
            post_headers(session_id, version=OLDER),
            rpc("tools/call", {"name": "test_elicitation", "arguments": arguments}, id=7),
        )
        with trio.fail_after(WAIT):
            head = await conn.read_head()
            assert head.status == 200, head
            assert head.content_type == "text/event-stream", head.headers
            first = await conn.next_event()
        assert first is not None
        assert first.data, f"a priming event on a {OLDER} stream: {first}"
        request = json.loads(first.data)
        assert request["method"] == "elicitation/create", request
        assert request["params"]["message"] == "Who are you?"
        await answer_elicitation(b, session_id, OLDER, request)
        with trio.fail_after(WAIT):
            rest = await conn.read_events()
    assert all(event.data for event in rest), rest
    final = json.loads(rest[-1].data)
    assert final["id"] == 7, final
    assert (
        _text(final) == 'User response: action=accept, content={"username":"ada","email":"ada@example.org"}'
    )


@pytest.mark.redis
@bounded
async def test_redis_session_without_elicitation_cannot_elicit_on_b(redis_pair: list[Instance]) -> None:
    a, b = redis_pair
    session_id = await initialize(a.target, LATEST)
    messages = await post(
        b, session_id, LATEST, rpc("tools/call", {"name": "test_elicitation", "arguments": {"message": "Hi"}})
    )
    result = messages[-1]["result"]
    assert result.get("isError") is True, result
    assert "elicitation capability" in _text(messages[-1]), result
    assert not any(m.get("method") == "elicitation/create" for m in messages), messages


@pytest.mark.redis
@bounded
async def test_a_change_on_one_instance_reaches_a_record_cached_on_another(
    redis_pair: list[Instance],
) -> None:
    a, b = redis_pair
    session_id = await initialize(a.target, OLDER)
    await set_level(a, session_id, OLDER, "debug")
    # B reads the record now and keeps it in its record cache (60 s here)...
    assert len(await logs_of_a_tool_call(b, session_id, OLDER)) == 3
    # ...then A changes the log level: the "session_changed" event drops B's cached copy at once.
    await set_level(a, session_id, OLDER, "error")
    assert await logs_of_a_tool_call(b, session_id, OLDER) == []
    # And the other way round.
    await set_level(b, session_id, OLDER, "info")
    assert len(await logs_of_a_tool_call(a, session_id, OLDER)) == 3
