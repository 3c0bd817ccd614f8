"""Redis capacity model: Redis commands, round trips and bytes per unit of MCP work, a formula, and a check.

Measured on trio_mcp instances (`servers/latency_app.py` under `hypercorn --worker-class trio`, Redis store +
Redis stream manager + Redis event store) against one Redis, read with INFO (commandstats, stats: the
total_net_input/output_bytes, memory: used_memory) around each unit of work, and MONITOR to tell the commands the
servers send from the ones Lua scripts run (commandstats counts both; one EVALSHA is one round trip however many
commands its script runs). MONITOR's own output and the INFO replies are taken out of the byte counts.

Units (one instance, sequential, one keep-alive connection):
- session lifecycle: initialize -> notifications/initialized -> DELETE;
- tools/call in a session, SSE answer (event store on), record cached (`session_cache_ttl`, 2 s) and not
  (an instance with TRIO_MCP_SESSION_CACHE_TTL=0: the record is read on every request);
- tools/call in a session, JSON answer (the base of the next);
- notification delivered to a GET stream held on another instance: tools/call `burst(1)` minus `burst(0)`;
- heartbeat (an instance with TRIO_MCP_HEARTBEAT_INTERVAL=1, idle): per beat with no session, and per held GET
  stream per beat (the holder key and the session's TTL refresh); the unit instances run with a 1-hour beat so
  none falls inside their measurements;
- Redis used_memory per idle session, per held GET stream, per event kept in a stream's log.

Model (per second): Redis commands = lifecycles x L + calls x (C + miss x R) + JSON calls x J + notifications x
Q + instances x (B0 + [T > 0] x B1 + held x H + touched x U) / heartbeat interval. Validation: 3 instances on
one Redis, a client mixing held streams, SSE calls, JSON calls with notifications and lifecycles at known
rates; measured commands/s (commandstats delta / seconds) against the model fed the counts the client made.

Run: python benchmarks/bench_capacity.py [--quick]   (tables, benchmarks/results/capacity.md, one JSON line)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11
import trio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import _client  # noqa: E402  (benchmarks/ is not a package)
import bench_latency  # noqa: E402

TARGET_ERROR_PCT = 20.0
NO_BEAT = {"TRIO_MCP_HEARTBEAT_INTERVAL": "3600"}  # unit instances: no heartbeat inside a measurement
MONITOR_LINE = re.compile(r'^\+\d+\.\d+ \[\d+ (\S+)\] "([^"]+)"')
DEFAULT_HEARTBEAT_S = 10.0  # HttpConfig.heartbeat_interval
DEFAULT_CACHE_TTL_S = 2.0  # HttpConfig.session_cache_ttl


def harness() -> Any:
    import run

    return run


# --------------------------------------------------------------------------- Redis accounting


def encoded_len(*args: str) -> int:
    return len(harness().load_redis_helper()._encode_command(tuple(args)))


INFO_ARGS = ("INFO", "commandstats", "stats", "memory")


@dataclass
class Snapshot:
    commands: dict[str, int]
    net_in: int
    net_out: int
    used_memory: int
    reply_bytes: int  # what this INFO reply put on the wire (counted in the next snapshot's net_out)


def snapshot(redis: Any) -> Snapshot:
    raw = redis.command(*INFO_ARGS)
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    commands = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^cmdstat_([^:]+):calls=(\d+)", text, re.MULTILINE)
        if m.group(1) not in ("info", "echo", "monitor")
    }

    def field_of(name: str) -> int:
        m = re.search(rf"^{name}:(\d+)", text, re.MULTILINE)
        return int(m.group(1)) if m else 0

    reply = len(raw) + len(str(len(raw))) + 5 if isinstance(raw, bytes) else 0  # $<len>\r\n...\r\n
    return Snapshot(
        commands, field_of("total_net_input_bytes"), field_of("total_net_output_bytes"),
        field_of("used_memory"), reply,
    )  # fmt: skip


class Monitor:
    """A MONITOR connection read by a thread while the block runs: the commands Lua scripts ran (by name), the
    instance heartbeats (SETs of an `alive:` key), and the bytes MONITOR itself made Redis send."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.sock = socket.create_connection(("127.0.0.1", redis.port), timeout=60)
        self.feed = self.sock.makefile("rb")
        self.sock.sendall(b"MONITOR\r\n")
        if self.feed.readline().strip() != b"+OK":
            raise RuntimeError("Redis refused MONITOR")
        self.scripted: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.beats = 0
        self.bytes = 0
        self.marker = ""
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for raw in self.feed:
            self.bytes += len(raw)
            line = raw.decode(errors="replace")
            if self.marker and self.marker in line:
                self.done.set()
                return
            match = MONITOR_LINE.match(line)
            if match is None:
                continue
            name = match.group(2).lower()
            (self.scripted if match.group(1) == "lua" else self.sent)[name] += 1
            if name == "set" and ":alive:" in line.split('" "', 2)[1]:
                self.beats += 1

    def stop(self) -> None:
        self.marker = f"bench-capacity-end-{os.getpid()}-{time.monotonic_ns()}"
        self.redis.command("ECHO", self.marker)
        if not self.done.wait(60):
            raise RuntimeError("MONITOR did not see the end marker")
        self.sock.close()


