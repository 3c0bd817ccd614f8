"""A failure in any background task neither stops the app nor cuts it off from the other instances.

Each test injects a failure (monkeypatched, failing once, then behaving) into one kind of background work:

* the resource update fan-out (a one-shot task in the app nursery, `guarded`);
* a control event handled by `on_broadcast` (`guarded_call`, inside the pump or the publisher's task);
* the session heartbeat and the Redis heartbeat (long-lived, `supervised`: restarted with backoff);
* the Redis Pub/Sub pump (`_dispatch` of one message).

Afterwards the app still answers tools/list (in a session and statelessly) on every instance, is still started,
and still delivers cross-instance notifications: a GET stream held on B receives a broadcast sent from A.
The failure was logged with its traceback, and a supervised task ran again. With the memory backends there is
one app, which is both A and B.

Also the regression test for the original report: an exception in the resource update fan-out used to cancel the app
nursery, ending the lifespan, and every later request answered 503 "the MCP app has not started".
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterator
from typing import Any, cast

import attrs
import pytest
import trio
from _cluster import (
    RESOURCE_UPDATED,
    RESOURCES_CHANGED,
    TOOLS_CHANGED,
    VERSION,
    WAIT,
    Cluster,
    eventually,
    next_message,
    open_get,
    redis_cluster,
    subscribe,
)
from _rawhttp import (
    JSON,
    RawConnection,
    initialize,
    post_headers,
    rpc,
    start_app,
    tools_list_ok,
)

from examples.everything import WATCHED_RESOURCE_URI, server
from trio_mcp._streams.redis import RedisStreamManager
from trio_mcp._transport.http import McpASGIApp
from trio_mcp.streams import Notify, SessionChanged


class InjectedFailure(RuntimeError):
    """The failure a test injects (a RuntimeError: a bug, not StoreUnavailable or StreamUnavailable)."""


# -- the apps --


@pytest.fixture
async def redis(nursery: trio.Nursery, redis_url: str) -> Cluster:
    return await redis_cluster(nursery, redis_url)


def redis_streams(app: McpASGIApp) -> RedisStreamManager:
    assert isinstance(app.streams, RedisStreamManager)
    return app.streams


# -- injecting a failure --


@attrs.define(eq=False)
class Injected:
    """What an injected failure saw: calls of the patched method on its object, and the failures raised."""

    times: int
    calls: int = 0
    failures: list[InjectedFailure] = attrs.field(factory=list[InjectedFailure])
    failed: trio.Event = attrs.field(factory=trio.Event)

    def should_fail(self, name: str) -> InjectedFailure | None:
        self.calls += 1
        if len(self.failures) >= self.times:
            return None
        failure = InjectedFailure(f"injected failure {len(self.failures) + 1} of {name}")
        self.failures.append(failure)
        if len(self.failures) == self.times:
            self.failed.set()
        return failure


def inject_failure(monkeypatch: pytest.MonkeyPatch, obj: object, name: str, *, times: int = 1) -> Injected:
    """`obj.<name>(...)` raises InjectedFailure on its next `times` calls, then behaves as before.

    Patched on the class (attrs classes have slots), acting only for `obj`: the other instance's objects of
    the same class are untouched.
    """
    cls = type(obj)
    original = getattr(cls, name)
    injected = Injected(times)

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def async_wrapper(self: object, *args: Any, **kwargs: Any) -> Any:
            if self is obj and (failure := injected.should_fail(name)) is not None:
                raise failure
            return await original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, async_wrapper)
    else:

        @functools.wraps(original)
        def wrapper(self: object, *args: Any, **kwargs: Any) -> Any:
            if self is obj and (failure := injected.should_fail(name)) is not None:
                raise failure
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, wrapper)
    return injected


def _leaves(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc`, the exceptions inside it (groups) and its causes/contexts."""
    seen: set[int] = set()
    stack = [exc] if exc is not None else []
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(cast("BaseExceptionGroup[BaseException]", current).exceptions)
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def assert_logged_with_traceback(caplog: pytest.LogCaptureFixture, injected: Injected, *phrases: str) -> None:
    """Every injected failure appears in a log record that carries its traceback (exc_info)."""
    for failure in injected.failures:
        records = [
            r
            for r in caplog.records
            if r.exc_info is not None and any(e is failure for e in _leaves(r.exc_info[1]))
        ]
        summary = [
            (r.levelname, r.getMessage(), r.exc_info is not None)
            for r in caplog.records
            if r.levelno >= logging.WARNING
        ]
        assert records, f"{failure!r} was not logged with a traceback; warnings and errors logged: {summary}"
        message = records[0].getMessage()
        for phrase in phrases:
            assert phrase in message, (phrase, message)


