"""RedisStreamManager: messages for a session reach whichever instance holds its GET stream, over Redis Pub/Sub.

Channels and keys (``prefix`` defaults to ``mcp:``):

==================================  =======  ==============================================================
``{prefix}stream:{sid}``            channel  encoded JSON-RPC messages for the session's standalone stream;
                                             subscribed only by the instance holding that stream, while held
``{prefix}control``                 channel  ONE channel for control events: ``{"type": "broadcast",
                                             "event": {...}}`` with ``"origin"`` (the sender handles its own
                                             copy at once); ``{"type": "deleted"}`` of older versions is read
                                             as a SessionDeleted. A DELETE's SessionDeleted is published by
                                             the session store's end script (:meth:`publication`, then
                                             :meth:`deliver_own`): the same message, no round trip of its own
``{prefix}instance:{instance}``     channel  forwarded replies ``{"session": sid, "payload": "<json>"}`` for
                                             server-to-client requests this instance waits for
``{prefix}alive:{instance}``        STRING   the instance heartbeat (wall time of the beat); PX 2x interval
``{prefix}holder:{sid}``            STRING   the instance holding the session's stream; set on subscribe,
                                             refreshed by the heartbeat, PX 2x interval, deleted on release
``{prefix}taken:{sid}``             STRING   the order of the session's latest hold (Redis ``TIME`` in µs,
                                             raised past the previous one); set on subscribe, PX 1 h
``{prefix}route:{sid}:{request_id}``  STRING   the instance waiting for the reply to a server-to-client
                                             request (``str(request_id)``); PX 5 min, consumed by GETDEL
==================================  =======  ==============================================================

One control channel rather than ``stream:delete:{sid}`` per session: a delete must reach every instance, so a
per-session delete channel would have to be subscribed by every instance for every session it might serve.

**One pump task per instance** owns the Pub/Sub connection (coredis, ``NoRetryPolicy``: reconnection is ours)
and loops ``await ps.get_message()``, pushing each stream message with ``send_nowait`` into the held session's
bounded channel (:func:`~._base.offer`): a full channel means a lagging client, whose stream is dropped (its
channel ends; it reconnects with a new GET), so the pump never blocks and memory never grows (coredis' own
buffer is unbounded, but the pump empties it as fast as messages arrive).

**Resubscription.** Whenever the Pub/Sub connection is (re)established, the pump subscribes, in ONE
``SUBSCRIBE``, the control channel, its own instance channel and the channel of every stream held here at that
moment. Invariant: while connected, every held stream is subscribed (a stream whose ``SUBSCRIBE`` failed is
not held: its GET is answered 503). Streams taken while connected are subscribed in batches by one
subscriber task per connection, so a burst of GETs costs one ``SUBSCRIBE`` and one wait for its
acknowledgements. A lost connection (Redis restarted, network) is
retried with jittered exponential backoff (50 ms doubling to ``reconnect_max_delay``, 1 s by default), not
coredis' default of up to 16 s. Messages published while the connection was down are lost: Pub/Sub is a
best-effort wake-up channel; resumable delivery is the event store's job (``{prefix}events:{sid}``).

**Liveness.** ONE heartbeat task per instance writes ``alive:{instance}`` and the ``holder:{sid}`` key of every
held stream in one pipeline every ``heartbeat_interval`` (default 10 s), all expiring at twice that. So
:meth:`holder` answers None once the holding instance stopped beating (crashed) -- and at once after a clean
shutdown, which deletes the alive key.

Lifetime: :meth:`run` (the app's lifespan runs it in its nursery) opens the Redis connection, runs the pump and
the heartbeat, and closes the connection when cancelled; the other methods need it running. Nothing connects
before the first command, so an app starts while Redis is down; operations then raise
:class:`~._base.StreamUnavailable` quickly (bounded timeouts) and work again once Redis is back.
"""

from __future__ import annotations

import json
import logging
import math
import random
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from .._lifetime import Lifetime
from .._redis import DEFAULT_TIMEOUT, RedisConnection, Scripts, milliseconds
from .._redis_keys import RedisKeys
from .._redis_lifecycle import Publication
from .._tasks import supervised
from ._base import (
    DEFAULT_HEARTBEAT,
    DEFAULT_SLOW_STREAM_TIMEOUT,
    ROUTE_TTL,
    LocalSubscription,
    StreamBuffer,
    StreamError,
    StreamEvents,
    StreamUnavailable,
    decode_event,
    offer,
)
from .control import ControlEvent, SessionDeleted, from_wire, to_wire