@dataclass
class Delta:
    """What Redis did during a block: commands (all, incl. those scripts ran), the ones scripts ran, bytes."""

    commands: dict[str, int]
    scripted: dict[str, int]
    net_in: int
    net_out: int
    used_memory: int
    beats: int
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.commands.values())

    @property
    def sent(self) -> int:
        return self.total - sum(self.scripted.values())


class Measure:
    """`with Measure(redis) as m: ...; m.delta` (MONITOR on unless `monitor=False`)."""

    def __init__(self, redis: Any, monitor: bool = True) -> None:
        self.redis = redis
        self.monitor_on = monitor
        self.delta: Delta | None = None

    def __enter__(self) -> Measure:
        self.monitor = Monitor(self.redis) if self.monitor_on else None
        self.before = snapshot(self.redis)
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.monotonic() - self.started
        mon = self.monitor
        if mon is not None:
            mon.stop()
        after = snapshot(self.redis)
        b = self.before
        net_in = after.net_in - b.net_in - encoded_len(*INFO_ARGS)
        net_out = after.net_out - b.net_out - b.reply_bytes
        if mon is not None:
            net_in -= encoded_len("ECHO", mon.marker)
            net_out -= mon.bytes + len(mon.marker) + len(str(len(mon.marker))) + 5
        commands = {k: after.commands.get(k, 0) - b.commands.get(k, 0) for k in after.commands}
        self.delta = Delta(
            commands={k: v for k, v in commands.items() if v},
            scripted=dict(mon.scripted) if mon is not None else {},
            net_in=net_in,
            net_out=net_out,
            used_memory=after.used_memory - b.used_memory,
            beats=mon.beats if mon is not None else 0,
            seconds=seconds,
        )


def per_unit(delta: Delta, units: float) -> dict[str, Any]:
    return {
        "units": units,
        "commands": delta.total / units,
        "sent": delta.sent / units,
        "in_scripts": sum(delta.scripted.values()) / units,
        "bytes_in": delta.net_in / units,
        "bytes_out": delta.net_out / units,
        "by_command": {k: round(v / units, 3) for k, v in sorted(delta.commands.items())},
        "scripted_by_command": {k: round(v / units, 3) for k, v in sorted(delta.scripted.items())},
    }


def subtract(a: dict[str, Any], b: dict[str, Any], scale: float) -> dict[str, Any]:
    """(a - b) / scale for the numeric costs of two per-unit entries."""
    out: dict[str, Any] = {"units": a["units"] * scale}
    for key in ("commands", "sent", "in_scripts", "bytes_in", "bytes_out"):
        out[key] = (a[key] - b[key]) / scale
    for key in ("by_command", "scripted_by_command"):
        names = set(a[key]) | set(b[key])
        out[key] = {k: round((a[key].get(k, 0) - b[key].get(k, 0)) / scale, 3) for k in sorted(names)}
    return out


# --------------------------------------------------------------------------- client helpers


def call(name: str, arguments: dict[str, Any], id: int) -> bytes:
    return _client.rpc("tools/call", {"name": name, "arguments": arguments}, id=id)


async def post_call(conn: _client.Connection, sid: str, body: bytes, sse: bool) -> None:
    headers = _client.session_headers(sid, _client.ACCEPT_BOTH if sse else "application/json")
    status, _, reply = await conn.request("POST", "/mcp", headers, body)
    if status != 200 or b'"result"' not in reply:
        raise RuntimeError(f"tools/call failed: {status} {reply[:300]!r}")


