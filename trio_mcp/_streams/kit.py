"""check_stream_manager: ONE conformance kit for every StreamManager backend (memory, Redis, yours).

Usage (pytest-trio)::

    from contextlib import asynccontextmanager
    from trio_mcp.streams import RedisStreamManager, check_stream_manager

    async def test_redis_streams(redis_url):
        @asynccontextmanager
        async def factory():
            yield RedisStreamManager.from_url(redis_url, prefix="kit:", heartbeat_interval=1)

        await check_stream_manager(factory, shares_backend=True)

``factory()`` returns an async context manager yielding a NEW manager that is not running yet. The kit runs
each manager itself (``await nursery.start(manager.run, events)`` with its own recording :class:`StreamEvents`),
enters its lifetime (``async with manager``) around ``run``, stops it (cancels ``run``, then leaves the lifetime,
which ends the streams it holds) and only then leaves the factory's context.

``shares_backend=True`` promises that every manager the factory produces talks to the SAME backend, like
instances of one app behind a load balancer. The kit then opens two at a time and checks what crosses
instances: a stream held on B receives what A publishes, ``holder`` on A names B, broadcasts and deletions
reach every manager (the sender's own events included), a reply forwarded from B reaches the instance waiting
on A, a stopped instance no longer holds anything. Independent managers (``MemoryStreamManager``: each is its
own process-local backend) pass ``shares_backend=False``: the kit then runs the same checks with ONE manager in
both roles (sender = holder), which is all a single-process backend can promise. Nothing is skipped silently:
the docstring of each section says which checks need a shared backend.

Sections: basics (subscribe/publish/deliver_local/holder/is_alive), supersede (a second subscribe ends the first),
order (each subscribe of a session ordered after the earlier ones, across instances),
events (broadcast of every kind, exactly once per manager), routes (set_route/forward_reply True/False,
one reply per route), slow consumer (a full channel ends that stream; the publisher never blocks; other
streams receive every message), cross-instance (shared only) and aclose (held channels end; shared: the
holder is gone for the others).

Every wait is bounded (:data:`WAIT` seconds); the kit never relies on time passing quickly. Run it in a normal
trio test, not under ``autojump_clock`` (the Redis backend waits on sockets).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack

import attrs
import trio

from .._exceptions import leaves
from ._base import DEFAULT_SLOW_STREAM_TIMEOUT, StreamBuffer, StreamManager
from .control import (
    CancelRequest,
    ControlEvent,
    Notify,
    ResourceUpdated,
    SessionChanged,
    SessionDeleted,
    StreamTaken,
)

StreamManagerFactory = Callable[[], AbstractAsyncContextManager[StreamManager]]

WAIT = 5.0  # the longest the kit waits for anything to arrive
SETTLE = 0.2  # how long it waits for duplicates that must NOT arrive

__all__ = ["WAIT", "RecordingEvents", "StreamManagerFactory", "check_stream_manager"]


@attrs.define(eq=False)
class RecordingEvents:
    """A StreamEvents that records every callback (never blocks)."""

    broadcasts: list[ControlEvent] = attrs.field(factory=list[ControlEvent])
    replies: list[tuple[str, bytes]] = attrs.field(factory=list[tuple[str, bytes]])

    def on_broadcast(self, event: ControlEvent) -> None:
        self.broadcasts.append(event)

    def on_reply(self, session_id: str, payload: bytes) -> None:
        self.replies.append((session_id, payload))


@attrs.define(eq=False)
class _Instance:
    manager: StreamManager
    events: RecordingEvents = attrs.field(factory=RecordingEvents)
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    finished: trio.Event = attrs.field(factory=trio.Event)
    lifetime: AsyncExitStack = attrs.field(factory=AsyncExitStack)
    closed: bool = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with self.scope:
                await self.manager.run(self.events, task_status=task_status)
        finally:
            self.finished.set()

    async def stop(self) -> None:
        """Cancel run(), then leave the manager's lifetime (its held streams end)."""
        if self.closed:
            return
        self.closed = True
        with trio.CancelScope(shield=True):
            self.scope.cancel()
            with trio.move_on_after(WAIT):
                await self.finished.wait()
            await self.lifetime.aclose()