if TYPE_CHECKING:
    import coredis
    from coredis.patterns.pubsub import PubSub

log = logging.getLogger("trio_mcp.streams.redis")

T = TypeVar("T")

RECONNECT_MIN_DELAY = 0.05
RECONNECT_MAX_DELAY = 1.0

# KEYS[1] = holder:{sid}, KEYS[2] = taken:{sid}; ARGV[1] = our instance id, ARGV[2] = the holder's PX,
# ARGV[3] = the order's PX. Record us as the holder and return this hold's order: Redis' clock in µs (one clock
# for every instance, so a later hold is greater), raised past the last order given (the clock stepped back, or
# two holds in one µs). 1.8e15 µs fits a Lua double exactly; '%.0f' writes it without an exponent.
_HOLD_LUA = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local now = redis.call('TIME')
local order = tonumber(now[1]) * 1000000 + tonumber(now[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if order <= last then order = last + 1 end
redis.call('SET', KEYS[2], string.format('%.0f', order), 'PX', ARGV[3])
return order
"""

# How long a hold's order is kept: it only guards against the Redis clock stepping back between two holds.
TAKEN_TTL = 3600.0

# KEYS[1] = holder:{sid}; ARGV[1] = our instance id. Delete the key only if we still are its holder.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@attrs.define(eq=False)
class _PendingSubscription:
    channel: str
    done: trio.Event = attrs.field(factory=trio.Event)
    error: StreamUnavailable | None = None

    def fail(self, error: StreamUnavailable) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


@attrs.frozen(kw_only=True)
class RedisStreamStatistics:
    instance_id: str
    #: streams held on this instance right now
    held_streams: int
    #: the Pub/Sub connection is up and its (re)subscription done
    connected: bool
    #: successful Pub/Sub (re)connections; more than one means it resubscribed after a lost connection
    pubsub_connections: int
    #: messages pushed into held streams' channels by the pump
    delivered: int
    #: streams dropped because their client lagged (channel full)
    dropped_streams: int
    #: successful heartbeats
    heartbeats: int


async def _cancel_when_cancelled(scope: trio.CancelScope) -> None:
    try:
        await trio.sleep_forever()
    finally:
        scope.cancel()


class RedisStreamManager(Lifetime):
    """A StreamManager over Redis Pub/Sub; construct with :meth:`from_url`, run with ``nursery.start(m.run, ev)``."""

    def __init__(
        self,
        connection: RedisConnection,
        *,
        prefix: str = "mcp:",
        heartbeat_interval: float = DEFAULT_HEARTBEAT,
        instance_id: str | None = None,
        reconnect_max_delay: float = RECONNECT_MAX_DELAY,
    ) -> None:
        if not heartbeat_interval > 0 or math.isinf(heartbeat_interval):
            raise ValueError(
                f"heartbeat_interval must be a positive number of seconds, got {heartbeat_interval!r}"
            )
        if not reconnect_max_delay > 0:
            raise ValueError(f"reconnect_max_delay must be positive, got {reconnect_max_delay!r}")
        self.instance_id: str = instance_id if instance_id is not None else secrets.token_hex(6)
        if not self.instance_id or ":" in self.instance_id:
            raise ValueError(f"instance_id must be non-empty and contain no ':', got {self.instance_id!r}")
        self.prefix = prefix
        self.heartbeat_interval = heartbeat_interval
        self.reconnect_max_delay = reconnect_max_delay
        self._conn = connection
        self.layout = RedisKeys(prefix)
        self._own_channel = self.layout.instance(self.instance_id)
        self._streams: dict[str, StreamBuffer] = {}
        self._events: StreamEvents | None = None
        self._running = False
        self._closing = False
        # Stream channel (un)subscriptions waiting for the subscriber task (see _subscriber).
        self._to_subscribe: list[_PendingSubscription] = []
        self._to_unsubscribe: set[str] = set()
        self._subscriptions_wanted = trio.Event()
        self._ps: PubSub[str] | None = None
        self._pubsub_scope: trio.CancelScope | None = None
        self._scripts = Scripts(connection, {"hold": _HOLD_LUA, "release": _RELEASE_LUA})
        self._connected = False
        self._pubsub_connections = 0
        self._delivered = 0
        self._dropped = 0
        self._heartbeats = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "mcp:",
        heartbeat_interval: float = DEFAULT_HEARTBEAT,
        instance_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        reconnect_max_delay: float = RECONNECT_MAX_DELAY,
    ) -> RedisStreamManager:
        """A manager on ``url`` (``redis://[user:password@]host:port/db``, ``rediss://``, ``unix://``).

        ``timeout`` bounds connecting, each reply and each subscription; a command fails with
        StreamUnavailable after at most twice that. Nothing connects until :meth:`run`'s first command.
        """
        connection = RedisConnection(
            url,
            timeout=timeout,
            unavailable=StreamUnavailable,
            error=StreamError,
            owner="RedisStreamManager",
        )
        return cls(
            connection,
            prefix=prefix,
            heartbeat_interval=heartbeat_interval,
            instance_id=instance_id,
            reconnect_max_delay=reconnect_max_delay,
        )

    @property
    def connection(self) -> RedisConnection:
        """The Redis this manager talks to (SessionAdmin checks the session store shares it)."""
        return self._conn

    def __repr__(self) -> str:
        return f"<RedisStreamManager {self.instance_id} {self._conn.display_url} prefix={self.prefix!r}>"

    @property
    def _beat_ttl_ms(self) -> int:
        return milliseconds(2 * self.heartbeat_interval)

    def statistics(self) -> RedisStreamStatistics:
        return RedisStreamStatistics(
            instance_id=self.instance_id,
            held_streams=len(self._streams),
            connected=self._connected,
            pubsub_connections=self._pubsub_connections,
            delivered=self._delivered,
            dropped_streams=self._dropped,
            heartbeats=self._heartbeats,
        )

    # -- lifetime: the instance's pump and heartbeat --

    async def run(
        self, events: StreamEvents, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Pump and heartbeat until cancelled. Reports started after the first connection attempt (up or down)."""
        if self._running:
            raise RuntimeError(f"{self!r} is already running")
        self._running = True
        self._closing = False
        self._events = events
        work = trio.CancelScope()
        try:
            async with trio.open_nursery() as bridge:
                # The client's connections must outlive our cancellation, or the goodbye below and the
                # unsubscriptions of streams ending at the same time would fail: they run in a shielded
                # scope, and this watcher (outside it) turns our cancellation into cancelling `work`.
                bridge.start_soon(_cancel_when_cancelled, work)
                with trio.CancelScope(shield=True):
                    await self._conn.open()
                    try:
                        with work:
                            async with trio.open_nursery() as nursery:
                                first_attempt = trio.Event()
                                # Each restarts after any failure: an instance must never stop hearing others.
                                nursery.start_soon(
                                    supervised, "redis pump", self._pump_forever, first_attempt
                                )
                                nursery.start_soon(supervised, "redis heartbeat", self._heartbeat_forever)
                                with trio.move_on_after(2 * self._conn.deadline):
                                    await first_attempt.wait()
                                task_status.started()
                    finally:
                        self._events = None
                        self._connected = False
                        with trio.move_on_after(self._conn.timeout):
                            await self._goodbye()
                        await self._conn.aclose()
                bridge.cancel_scope.cancel()
        finally:
            self._running = False

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        """On exit, end every stream held here (their buffers end); :meth:`run`'s cancellation closes the
        connection.

        From here on, streams ending do no Redis work: their holder keys go with the heartbeat's TTL (and
        holder() answers None at once, as the goodbye deletes the alive key), and a burst of releases racing
        the connection's close would only open connections nobody closes.
        """
        self._closing = False
        try:
            yield
        finally:
            self._closing = True
            for buffer in self._streams.values():
                buffer.close()
            self._streams.clear()

    async def _goodbye(self) -> None:
        # A clean shutdown: holder() answers None for our streams at once instead of after 2 heartbeats.
        key = self.layout.alive(self.instance_id)
        try:
            await self._conn.run("shutdown", lambda r: r.delete([key]))
        except Exception as exc:
            log.debug("could not delete %s at shutdown: %s", key, exc)

    # -- the pump --

    async def _pump_forever(self, first_attempt: trio.Event) -> None:
        delay = RECONNECT_MIN_DELAY
        quiet = False  # the current outage has been logged
        while True:
            before = self._pubsub_connections
            try:
                await self._listen(first_attempt)
            except Exception as exc:  # the pump never dies: whatever happened, reconnect
                if not quiet or self._pubsub_connections != before:
                    log.warning(
                        "%r: Redis Pub/Sub connection lost or refused (%s); reconnecting (messages published "
                        "meanwhile are lost)",
                        self,
                        exc,
                    )
                quiet = True
            first_attempt.set()
            if self._pubsub_connections != before:
                delay = RECONNECT_MIN_DELAY  # it was up: start the backoff afresh
            await trio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.reconnect_max_delay)

    async def _listen(self, first_attempt: trio.Event) -> None:
        from coredis.retry import NoRetryPolicy

        client = self._conn.client()
        scope = trio.CancelScope()
        with self._conn.errors("pubsub"):
            async with client.pubsub(
                ignore_subscribe_messages=True,
                retry_policy=NoRetryPolicy(),
                subscription_timeout=self._conn.timeout,
                max_idle_seconds=max(1.0, min(15.0, self.heartbeat_interval)),
            ) as ps:
                with scope:
                    self._ps, self._pubsub_scope = ps, scope
                    try:
                        # ONE SUBSCRIBE for everything this instance needs: after a reconnect this is the
                        # resubscription of every stream held here (a stream taken meanwhile subscribes itself).
                        await ps.subscribe(
                            self.layout.control, self._own_channel, *map(self.layout.stream, self._streams)
                        )
                        self._pubsub_connections += 1
                        self._connected = True
                        if self._pubsub_connections > 1:
                            log.warning(
                                "%r reconnected to Redis Pub/Sub and resubscribed %d stream(s)",
                                self,
                                len(self._streams),
                            )
                        first_attempt.set()
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(self._subscriber, ps)
                            await self._receive(ps)
                    finally:
                        self._connected = False
                        if self._ps is ps:
                            self._ps = self._pubsub_scope = None
                        self._fail_pending_subscriptions()

    async def _receive(self, ps: PubSub[str]) -> None:
        while True:
            message = await ps.get_message()
            if message is None or message["type"] != "message":
                continue
            channel = str(message["channel"])
            try:
                self._dispatch(channel, message["data"])
            except Exception:  # a bug handling one message is no reason to reconnect
                log.exception("handling a Pub/Sub message on %s failed; the pump goes on", channel)

    async def _subscriber(self, ps: PubSub[str]) -> None:
        """Sends the held streams' (un)subscriptions in batches on the pump's connection: a burst of GETs
        costs one SUBSCRIBE and one wait for its acknowledgements, not one each (and no GET waits behind
        another's acknowledgement)."""
        while True:
            await self._subscriptions_wanted.wait()
            self._subscriptions_wanted = trio.Event()
            gone = [self.layout.stream(sid) for sid in self._to_unsubscribe if sid not in self._streams]
            self._to_unsubscribe.clear()
            batch, self._to_subscribe = self._to_subscribe, []
            if gone:
                try:
                    with self._conn.errors("unsubscribe"):
                        await ps.unsubscribe(*gone)
                except (StreamUnavailable, StreamError) as exc:  # a stale subscription costs ignored messages
                    log.debug("could not unsubscribe %d stream(s): %s", len(gone), exc)
            if not batch:
                continue
            try:
                with self._conn.errors("subscribe"):
                    await ps.subscribe(*{pending.channel for pending in batch})
            except (StreamUnavailable, StreamError) as exc:
                # Those GETs are answered 503 and not held; the connection itself is the pump's to judge.
                for pending in batch:
                    pending.fail(StreamUnavailable(f"could not subscribe the stream's channel: {exc}"))
            else:
                for pending in batch:
                    pending.done.set()
            finally:  # cancelled with the connection: nobody may wait for this batch forever
                for pending in batch:
                    pending.fail(StreamUnavailable("the Redis Pub/Sub connection was lost while subscribing"))

    def _fail_pending_subscriptions(self) -> None:
        pending, self._to_subscribe = self._to_subscribe, []
        for item in pending:
            item.fail(StreamUnavailable("the Redis Pub/Sub connection was lost while subscribing"))

    def _dispatch(self, channel: str, data: Any) -> None:
        text = data if isinstance(data, str) else bytes(data).decode()
        if channel.startswith(self.layout.stream_head):
            session_id = channel[len(self.layout.stream_head) :]
            held = session_id in self._streams
            if offer(self._streams, session_id, text.encode()):
                self._delivered += 1
            elif held:
                self._dropped += 1
                log.info("dropped the stream of session %s: its client lags (buffer full)", session_id)
            return
        envelope = decode_event(text)
        events = self._events
        if envelope is None or events is None:
            return
        try:
            if channel == self.layout.control:
                if envelope.get("origin") == self.instance_id:
                    return  # handled when sent
                kind = envelope.get("type")
                event = envelope.get("event")
                session = envelope.get("session")
                if kind == "broadcast":
                    decoded = from_wire(event)
                    if decoded is None:
                        log.debug("ignored a control event this version does not know: %r", event)
                    else:
                        events.on_broadcast(decoded)
                elif kind == "deleted" and isinstance(session, str):
                    # The wire form of instances older than SessionDeleted, during a rolling deploy.
                    events.on_broadcast(SessionDeleted(session=session))
            elif channel == self._own_channel:
                session = envelope.get("session")
                payload = envelope.get("payload")
                if isinstance(session, str) and isinstance(payload, str):
                    events.on_reply(session, payload.encode())
        except Exception:  # an app bug must not stop delivery to every other session
            log.exception("a StreamEvents callback failed on a message from %s", channel)

    # -- the heartbeat --

    async def _heartbeat_forever(self) -> None:
        failing = False
        while True:
            try:
                await self.beat()
            except (StreamUnavailable, StreamError) as exc:
                if not failing:
                    log.warning("%r could not write its heartbeat: %s", self, exc)
                failing = True
            else:
                if failing:
                    log.warning("%r writes its heartbeat again", self)
                failing = False
            await trio.sleep(self.heartbeat_interval)

    async def beat(self) -> None:
        """One heartbeat: ``alive:{instance}`` and every held stream's ``holder:{sid}``, in one pipeline."""
        ttl = self._beat_ttl_ms
        alive = self.layout.alive(self.instance_id)
        holders = [self.layout.holder(sid) for sid in self._streams]
        now = repr(time.time())

        async def operation(client: coredis.Redis[str]) -> None:
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(alive, now, px=ttl)
                for key in holders:
                    pipe.set(key, self.instance_id, px=ttl)

        await self._command("heartbeat", operation)
        self._heartbeats += 1

    # -- StreamManager --

    def subscribe(
        self, session_id: str, capacity: int, *, slow_timeout: float = DEFAULT_SLOW_STREAM_TIMEOUT
    ) -> _RedisSubscription:
        return _RedisSubscription(self, session_id, capacity, slow_timeout)

    async def _unsubscribe(self, session_id: str) -> None:
        if session_id not in self._streams:
            with trio.CancelScope(shield=True), trio.move_on_after(self._conn.timeout):
                await self._release(session_id)

    async def _hold(self, session_id: str) -> int:
        """Subscribe the stream's channel and record this instance as its holder, or raise StreamUnavailable:
        a stream that cannot hear other instances must not be answered 200 (the app answers 503).
        Returns the hold's order (`StreamBuffer.order`; 0 when it could not be recorded)."""
        if self._closing:
            raise StreamUnavailable("the stream manager is shutting down")
        if not self._conn.is_open:
            return 0  # not running: local delivery only; the pump subscribes it when it connects
        if self._ps is None:
            raise StreamUnavailable("the Redis Pub/Sub connection is down (reconnecting)")
        pending = _PendingSubscription(self.layout.stream(session_id))
        self._to_subscribe.append(pending)
        self._subscriptions_wanted.set()
        await pending.done.wait()
        if pending.error is not None:
            log.warning("could not subscribe the stream of session %s: %s", session_id, pending.error)
            raise pending.error
        script = self._scripts["hold"]
        keys = [self.layout.holder(session_id), self.layout.taken(session_id)]
        args = [self.instance_id, self._beat_ttl_ms, milliseconds(TAKEN_TTL)]
        try:
            return int(await self._conn.run("subscribe", lambda r: script(keys=keys, args=args)))
        except StreamError as exc:
            log.warning(
                "could not record the holder of session %s (the heartbeat retries): %s", session_id, exc
            )
            return 0

    async def _release(self, session_id: str) -> None:
        if self._closing or not self._conn.is_open:
            return
        if self._ps is not None:
            self._to_unsubscribe.add(session_id)  # sent by the subscriber task, batched
            self._subscriptions_wanted.set()
        if session_id in self._streams or not self._conn.is_open:
            return  # taken again here meanwhile
        script = self._scripts["release"]
        keys, args = [self.layout.holder(session_id)], [self.instance_id]
        try:
            await self._conn.run("release", lambda r: script(keys=keys, args=args))
        except Exception as exc:  # it expires with the next missed heartbeats anyway
            log.debug("could not release the holder key of session %s: %s", session_id, exc)

    def deliver_local(self, session_id: str, payload: bytes, *, coalesce: bool = False) -> bool:
        return offer(self._streams, session_id, payload, coalesce=coalesce)

    async def publish(self, session_id: str, payload: bytes) -> bool:
        if session_id in self._streams:
            return self.deliver_local(session_id, payload)  # held here: no round trip
        channel, text = self.layout.stream(session_id), payload.decode()
        # PUBLISH answers how many subscribed: only the instance holding the stream subscribes its channel.
        return bool(await self._command("publish", lambda r: r.publish(channel, text)))

    async def broadcast(self, event: ControlEvent) -> None:
        self.deliver_own(event)  # our own copy now; the others' through the control channel
        publication = self.publication(event)
        await self._command("control", lambda r: r.publish(publication.channel, publication.message))

    def publication(self, event: ControlEvent) -> Publication:
        """The PUBLISH `broadcast(event)` sends to the other instances, for a script of another Redis backend
        to send in its own round trip (`RedisSessionStore.end`); the sender then calls :meth:`deliver_own`.
        It names this instance as its origin, so our pump ignores it."""
        body = {"type": "broadcast", "event": to_wire(event), "origin": self.instance_id}
        return Publication(self.layout.control, json.dumps(body, separators=(",", ":")))

    def deliver_own(self, event: ControlEvent) -> None:
        """This instance's copy of a broadcast event (the others get theirs from the control channel)."""
        if self._events is not None:
            self._events.on_broadcast(event)

    async def set_route(self, session_id: str, request_id: str | int) -> None:
        key = self.layout.route(session_id, request_id)
        await self._command("set_route", lambda r: r.set(key, self.instance_id, px=milliseconds(ROUTE_TTL)))

    async def forward_reply(self, session_id: str, request_id: str | int, payload: bytes) -> bool:
        key = self.layout.route(session_id, request_id)
        target = await self._command("forward_reply", lambda r: r.getdel(key))  # one reply per request
        if target is None:
            return False
        if target == self.instance_id:
            if self._events is None:
                return False
            self._events.on_reply(session_id, payload)
            return True
        text = json.dumps({"session": session_id, "payload": payload.decode()}, separators=(",", ":"))
        channel = self.layout.instance(target)
        receivers = await self._command("forward_reply", lambda r: r.publish(channel, text))
        return receivers > 0

    async def holder(self, session_id: str) -> str | None:
        if session_id in self._streams:
            return self.instance_id
        key = self.layout.holder(session_id)
        target = await self._command("holder", lambda r: r.get(key))
        if target is None or target == self.instance_id:
            return None  # never held, released, or a stale key of ours
        alive = self.layout.alive(target)
        return target if await self._command("holder", lambda r: r.exists([alive])) else None

    def ready(self) -> bool:
        return self._running and self._connected

    async def is_alive(self, instance_id: str) -> bool:
        if instance_id == self.instance_id:
            return self._running
        alive = self.layout.alive(instance_id)
        return bool(await self._command("is_alive", lambda r: r.exists([alive])))

    async def _command(self, action: str, operation: Callable[[coredis.Redis[str]], Awaitable[T]]) -> T:
        if not self._conn.is_open:
            raise RuntimeError(
                f"{self!r} is not running: the app's lifespan runs it (await nursery.start(manager.run, events))"
            )
        return await self._conn.run(action, operation)


class _RedisSubscription(LocalSubscription):
    """`RedisStreamManager.subscribe`: the channel is subscribed (and this instance the holder) while entered."""

    __slots__ = ("_manager",)

    def __init__(
        self, manager: RedisStreamManager, session_id: str, capacity: int, slow_timeout: float
    ) -> None:
        super().__init__(manager._streams, session_id, capacity, slow_timeout)  # pyright: ignore[reportPrivateUsage]
        self._manager = manager

    async def __aenter__(self) -> StreamBuffer:
        buffer = self._take()
        try:
            buffer.order = await self._manager._hold(self.session_id)  # pyright: ignore[reportPrivateUsage]
        except BaseException:
            await self.__aexit__()
            raise
        return buffer

    async def __aexit__(self, *exc: object) -> None:
        self._release()
        await self._manager._unsubscribe(self.session_id)  # pyright: ignore[reportPrivateUsage]