async def lifecycle(conn: _client.Connection) -> None:
    sid = await _client.open_session(conn)
    status, _, body = await conn.request("DELETE", "/mcp", _client.session_headers(sid))
    if status not in (200, 202, 204):
        raise RuntimeError(f"DELETE answered {status} {body[:200]!r}")


async def drain_stream(conn: _client.Connection) -> None:
    """Read (and drop) a held GET stream's events until cancelled."""
    while True:
        event = await conn.next_event()
        if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return


# --------------------------------------------------------------------------- per-unit measurements


def measure_units(redis: Any, logdir: Path, quick: bool) -> dict[str, Any]:
    run = harness()
    n = 100 if quick else 400
    units: dict[str, Any] = {}
    (hot,) = bench_latency.start_instances(redis, logdir, "U", NO_BEAT)
    (cold,) = bench_latency.start_instances(redis, logdir, "V", NO_BEAT | {"TRIO_MCP_SESSION_CACHE_TTL": "0"})
    (other,) = bench_latency.start_instances(redis, logdir, "W", NO_BEAT)
    try:

        async def sequence(port: int, work: Any, warm: int = 5) -> Delta:
            conn = await _client.Connection.open(port)
            try:
                sid = await _client.open_session(conn)
                for i in range(warm):
                    await work(conn, sid, i)
                with Measure(redis) as m:
                    for i in range(n):
                        if i and i % 100 == 0:  # hypercorn closes a connection after 1,000 requests
                            await conn.aclose()
                            conn = await _client.Connection.open(port)
                        await work(conn, sid, i + warm)
                await conn.request("DELETE", "/mcp", _client.session_headers(sid))
            finally:
                await conn.aclose()
            assert m.delta is not None
            return m.delta

        async def main() -> None:
            async def life(conn: _client.Connection, sid: str, i: int) -> None:
                await lifecycle(conn)

            async def sse(conn: _client.Connection, sid: str, i: int) -> None:
                await post_call(conn, sid, call("add", {"a": 1, "b": i}, i + 1), sse=True)

            async def plain(conn: _client.Connection, sid: str, i: int) -> None:
                await post_call(conn, sid, call("burst", {"count": 0}, i + 1), sse=False)

            units["lifecycle"] = per_unit(await sequence(hot.port, life), n)
            units["call_sse"] = per_unit(await sequence(hot.port, sse), n)
            units["call_sse_uncached"] = per_unit(await sequence(cold.port, sse), n)
            units["call_json"] = per_unit(await sequence(hot.port, plain), n)
            units["call_json_uncached"] = per_unit(await sequence(cold.port, plain), n)
            units["record_load"] = subtract(units["call_sse_uncached"], units["call_sse"], 1)
            # notifications: the session holds its GET stream on another instance (the message crosses over
            # Redis); burst(1) minus burst(0), one message per call (a burst's messages share a log write)
            conn = await _client.Connection.open(hot.port)
            sid = await _client.open_session(conn)
            stream = await _client.open_get_stream(other.port, sid)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain_stream, stream)
                for what, count in (("burst0", 0), ("burst", 1)):
                    for i in range(5):
                        await post_call(conn, sid, call("burst", {"count": count}, i + 1), sse=False)
                    await trio.sleep(0.1)
                    with Measure(redis) as m:
                        for i in range(n):
                            await post_call(conn, sid, call("burst", {"count": count}, i + 10), sse=False)
                            await trio.sleep(0.002)  # the message reaches the stream before the next
                        await trio.sleep(0.2)  # the last one reaches the stream (and its log)
                    assert m.delta is not None
                    units[what] = per_unit(m.delta, n)
                nursery.cancel_scope.cancel()
            units["notification"] = subtract(units["burst"], units["burst0"], 1)
            await stream.aclose()
            await conn.request("DELETE", "/mcp", _client.session_headers(sid))
            await conn.aclose()

        trio.run(main)
    finally:
        for server in (hot, cold, other):
            server.stop()
    del units["burst"], units["burst0"]
    run.log(f"capacity: per-unit costs measured ({n} of each)")
    return units