class _Section:
    def __init__(self, name: str, instances: Sequence[_Instance], wait: float) -> None:
        self.name = name
        self.instances = instances
        self.wait = wait

    def fail(self, message: str) -> AssertionError:
        kind = type(self.instances[0].manager).__name__
        return AssertionError(f"[{kind} / {self.name}] {message}")

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            raise self.fail(message)

    async def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        with trio.move_on_after(self.wait):
            while not condition():  # noqa: ASYNC110 (bounded polling: callbacks feed these conditions)
                await trio.sleep(0.005)
            return
        raise self.fail(f"{what} within {self.wait:g} s")

    async def receive(self, channel: StreamBuffer, what: str) -> bytes:
        with trio.move_on_after(self.wait):
            try:
                return await channel.receive()
            except trio.EndOfChannel:
                raise self.fail(f"the channel ended while waiting for {what}") from None
        raise self.fail(f"{what} did not arrive within {self.wait:g} s")

    async def expect_end(self, channel: StreamBuffer, what: str, *, at_most: int) -> int:
        """Drain what is buffered (at most `at_most` items) and expect the channel to end."""
        drained = 0
        with trio.move_on_after(self.wait):
            while True:
                try:
                    channel.receive_nowait()
                except trio.WouldBlock:
                    await trio.sleep(0.005)
                    continue
                except trio.EndOfChannel:
                    return drained
                drained += 1
                self.check(drained <= at_most, f"{what}: more than {at_most} messages were buffered")
        raise self.fail(f"{what}: the channel did not end within {self.wait:g} s")

    async def expect_quiet(self, channel: StreamBuffer, what: str) -> None:
        await trio.sleep(SETTLE)
        try:
            got = channel.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            return
        raise self.fail(f"{what}: got unexpected {got!r}")


def _sid(label: str) -> str:
    return f"kit-{label}-{secrets.token_hex(6)}"


def _payload(n: int, tag: str = "m") -> bytes:
    return b'{"jsonrpc":"2.0","method":"notifications/message","params":{"tag":"%s","n":%d}}' % (
        tag.encode(),
        n,
    )


Body = Callable[[_Section], Awaitable[None]]


async def check_stream_manager(
    factory: StreamManagerFactory, *, shares_backend: bool, wait: float = WAIT
) -> None:
    """Run the conformance kit against the managers ``factory`` produces (see the module docstring).

    ``wait`` bounds every wait for something to arrive (a failing check takes that long to report).
    """
    pair = 2 if shares_backend else 1
    await _run("basics", factory, 1, _basics, wait)
    await _run("supersede", factory, 1, _supersede, wait)
    await _run("order", factory, pair, _order, wait)
    await _run("events", factory, pair, _events, wait)
    await _run("routes", factory, pair, _routes, wait)
    await _run("slow consumer", factory, pair, _slow_consumer, wait)
    if shares_backend:
        await _run("cross-instance", factory, 2, _cross_instance, wait)
    await _run("aclose", factory, pair, _aclose, wait)


async def _run(name: str, factory: StreamManagerFactory, count: int, body: Body, wait: float) -> None:
    try:
        async with AsyncExitStack() as stack:
            nursery = await stack.enter_async_context(trio.open_nursery())
            instances: list[_Instance] = []
            for _ in range(count):
                manager = await stack.enter_async_context(factory())
                instance = _Instance(manager)
                await instance.lifetime.enter_async_context(manager)
                await nursery.start(instance.run)
                stack.push_async_callback(instance.stop)
                instances.append(instance)
            await body(_Section(name, instances, wait))
            for instance in reversed(instances):
                await instance.stop()
    except BaseExceptionGroup as group:
        failures = list(leaves(group))
        if len(failures) == 1 and isinstance(failures[0], AssertionError):
            raise failures[0] from None  # the kit's message, not a nursery's wrapping
        raise


def _held(
    s: _Section,
    manager: StreamManager,
    session_id: str,
    capacity: int = 16,
    slow_timeout: float = DEFAULT_SLOW_STREAM_TIMEOUT,
) -> AbstractAsyncContextManager[StreamBuffer]:
    del s  # (kept for symmetry with the other helpers; subscribe() itself is awaited unbounded)
    return manager.subscribe(session_id, capacity, slow_timeout=slow_timeout)


# -- sections --


