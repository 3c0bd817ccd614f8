"""Many streams on one instance: 10,000 sessions each holding a GET stream, a client in a process of its own.

One `hypercorn --worker-class trio` process of `servers/streams_app.py` on a free 127.0.0.1 port: memory store,
default (memory) event store, TRIO_MCP_KEEPALIVE_INTERVAL=5 (instead of 15 s, so keep-alives show within a
bounded run) and TRIO_MCP_MAX_SESSIONS above the count opened. Both processes raise RLIMIT_NOFILE's soft limit
to the hard one (each holds one socket per stream). The client (trio + h11, `_client.py`):

1. opens N sessions (default 10,000; --quick 2,000) over enough keep-alive connections (hypercorn closes one
   after 1,000 requests), then one GET stream per session (64 at a time), each read by a task of its own that
   counts keep-alive comments (`: keepalive`) and records the monotonic time `notifications/tools/list_changed`
   arrives; the server worker's RSS (/proc/<pid>/status VmRSS) before any session, with the sessions idle and
   with every stream open;
2. with the streams open: sequential tools/call `add` on another session (its own keep-alive connection,
   Accept: application/json, text/event-stream) for 10 s (quick 3 s): p50/p99/max;
3. keep-alives: over a window of twice the interval + 1 s, the share of streams that got at least one;
4. fan-out, 3 times: tools/call `announce` on that other session sends one tools/list_changed to every session;
   t0 just before the POST, delivery = arrival - t0 on each stream (max, p50, how many within 1 s, how many at
   all within 60 s), and when the announce call's own answer came; the server worker's CPU seconds over the
   fan-outs (and the client's own, to show whether it kept up).

Run: python benchmarks/bench_many_streams.py [--streams N] [--quick]   (a table, then one JSON line; targets
shown, never asserted). run.py runs it as a cell of the full run (JSON under `many_streams`).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _client  # noqa: E402  (benchmarks/ is not a package)

TARGET_RSS_MIB = 300.0
TARGET_CALL_P99_MS = 50.0
TARGET_FANOUT_S = 1.0
TARGET_KEEPALIVE = 1.0  # the share of streams that got a keep-alive in the window
APP = "streams_app:app"
KEEPALIVE_S = 5.0
ANNOUNCES = 3
FANOUT_BOUND_S = 60.0
OPEN_AT_ONCE = 64  # GET streams being opened at a time
PER_CONNECTION = 400  # requests on one keep-alive connection before a fresh one (hypercorn's cap is 1,000)
LIST_CHANGED = b"notifications/tools/list_changed"
KEEPALIVE = b": keepalive"
TAIL = max(len(LIST_CHANGED), len(KEEPALIVE)) - 1  # kept from the last read: a marker split across two


def harness() -> Any:
    """run.py (ServerProcess, percentile, rss_bytes, cpu_seconds), imported lazily: it imports this module."""
    import run

    return run


def raise_nofile() -> int:
    return harness()._raise_nofile()


# --------------------------------------------------------------------------- the client process


class Stream:
    """One held GET stream: what its reader saw."""

    __slots__ = ("arrivals", "conn", "ended", "keepalives", "round", "tail")

    def __init__(self, conn: _client.Connection) -> None:
        self.conn = conn
        self.keepalives: list[float] = []
        self.arrivals: dict[int, float] = {}  # fan-out round -> monotonic arrival
        self.round = -1
        self.tail = b""
        self.ended = False


class FanOut:
    """The round in progress and how many streams have its notification."""

    def __init__(self, streams: int) -> None:
        self.streams = streams
        self.round = -1
        self.count = 0
        self.all_in = trio.Event()

    def start(self, round: int) -> None:
        self.round, self.count, self.all_in = round, 0, trio.Event()

    def arrived(self, stream: Stream, now: float) -> None:
        if self.round > stream.round:
            stream.round = self.round
            stream.arrivals[self.round] = now
            self.count += 1
            if self.count >= self.streams:
                self.all_in.set()


async def read_stream(stream: Stream, fanout: FanOut) -> None:
    """Raw bytes (no h11: the markers cannot straddle a chunk header, and it keeps the client cheap)."""
    data = stream.conn.h11.trailing_data[0]  # body bytes that came with the response head
    while True:
        if data:
            now = time.monotonic()
            seen = stream.tail + data
            for _ in range(seen.count(KEEPALIVE) - stream.tail.count(KEEPALIVE)):  # not the tail's again
                stream.keepalives.append(now)
            if LIST_CHANGED in seen:
                fanout.arrived(stream, now)
            stream.tail = seen[-TAIL:]
        data = await stream.conn.stream.receive_some(65536)
        if not data:
            stream.ended = True
            return


class Control:
    """The other session's keep-alive connection: a fresh one before hypercorn would close it (1,000
    requests, or 5 s idle)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: _client.Connection | None = None
        self.requests = 0
        self.last = 0.0
        self.sid = ""

    async def ready(self) -> _client.Connection:
        if self.conn is None or self.requests >= PER_CONNECTION or time.monotonic() - self.last > 2.0:
            if self.conn is not None:
                await trio.aclose_forcefully(self.conn.stream)
            self.conn = await _client.Connection.open(self.port)
            self.requests = 0
        self.requests += 1
        return self.conn

    def done(self) -> None:
        self.last = time.monotonic()

    async def open(self) -> None:
        conn = await self.ready()
        self.sid = await _client.open_session(conn)
        self.requests += 1
        self.done()

    async def call(self, name: str, id: int) -> bytes:
        conn = await self.ready()
        body = _client.rpc("tools/call", {"name": name, "arguments": {}}, id=id)
        status, _, answer = await conn.request("POST", "/mcp", _client.session_headers(self.sid), body)
        self.done()
        if status != 200 or b'"result"' not in answer:
            raise RuntimeError(f"tools/call {name} failed: {status} {answer[:300]!r}")
        return answer

    async def aclose(self) -> None:
        if self.conn is None:
            return
        with trio.move_on_after(5):
            if self.sid:
                conn = await self.ready()
                await conn.request("DELETE", "/mcp", _client.session_headers(self.sid))
        await trio.aclose_forcefully(self.conn.stream)