def measure_heartbeat(redis: Any, logdir: Path, quick: bool) -> dict[str, Any]:
    """An idle instance beating every second: per beat with nothing held, then with `held` GET streams."""
    held, seconds = (50, 4.0) if quick else (200, 8.0)
    (server,) = bench_latency.start_instances(redis, logdir, "H", {"TRIO_MCP_HEARTBEAT_INTERVAL": "1"})
    out: dict[str, Any] = {"interval_s": 1.0, "held": held}
    try:

        async def main() -> None:
            await trio.sleep(1.5)  # the probe's session has left the touch marks
            with Measure(redis) as idle:
                await trio.sleep(seconds)
            ids = await _client.open_sessions(server.port, held)
            conns = [await _client.open_get_stream(server.port, sid) for sid in ids]
            await trio.sleep(2.5)  # the sessions' request marks are flushed; only the held streams stay
            with Measure(redis) as busy:
                await trio.sleep(seconds)
            for conn in conns:
                await conn.aclose()
            assert idle.delta is not None
            assert busy.delta is not None
            out["idle"] = per_unit(idle.delta, max(idle.delta.beats, 1))
            out["idle"]["beats"] = idle.delta.beats
            out["busy"] = per_unit(busy.delta, max(busy.delta.beats, 1))
            out["busy"]["beats"] = busy.delta.beats
            # per held stream per beat, beyond the idle beat and the touch script's own call
            per_stream = subtract(out["busy"], out["idle"], held)
            touch_calls = out["busy"]["by_command"].get("evalsha", 0.0)
            per_stream["commands"] -= touch_calls / held
            per_stream["sent"] -= touch_calls / held
            out["per_held_stream"] = per_stream
            out["touch_call"] = touch_calls  # EVALSHA per beat when any session is touched
            out["per_touched_session"] = out["busy"]["in_scripts"] / held  # the touch script's work per id

        trio.run(main)
    finally:
        server.stop()
    return out


def measure_memory(redis: Any, logdir: Path, quick: bool) -> dict[str, Any]:
    sessions = 200 if quick else 1000
    # A stream log's first node is allocated whole (stream-node-max-bytes, 4 KB) with its first entry: the
    # first `first` events fit in it; the cost per event is read past it.
    first, events = 10, 60
    (server,) = bench_latency.start_instances(redis, logdir, "M", NO_BEAT)
    out: dict[str, Any] = {"sessions": sessions, "events_per_session": events, "first_events": first}
    try:

        async def main() -> None:
            base = snapshot(redis).used_memory
            ids = await _client.open_sessions(server.port, sessions)
            idle = snapshot(redis).used_memory
            conns = await _client.open_get_streams(server.port, ids)
            held = snapshot(redis).used_memory
            async with trio.open_nursery() as nursery:
                for conn in conns:
                    nursery.start_soon(drain_stream, conn)

                async def burst(share: list[str], count: int) -> None:
                    conn = await _client.Connection.open(server.port)
                    for i, sid in enumerate(share):
                        await post_call(conn, sid, call("burst", {"count": count}, i + 1), sse=False)
                    await conn.aclose()

                levels: list[int] = []
                for count in (first, events - first):
                    async with trio.open_nursery() as senders:
                        for w in range(4):
                            senders.start_soon(burst, ids[w::4], count)
                    await trio.sleep(0.5)
                    levels.append(snapshot(redis).used_memory)
                nursery.cancel_scope.cancel()
            for conn in conns:
                await conn.aclose()
            out["bytes_per_idle_session"] = (idle - base) / sessions
            out["bytes_per_held_stream"] = (held - idle) / sessions
            out["bytes_first_events"] = (levels[0] - held) / sessions
            out["bytes_per_event_kept"] = (levels[1] - levels[0]) / sessions / (events - first)

        trio.run(main)
    finally:
        server.stop()
    return out


# --------------------------------------------------------------------------- the model


@dataclass
class Load:
    """A deployment's work per second (totals over the instances) and its standing state."""

    instances: int
    lifecycles_per_s: float = 0.0
    sse_calls_per_s: float = 0.0
    json_calls_per_s: float = 0.0  # tools/call answered in JSON (their messages go to the GET stream)
    notifications_per_s: float = 0.0  # messages delivered to held GET streams
    held_streams: int = 0  # over all instances
    touched_per_beat: int = 0  # distinct sessions in use per beat (held streams + sessions with requests)
    cache_miss: float = 0.0  # share of calls whose session record is not cached on the instance
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    sessions: int = 0
    events_kept: int = 0  # events in stream logs (each standalone stream keeps up to event_retention)
    notes: list[str] = field(default_factory=list)


def miss_rate(calls_per_s_per_session: float, ttl: float = DEFAULT_CACHE_TTL_S) -> float:
    """The share of a session's calls (all on one instance) that read its record: one per `ttl` seconds."""
    if calls_per_s_per_session <= 0 or ttl <= 0:
        return 1.0
    return min(1.0, 1.0 / (calls_per_s_per_session * ttl))