# -- what a healthy deployment does --


async def assert_healthy(cluster: Cluster, stream: RawConnection, session_id: str) -> None:
    """Every instance is started and answers; a broadcast sent from A reaches the GET stream held on B."""
    for app in cluster.apps:
        assert app._started
    for target in cluster.targets:
        await tools_list_ok(target, session_id, version=VERSION)
        await tools_list_ok(target)
    await cluster.a.streams.broadcast(Notify(method=TOOLS_CHANGED))
    await next_message(stream, TOOLS_CHANGED)


async def session_with_stream(cluster: Cluster) -> tuple[str, RawConnection]:
    """A session initialized on A whose GET stream is held on B (and is delivered to: checked once)."""
    session_id = await initialize(cluster.target_a)
    stream = await open_get(cluster.target_b, session_id)
    await cluster.a.streams.broadcast(Notify(method=RESOURCES_CHANGED))
    await next_message(stream, RESOURCES_CHANGED)
    return session_id, stream


# -- (i) the resource update fan-out --


async def test_a_failing_resource_update_fan_out_is_logged_and_updates_still_arrive(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The store read of the HTTP hub's resource update (`get_many`) raises a RuntimeError: the fan-out task fails alone (logged
    with its traceback), and a later update of the same resource reaches the subscribed stream."""
    with trio.fail_after(WAIT * 2):
        session_id = await initialize(cluster.target_a)
        await subscribe(cluster.target_a, session_id, WATCHED_RESOURCE_URI)
        stream = await open_get(cluster.target_b, session_id)
        async with stream:
            injected = inject_failure(monkeypatch, cluster.b.store, "get_many")
            # What server.notify_resource_updated() does through A's hub: B hears it on the control channel.
            await cluster.a.hub.resource_updated(WATCHED_RESOURCE_URI)
            with trio.fail_after(WAIT):
                await injected.failed.wait()

            await assert_healthy(cluster, stream, session_id)
            await cluster.a.hub.resource_updated(WATCHED_RESOURCE_URI)
            update = await next_message(stream, RESOURCE_UPDATED)
            assert update["params"]["uri"] == WATCHED_RESOURCE_URI
            assert_logged_with_traceback(caplog, injected, "resource update fan-out")


async def test_an_exception_in_resource_updated_no_longer_takes_the_app_down(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: the resource update fan-out runs in the app nursery, and its exception used to end the lifespan;
    every later request then answered 503 "the MCP app has not started". Now: logged, and the app serves."""
    with trio.fail_after(WAIT * 2):
        session_id, stream = await session_with_stream(cluster)
        async with stream:
            injected = inject_failure(monkeypatch, cluster.b.control.hubs[0], "resource_updated")
            await cluster.a.hub.resource_updated(WATCHED_RESOURCE_URI)
            with trio.fail_after(WAIT):
                await injected.failed.wait()
            await trio.lowlevel.checkpoint()  # let a cancelled nursery (the old bug) wind down first

            for target in cluster.targets:
                response = await target.request("POST", post_headers(accept=JSON), rpc("tools/list"))
                assert response.status != 503, response.body
                assert response.status == 200, (response.status, response.body)
                assert await initialize(target)  # a new session, on every instance
            await assert_healthy(cluster, stream, session_id)
            assert_logged_with_traceback(caplog, injected, "resource update fan-out")


# -- (ii) control events --


