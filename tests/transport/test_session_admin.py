"""The session admin API (`app.sessions`, trio_mcp/_transport/admin.py) on a served app, memory and Redis:
listing by principal, what a record shows, revoking (streams close on every instance, then 404), cleanup."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from _cluster import Cluster, open_get
from _rawhttp import (
    RawConnection,
    Target,
    assert_error,
    body_message,
    init_body,
    note,
    post_headers,
    rpc,
)
from _ws import open_ws
from trio_websocket import ConnectionClosed, WebSocketConnection

from trio_mcp import SessionAdmin
from trio_mcp._proto.websocket import Close
from trio_mcp._transport.backends import select_events, select_store, select_streams
from trio_mcp._transport.config import load_config
from trio_mcp._transport.http import McpASGIApp

Start = Callable[..., Awaitable[Target]]
VERSION = "2025-11-25"
WAIT = 20.0
SESSION_NOT_FOUND = -32001
Headers = list[tuple[str | bytes, str | bytes]]


def principal_from_header(scope: dict[str, Any]) -> str | None:
    return dict(scope["headers"]).get(b"x-user", b"").decode() or None


def as_user(user: str | None) -> Headers:
    return [] if user is None else [("x-user", user)]


def admin_of(target: Target) -> SessionAdmin:
    assert isinstance(target.app, McpASGIApp)
    return target.app.sessions


async def new_session(
    target: Target, user: str | None, *, initialized: bool = True, client: str = "admin-test"
) -> str:
    body = json.loads(init_body())
    body["params"]["clientInfo"] = {"name": client, "version": "1.2.3"}
    response = await target.request("POST", post_headers(extra=as_user(user)), json.dumps(body).encode())
    assert response.status == 200, (response.status, response.body)
    session_id = response.header("mcp-session-id")
    assert session_id
    if initialized:
        headers = post_headers(session_id, version=VERSION, extra=as_user(user))
        ack = await target.request("POST", headers, note("notifications/initialized"))
        assert ack.status == 202, (ack.status, ack.body)
    await trio.sleep(0.01)  # the next session is created strictly later (newest first is by creation time)
    return session_id


async def tools_list(target: Target, session_id: str, user: str | None = None) -> Any:
    headers = post_headers(session_id, version=VERSION, extra=as_user(user))
    return await target.request("POST", headers, rpc("tools/list"))


async def assert_works(target: Target, session_id: str, user: str | None = None) -> None:
    response = await tools_list(target, session_id, user)
    assert response.status == 200, (response.status, response.body)
    assert "result" in body_message(response)


async def assert_gone(target: Target, session_id: str, user: str | None = None) -> None:
    assert_error(await tools_list(target, session_id, user), 404, SESSION_NOT_FOUND, "Session not found")


async def open_stream(target: Target, session_id: str, user: str | None) -> RawConnection:
    return await open_get(target, session_id, as_user(user))


async def assert_stream_ends(conn: RawConnection) -> None:
    """The GET stream ends (the session is over: no `retry:` asks the client to come back)."""
    with trio.fail_after(WAIT):
        events = await conn.read_events()
    assert all(event.retry is None for event in events), events
    assert conn.ended_cleanly


async def until_held(app: McpASGIApp, session_id: str) -> None:
    """The GET stream is registered on `app` (its subscription is in place before the 200, its live copy too)."""
    with trio.fail_after(WAIT):
        while (live := app._sessions.live.get(session_id)) is None or live.standalone is None:
            await trio.sleep(0.01)


async def close_code(ws: WebSocketConnection) -> int:
    """Read until the server closes the socket: its close code."""
    while True:
        try:
            await ws.get_message()
        except ConnectionClosed as exc:
            reason = exc.reason
            break
    assert reason is not None
    return reason.code


# -- reading --


async def test_list_get_and_count_by_principal(any_start: Start) -> None:
    with trio.fail_after(WAIT):
        target = await any_start(principal=principal_from_header)
        admin = admin_of(target)
        before = time.time()
        older = await new_session(target, "alice", client="older-client")
        pending = await new_session(target, "alice", initialized=False)
        bob = await new_session(target, "bob")
        anonymous = await new_session(target, None)
        after = time.time()

        records = await admin.list("alice")
        assert [r.session_id for r in records] == [pending, older]  # newest first
        assert await admin.list_ids("alice") == [pending, older]
        assert await admin.list_ids("bob") == [bob]
        assert await admin.list("nobody") == []
        assert sorted(await admin.list_all_ids()) == sorted([older, pending, bob, anonymous])
        assert [r.session_id for r in await admin.list_all()] == [anonymous, bob, pending, older]
        assert await admin.count() == 4

        record = await admin.get(older)
        assert record is not None
        assert (record.principal, record.status, record.transport, record.client_id) == (
            "alice",
            "active",
            "http",
            None,
        )
        assert record.client_info is not None
        assert (record.client_info.name, record.client_info.version) == ("older-client", "1.2.3")
        assert record.protocol_version == VERSION
        assert before <= record.created_at <= record.last_accessed_at <= after
        waiting = await admin.get(pending)
        assert waiting is not None
        assert waiting.status == "pending"
        assert before <= waiting.created_at <= after
        nobody = await admin.get(anonymous)
        assert nobody is not None
        assert nobody.principal is None
        assert await admin.get("no-such-session") is None


async def test_a_websocket_session_shows_its_transport_and_a_revoke_closes_it(any_start: Start) -> None:
    with trio.fail_after(WAIT):
        target = await any_start(principal=principal_from_header)
        admin = admin_of(target)
        url = f"ws://{target.host}:{target.port}/mcp"
        async with open_ws(url, headers=[(b"x-user", b"carol")]) as ws:
            params = {
                "protocolVersion": VERSION,
                "capabilities": {},
                "clientInfo": {"name": "ws-client", "version": "2"},
            }
            await ws.send_message(
                json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
            )
            assert "result" in json.loads(await ws.get_message())
            await ws.send_message(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            session_id = dict(ws.handshake_headers)[b"mcp-session-id"].decode()
            with trio.fail_after(WAIT):  # `initialized` is read and saved by the server in its own time
                while (record := await admin.get(session_id)) is None or record.status != "active":
                    await trio.sleep(0.01)
            assert (record.transport, record.principal) == ("websocket", "carol")
            assert record.client_info is not None
            assert record.client_info.name == "ws-client"
            assert await admin.list_ids("carol") == [session_id]

            assert await admin.revoke(session_id)
            assert await close_code(ws) == Close.SESSION_NOT_FOUND  # "unknown session"


# -- ending --


async def test_revoke_closes_the_sessions_stream_on_every_instance_then_404(cluster: Cluster) -> None:
    with trio.fail_after(WAIT):
        session_id = await new_session(cluster.target_a, None)
        conn = await open_get(cluster.target_b, session_id)  # held by instance B
        async with conn:
            await until_held(cluster.b, session_id)
            assert await cluster.a.sessions.revoke(session_id)  # revoked through instance A
            await assert_stream_ends(conn)
        for target in cluster.targets:
            await assert_gone(target, session_id)
        assert await cluster.a.sessions.get(session_id) is None
        assert session_id not in cluster.b._sessions.live
        assert not await cluster.b.sessions.revoke(session_id)  # gone already


async def test_revoke_all_ends_only_that_principals_sessions(any_start: Start) -> None:
    with trio.fail_after(WAIT):
        target = await any_start(principal=principal_from_header)
        admin = admin_of(target)
        alice = [await new_session(target, "alice"), await new_session(target, "alice", initialized=False)]
        bob = await new_session(target, "bob")
        conn = await open_stream(target, alice[0], "alice")
        async with conn:
            await until_held(target.app, alice[0])
            assert await admin.revoke_all("alice") == 2
            await assert_stream_ends(conn)
        await assert_gone(target, alice[0], "alice")
        assert await admin.list_ids("alice") == []
        assert await admin.revoke_all("alice") == 0
        await assert_works(target, bob, "bob")
        assert await admin.list_ids("bob") == [bob]
        assert await admin.count() == 1


async def test_cleanup_expired_removes_the_expired_sessions_now(any_start: Start) -> None:
    with trio.fail_after(WAIT):
        target = await any_start(principal=principal_from_header, pending_timeout=1, heartbeat_interval=0.2)
        admin = admin_of(target)
        await new_session(target, "dave", initialized=False)
        await new_session(target, None, initialized=False)
        active = await new_session(target, "dave")
        await trio.sleep(1.5)  # the two pending sessions expire; nothing has swept them yet
        assert await admin.cleanup_expired() == 2
        assert await admin.cleanup_expired() == 0
        assert await admin.count() == 1
        assert await admin.list_ids("dave") == [active]
        await assert_works(target, active, "dave")


# -- from another process: no SessionManager, only the store and the broadcast (what the CLI does) --


@asynccontextmanager
async def outside_admin(**config: Any) -> AsyncGenerator[SessionAdmin]:
    """A SessionAdmin built as `trio-mcp sessions` builds it: the backends entered, the stream manager run."""

    class NoEvents:
        def on_broadcast(self, event: object) -> None:
            pass

        def on_reply(self, session_id: str, payload: bytes) -> None:
            pass

    parsed = load_config(**config)
    store = select_store(parsed)
    streams = select_streams(parsed, store)
    events = select_events(parsed, streams)
    assert events is not None
    async with store, events, trio.open_nursery() as nursery:
        await nursery.start(streams.run, NoEvents())
        async with streams:
            yield SessionAdmin(store, streams, events, None)
        nursery.cancel_scope.cancel()


@pytest.mark.redis
async def test_a_revoke_from_outside_the_servers_reaches_them(start: Start, redis_url: str) -> None:
    config = {"store": "redis", "redis_url": redis_url, "redis_prefix": f"t-{secrets.token_hex(4)}:"}
    with trio.fail_after(WAIT):
        target = await start(**config)
        session_id = await new_session(target, None)
        other = await new_session(target, None)
        conn = await open_stream(target, session_id, None)
        async with conn, outside_admin(**config) as admin:
            assert isinstance(target.app, McpASGIApp)
            await until_held(target.app, session_id)
            assert sorted(await admin.list_all_ids()) == sorted([session_id, other])
            assert await admin.revoke(session_id)
            await assert_stream_ends(conn)
            assert await admin.count() == 1
        await assert_gone(target, session_id)
        await assert_works(target, other)