def predict(
    units: dict[str, Any], beat: dict[str, Any], memory: dict[str, Any] | None, load: Load
) -> dict[str, Any]:
    """Redis commands/s, round trips (sent)/s and bytes/s for `load`, from the measured unit costs."""
    terms = {
        "lifecycles": (load.lifecycles_per_s, units["lifecycle"]),
        "SSE calls": (load.sse_calls_per_s, units["call_sse"]),
        "JSON calls": (load.json_calls_per_s, units["call_json"]),
        "record loads": (
            (load.sse_calls_per_s + load.json_calls_per_s) * load.cache_miss,
            units["record_load"],
        ),
        "notifications": (load.notifications_per_s, units["notification"]),
    }
    out: dict[str, Any] = {}
    for key in ("commands", "sent", "bytes_in", "bytes_out"):
        total = sum(rate * cost[key] for rate, cost in terms.values())
        per_beat = load.instances * beat["idle"][key]
        if load.touched_per_beat:
            per_beat += min(load.instances, load.touched_per_beat) * (
                beat["touch_call"] if key in ("commands", "sent") else 0.0
            )
            per_beat += load.held_streams * beat["per_held_stream"][key]
            extra = max(0, load.touched_per_beat - load.held_streams)
            touched_cost = beat["per_touched_session"] if key == "commands" else 0.0
            if key.startswith(
                "bytes"
            ):  # a touched session's id in the script call and its share of the reply
                touched_cost = beat["per_held_stream"][key] * 0.5
            per_beat += extra * touched_cost
        out[key] = total + per_beat / load.heartbeat_s
        out[f"{key}_heartbeat"] = per_beat / load.heartbeat_s
    out["by_term"] = {name: rate * cost["commands"] for name, (rate, cost) in terms.items()}
    if memory is not None:
        out["used_memory_bytes"] = (
            load.sessions * memory["bytes_per_idle_session"]
            + load.held_streams * memory["bytes_per_held_stream"]
            + load.events_kept * memory["bytes_per_event_kept"]
        )
    return out


# --------------------------------------------------------------------------- validation: 3 instances


@dataclass
class Plan:
    seconds: float
    held_per_instance: int = 20
    call_sessions_per_instance: int = 10
    calls_per_s_per_session: float = 5.0
    lifecycles_per_s_per_instance: float = 10.0
    json_calls_per_s_per_instance: float = 20.0  # to the held sessions, round robin, burst(2) each
    notifications_per_json_call: int = 2
    heartbeat_s: float = 2.0


async def paced(rate: float, until: float, step: Any) -> int:
    """`step(i)` at `rate` per second until `until` (trio clock); the number of steps done."""
    period = 1.0 / rate
    start = trio.current_time()
    i = 0
    while True:
        due = start + i * period
        if due >= until:
            return i
        await trio.sleep_until(due)
        await step(i)
        i += 1