def summary_ms(values_ns: list[int]) -> dict[str, float]:
    return harness().summary_ms(values_ns)


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def client(port: int, worker: int, n: int, call_seconds: float, keepalive_s: float) -> dict[str, Any]:
    run = harness()
    out: dict[str, Any] = {"streams_asked": n}
    began = time.monotonic()
    with trio.fail_after(60):  # warm the code paths (and the allocator) before the baseline
        warm = await _client.open_sessions(port, 5, parallel=1)
        for sid in warm:
            conn = await _client.open_get_stream(port, sid)
            await conn.aclose()
        conn = await _client.Connection.open(port)
        for sid in warm:
            await conn.request("DELETE", "/mcp", _client.session_headers(sid))
        await conn.aclose()
    await trio.sleep(1.0)
    base = run.rss_bytes(worker)

    with trio.fail_after(300):
        parallel = max(64, math.ceil(2 * n / PER_CONNECTION))
        ids = await _client.open_sessions(port, n, parallel=parallel)
    out["sessions_s"] = time.monotonic() - began
    await trio.sleep(1.0)
    idle = run.rss_bytes(worker)

    streams: list[Stream] = []
    fanout = FanOut(n)
    control = Control(port)
    try:
        async with trio.open_nursery() as readers:
            limiter = trio.CapacityLimiter(OPEN_AT_ONCE)

            async def hold(sid: str) -> None:
                async with limiter:
                    stream = Stream(await _client.open_get_stream(port, sid))
                streams.append(stream)
                readers.start_soon(read_stream, stream, fanout)

            opened = time.monotonic()
            with trio.fail_after(300):
                async with trio.open_nursery() as opening:
                    for sid in ids:
                        opening.start_soon(hold, sid)
            out["streams_open_s"] = time.monotonic() - opened
            await trio.sleep(1.0)
            held = run.rss_bytes(worker)
            out["rss"] = {
                "base_mib": base / 2**20,
                "idle_mib": idle / 2**20,
                "streams_mib": held / 2**20,
                "idle_kib_per_session": (idle - base) / n / 1024,
                "kib_per_stream": (held - base) / n / 1024,
            }

            # tools/call on another session while the streams are open; the keep-alive window starts now.
            window_start = time.monotonic()
            window = 2 * keepalive_s + 1.0
            with trio.fail_after(30):
                await control.open()
            latencies: list[int] = []
            ids_iter = iter(range(1, 1 << 30))
            deadline = time.monotonic() + call_seconds
            with trio.fail_after(call_seconds + 30):
                while time.monotonic() < deadline:
                    conn = await control.ready()
                    begun = time.perf_counter_ns()
                    await _client.call_add(conn, next(ids_iter), control.sid, sse=True)
                    latencies.append(time.perf_counter_ns() - begun)
                    control.done()
            out["call"] = summary_ms(latencies) | {"seconds": call_seconds}

            # keep-alives: every stream should have had at least one within the window.
            await trio.sleep(max(0.0, window_start + window - time.monotonic()))
            window_end = window_start + window
            counts = [sum(1 for t in s.keepalives if window_start <= t <= window_end) for s in streams]
            out["keepalive"] = {
                "interval_s": keepalive_s,
                "window_s": window,
                "streams_with_one": sum(1 for c in counts if c),
                "share": sum(1 for c in counts if c) / n,
                "mean_per_stream": sum(counts) / n,
                "ended_streams": sum(1 for s in streams if s.ended),
            }

            # the fan-out: one tools/list_changed to every session, ANNOUNCES times.
            rounds: list[dict[str, Any]] = []
            cpu_server, cpu_client = run.cpu_seconds(worker), client_cpu()
            for k in range(ANNOUNCES):
                await trio.sleep(0.5)
                fanout.start(k)
                t0 = time.monotonic()
                with trio.fail_after(FANOUT_BOUND_S):
                    await control.call("announce", next(ids_iter))
                answered = time.monotonic() - t0
                with trio.move_on_after(max(0.0, t0 + FANOUT_BOUND_S - time.monotonic())):
                    await fanout.all_in.wait()
                delays = sorted(s.arrivals[k] - t0 for s in streams if k in s.arrivals)
                rounds.append(
                    {
                        "delivered": len(delays),
                        "within_1s": sum(1 for d in delays if d <= TARGET_FANOUT_S),
                        "all_s": delays[-1] if len(delays) == n else None,
                        "max_s": delays[-1] if delays else None,
                        "p50_s": run.percentile(delays, 0.5) if delays else None,
                        "first_s": delays[0] if delays else None,
                        "announce_answered_s": answered,
                    }
                )
            out["fanout"] = rounds
            out["fanout_cpu_s"] = {
                "server": run.cpu_seconds(worker) - cpu_server,
                "client": client_cpu() - cpu_client,
            }
            out["rss"]["after_fanout_mib"] = run.rss_bytes(worker) / 2**20
            readers.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(30):
            for stream in streams:
                await trio.aclose_forcefully(stream.conn.stream)
            await control.aclose()
    out["streams"] = len(streams)
    out["elapsed_s"] = time.monotonic() - began
    return out