async def test_a_failing_session_changed_event_is_logged_and_delivery_goes_on(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`sessions.forget` raises while B handles a `session_changed` event: logged with its traceback, the
    broadcaster does not fail, and B's pump goes on delivering."""
    with trio.fail_after(WAIT * 2):
        session_id, stream = await session_with_stream(cluster)
        async with stream:
            injected = inject_failure(monkeypatch, cluster.b._sessions, "forget")
            await cluster.a.streams.broadcast(SessionChanged(session=session_id))
            with trio.fail_after(WAIT):
                await injected.failed.wait()

            await assert_healthy(cluster, stream, session_id)
            assert_logged_with_traceback(caplog, injected, "session_changed")


async def test_a_failing_delivery_of_a_broadcast_is_logged_and_later_broadcasts_arrive(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`streams.deliver_local` raises while B hands a broadcast to its streams: logged with its traceback,
    the broadcaster does not fail, and the next broadcast arrives."""
    with trio.fail_after(WAIT * 2):
        session_id, stream = await session_with_stream(cluster)
        async with stream:
            injected = inject_failure(monkeypatch, cluster.b.streams, "deliver_local")
            await cluster.a.streams.broadcast(Notify(method=TOOLS_CHANGED))
            with trio.fail_after(WAIT):
                await injected.failed.wait()

            await assert_healthy(cluster, stream, session_id)
            assert_logged_with_traceback(caplog, injected, "notify")


async def test_a_broadcast_still_reaches_the_other_streams_when_one_session_cannot_take_it() -> None:
    """One session's failure inside a broadcast must not cost the other sessions their copy.

    Session X's live copy was just closed (a DELETE, here or on another instance) and its stream task has not
    wound down yet, so `send_notification` refuses X (state CLOSED); a broadcast handled in that window must
    still reach session Y.
    """
    app = server.asgi_app()
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            target = await start_app(nursery, app)
            x, y = await initialize(target), await initialize(target)
            stream_x = await open_get(target, x)  # X's live copy comes first in iteration order
            stream_y = await open_get(target, y)
            async with stream_x, stream_y:
                app._sessions.close_live(x, ended=True)
                app.control.on_broadcast(Notify(method=TOOLS_CHANGED))  # the same scheduler tick
                await next_message(stream_y, TOOLS_CHANGED, timeout=5)
            nursery.cancel_scope.cancel()


# -- (iii) heartbeats --


async def test_a_failing_session_heartbeat_is_logged_and_restarted(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`sessions.flush_touches` raises a RuntimeError (not StoreUnavailable) in B's session heartbeat: the
    supervisor logs it with its traceback and restarts the heartbeat, which flushes again."""
    with trio.fail_after(WAIT * 2):
        session_id, stream = await session_with_stream(cluster)
        async with stream:
            injected = inject_failure(monkeypatch, cluster.b._sessions, "flush_touches")
            with trio.fail_after(WAIT):
                await injected.failed.wait()
            failed_at = injected.calls
            await eventually(lambda: injected.calls > failed_at, "the restarted heartbeat flushed again")

            await assert_healthy(cluster, stream, session_id)
            assert_logged_with_traceback(caplog, injected, "session heartbeat", "restarting")


@pytest.mark.redis
async def test_a_failing_redis_heartbeat_is_logged_and_restarted(
    redis: Cluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`RedisStreamManager.beat` raises a RuntimeError on B: the supervisor logs it with its traceback and
    restarts the Redis heartbeat, whose beats go on (statistics().heartbeats grows)."""
    with trio.fail_after(WAIT * 2):
        session_id, stream = await session_with_stream(redis)
        async with stream:
            manager = redis_streams(redis.b)
            injected = inject_failure(monkeypatch, manager, "beat")
            with trio.fail_after(WAIT):
                await injected.failed.wait()
            beats = manager.statistics().heartbeats
            await eventually(lambda: manager.statistics().heartbeats > beats, "the restarted heartbeat beat")

            await assert_healthy(redis, stream, session_id)
            assert_logged_with_traceback(caplog, injected, "redis heartbeat", "restarting")


# -- (iv) the Pub/Sub pump --


@pytest.mark.redis
async def test_a_failing_pubsub_dispatch_is_logged_and_the_pump_goes_on(
    redis: Cluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`RedisStreamManager._dispatch` raises a RuntimeError on one message in B's pump: the failure is
    logged with its traceback and the pump goes on with the same connection (a bug handling one message is
    no Redis outage: reconnecting would lose what is published meanwhile); later cross-instance messages
    reach B's stream."""
    with trio.fail_after(WAIT * 2):
        session_id, stream = await session_with_stream(redis)
        async with stream:
            manager = redis_streams(redis.b)
            connections = manager.statistics().pubsub_connections
            injected = inject_failure(monkeypatch, manager, "_dispatch")
            await redis.a.streams.broadcast(Notify(method=RESOURCES_CHANGED))
            with trio.fail_after(WAIT):
                await injected.failed.wait()
            assert manager.statistics().connected
            assert manager.statistics().pubsub_connections == connections

            await assert_healthy(redis, stream, session_id)
            assert_logged_with_traceback(caplog, injected)