def validate(
    redis: Any, logdir: Path, units: dict[str, Any], beat: dict[str, Any], plan: Plan
) -> dict[str, Any]:
    run = harness()
    env = {"TRIO_MCP_HEARTBEAT_INTERVAL": f"{plan.heartbeat_s:g}"}
    servers = bench_latency.start_instances(redis, logdir, "XYZ", env)
    ports = [s.port for s in servers]
    n = len(ports)
    counts: Counter[str] = Counter()
    result: dict[str, Any] = {"plan": plan.__dict__, "instances": n}
    try:

        async def main() -> None:
            # standing state: held streams (session opened on i, its GET stream on i+1), call sessions on i
            held: list[list[str]] = [await _client.open_sessions(p, plan.held_per_instance, 4) for p in ports]
            streams = [
                await _client.open_get_stream(ports[(i + 1) % n], sid)
                for i, ids in enumerate(held)
                for sid in ids
            ]
            callers = [await _client.open_sessions(p, plan.call_sessions_per_instance, 4) for p in ports]
            await trio.sleep(plan.heartbeat_s + 0.5)  # setup's marks flushed
            async with trio.open_nursery() as nursery:
                for s in streams:
                    nursery.start_soon(drain_stream, s)
                end = trio.current_time() + plan.seconds

                async def caller(port: int, sid: str) -> None:
                    conn = await _client.Connection.open(port)

                    async def step(i: int) -> None:
                        await post_call(conn, sid, call("add", {"a": 1, "b": i}, i + 1), sse=True)

                    done = await paced(plan.calls_per_s_per_session, end, step)
                    counts["sse_calls"] += done  # (not `+= await`: that would read the count before waiting)
                    await conn.aclose()

                async def lifecycler(port: int) -> None:
                    conn = await _client.Connection.open(port)

                    async def step(i: int) -> None:
                        await lifecycle(conn)

                    done = await paced(plan.lifecycles_per_s_per_instance, end, step)
                    counts["lifecycles"] += done
                    await conn.aclose()

                async def notifier(port: int, sids: list[str]) -> None:
                    conn = await _client.Connection.open(port)
                    k = plan.notifications_per_json_call

                    async def step(i: int) -> None:
                        await post_call(
                            conn, sids[i % len(sids)], call("burst", {"count": k}, i + 1), sse=False
                        )

                    done = await paced(plan.json_calls_per_s_per_instance, end, step)
                    counts["json_calls"] += done
                    counts["notifications"] += done * k
                    await conn.aclose()

                with Measure(redis, monitor=False) as m:
                    async with trio.open_nursery() as load:
                        for i, port in enumerate(ports):
                            for sid in callers[i]:
                                load.start_soon(caller, port, sid)
                            load.start_soon(lifecycler, port)
                            # JSON calls on instance i for the sessions held on i+1 (the messages cross over)
                            load.start_soon(notifier, port, held[i])
                    await trio.sleep(0.2)
                nursery.cancel_scope.cancel()
            for s in streams:
                await s.aclose()
            assert m.delta is not None
            result["delta"] = m.delta

        trio.run(main)
        run.raise_if_died(servers)
    finally:
        for server in servers:
            server.stop()
    delta: Delta = result.pop("delta")
    seconds = delta.seconds
    calls_per_session = plan.calls_per_s_per_session
    json_per_session = plan.json_calls_per_s_per_instance / plan.held_per_instance
    sse, js = counts["sse_calls"], counts["json_calls"]
    miss = (sse * miss_rate(calls_per_session) + js * miss_rate(json_per_session)) / max(sse + js, 1)
    load = Load(
        instances=n,
        lifecycles_per_s=counts["lifecycles"] / seconds,
        sse_calls_per_s=sse / seconds,
        json_calls_per_s=js / seconds,
        notifications_per_s=counts["notifications"] / seconds,
        held_streams=n * plan.held_per_instance,
        # per instance: its held streams, its call sessions, and the held sessions its JSON calls go to
        touched_per_beat=n * (2 * plan.held_per_instance + plan.call_sessions_per_instance),
        cache_miss=miss,
        heartbeat_s=plan.heartbeat_s,
    )
    model = predict(units, beat, None, load)
    measured = {
        "commands": delta.total / seconds,
        "bytes_in": delta.net_in / seconds,
        "bytes_out": delta.net_out / seconds,
    }
    result |= {
        "seconds": seconds,
        "counts": dict(counts),
        "load": {k: v for k, v in load.__dict__.items() if k != "notes"},
        "measured": measured,
        "model": {k: v for k, v in model.items()},
        "error_pct": {
            k: (model[k] - measured[k]) / measured[k] * 100 if measured[k] else float("nan") for k in measured
        },
        "measured_by_command_per_s": {k: round(v / seconds, 1) for k, v in sorted(delta.commands.items())},
    }
    run.log(
        f"capacity validation: measured {measured['commands']:.0f} commands/s, model {model['commands']:.0f} "
        f"({result['error_pct']['commands']:+.1f} %)"
    )
    return result


# --------------------------------------------------------------------------- report


def worked_example(units: dict[str, Any], beat: dict[str, Any], memory: dict[str, Any]) -> dict[str, Any]:
    """3 instances, 10,000 sessions: 1,000 active at 1 call/s (SSE), 2,000 holding a GET stream, each getting 0.1
    notification/s (from JSON calls: 0.1/s), 10 new sessions/s (lifecycles), the default 10 s heartbeat."""
    load = Load(
        instances=3,
        lifecycles_per_s=10,
        sse_calls_per_s=1000,
        json_calls_per_s=200,
        notifications_per_s=200,
        held_streams=2000,
        touched_per_beat=3000,
        cache_miss=miss_rate(1.0),
        heartbeat_s=DEFAULT_HEARTBEAT_S,
        sessions=10_000,
        events_kept=2000 * 100,
    )
    model = predict(units, beat, memory, load)
    return {"load": {k: v for k, v in load.__dict__.items() if k != "notes"}, "model": model}