def client_main(args: argparse.Namespace) -> int:
    limit = raise_nofile()
    if limit < args.streams + 200:
        print(json.dumps({"error": f"RLIMIT_NOFILE {limit} is too low for {args.streams} streams"}))
        return 1

    async def main() -> dict[str, Any]:
        with trio.fail_after(900):
            return await client(args.port, args.worker, args.streams, args.seconds, args.keepalive)

    return _client.run_client_process(main)


# --------------------------------------------------------------------------- the cell


def many_streams_cell(logdir: Path, quick: bool = False, streams: int | None = None) -> dict[str, Any]:
    """The server, the client in its own process; its JSON line plus the medians and targets."""
    run = harness()
    n = streams or (2000 if quick else 10_000)
    seconds = 3.0 if quick else 10.0
    env = {"TRIO_MCP_KEEPALIVE_INTERVAL": f"{KEEPALIVE_S:g}", "TRIO_MCP_MAX_SESSIONS": str(n + 100)}
    server = run.ServerProcess(run.ServerSpec("many-streams", APP, env), logdir)
    try:
        run.probe(server, stateful=True)
        argv = [sys.executable, str(Path(__file__).resolve()), "--client", "--port", str(server.port),
                "--worker", str(server.worker_pid), "--streams", str(n), "--seconds", f"{seconds:g}",
                "--keepalive", f"{KEEPALIVE_S:g}"]  # fmt: skip
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=960)
        data = run.client_result(done, "many-streams")
        run.raise_if_died([server])
    finally:
        server.stop()
    complete = [r["all_s"] for r in data["fanout"] if r["all_s"] is not None]
    data["fanout_median_s"] = statistics.median(complete) if len(complete) == len(data["fanout"]) else None
    p50s = [r["p50_s"] for r in data["fanout"] if r["p50_s"] is not None]
    data["fanout_median_p50_s"] = statistics.median(p50s) if p50s else None
    data["quick"] = quick
    data["env"] = env
    data["targets"] = {
        "rss_mib": TARGET_RSS_MIB,
        "call_p99_ms": TARGET_CALL_P99_MS,
        "fanout_s": TARGET_FANOUT_S,
        "keepalive_share": TARGET_KEEPALIVE,
    }
    return data


