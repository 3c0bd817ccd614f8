"""Delivery to held GET streams under load: many streams, bursts, and a client that stops reading.

* One broadcast reaches each of 2,000 GET streams exactly once, with a keep-alive so short (0.5 s, against
  15 s by default) that the writers are busy sending comments when it arrives; ~20 readers that never read do
  not disturb the others, and only they may end with ``retry:``. With Redis the streams are split over two
  instances and the broadcast is sent from one of them, so half of it crosses instances through Pub/Sub.
* A burst of 200 messages in one scheduler tick reaches a reading client in full and in order, and 200
  broadcasts in a row leave its stream open: a burst is not a lagging client.
* A client that stops reading is dropped once its buffer stayed full past ``slow_stream_timeout``; it then
  gets what was queued and ``retry:``, a healthy reader on another session gets everything, and the app
  keeps serving.

The keep-alive is not shorter because with 2,000 streams in one process every 50 ms would be 40,000 sends a
second, more than one trio thread writes (~65 µs each in hypercorn + trio, profiled): the test would measure
an overloaded machine. That a keep-alive deadline never cuts a send is pinned exactly by
tests/transport/test_sse_stream.py. ``MCP_TEST_STREAMS=N`` changes the count.

Everything waits on what the clients saw (bounded polls under generous deadlines), never on fixed sleeps.
"""

from __future__ import annotations

import collections
import json
import os
import secrets
from collections.abc import Callable, Sequence
from typing import Any, cast

import attrs
import pytest
import trio
from _rawhttp import (
    RawConnection,
    Target,
    init_body,
    note,
    post_headers,
    start_app,
    tools_list_ok,
)

from examples.everything import server
from trio_mcp._streams.redis import RedisStreamManager
from trio_mcp._transport.http import McpASGIApp
from trio_mcp.streams import Notify

VERSION = "2025-11-25"
TOOLS_CHANGED = "notifications/tools/list_changed"
RESOURCES_CHANGED = "notifications/resources/list_changed"
PROMPTS_CHANGED = "notifications/prompts/list_changed"
LOG = "notifications/message"

DEFAULT_STREAMS = 2000
N_STREAMS = int(os.environ.get("MCP_TEST_STREAMS", DEFAULT_STREAMS))
N_STALLED = 20
SETUP_CONCURRENCY = 32  # keep-alive connections creating sessions at the same time
GET_CONCURRENCY = 64  # GETs being opened at the same time (hypercorn's listen backlog is 100)
TEST_TIMEOUT = 60.0 + N_STREAMS * 0.1
WAIT = 30.0


# -- helpers --


def get_headers(session_id: str) -> list[tuple[str | bytes, str | bytes]]:
    return [
        ("accept", "text/event-stream"),
        ("mcp-session-id", session_id),
        ("mcp-protocol-version", VERSION),
    ]


def notify(method: str) -> Notify:
    """The control event `server.send_*_list_changed()` broadcasts through the stream manager."""
    return Notify(method=method)


def log_note(data: Any) -> bytes:
    """An encoded `notifications/message` carrying `data`: distinct payloads, so none is coalesced."""
    return json.dumps({"jsonrpc": "2.0", "method": LOG, "params": {"level": "info", "data": data}}).encode()