def fmt_bytes(n: float) -> str:
    return f"{n:,.0f}"


def markdown(result: dict[str, Any]) -> str:
    units, beat, memory = result["units"], result["heartbeat"], result["memory"]
    lines = [
        "| unit | Redis commands | sent (round trips) | run in scripts | bytes in | bytes out | commands |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    names = [
        ("lifecycle", "session lifecycle (initialize → initialized → DELETE)"),
        ("call_sse", "tools/call, SSE answer, event store on (record cached)"),
        ("call_json", "tools/call, JSON answer (record cached)"),
        ("record_load", "+ record not cached (per call, `session_cache_ttl` missed)"),
        ("notification", "notification to a GET stream held on another instance (recorded in its log)"),
    ]
    for key, label in names:
        u = units[key]
        by = ", ".join(f"{k} {v:g}" for k, v in u["by_command"].items() if abs(v) >= 0.01)
        lines.append(
            f"| {label} | {u['commands']:.2f} | {u['sent']:.2f} | {u['in_scripts']:.2f} | {fmt_bytes(u['bytes_in'])} | "
            f"{fmt_bytes(u['bytes_out'])} | {by} |"
        )
    idle, per = beat["idle"], beat["per_held_stream"]
    by = ", ".join(f"{k} {v:g}" for k, v in idle["by_command"].items())
    lines.append(
        f"| heartbeat, per instance per beat (nothing held) | {idle['commands']:.2f} | {idle['sent']:.2f} | "
        f"{idle['in_scripts']:.2f} | {fmt_bytes(idle['bytes_in'])} | {fmt_bytes(idle['bytes_out'])} | {by} |"
    )
    lines.append(
        f"| heartbeat, + touch script call when any session is in use | {beat['touch_call']:.2f} | "
        f"{beat['touch_call']:.2f} | | | | evalsha |"
    )
    by = ", ".join(f"{k} {v:g}" for k, v in per["by_command"].items() if abs(v) >= 0.01)
    lines.append(
        f"| heartbeat, per held GET stream per beat | {per['commands']:.2f} | {per['sent']:.2f} (pipelined) | "
        f"{per['in_scripts']:.2f} | {fmt_bytes(per['bytes_in'])} | {fmt_bytes(per['bytes_out'])} | {by} |"
    )
    lines.append(
        f"| heartbeat, per other session in use per beat (touch) | {beat['per_touched_session']:.2f} | 0 | "
        f"{beat['per_touched_session']:.2f} | | | in the touch script |"
    )
    lines += [
        "",
        "| Redis memory | bytes |",
        "|---|---:|",
        f"| used_memory per idle session | {fmt_bytes(memory['bytes_per_idle_session'])} |",
        f"| + per held GET stream | {fmt_bytes(memory['bytes_per_held_stream'])} |",
        f"| + its first {memory['first_events']} events (in the log's first node) | {fmt_bytes(memory['bytes_first_events'])} |",
        f"| + per event kept in a stream's log, past those | {fmt_bytes(memory['bytes_per_event_kept'])} |",
    ]
    ex = result["example"]
    el, em = ex["load"], ex["model"]
    lines += [
        "",
        f"Worked example: {el['instances']} instances, {el['sessions']:,} sessions; {el['sse_calls_per_s']:,.0f} SSE "
        f"calls/s (1,000 active sessions at 1 call/s, record cache miss {el['cache_miss']:.0%}), "
        f"{el['json_calls_per_s']:,.0f} JSON calls/s sending {el['notifications_per_s']:,.0f} notifications/s "
        f"to {el['held_streams']:,} held GET streams, {el['lifecycles_per_s']:g} lifecycles/s, "
        f"{el['touched_per_beat']:,} sessions in use per {el['heartbeat_s']:g} s beat, "
        f"{el['events_kept']:,} events kept:",
        "",
        "| | per second |",
        "|---|---:|",
        f"| Redis commands | {em['commands']:,.0f} (of which heartbeat {em['commands_heartbeat']:,.0f}) |",
        f"| sent (round trips, pipelined heartbeat commands counted) | {em['sent']:,.0f} |",
        f"| bytes in / out | {fmt_bytes(em['bytes_in'])} / {fmt_bytes(em['bytes_out'])} |",
        f"| used_memory | {em['used_memory_bytes'] / 2**20:,.1f} MiB |",
    ]
    v = result.get("validation")
    if v and "error" not in v:
        p = v["plan"]
        lines += [
            "",
            f"Validation: {v['instances']} instances on one Redis, {v['seconds']:.1f} s, heartbeat {p['heartbeat_s']:g} s; "
            f"{p['held_per_instance']} held GET streams per instance (opened on the next instance), "
            f"{p['call_sessions_per_instance']} sessions per instance at {p['calls_per_s_per_session']:g} SSE calls/s, "
            f"{p['lifecycles_per_s_per_instance']:g} lifecycles/s and {p['json_calls_per_s_per_instance']:g} JSON "
            f"calls/s (burst({p['notifications_per_json_call']})) per instance:",
            "",
            "| | measured/s | model/s | error | target |",
            "|---|---:|---:|---:|---|",
        ]
        for key, label in (
            ("commands", "Redis commands"),
            ("bytes_in", "bytes in"),
            ("bytes_out", "bytes out"),
        ):
            err = v["error_pct"][key]
            target = f"within {TARGET_ERROR_PCT:g} %" if key == "commands" else ""
            status = ("met" if abs(err) <= TARGET_ERROR_PCT else "MISSED") if key == "commands" else ""
            lines.append(
                f"| {label} | {v['measured'][key]:,.0f} | {v['model'][key]:,.0f} | {err:+.1f} % | {target} {status} |"
            )
    elif v:
        lines += ["", f"Validation failed: {v['error']}"]
    return "\n".join(lines)


