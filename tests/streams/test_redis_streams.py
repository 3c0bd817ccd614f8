"""RedisStreamManager beyond the kit: Redis restarts, lagging clients, heartbeat and holder keys, Redis down."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from _cluster import eventually
from _redis_server import RedisServer, free_port

from trio_mcp.streams import (
    Notify,
    RecordingEvents,
    RedisStreamManager,
    SessionDeleted,
    StreamUnavailable,
)

pytestmark = pytest.mark.redis

WAIT = 10.0


@asynccontextmanager
async def running(
    url: str, *, heartbeat: float = 1.0, prefix: str = "t:"
) -> AsyncIterator[tuple[RedisStreamManager, RecordingEvents]]:
    """A started manager (as the app's lifespan runs it), stopped and closed on exit."""
    manager = RedisStreamManager.from_url(url, prefix=prefix, heartbeat_interval=heartbeat)
    events = RecordingEvents()
    async with trio.open_nursery() as nursery:
        await nursery.start(manager.run, events)
        try:
            async with manager:  # its exit ends the streams held here, while run() still runs
                yield manager, events
        finally:
            nursery.cancel_scope.cancel()


async def receive(channel: trio.MemoryReceiveChannel[bytes], timeout: float = WAIT) -> bytes:
    with trio.fail_after(timeout):
        return await channel.receive()


# -- a Redis restart --


async def test_streams_survive_a_redis_restart(redis_server: RedisServer, redis_url: str) -> None:
    async with (
        running(redis_url, heartbeat=0.3) as (a, a_events),
        running(redis_url, heartbeat=0.3) as (b, b_events),
        b.subscribe("before", 16) as before,
    ):
        await a.publish("before", b'{"n":0}')
        assert await receive(before) == b'{"n":0}'
        redis_server.stop()
        try:
            with trio.fail_after(WAIT):
                with pytest.raises(StreamUnavailable, match="unavailable"):
                    await a.publish("before", b'{"lost":true}')
                await eventually(lambda: not b.statistics().connected, "B did not notice the outage")
                # A stream taken while Redis is down would hear no other instance: refused (the app answers
                # 503, the client retries), and nothing of it is left behind.
                with pytest.raises(StreamUnavailable, match="Pub/Sub connection is down"):
                    async with b.subscribe("during", 16):
                        pytest.fail("subscribed while Redis is down")
                assert not b.deliver_local("during", b'{"local":1}')
                assert b.statistics().held_streams == 1
                redis_server.start()
                await eventually(
                    lambda: b.statistics().pubsub_connections >= 2 and b.statistics().connected,
                    "B did not reconnect and resubscribe",
                )
                await eventually(lambda: a.statistics().connected, "A did not reconnect")
                async with b.subscribe("during", 16) as during:
                    for n in range(1, 4):
                        await a.publish("before", b'{"n":%d}' % n)
                        await a.publish("during", b'{"m":%d}' % n)
                    for n in range(1, 4):
                        assert await receive(before) == b'{"n":%d}' % n
                        assert await receive(during) == b'{"m":%d}' % n
        finally:
            if not redis_server.running:
                redis_server.start()
        # The control and instance channels were resubscribed too.
        await a.broadcast(Notify(method="notifications/test/after-restart"))
        await eventually(
            lambda: Notify(method="notifications/test/after-restart") in b_events.broadcasts,
            "no broadcast after restart",
        )
        await a.set_route("before", "x-1")
        assert await b.forward_reply("before", "x-1", b'{"id":"x-1"}')
        await eventually(lambda: ("before", b'{"id":"x-1"}') in a_events.replies, "no reply after restart")
        # The restart lost every key; the next heartbeats write them again.
        await eventually(
            lambda: redis_server.command("EXISTS", "t:holder:before") == 1, "holder key not back"
        )
        assert await a.holder("before") == b.instance_id
    assert b.statistics().held_streams == 0


# -- lagging clients --


async def test_a_lagging_stream_is_dropped_and_every_other_stream_gets_every_message(redis_url: str) -> None:
    capacity, count, fast_ids, slow_timeout = 8, 150, ["fast-1", "fast-2", "fast-3"], 0.2
    async with running(redis_url) as (a, _), running(redis_url) as (b, _):
        received: dict[str, list[bytes]] = {sid: [] for sid in fast_ids}
        high_water = 0
        async with b.subscribe("slow", capacity, slow_timeout=slow_timeout) as slow:

            async def read(sid: str) -> None:
                async with b.subscribe(sid, capacity, slow_timeout=slow_timeout) as channel:
                    subscribed.release()
                    while len(received[sid]) < count:
                        received[sid].append(await receive(channel))

            subscribed = trio.Semaphore(0)
            async with trio.open_nursery() as nursery:
                for sid in fast_ids:
                    nursery.start_soon(read, sid)
                for _ in fast_ids:
                    await subscribed.acquire()
                with trio.fail_after(WAIT):  # the publisher is never blocked by the lagging stream
                    for n in range(count):
                        await a.publish("slow", b'{"slow":%d}' % n)
                        for sid in fast_ids:
                            await a.publish(sid, b'{"n":%d}' % n)
                        high_water = max(high_water, slow.statistics().current_buffer_used)
                        if n % 10 == 9:
                            await trio.sleep(slow_timeout / 4)  # the publishing outlasts the slow timeout
            # Bounded: the lagging stream never buffered more than its hard limit; full past the slow timeout,
            # it was dropped, and its reader still gets, in order, everything queued before that.
            assert high_water <= slow.statistics().hard_limit
            assert slow.statistics().dropped
            buffered = []
            with trio.fail_after(WAIT):
                async for payload in slow:
                    buffered.append(payload)
            assert capacity < len(buffered) < count
            assert buffered == [b'{"slow":%d}' % n for n in range(len(buffered))]
        for sid in fast_ids:
            assert received[sid] == [b'{"n":%d}' % n for n in range(count)], sid
        stats = b.statistics()
        assert stats.dropped_streams == 1
        assert stats.delivered == len(fast_ids) * count + len(buffered)


# -- liveness: one heartbeat per instance, holder keys --


async def test_one_heartbeat_per_instance_writes_alive_and_holder_keys(
    redis_server: RedisServer, redis_url: str
) -> None:
    interval = 0.5  # keys live 1 s: a loaded machine may stall a beat a little without them expiring
    async with running(redis_url, heartbeat=interval) as (a, _):
        alive = f"t:alive:{a.instance_id}"
        assert 0 < int(redis_server.command("PTTL", alive)) <= 2 * interval * 1000
        held = [f"s{n}" for n in range(50)]
        release = trio.Event()  # held until the checks are done, however slow the machine
        async with trio.open_nursery() as nursery:
            for sid in held:
                nursery.start_soon(hold_until, a, sid, release)
            await eventually(lambda: a.statistics().held_streams == len(held), "streams not held")
            beats = a.statistics().heartbeats
            started = time.monotonic()
            await trio.sleep(2.5 * interval)
            elapsed = time.monotonic() - started
            # ONE heartbeat per interval for the instance, not one per held stream.
            assert a.statistics().heartbeats - beats <= elapsed / interval + 1
            for sid in held:
                assert redis_server.command("GET", f"t:holder:{sid}") == a.instance_id.encode()
                ttl = int(redis_server.command("PTTL", f"t:holder:{sid}"))
                assert 0 < ttl <= 2 * interval * 1000
            release.set()
        # Released with the streams; another instance's holder key is left alone.
        assert redis_server.command("EXISTS", *[f"t:holder:{sid}" for sid in held]) == 0
        async with a.subscribe("taken", 4):
            redis_server.command("SET", "t:holder:taken", "other-instance")
        assert redis_server.command("GET", "t:holder:taken") == b"other-instance"
    assert redis_server.command("EXISTS", alive) == 0  # a clean shutdown deletes it at once


async def hold_until(manager: RedisStreamManager, session_id: str, release: trio.Event) -> None:
    async with manager.subscribe(session_id, 4):
        await release.wait()


async def test_holder_is_none_when_the_holding_instance_died(
    redis_server: RedisServer, redis_url: str
) -> None:
    async with running(redis_url, heartbeat=0.3) as (a, _), running(redis_url, heartbeat=0.3) as (b, _):
        async with b.subscribe("s", 4):
            assert await a.holder("s") == b.instance_id
            # B's alive key expiring (a crashed instance stops beating) is what holder() looks at.
            redis_server.command("DEL", f"t:alive:{b.instance_id}")
            assert await a.holder("s") is None
            await eventually(
                lambda: redis_server.command("EXISTS", f"t:alive:{b.instance_id}") == 1, "no beat"
            )
            assert await a.holder("s") == b.instance_id
        # A holder key naming an instance that never beat.
        redis_server.command("SET", "t:holder:ghost", "dead-instance", "PX", 10000)
        assert await a.holder("ghost") is None
        assert await a.holder("never") is None


async def test_a_crashed_instance_stops_holding_after_two_heartbeats(redis_url: str) -> None:
    interval = 0.2
    async with running(redis_url, heartbeat=interval) as (a, _):
        b = RedisStreamManager.from_url(redis_url, prefix="t:", heartbeat_interval=interval)
        async with trio.open_nursery() as nursery:
            await nursery.start(b.run, RecordingEvents())
            async with b.subscribe("s", 4):
                assert await a.holder("s") == b.instance_id

                # "Crash": B stops beating (its process would be gone) but says no goodbye.
                async def no_beat() -> None:
                    return

                b.beat = no_beat  # type: ignore[method-assign]
                started = trio.current_time()
                while await a.holder("s") is not None:
                    assert trio.current_time() - started < 3 * interval + 1, "holder outlived 2 missed beats"
                    await trio.sleep(0.02)
            nursery.cancel_scope.cancel()


# -- replies --


async def test_forward_reply_to_a_stopped_instance_is_false(redis_url: str) -> None:
    async with running(redis_url) as (b, _):
        async with running(redis_url) as (a, _):
            await a.set_route("s", "a-1")
        # The route is still there, but nobody listens on A's channel any more.
        assert not await b.forward_reply("s", "a-1", b'{"id":"a-1"}')


async def test_route_keys_expire_after_five_minutes(redis_server: RedisServer, redis_url: str) -> None:
    async with running(redis_url) as (a, _):
        await a.set_route("s", "a-1")
        ttl = int(redis_server.command("PTTL", "t:route:s:a-1"))
        assert 299_000 < ttl <= 300_000
        assert redis_server.command("GET", "t:route:s:a-1") == a.instance_id.encode()


async def test_a_failing_event_callback_does_not_stop_the_pump(redis_url: str) -> None:
    class Broken(RecordingEvents):
        def on_broadcast(self, event: dict[str, object]) -> None:
            raise RuntimeError("app bug")

    async with running(redis_url) as (a, _):
        b = RedisStreamManager.from_url(redis_url, prefix="t:")
        async with trio.open_nursery() as nursery:
            await nursery.start(b.run, Broken())
            async with b.subscribe("s", 4) as channel:
                await a.broadcast(Notify(method="boom"))
                await a.publish("s", b"{}")
                assert await receive(channel) == b"{}"
            nursery.cancel_scope.cancel()


# -- Redis down --


async def test_runs_while_redis_is_down_and_fails_fast() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    manager = RedisStreamManager.from_url(url, prefix="t:", timeout=0.5)
    async with trio.open_nursery() as nursery:
        with trio.fail_after(5):
            await nursery.start(manager.run, RecordingEvents())
        assert not manager.statistics().connected
        # A stream that could hear no other instance is refused at once (the app answers 503).
        with trio.fail_after(3), pytest.raises(StreamUnavailable, match="Pub/Sub connection is down"):
            async with manager.subscribe("s", 4):
                pytest.fail("subscribed while Redis is down")
        assert manager.statistics().held_streams == 0
        with trio.fail_after(3), pytest.raises(StreamUnavailable, match=r"unavailable \(publish\)"):
            await manager.publish("elsewhere", b"{}")
        with trio.fail_after(3), pytest.raises(StreamUnavailable):
            await manager.holder("elsewhere")
        nursery.cancel_scope.cancel()


async def test_commands_need_the_manager_running(redis_url: str) -> None:
    manager = RedisStreamManager.from_url(redis_url)
    with pytest.raises(RuntimeError, match="not running"):
        await manager.publish("s", b"{}")
    async with manager.subscribe("s", 4) as channel:  # local only until run() starts
        assert manager.deliver_local("s", b"{}")
        assert await receive(channel) == b"{}"


# -- construction --


def test_a_redis_stream_manager_refuses_a_bad_heartbeat(redis_url: str) -> None:
    """(Selection from the configuration, with its errors, is tested in tests/transport/test_backends.py.)"""
    with pytest.raises(ValueError, match="heartbeat_interval"):
        RedisStreamManager.from_url(redis_url, heartbeat_interval=0)


# -- the wire form of older versions --


async def test_a_delete_in_the_wire_form_of_older_instances_is_read_as_session_deleted(
    redis_url: str,
) -> None:
    """During a rolling deploy an older instance announces a DELETE as {"type": "deleted"}: still heard."""
    async with running(redis_url, prefix=f"old-{secrets.token_hex(3)}:") as (manager, events):
        old = json.dumps({"type": "deleted", "session": "s-old", "origin": "an-older-instance"})
        await manager._conn.run("publish", lambda r: r.publish(manager.layout.control, old))
        await eventually(lambda: SessionDeleted(session="s-old") in events.broadcasts, "the old delete heard")