async def eventually(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    with trio.move_on_after(timeout):
        while not condition():
            await trio.sleep(0.02)
        return
    raise AssertionError(f"{what} within {timeout:g} s")


async def create_sessions(target: Target, count: int, *, concurrency: int = SETUP_CONCURRENCY) -> list[str]:
    """`count` initialized sessions, made over a few keep-alive connections (initialize + initialized)."""
    ids: list[str] = []
    remaining = iter(range(count))

    async def worker() -> None:
        async with await target.connect() as conn:
            for _ in remaining:
                response = await conn.request("POST", target.path, post_headers(), init_body(VERSION))
                assert response.status == 200, (response.status, response.body)
                session_id = response.header("mcp-session-id")
                assert session_id
                ack = await conn.request(
                    "POST",
                    target.path,
                    post_headers(session_id, version=VERSION),
                    note("notifications/initialized"),
                )
                assert ack.status == 202, (ack.status, ack.body)
                ids.append(session_id)

    async with trio.open_nursery() as nursery:
        for _ in range(min(concurrency, count)):
            nursery.start_soon(worker)
    assert len(ids) == count
    return ids


@attrs.define(eq=False)
class Reader:
    """One client's GET stream and what it saw on it: the JSON-RPC messages in order, `retry:`, the end."""

    conn: RawConnection
    messages: list[dict[str, Any]] = attrs.field(factory=list[dict[str, Any]])
    counts: collections.Counter[str] = attrs.field(factory=collections.Counter[str])
    retry: bool = False
    ended: bool = False
    _pending: bytes = b""

    async def read(self) -> None:
        """Read the stream until it ends (or the test cancels); keep-alive comments are skipped."""
        while (chunk := await self.conn.next_chunk()) is not None:
            self.feed(chunk)
        self.ended = True

    def feed(self, chunk: bytes) -> None:
        # The server frames with LF only (trio_mcp._proto.sse): an event ends at a blank line.
        *frames, self._pending = (self._pending + chunk).split(b"\n\n")
        for frame in frames:
            data = [line[5:].strip() for line in frame.split(b"\n") if line.startswith(b"data:")]
            if any(line.startswith(b"retry:") for line in frame.split(b"\n")):
                self.retry = True
            if data and data[0]:
                message = json.loads(b"\n".join(data))
                self.messages.append(message)
                self.counts[message["method"]] += 1

    @property
    def methods(self) -> list[str]:
        return [message["method"] for message in self.messages]

    def log_data(self) -> list[Any]:
        return [message["params"]["data"] for message in self.messages if message["method"] == LOG]


async def open_stream(target: Target, session_id: str) -> RawConnection:
    """A GET stream whose response head (200, text/event-stream) has been read; its body is left unread."""
    conn = await target.connect()
    try:
        await conn.send("GET", target.path, get_headers(session_id), None)
        head = await conn.read_head()
        assert head.status == 200, head
        assert head.content_type == "text/event-stream", head.headers
    except BaseException:
        await close_all([conn])
        raise
    return conn


async def open_streams(
    targets: Sequence[Target], session_ids: Sequence[str], *, concurrency: int = GET_CONCURRENCY
) -> list[RawConnection]:
    """One GET per session, session i on targets[i % len(targets)], at most `concurrency` opening at once."""
    conns: list[RawConnection | None] = [None] * len(session_ids)
    limiter = trio.CapacityLimiter(concurrency)

    async def one(index: int) -> None:
        async with limiter:
            conns[index] = await open_stream(targets[index % len(targets)], session_ids[index])

    try:
        async with trio.open_nursery() as nursery:
            for index in range(len(session_ids)):
                nursery.start_soon(one, index)
    except BaseException:
        await close_all([conn for conn in conns if conn is not None])
        raise
    return [conn for conn in conns if conn is not None]


async def close_all(conns: Sequence[RawConnection]) -> None:
    with trio.CancelScope(shield=True):  # also when the test is failing or cancelled
        for conn in conns:
            await conn.aclose()


@attrs.define
class Deployment:
    """The apps under test: A sends; streams are held on `holders` (B first; the memory backends: one app)."""

    a: McpASGIApp
    target_a: Target
    holders: list[McpASGIApp]
    targets: list[Target]


async def deploy(kind: str, nursery: trio.Nursery, redis_url: str | None, **config: Any) -> Deployment:
    """The memory backends on one app, or two apps sharing one Redis (same prefix, unique to the test)."""
    if kind == "memory":
        app = server.asgi_app(**config)
        target = await start_app(nursery, app)
        return Deployment(a=app, target_a=target, holders=[app], targets=[target])
    assert redis_url is not None
    shared = {"store": "redis", "redis_url": redis_url, "redis_prefix": f"t{secrets.token_hex(4)}:", **config}
    a, b = server.asgi_app(**shared), server.asgi_app(**shared)
    target_a, target_b = await start_app(nursery, a), await start_app(nursery, b)
    return Deployment(a=a, target_a=target_a, holders=[b, a], targets=[target_b, target_a])


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """("memory", None) or ("redis", url of the test Redis)."""
    if request.param == "redis":
        return "redis", request.getfixturevalue("redis_url")
    return "memory", None


# -- one broadcast, thousands of streams --


async def test_one_broadcast_reaches_each_of_2000_get_streams_exactly_once(
    backend: tuple[str, str | None],
) -> None:
    """A broadcast to a thousand busy streams (keep-alive every 50 ms) reaches each exactly once, with no
    `retry:` on any healthy stream, while ~20 readers that never read hold streams too."""
    kind, redis_url = backend
    conns: list[RawConnection] = []
    try:
        with trio.fail_after(TEST_TIMEOUT):
            async with trio.open_nursery() as nursery:
                apps = await deploy(kind, nursery, redis_url, keepalive_interval=0.5)
                session_ids = await create_sessions(apps.target_a, N_STREAMS + N_STALLED)
                healthy_ids, stalled_ids = session_ids[:N_STREAMS], session_ids[N_STREAMS:]
                conns += await open_streams(apps.targets, stalled_ids)  # read the head, then never
                healthy = await open_streams(apps.targets, healthy_ids)
                conns += healthy
                readers = [Reader(conn) for conn in healthy]
                for reader in readers:
                    nursery.start_soon(reader.read)

                # Each stream subscribed before its 200 went out: the broadcast cannot miss one. With Redis,
                # the streams on B hear A's broadcast only through the control channel.
                await apps.a.streams.broadcast(notify(TOOLS_CHANGED))
                await eventually(
                    lambda: all(r.counts[TOOLS_CHANGED] for r in readers) or any(r.ended for r in readers),
                    f"every one of {N_STREAMS} streams received {TOOLS_CHANGED}",
                )
                # A second broadcast as a barrier: each stream is in order, so once every reader saw it,
                # a duplicate of the first would have arrived already.
                await apps.a.streams.broadcast(notify(PROMPTS_CHANGED))
                await eventually(
                    lambda: all(r.counts[PROMPTS_CHANGED] for r in readers) or any(r.ended for r in readers),
                    f"every one of {N_STREAMS} streams received the barrier",
                )
                bad = [
                    r for r in readers if r.methods != [TOOLS_CHANGED, PROMPTS_CHANGED] or r.retry or r.ended
                ]
                assert not bad, (len(bad), [(r.methods, r.retry, r.ended) for r in bad[:5]])
                for app in apps.holders:
                    assert app._started
                for target in apps.targets:
                    await tools_list_ok(target)
                    await tools_list_ok(target, healthy_ids[0], version=VERSION)
                nursery.cancel_scope.cancel()
    finally:
        await close_all(conns)


# -- bursts --


async def test_a_burst_of_200_broadcasts_in_one_tick_reaches_a_reading_client_in_full() -> None:
    """A burst bigger than the stream's buffer (64) in one scheduler tick is queued, not dropped: the client
    gets all 200 in order. 200 list_changed broadcasts (in one tick, or awaited one after the other) may be
    coalesced but leave the stream open."""
    app = server.asgi_app()  # the memory stream manager, stream_buffer=64
    conn: RawConnection | None = None
    try:
        with trio.fail_after(WAIT):
            async with trio.open_nursery() as nursery:
                target = await start_app(nursery, app)
                (session_id,) = await create_sessions(target, 1)
                conn = await open_stream(target, session_id)
                reader = Reader(conn)
                nursery.start_soon(reader.read)

                # 200 distinct messages with no checkpoint in between: the writer cannot run meanwhile.
                for n in range(200):
                    assert app.streams.deliver_local(session_id, log_note(n)), f"dropped at message {n}"
                await eventually(lambda: len(reader.messages) >= 200 or reader.ended, "200 messages arrived")
                assert reader.log_data() == list(range(200))

                # 200 control events in one tick, as a pump handling a backlog would pass them on.
                cycle = [TOOLS_CHANGED, RESOURCES_CHANGED, PROMPTS_CHANGED]
                for n in range(200):
                    app.control.on_broadcast(notify(cycle[n % 3]))
                assert app.streams.deliver_local(session_id, log_note("after the tick")), (
                    "the stream was dropped"
                )
                await eventually(
                    lambda: "after the tick" in reader.log_data() or reader.ended, "the marker arrived"
                )
                assert all(reader.counts[method] >= 1 for method in cycle), reader.counts

                # 200 awaited broadcasts in a row (each checkpoints: the writer runs in between).
                before = reader.counts[TOOLS_CHANGED]
                for _ in range(200):
                    await server.send_tools_list_changed()
                assert app.streams.deliver_local(session_id, log_note("after the loop")), (
                    "the stream was dropped"
                )
                await eventually(
                    lambda: "after the loop" in reader.log_data() or reader.ended, "the marker arrived"
                )
                assert 1 <= reader.counts[TOOLS_CHANGED] - before <= 200, reader.counts
                assert not reader.retry
                assert not reader.ended
                await tools_list_ok(target, session_id, version=VERSION)
                nursery.cancel_scope.cancel()
    finally:
        if conn is not None:
            await close_all([conn])


# -- a client that stops reading --


BIG = 64 * 1024


async def test_a_stalled_stream_is_dropped_while_a_healthy_one_gets_everything(
    backend: tuple[str, str | None],
) -> None:
    """A reader that stops reading fills its socket, then its buffer (4 messages); after 0.5 s full it is
    dropped (`deliver_local` answers False), and when it reads again it gets what was queued and `retry:`.
    A healthy reader on another session gets every message, and the app keeps serving. With Redis the
    messages are published on A and reach the streams held on B through Pub/Sub."""
    kind, redis_url = backend
    conns: list[RawConnection] = []
    try:
        with trio.fail_after(WAIT * 2):
            async with trio.open_nursery() as nursery:
                apps = await deploy(kind, nursery, redis_url, slow_stream_timeout=0.5, stream_buffer=4)
                holder, target = apps.holders[0], apps.targets[0]
                stalled_id, healthy_id = await create_sessions(apps.target_a, 2)
                conns.append(
                    stalled_conn := await open_stream(target, stalled_id)
                )  # read the head, then never
                conns.append(healthy_conn := await open_stream(target, healthy_id))
                healthy = Reader(healthy_conn)
                nursery.start_soon(healthy.read)

                def dropped() -> bool:
                    if kind == "redis":
                        return cast(RedisStreamManager, holder.streams).statistics().dropped_streams > 0
                    return not holder.streams.deliver_local(stalled_id, log_note("probe"))

                async def send(session_id: str, payload: bytes) -> None:
                    if kind == "redis":
                        await apps.a.streams.publish(session_id, payload)  # A holds neither: through Redis
                    else:
                        assert holder.streams.deliver_local(session_id, payload) or session_id == stalled_id

                sent = 0
                # Bounded: loopback socket buffers take a few MB, so the stalled stream fills within ~100.
                while not dropped():
                    assert sent < 2000, "the stalled stream was never dropped"
                    payload = log_note({"n": sent, "pad": "x" * BIG})
                    await send(stalled_id, payload)
                    await send(healthy_id, payload)
                    sent += 1
                    await trio.sleep(0.01)  # pacing: the healthy reader keeps up with 64 KiB every 10 ms
                assert not holder.streams.deliver_local(stalled_id, b"{}"), "the dropped stream is still held"

                await eventually(lambda: len(healthy.messages) >= sent or healthy.ended, f"{sent} messages")
                assert [data["n"] for data in healthy.log_data()] == list(range(sent))
                assert not healthy.retry
                assert not healthy.ended
                assert holder._started
                await tools_list_ok(target)
                await tools_list_ok(target, healthy_id, version=VERSION)

                # The dropped client reads again: what was queued (in order, a prefix of what was sent), then
                # `retry:` and the end of the stream, so it reconnects.
                stalled = Reader(stalled_conn)
                with trio.fail_after(WAIT):
                    await stalled.read()
                numbers: list[int] = [data["n"] for data in stalled.log_data() if isinstance(data, dict)]
                assert numbers == list(range(len(numbers))), numbers[:10]
                assert 0 < len(numbers) <= sent
                assert stalled.retry

                # ... and it can: a new GET for the same session is served and hears broadcasts.
                conns.append(again := await open_stream(target, stalled_id))
                back = Reader(again)
                nursery.start_soon(back.read)
                await apps.a.streams.broadcast(notify(TOOLS_CHANGED))
                await eventually(
                    lambda: back.counts[TOOLS_CHANGED] >= 1 or back.ended, "the reconnected stream hears"
                )
                assert not back.ended
                nursery.cancel_scope.cancel()
    finally:
        await close_all(conns)