def table_lines(result: dict[str, Any]) -> list[str]:
    """Rows for run.py's table."""
    if "error" in result:
        return [f"| Redis capacity model | trio_mcp (Redis) | n/a | | | | | | n/a: {result['error']} |"]
    u = result["units"]
    lab = "trio_mcp (Redis store + streams + events)"
    out = [
        f"| Redis commands per unit (capacity model) | {lab} | trio | lifecycle {u['lifecycle']['commands']:.2f} "
        f"({u['lifecycle']['sent']:.2f} sent), SSE call {u['call_sse']['commands']:.2f} ({u['call_sse']['sent']:.2f}), "
        f"notification {u['notification']['commands']:.2f} ({u['notification']['sent']:.2f}) | | | | | |"
    ]
    v = result.get("validation") or {}
    if "error_pct" in v:
        err = v["error_pct"]["commands"]
        out.append(
            f"| Redis ops/s, 3 instances, mixed load: model vs measured | {lab} | trio | model "
            f"{v['model']['commands']:,.0f}/s, measured {v['measured']['commands']:,.0f}/s ({err:+.1f} %) | | | | "
            f"within {TARGET_ERROR_PCT:g} % | {'met' if abs(err) <= TARGET_ERROR_PCT else 'MISSED'} |"
        )
    else:
        out.append(
            f"| Redis ops/s, 3 instances: model vs measured | {lab} | n/a | | | | | | n/a: {v.get('error', 'not run')} |"
        )
    return out


def capacity_cell(redis: Any, logdir: Path, quick: bool = False) -> dict[str, Any]:
    """Every measurement, the model, the validation; writes benchmarks/results/capacity.md."""
    run = harness()
    result: dict[str, Any] = {"quick": quick}
    result["units"] = measure_units(redis, logdir, quick)
    result["heartbeat"] = measure_heartbeat(redis, logdir, quick)
    run.log(f"capacity: heartbeat measured ({result['heartbeat']['idle']['beats']} idle beats)")
    result["memory"] = measure_memory(redis, logdir, quick)
    result["example"] = worked_example(result["units"], result["heartbeat"], result["memory"])
    plan = Plan(seconds=6.0 if quick else 12.0)
    try:
        result["validation"] = validate(redis, logdir, result["units"], result["heartbeat"], plan)
    except Exception as exc:
        result["validation"] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    result["markdown"] = markdown(result)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "capacity.md").write_text(result["markdown"] + "\n")
    (RESULTS / "capacity.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer units, shorter validation (6 s)")
    args = parser.parse_args(argv)
    run = harness()
    run._raise_nofile()
    logdir = Path(tempfile.mkdtemp(prefix="trio-mcp-bench-capacity-"))
    redis = run.load_redis_helper().RedisServer()
    redis.start()
    try:
        result = capacity_cell(redis, logdir, args.quick)
    finally:
        redis.stop()
    print(result["markdown"])
    print(f"\nwrote {(RESULTS / 'capacity.md').relative_to(ROOT)}")
    print(json.dumps({k: v for k, v in result.items() if k != "markdown"}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