async def _basics(s: _Section) -> None:
    """One manager: subscribe, publish and deliver_local to a stream held here; holder; release."""
    m = s.instances[0].manager
    s.check(isinstance(m.instance_id, str) and bool(m.instance_id), f"instance_id {m.instance_id!r}")
    sid, other = _sid("basics"), _sid("nobody")
    s.check(await m.holder(sid) is None, "holder() of a session never subscribed is not None")
    s.check(await m.is_alive(m.instance_id), "is_alive() of the running manager itself is False")
    s.check(m.ready(), "ready() of a running manager is False")
    s.check(not await m.is_alive("no-such-instance"), "is_alive() of an unknown instance is True")
    s.check(not m.deliver_local(sid, _payload(0)), "deliver_local() to a stream held nowhere returned True")
    s.check(not await m.publish(other, _payload(0)), "publish() to a stream held nowhere returned True")
    async with _held(s, m, sid) as channel:
        s.check(await m.holder(sid) == m.instance_id, "holder() of a stream held here is not instance_id")
        s.check(m.deliver_local(sid, _payload(1)), "deliver_local() to a stream held here returned False")
        got = await s.receive(channel, "the deliver_local() message")
        s.check(got == _payload(1), f"deliver_local() delivered {got!r}, not {_payload(1)!r}")
        for n in range(2, 7):
            s.check(await m.publish(sid, _payload(n)), "publish() to a stream held here returned False")
        for n in range(2, 7):
            got = await s.receive(channel, f"published message {n}")
            s.check(
                got == _payload(n), f"publish() delivered {got!r} where {_payload(n)!r} was expected (order)"
            )
        s.check(not m.deliver_local(other, _payload(0)), "deliver_local() to an unheld session returned True")
        await s.expect_quiet(channel, "a stream received a message published to another session")
    s.check(
        not m.deliver_local(sid, _payload(9)), "deliver_local() after the subscription ended returned True"
    )
    s.check(await m.holder(sid) is None, "holder() still names an instance after the subscription ended")


async def _supersede(s: _Section) -> None:
    """A second subscribe of the same session on one manager ends the first channel (a new GET wins), and
    its buffer's order is the greater (``StreamBuffer.order``, never 0 for a running manager)."""
    m = s.instances[0].manager
    sid = _sid("supersede")
    async with _held(s, m, sid) as first:
        s.check(first.order > 0, f"a subscribe's buffer has order {first.order!r}, not a positive number")
        async with _held(s, m, sid) as second:
            s.check(
                second.order > first.order,
                f"the second subscribe's order {second.order} is not after the first's {first.order}",
            )
            await s.expect_end(first, "the superseded channel", at_most=0)
            await m.publish(sid, _payload(1))
            got = await s.receive(second, "a message for the new subscription")
            s.check(got == _payload(1), f"the new subscription received {got!r}")
        s.check(await m.holder(sid) is None, "holder() still set after both subscriptions ended")


async def _order(s: _Section) -> None:
    """Each subscribe of a session is ordered after every earlier one, on whichever instance it was taken
    (``StreamBuffer.order``): the app keeps the newer of two GET streams however late their announcements
    arrive. Shared backend: alternately on A and B. Otherwise: the one manager in both roles."""
    sid = _sid("order")
    previous = 0
    for n in range(6):
        manager = s.instances[n % len(s.instances)].manager
        async with _held(s, manager, sid) as buffer:
            s.check(
                buffer.order > previous,
                f"subscribe {n + 1} (on {manager.instance_id}) has order {buffer.order}, not after {previous}",
            )
            previous = buffer.order