def verdict(value: float | None, target: float, higher_is_better: bool = False) -> str:
    if value is None or value != value:
        return "MISSED"
    return "met" if (value >= target if higher_is_better else value <= target) else "MISSED"


def fmt_s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def table_lines(result: dict[str, Any]) -> list[str]:
    """Rows in run.py's table shape (| scenario | server | worker | value | ... | target | status |)."""
    lab = f"trio_mcp (memory, memory event store; keep-alive {KEEPALIVE_S:g} s)"
    if "error" in result:
        return [f"| many GET streams on one instance | {lab} | n/a | | | | | | n/a: {result['error']} |"]
    n = result["streams"]
    r, c, k = result["rss"], result["call"], result["keepalive"]
    rounds = result["fanout"]
    median = result["fanout_median_s"]
    within = min(x["within_1s"] for x in rounds)
    delivered = min(x["delivered"] for x in rounds)
    each = ", ".join("n/a" if x["all_s"] is None else f"{x['all_s']:.2f}" for x in rounds)
    answered = statistics.median(x["announce_answered_s"] for x in rounds)
    cpu = result["fanout_cpu_s"]
    return [
        f"| server RSS, {n} sessions each holding a GET stream | {lab} | trio | {r['streams_mib']:.0f} MiB "
        f"({r['kib_per_stream']:.1f} KiB per session + stream over the {r['base_mib']:.0f} MiB base) | | | | "
        f"≤ {TARGET_RSS_MIB:.0f} MiB | {verdict(r['streams_mib'], TARGET_RSS_MIB)} |",
        f"| tools/call on another session with {n} streams open, {c['count']} calls | {lab} | trio | p50 "
        f"{c['p50_ms']:.2f} ms, p99 {c['p99_ms']:.2f}, max {c['max_ms']:.2f} ms | | | | "
        f"p99 ≤ {TARGET_CALL_P99_MS:g} ms | {verdict(c['p99_ms'], TARGET_CALL_P99_MS)} |",
        f"| keep-alives on {n} streams in {k['window_s']:g} s | {lab} | trio | {100 * k['share']:.1f} % got one "
        f"({k['mean_per_stream']:.2f} per stream) | | | | 100 % | "
        f"{verdict(k['share'], TARGET_KEEPALIVE, higher_is_better=True)} |",
        f"| tools/list_changed to all {n} streams, {len(rounds)} fan-outs | {lab} | trio | median "
        f"{'n/a' if median is None else f'{median:.2f} s'} (each {each}; p50 {fmt_s(result['fanout_median_p50_s'])}; "
        f"≥ {within} within 1 s, ≥ {delivered} within {FANOUT_BOUND_S:g} s; announce answered in "
        f"{answered:.2f} s; server CPU {cpu['server'] / len(rounds):.2f} s, client "
        f"{cpu['client'] / len(rounds):.2f} s per fan-out) | | | | ≤ {TARGET_FANOUT_S:g} s | "
        f"{verdict(median, TARGET_FANOUT_S)} |",
    ]


