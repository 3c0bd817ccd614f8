"""A session's life on Redis costs one round trip per step: initialize, `notifications/initialized`, DELETE.

Counted with MONITOR on the test Redis: every command a client sends is one line, and so is every command a
Lua script runs (from the source "lua"); an ECHO from another connection marks where each step begins.
"""

from __future__ import annotations

import collections
import json
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio
from _rawhttp import Target, body_message, init_body, note, post_headers
from _redis_server import HOST, RedisServer

from trio_mcp._proto.session import CLOSED
from trio_mcp._transport.http import McpASGIApp
from trio_mcp._transport.sessions import SessionManager

Start = Callable[..., Awaitable[Target]]

pytestmark = pytest.mark.redis

VERSION = "2025-11-25"
WAIT = 20.0
_LINE = re.compile(r'^\+?[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"(.*)$')
# One-time and connection set-up commands: a script's first use (NOSCRIPT, then SCRIPT LOAD), a new pooled
# connection's handshake. The steps run once before the counting, so none should appear; ignored all the same.
_SETUP = {"HELLO", "CLIENT", "SELECT", "SCRIPT", "PING"}


class Monitor:
    """MONITOR on its own connection; `mark(name)` starts a step (an ECHO from another connection)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lines: list[str] = []
        self._buffer = b""

    async def run(self, stream: trio.SocketStream, task_status: trio.TaskStatus[None]) -> None:
        await stream.send_all(b"MONITOR\r\n")
        started = False
        while True:
            chunk = await stream.receive_some(65536)
            if not chunk:
                return
            *complete, self._buffer = (self._buffer + chunk).split(b"\r\n")
            for line in complete:
                if not started and line == b"+OK":
                    started = True
                    task_status.started()
                else:
                    self.lines.append(line.decode("utf-8", "replace"))

    async def mark(self, name: str) -> None:
        stream = await trio.open_tcp_stream(HOST, self.port)
        async with stream:
            text = f"MARK {name}"
            await stream.send_all(f"*2\r\n$4\r\nECHO\r\n${len(text)}\r\n{text}\r\n".encode())
            await stream.receive_some(1024)

    async def settled(self) -> None:
        """Every command sent so far is in `lines` (MONITOR shows them in the order Redis ran them)."""
        await self.mark("end")
        with trio.fail_after(WAIT):
            while not any('"MARK end"' in line for line in self.lines):
                await trio.sleep(0.01)

    def steps(self) -> dict[str, tuple[collections.Counter[str], collections.Counter[str]]]:
        """Per step: (commands clients sent, commands scripts ran)."""
        found: dict[str, tuple[collections.Counter[str], collections.Counter[str]]] = {}
        step: str | None = None
        for line in self.lines:
            match = _LINE.match(line)
            if match is None:
                continue
            source, command, rest = match.group(1), match.group(2).upper(), match.group(3)
            if command == "ECHO" and rest.startswith(' "MARK '):
                step = rest[len(' "MARK ') : -1]
                found.setdefault(step, (collections.Counter(), collections.Counter()))
                continue
            if step is None or command in _SETUP:
                continue
            sent, scripted = found[step]
            (scripted if source == "lua" else sent)[command] += 1
        return found


@asynccontextmanager
async def monitoring(port: int) -> AsyncIterator[Monitor]:
    monitor = Monitor(port)
    stream = await trio.open_tcp_stream(HOST, port)
    async with stream, trio.open_nursery() as nursery:
        await nursery.start(monitor.run, stream)
        yield monitor
        nursery.cancel_scope.cancel()


def principal_from_header(scope: dict[str, Any]) -> str | None:
    return dict(scope["headers"]).get(b"x-user", b"").decode() or None


def as_user(user: str | None) -> list[tuple[str | bytes, str | bytes]]:
    return [] if user is None else [("x-user", user)]


async def start_redis_app(start: Start, redis_url: str, **more: Any) -> Target:
    # A long heartbeat: no touch or alive key lands inside a counted step.
    config: dict[str, Any] = {
        "store": "redis",
        "redis_url": redis_url,
        "redis_prefix": f"t-{secrets.token_hex(4)}:",
        "heartbeat_interval": 3600.0,
        "principal": principal_from_header,
    }
    return await start(**(config | more))


async def initialize(target: Target, user: str | None = None) -> str:
    response = await target.request("POST", post_headers(extra=as_user(user)), init_body(VERSION))
    assert response.status == 200, (response.status, response.body)
    assert "result" in body_message(response)
    session_id = response.header("mcp-session-id")
    assert session_id
    return session_id


async def initialized(target: Target, session_id: str, user: str | None = None) -> int:
    headers = post_headers(session_id, version=VERSION, extra=as_user(user))
    return (await target.request("POST", headers, note("notifications/initialized"))).status


async def delete(target: Target, session_id: str, user: str | None = None) -> int:
    headers = post_headers(session_id, version=VERSION, extra=as_user(user))
    return (await target.request("DELETE", headers, None)).status


async def churn(target: Target, monitor: Monitor | None, user: str | None) -> None:
    if monitor is not None:
        await monitor.mark("initialize")
    session_id = await initialize(target, user)
    if monitor is not None:
        await monitor.mark("initialized")
    assert await initialized(target, session_id, user) == 202
    if monitor is not None:
        await monitor.mark("delete")
    assert await delete(target, session_id, user) == 200


@pytest.mark.parametrize("user", [None, "alice"])
async def test_each_lifecycle_step_is_one_round_trip(
    start: Start, redis_url: str, redis_server: RedisServer, user: str | None
) -> None:
    with trio.fail_after(WAIT):
        target = await start_redis_app(start, redis_url)
        await churn(target, None, user)  # loads the scripts
        async with monitoring(redis_server.port) as monitor:
            await churn(target, monitor, user)
            await monitor.settled()
    steps = monitor.steps()
    sent = {name: dict(steps[name][0]) for name in ("initialize", "initialized", "delete")}
    assert sent == {"initialize": {"EVALSHA": 1}, "initialized": {"EVALSHA": 1}, "delete": {"EVALSHA": 1}}
    # What the scripts did: the cap check and the record; its activation; the end with its announcement.
    initialize_ran, initialized_ran, delete_ran = (
        steps[n][1] for n in ("initialize", "initialized", "delete")
    )
    assert initialize_ran["ZCARD"] == 1
    assert initialize_ran["SET"] == 1
    assert initialized_ran["GET"] == 1
    assert initialized_ran["SET"] == 1
    assert delete_ran["PUBLISH"] == 1
    assert delete_ran["DEL"] >= 1
    assert delete_ran["SMEMBERS"] == 1


async def test_the_activation_writes_the_whole_active_record(start: Start, redis_url: str) -> None:
    with trio.fail_after(WAIT):
        target = await start_redis_app(start, redis_url)
        session_id = await initialize(target, "bob")
        app = target.app
        assert isinstance(app, McpASGIApp)
        store = app.store
        pending = await store.get(session_id)
        assert pending is not None
        assert (pending.status, pending.principal, pending.protocol_version) == ("pending", "bob", VERSION)
        assert pending.client_info is not None  # initialize's result is in the one record written
        assert await initialized(target, session_id, "bob") == 202
        active = await store.get(session_id)
        assert active is not None
        assert active.status == "active"
        assert active == attrs.evolve(pending, status="active", last_accessed_at=active.last_accessed_at)
        assert active.last_accessed_at >= pending.last_accessed_at


async def test_initialized_with_another_principal_is_404_and_writes_nothing(
    start: Start, redis_url: str
) -> None:
    with trio.fail_after(WAIT):
        target = await start_redis_app(start, redis_url)
        session_id = await initialize(target, "alice")
        assert await initialized(target, session_id, "mallory") == 404
        assert await initialized(target, session_id, None) == 404
        assert isinstance(target.app, McpASGIApp)
        record = await target.app.store.get(session_id)
        assert record is not None
        assert record.status == "pending"


async def test_a_delete_with_another_principal_is_404_and_deletes_nothing(
    start: Start, redis_url: str
) -> None:
    with trio.fail_after(WAIT):
        target = await start_redis_app(start, redis_url)
        session_id = await initialize(target, "alice")
        assert await initialized(target, session_id, "alice") == 202
        assert await delete(target, session_id, "mallory") == 404
        assert await delete(target, session_id, None) == 404
        assert isinstance(target.app, McpASGIApp)
        assert await target.app.store.has(session_id)
        assert await delete(target, session_id, "alice") == 200
        assert not await target.app.store.has(session_id)
        assert await delete(target, session_id, "alice") == 404


async def test_the_session_cap_refuses_after_initialize_and_stores_nothing(
    start: Start, redis_url: str
) -> None:
    with trio.fail_after(WAIT):
        target = await start_redis_app(start, redis_url, max_sessions=1)
        first = await initialize(target)
        response = await target.request("POST", post_headers(), init_body(VERSION))
        assert response.status == 503, (response.status, response.body)
        assert response.header("mcp-session-id") is None
        assert "maximum of 1 sessions" in json.loads(response.body)["error"]["message"]
        assert isinstance(target.app, McpASGIApp)
        assert await target.app.store.count() == 1
        assert await delete(target, first) == 200
        await initialize(target)  # the place is free again


async def test_a_delete_closes_the_live_copy_here(start: Start, redis_url: str) -> None:
    """The one-trip end closes this instance's copy at once and forgets it (its hub hears its own copy)."""
    with trio.fail_after(WAIT):
        target = await start_redis_app(start, redis_url)
        session_id = await initialize(target)
        assert await initialized(target, session_id) == 202
        assert isinstance(target.app, McpASGIApp)
        sessions: SessionManager = target.app._sessions
        async with sessions.hold(session_id, None) as live:
            assert live is not None
            assert await delete(target, session_id) == 200
            assert live.session.protocol.state is CLOSED
        assert session_id not in sessions.live
        assert session_id not in sessions.take_touched()


async def test_the_one_trip_steps_are_503_while_redis_is_down(
    start: Start, redis_url: str, redis_server: RedisServer
) -> None:
    with trio.fail_after(WAIT):
        target = await start_redis_app(start, redis_url)
        session_id = await initialize(target)
        redis_server.stop()
        try:
            headers = post_headers(session_id, version=VERSION)
            for response in (
                await target.request("POST", headers, note("notifications/initialized")),
                await target.request("DELETE", headers, None),
                await target.request("POST", post_headers(), init_body(VERSION)),
            ):
                assert response.status == 503, (response.status, response.body)
                assert "session store cannot be reached" in json.loads(response.body)["error"]["message"]
        finally:
            redis_server.start()