async def _events(s: _Section) -> None:
    """broadcast() reaches every manager's events exactly once, the sender's included, for every kind.

    Shared backend: sent on A, checked on A and B. Otherwise: the one manager's own events.
    """
    sender = s.instances[0].manager
    # Every kind of control event crosses instances; the nonces keep this run's apart from any other's.
    nonce = secrets.token_hex(4)
    first = Notify(method=f"notifications/kit/{nonce}")
    kinds: list[ControlEvent] = [
        ResourceUpdated(uri=f"kit://{nonce}"),
        SessionChanged(session=f"kit-{nonce}"),
        SessionDeleted(session=f"kit-{nonce}"),
        StreamTaken(session=f"kit-{nonce}", token="t"),
        CancelRequest(session=f"kit-{nonce}", request_id=7),
        CancelRequest(session=f"kit-{nonce}", request_id="seven"),
    ]
    marker = Notify(method=f"notifications/kit-marker/{nonce}")
    await sender.broadcast(first)
    for event in kinds:
        await sender.broadcast(event)
    await sender.broadcast(marker)
    for i, instance in enumerate(s.instances):
        await s.wait_for(
            lambda instance=instance: marker in instance.events.broadcasts,
            f"a broadcast did not reach manager #{i}'s on_broadcast",
        )
    await trio.sleep(SETTLE)
    for i, instance in enumerate(s.instances):
        count = instance.events.broadcasts.count(first)
        s.check(count == 1, f"manager #{i} received the broadcast {count} times, not once")
        for event in kinds:
            s.check(event in instance.events.broadcasts, f"manager #{i} never received {event!r}")
    # From the other end too (shared: sent on B).
    deleted = SessionDeleted(session=_sid("deleted"))
    await s.instances[-1].manager.broadcast(deleted)
    for i, instance in enumerate(s.instances):
        await s.wait_for(
            lambda instance=instance: deleted in instance.events.broadcasts,
            f"a SessionDeleted sent by the last manager did not reach manager #{i}",
        )
    await trio.sleep(SETTLE)
    for i, instance in enumerate(s.instances):
        count = instance.events.broadcasts.count(deleted)
        s.check(count == 1, f"manager #{i} received the SessionDeleted {count} times, not once")


async def _routes(s: _Section) -> None:
    """set_route() on the waiting manager; forward_reply() (from the other one, when shared) reaches it, once.

    Unknown routes give False; a route is consumed by the reply it forwards; int and str ids both work.
    """
    waiter, forwarder = s.instances[0], s.instances[-1]
    sid = _sid("routes")
    reply = b'{"jsonrpc":"2.0","id":"r-1","result":{}}'
    ok = await forwarder.manager.forward_reply(sid, "r-1", reply)
    s.check(not ok, "forward_reply() for a request nobody waits for returned True")
    await waiter.manager.set_route(sid, "r-1")
    ok = await forwarder.manager.forward_reply(sid, "r-1", reply)
    s.check(ok, "forward_reply() to a waiting instance returned False")
    await s.wait_for(
        lambda: (sid, reply) in waiter.events.replies,
        "the forwarded reply did not reach the waiter's on_reply",
    )
    again = await forwarder.manager.forward_reply(sid, "r-1", reply)
    s.check(not again, "a second forward_reply() for the same request returned True (one reply per route)")
    await waiter.manager.set_route(sid, 7)
    numeric = b'{"jsonrpc":"2.0","id":7,"result":{}}'
    s.check(
        await forwarder.manager.forward_reply(sid, 7, numeric), "forward_reply() for an int id returned False"
    )
    await s.wait_for(lambda: (sid, numeric) in waiter.events.replies, "the reply to an int id did not arrive")
    await trio.sleep(SETTLE)
    s.check(waiter.events.replies.count((sid, reply)) == 1, "the waiter got the reply more than once")
    if forwarder is not waiter:
        s.check(
            not forwarder.events.replies, f"the forwarding manager got on_reply: {forwarder.events.replies}"
        )