def print_report(result: dict[str, Any]) -> None:
    n = result["streams"]
    r, c, k = result["rss"], result["call"], result["keepalive"]
    env = ", ".join(f"{a}={b}" for a, b in result["env"].items())
    print(f"many streams: {n} sessions with a GET stream on one instance ({env}), client in its own process")
    print(f"  sessions opened in {result['sessions_s']:.1f} s, streams in {result['streams_open_s']:.1f} s")
    print(
        f"  server RSS: base {r['base_mib']:.1f} MiB, sessions idle {r['idle_mib']:.1f} MiB, streams open "
        f"{r['streams_mib']:.1f} MiB ({r['kib_per_stream']:.1f} KiB per session + stream), after the fan-outs "
        f"{r['after_fanout_mib']:.1f} MiB; target <= {TARGET_RSS_MIB:g} MiB ({verdict(r['streams_mib'], TARGET_RSS_MIB)})"
    )
    print(
        f"  tools/call add on another session, {c['count']} calls in {c['seconds']:g} s: p50 {c['p50_ms']:.2f} "
        f"p99 {c['p99_ms']:.2f} max {c['max_ms']:.2f} ms; target p99 <= {TARGET_CALL_P99_MS:g} ms "
        f"({verdict(c['p99_ms'], TARGET_CALL_P99_MS)})"
    )
    print(
        f"  keep-alives (interval {k['interval_s']:g} s) in a {k['window_s']:g} s window: {k['streams_with_one']}/{n} "
        f"streams ({100 * k['share']:.1f} %), {k['mean_per_stream']:.2f} per stream, {k['ended_streams']} streams ended"
    )
    for i, x in enumerate(result["fanout"]):
        all_s = "n/a" if x["all_s"] is None else f"{x['all_s']:.3f} s"
        print(
            f"  fan-out {i + 1}: all {n} in {all_s} (first {x['first_s']:.3f}, p50 {x['p50_s']:.3f}, max "
            f"{x['max_s']:.3f} s), {x['within_1s']} within 1 s, {x['delivered']} within {FANOUT_BOUND_S:g} s; "
            f"announce answered in {x['announce_answered_s']:.3f} s"
        )
    median = result["fanout_median_s"]
    print(
        f"  fan-out median {'n/a' if median is None else f'{median:.3f} s'}; target <= {TARGET_FANOUT_S:g} s "
        f"({verdict(median, TARGET_FANOUT_S)}); CPU over the {len(result['fanout'])} fan-outs: server worker "
        f"{result['fanout_cpu_s']['server']:.2f} s, client {result['fanout_cpu_s']['client']:.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 streams, a 3 s tools/call phase")
    parser.add_argument("--streams", type=int, help="sessions, each with a GET stream (default 10,000)")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("--keepalive", type=float, default=KEEPALIVE_S, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(args)
    harness()._raise_nofile()
    logdir = Path(tempfile.mkdtemp(prefix="trio-mcp-bench-streams-"))
    result = many_streams_cell(logdir, args.quick, args.streams)
    print_report(result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