async def _slow_consumer(s: _Section) -> None:
    """A burst past a stream's capacity drops nobody; a stream whose client stopped reading is dropped once its
    buffer stayed full for longer than the slow timeout; the publisher never waits; memory stays bounded;
    other streams receive every message. Shared backend: published on A, held on B (the pump's path)."""
    publisher, holder = s.instances[0].manager, s.instances[-1].manager
    capacity, count, slow_timeout = 4, 40, 1.0
    slow_sid, fast_sid = _sid("slow"), _sid("fast")
    received: list[bytes] = []
    async with (
        _held(s, holder, slow_sid, capacity, slow_timeout) as slow,
        _held(s, holder, fast_sid, capacity, slow_timeout) as fast,
    ):
        stats = slow.statistics()
        s.check(
            stats.capacity == capacity, f"subscribe({capacity}) made a buffer of capacity {stats.capacity}"
        )

        async def read_fast() -> None:
            while len(received) < count:
                received.append(await s.receive(fast, f"message {len(received)} of the fast stream"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_fast)
            # Shorter than the reader's bound, so a blocked publisher is reported as such.
            with trio.move_on_after(s.wait / 2) as scope:
                for n in range(count):
                    await publisher.publish(slow_sid, _payload(n, "slow"))
                    await publisher.publish(fast_sid, _payload(n, "fast"))
                    used = slow.statistics().current_buffer_used
                    s.check(
                        used <= stats.hard_limit,
                        f"the slow stream buffers {used} > its hard limit of {stats.hard_limit} messages",
                    )
                    # Pace the publisher a little so the fast reader (a normal client) keeps up.
                    await trio.lowlevel.checkpoint()
            s.check(not scope.cancelled_caught, "the publisher was blocked by a slow stream")
            await s.wait_for(lambda: len(received) == count, f"the fast stream got {len(received)}/{count}")
        expected = [_payload(n, "fast") for n in range(count)]
        s.check(received == expected, "the fast stream missed or reordered messages while another lagged")
        await s.wait_for(
            lambda: slow.statistics().current_buffer_used == count,
            "the burst did not all reach the slow stream",
        )
        s.check(not slow.statistics().dropped, "a stream was dropped for a burst, not for lagging")
        # Still full and unread past the slow timeout: the next message drops it.
        await trio.sleep(slow_timeout * 1.5)
        await publisher.publish(slow_sid, _payload(count, "slow"))
        await s.wait_for(lambda: slow.statistics().dropped, "the lagging stream was not dropped")
        drained = await s.expect_end(slow, "the dropped stream", at_most=count)
        s.check(drained == count, f"the dropped stream lost {count - drained} of the messages queued before")
        s.check(
            not holder.deliver_local(slow_sid, _payload(99)),
            "deliver_local() to a dropped stream returned True",
        )
        await publisher.publish(fast_sid, _payload(count, "fast"))
        got = await s.receive(fast, "a message after the other stream was dropped")
        s.check(got == _payload(count, "fast"), f"the fast stream got {got!r}")


async def _cross_instance(s: _Section) -> None:
    """Shared backend only: A publishes to a stream held on B; holder() on A names B; B's stop clears it."""
    a, b = s.instances
    sid = _sid("cross")
    async with _held(s, b.manager, sid, capacity=64) as channel:
        s.check(a.manager.instance_id != b.manager.instance_id, "two managers share an instance_id")
        s.check(await a.manager.is_alive(b.manager.instance_id), "A.is_alive(B) is False while B runs")
        got_holder = await a.manager.holder(sid)
        s.check(got_holder == b.manager.instance_id, f"A.holder() is {got_holder!r}, not B's id")
        s.check(
            not a.manager.deliver_local(sid, _payload(0)), "A.deliver_local() for a stream held on B is True"
        )
        for n in range(20):
            s.check(
                await a.manager.publish(sid, _payload(n)), "A.publish() to a stream held on B returned False"
            )
        for n in range(20):
            got = await s.receive(channel, f"cross-instance message {n}")
            s.check(got == _payload(n), f"B received {got!r} where {_payload(n)!r} was expected (order)")
        await b.stop()
        await s.expect_end(channel, "B's stream after B stopped", at_most=0)
    s.check(await a.manager.holder(sid) is None, "A.holder() still names B after B stopped")


async def _aclose(s: _Section) -> None:
    """Stopping a manager (cancel run, leave its lifetime) ends the channels it holds; shared: others see no
    holder."""
    instance = s.instances[-1]
    sid = _sid("aclose")
    async with _held(s, instance.manager, sid) as channel:
        await instance.stop()
        await s.expect_end(channel, "a held stream after the manager stopped", at_most=0)
        s.check(
            not instance.manager.deliver_local(sid, _payload(1)),
            "deliver_local() after the manager stopped is True",
        )
        s.check(not instance.manager.ready(), "ready() after the manager stopped is True")
    if len(s.instances) > 1:
        found = await s.instances[0].manager.holder(sid)
        s.check(found is None, f"holder() names {found!r} after the holding manager stopped")
        s.check(
            not await s.instances[0].manager.is_alive(instance.manager.instance_id),
            "is_alive() of a stopped manager is still True",
        )
