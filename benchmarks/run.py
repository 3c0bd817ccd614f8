"""Side-by-side benchmark: trio_mcp against a bare ASGI app (the ceiling) and the official `mcp` SDK.

Run it with `nox -s bench` (it installs wrk, the SDK, Redis and matplotlib); `nox -s bench -- --quick` is a
one-round smoke run, `-- --profile` adds a py-spy profile of the trio_mcp hot path.

Every server runs in its own `hypercorn --worker-class trio` process on 127.0.0.1 (a free port); wrk with
`lua/mcp.lua` loads it. The cells of one round run back to back, and each cell is compared with the bare app of
the same round; the table shows medians over the rounds. Servers, wrk and Redis share the machine's cores, so
the absolute numbers move with the machine: read the ratios. Targets are shown, never asserted. The WebSocket-vs-HTTP round-trip cell is the
one wrk does not drive: a Python client process (`_roundtrips.py`) makes the same tools/call over both transports
of the trio_mcp servers, so its costs cancel out in the ws ÷ http ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import importlib.util
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVERS = HERE / "servers"
LUA = HERE / "lua" / "mcp.lua"
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import _client  # noqa: E402  (benchmarks/ is not a package)

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# Targets from the benchmark issue (shown in the table, never asserted).
TARGET_STATELESS = 0.60  # x bare
TARGET_SSE = 0.45  # x bare
TARGET_CHURN_VS_SDK = 2.0  # x SDK
TARGET_IDLE_KIB = 20.0
TARGET_GET_KIB = 50.0
TARGET_REDIS_CMDS = 1.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _raise_nofile() -> int:
    """The soft fd limit up to the hard one; returns the limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return max(soft, want)


@dataclass
class ServerSpec:
    key: str  # "bare", "trio_mcp/<store>[-noevents]", "sdk/stateless", "sdk/stateful", "baseline/<store>"
    app: str  # module:attribute under `cwd`
    env: dict[str, str] = field(default_factory=dict)
    worker: str = "trio"
    cwd: Path = SERVERS
    pythonpath: Path | None = None  # prepended to PYTHONPATH (the --baseline checkout)


def server_env(spec: ServerSpec) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIO_MCP_") and k != "REDIS_URL"}
    if spec.pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(spec.pythonpath), env.get("PYTHONPATH")]))
    return env | spec.env


class ServerProcess:
    """`python -m hypercorn --worker-class <worker> -b 127.0.0.1:<free port> <app>` with its worker's pid."""

    def __init__(self, spec: ServerSpec, logdir: Path) -> None:
        self.spec = spec
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.log_path = logdir / f"{spec.key.replace('/', '-')}-{spec.worker}-{self.port}.log"
        env = server_env(spec)
        argv = [sys.executable, "-m", "hypercorn", "--worker-class", spec.worker, "--graceful-timeout", "1"]
        argv += ["-b", f"127.0.0.1:{self.port}", spec.app]
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, cwd=spec.cwd, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_raise_nofile
            )
        self.worker_pid = self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.key} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError:
                time.sleep(0.1)
                continue
            # hypercorn's default is one spawned worker process: it is the one we measure.
            workers = [p for p in children(self.proc.pid) if "resource_tracker" not in cmdline(p)]
            return workers[0] if workers else self.proc.pid
        self.stop()
        raise RuntimeError(f"{self.spec.key} did not listen within {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        worker = self.worker_pid if hasattr(self, "worker_pid") else None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if worker is not None and worker != self.proc.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)


# --------------------------------------------------------------------------- Redis


@functools.cache
def load_redis_helper() -> Any:
    """tests/_redis_server.py, imported by path (the tests directory is not a package)."""
    path = ROOT / "tests" / "_redis_server.py"
    spec = importlib.util.spec_from_file_location("_bench_redis_server", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def commandstats(redis: Any) -> dict[str, int]:
    """Calls per command from INFO commandstats (the INFO calls themselves left out)."""
    raw = redis.command("INFO", "commandstats")
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    out: dict[str, int] = {}
    for match in re.finditer(r"^cmdstat_([^:]+):calls=(\d+)", text, re.MULTILINE):
        if match.group(1) != "info":
            out[match.group(1)] = int(match.group(2))
    return out


def stats_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


MONITOR_LINE = re.compile(r'^\+\d+\.\d+ \[\d+ (\S+)\] "([^"]+)"')


@contextlib.contextmanager
def scripted_commands(redis: Any) -> Iterator[dict[str, int]]:
    """The commands that Lua scripts ran during the block, by name, from Redis MONITOR (it shows them as
    "[<db> lua]"). INFO commandstats counts them like the commands a client sends: one EVALSHA is one round
    trip however many commands its script runs."""
    scripted: dict[str, int] = {}
    marker = f"bench-monitor-end-{os.getpid()}-{time.monotonic_ns()}"
    with socket.create_connection(("127.0.0.1", redis.port), timeout=30) as sock, sock.makefile("rb") as feed:
        sock.sendall(b"MONITOR\r\n")
        if feed.readline().strip() != b"+OK":
            raise RuntimeError("Redis refused MONITOR")
        yield scripted
        redis.command("ECHO", marker)
        for raw in feed:
            line = raw.decode(errors="replace")
            if marker in line:
                break
            match = MONITOR_LINE.match(line)
            if match is not None and match.group(1) == "lua":
                name = match.group(2).lower()
                scripted[name] = scripted.get(name, 0) + 1


# --------------------------------------------------------------------------- wrk


@dataclass
class CellResult:
    requests: int
    seconds: float
    rps: float
    loops: int
    bad: int
    errors: int
    cpu_us_per_request: float
    wrk_cpu_us_per_request: float
    p50_ms: float
    p99_ms: float
    redis_commands: dict[str, int] | None = None
    redis_cpu_us_per_request: float | None = None

    @property
    def redis_per_request(self) -> float | None:
        if self.redis_commands is None or not self.requests:
            return None
        return sum(self.redis_commands.values()) / self.requests


def run_wrk(
    server: ServerProcess,
    mode: str,
    seconds: float,
    threads: int,
    connections: int,
    extra: list[str] | None = None,
    redis: Any = None,
) -> CellResult:
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
    ]
    argv += [server.url, "--", mode, *(extra or [])]
    redis_before = commandstats(redis) if redis is not None else None
    redis_cpu_before = cpu_seconds(redis.pid) if redis is not None else 0.0
    cpu_before = cpu_seconds(server.worker_pid)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = cpu_seconds(server.worker_pid) - cpu_before
    redis_commands = stats_delta(redis_before, commandstats(redis)) if redis_before is not None else None
    redis_cpu = cpu_seconds(redis.pid) - redis_cpu_before if redis is not None else 0.0
    line = next((x for x in output.splitlines() if x.startswith("BENCH ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{output}")
    data = json.loads(line[6:])
    requests = int(data["requests"])
    secs = data["duration_us"] / 1e6
    errors = sum(int(data[k]) for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    per = max(requests, 1)
    return CellResult(
        requests=requests,
        seconds=secs,
        rps=requests / secs if secs else 0.0,
        loops=int(data["loops"]),
        bad=int(data["bad"]),
        errors=errors,
        cpu_us_per_request=cpu / per * 1e6,
        wrk_cpu_us_per_request=(usage.ru_utime + usage.ru_stime) / per * 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        redis_commands=redis_commands,
        redis_cpu_us_per_request=redis_cpu / per * 1e6 if redis is not None else None,
    )


def mean_cell(cells: list[CellResult | None]) -> CellResult | None:
    """The mean of the cells that ran (rates and per-request costs averaged, counts summed)."""
    ran = [c for c in cells if c is not None]
    if not ran:
        return None
    if len(ran) == 1:
        return ran[0]
    n = len(ran)
    return CellResult(
        requests=sum(c.requests for c in ran),
        seconds=sum(c.seconds for c in ran),
        rps=sum(c.rps for c in ran) / n,
        loops=sum(c.loops for c in ran),
        bad=sum(c.bad for c in ran),
        errors=sum(c.errors for c in ran),
        cpu_us_per_request=sum(c.cpu_us_per_request for c in ran) / n,
        wrk_cpu_us_per_request=sum(c.wrk_cpu_us_per_request for c in ran) / n,
        p50_ms=sum(c.p50_ms for c in ran) / n,
        p99_ms=sum(c.p99_ms for c in ran) / n,
    )


# --------------------------------------------------------------------------- checks through the trio client


def probe(server: ServerProcess, stateful: bool) -> None:
    """One real tools/call (after an initialize for a stateful-only server), so a broken app fails early."""

    async def main() -> None:
        with trio.fail_after(20):
            await check()

    async def check() -> None:
        conn = await _client.Connection.open(server.port)
        try:
            if stateful:
                sid = await _client.open_session(conn)
                await _client.call_add(conn, 1, sid, sse=True)
                await conn.request("DELETE", "/mcp", _client.session_headers(sid))
            else:
                await _client.call_add(conn, 1, None, sse=False)
        finally:
            await conn.aclose()

    trio.run(main)


def open_sessions(server: ServerProcess, count: int) -> list[str]:
    async def main() -> list[str]:
        with trio.fail_after(120):
            return await _client.open_sessions(server.port, count)

    return trio.run(main)


def redis_used_memory(redis: Any) -> int:
    raw = redis.command("INFO", "memory")
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    match = re.search(r"^used_memory:(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def memory_cell(server: ServerProcess, sessions: int, redis: Any = None) -> dict[str, Any]:
    """Server RSS before/after `sessions` idle sessions, then with one GET stream held on each."""

    async def main() -> dict[str, Any]:
        with trio.fail_after(300):
            # Warm the code paths (and the allocator) before the baseline.
            warm = await _client.open_sessions(server.port, 5, parallel=1)
            held = [await _client.open_get_stream(server.port, sid) for sid in warm]
            for conn in held:
                await conn.aclose()
            await trio.sleep(1.0)
            base = rss_bytes(server.worker_pid)
            redis_base = redis_used_memory(redis) if redis is not None else 0
            ids = await _client.open_sessions(server.port, sessions)
            await trio.sleep(1.0)
            idle = rss_bytes(server.worker_pid)
            redis_idle = redis_used_memory(redis) if redis is not None else 0
            conns: list[_client.Connection] = []
            try:
                await _client.open_get_streams(server.port, ids, into=conns)
                await trio.sleep(1.0)
                streams = rss_bytes(server.worker_pid)
            finally:
                with trio.CancelScope(shield=True):
                    for conn in conns:
                        await conn.aclose()
            result: dict[str, Any] = {
                "sessions": sessions,
                "get_streams": len(conns),
                "rss_base_kib": base / 1024,
                "rss_idle_kib": idle / 1024,
                "rss_streams_kib": streams / 1024,
                "idle_kib_per_session": (idle - base) / sessions / 1024,
                "get_kib_per_session": (streams - base) / sessions / 1024,
            }
            if redis is not None:
                result["redis_kib_per_session"] = (redis_idle - redis_base) / sessions / 1024
            return result

    return trio.run(main)


def redis_calls_per_request(
    server: ServerProcess, redis: Any, calls: int, kinds: tuple[bool | None, ...] = (None, True, False)
) -> dict[str, Any]:
    """Redis commands per tools/call, counted with INFO commandstats around `calls` sequential calls, for each
    kind of call: None stateless, True in a session with SSE, False in a session with JSON."""
    out: dict[str, Any] = {}

    async def run(sse: bool | None) -> None:
        conn = await _client.Connection.open(server.port)
        try:
            sid = None if sse is None else await _client.open_session(conn)
            await _client.call_add(conn, 1, sid, sse=bool(sse))  # the first call may load the session
            with scripted_commands(redis) as scripted:
                before = commandstats(redis)
                for i in range(calls):
                    await _client.call_add(conn, i + 2, sid, sse=bool(sse))
                delta = stats_delta(before, commandstats(redis))
            name = {None: "stateless", True: "session_sse", False: "session_json"}[sse]
            # A command issued on the hot path shows up about once per call; the heartbeat's batched flush and
            # liveness key (once per beat for the whole instance) show up far less often: amortized.
            hot = {k: v for k, v in delta.items() if v / calls >= 0.5}
            in_scripts = {k: min(scripted.get(k, 0), v) for k, v in hot.items() if scripted.get(k)}
            out[name] = {
                "per_call": sum(delta.values()) / calls,
                "hot_path_per_call": sum(hot.values()) / calls,
                # what the server sent on the hot path (its round trips, unless it pipelines them)
                "sent_hot_path_per_call": (sum(hot.values()) - sum(in_scripts.values())) / calls,
                "amortized_per_call": sum(v for k, v in delta.items() if k not in hot) / calls,
                "commands": delta,
                "hot_path_in_scripts": in_scripts,
                "calls": calls,
            }
        finally:
            await conn.aclose()

    async def main() -> None:
        with trio.fail_after(120):
            for sse in kinds:
                await run(sse)

    trio.run(main)
    return out


# --------------------------------------------------------------------------- WebSocket vs HTTP round trips

ROUNDTRIPS = HERE / "_roundtrips.py"  # the client process of the cell
WS_TRANSPORTS = ("ws", "http")
CLIENT_SATURATED = 0.90  # a client process busier than this share of a core is (one of) the bottleneck(s)
MAX_LINE = 64 * 1024 * 1024  # a client's result line (its latencies) is far smaller


@dataclass
class RoundTripResult:
    """One transport's cell: sequential tools/call round trips over C connections for the cell's duration."""

    calls: int
    seconds: float
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_call: float  # the server worker's utime+stime over the timed phase, per call
    server_core_share: float  # the server worker's CPU seconds per second of the timed phase
    client_cpu_us_per_call: float  # all client processes together
    client_core_share: float  # the busiest client process's CPU seconds per second
    clients: int


def percentile(ordered: list[int], q: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    if not ordered:
        return float("nan")
    return float(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))])


def summary_ms(values_ns: list[int]) -> dict[str, float]:
    """count, p50/p90/p99, max and mean in milliseconds of latencies in nanoseconds."""
    ordered = sorted(values_ns)
    if not ordered:
        return {"count": 0}
    return {
        "count": len(ordered),
        "p50_ms": percentile(ordered, 0.50) / 1e6,
        "p90_ms": percentile(ordered, 0.90) / 1e6,
        "p99_ms": percentile(ordered, 0.99) / 1e6,
        "max_ms": ordered[-1] / 1e6,
        "mean_ms": sum(ordered) / len(ordered) / 1e6,
    }


def client_result(done: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    """The JSON line a cell's client process printed (`_client.run_client_process`), or RuntimeError."""
    lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
    if not lines:
        raise RuntimeError(f"the {what} client failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    data: dict[str, Any] = json.loads(lines[-1])
    if "error" in data:
        raise RuntimeError(f"the {what} client failed: {data['error']}")
    return data


def raise_if_died(servers: list[ServerProcess]) -> None:
    for server in servers:
        if not server.alive():
            raise RuntimeError(f"{server.spec.key} died:\n{server.tail(15)}")


class _Lines:
    """JSON lines from a client process's stdout."""

    def __init__(self, stream: Any, name: str, stderr: Path) -> None:
        self.stream = stream
        self.name = name
        self.stderr = stderr
        self.buffer = bytearray()

    async def next(self, want: str) -> dict[str, Any]:
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > MAX_LINE:
                raise RuntimeError(f"{self.name}: a line of over {MAX_LINE} bytes")
            chunk = await self.stream.receive_some(1 << 20)
            if not chunk:
                tail = self.stderr.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise RuntimeError(f"{self.name} ended early: {tail[0]}")
            self.buffer += chunk
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        data = json.loads(line)
        if "error" in data:
            raise RuntimeError(f"{self.name}: {data['error']}")
        if want not in data:
            raise RuntimeError(f"{self.name}: expected {want!r}, got {line[:200]!r}")
        return data


def roundtrip_cell(
    server: ServerProcess,
    transport: str,
    seconds: float,
    connections: int,
    clients: int,
    warmup: float,
    logdir: Path,
) -> RoundTripResult:
    """`connections` sessions (split over `clients` processes of `_roundtrips.py`) doing sequential tools/call
    round trips over `transport` ("ws": one WebSocket each; "http": one keep-alive connection each, POSTs with
    SSE answers) for `seconds`; the server's CPU is read around the timed phase only."""
    shares = [connections // clients + (1 if i < connections % clients else 0) for i in range(clients)]
    shares = [s for s in shares if s > 0]
    stderr_path = logdir / f"roundtrips-{server.spec.key.replace('/', '-')}-{transport}.log"

    async def main() -> RoundTripResult:
        procs: list[Any] = []
        try:
            with stderr_path.open("ab") as stderr:
                for share in shares:
                    argv = [sys.executable, str(ROUNDTRIPS), "--port", str(server.port), "--transport",
                            transport, "--connections", str(share), "--seconds", f"{seconds:g}", "--warmup",
                            f"{warmup:g}"]  # fmt: skip
                    procs.append(
                        await trio.lowlevel.open_process(
                            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=ROOT
                        )
                    )
            lines = [
                _Lines(p.stdout, f"the {transport} client {i + 1}", stderr_path) for i, p in enumerate(procs)
            ]
            with trio.fail_after(90 + warmup):
                for reader in lines:
                    await reader.next("ready")
            cpu_before = cpu_seconds(server.worker_pid)
            for p in procs:
                await p.stdin.send_all(b"go\n")
            with trio.fail_after(seconds + 60):
                results = [await reader.next("calls") for reader in lines]
            cpu = cpu_seconds(server.worker_pid) - cpu_before
            for p in procs:
                await p.stdin.send_all(b"close\n")
            with trio.fail_after(30):
                for p in procs:
                    await p.wait()
        finally:
            with trio.CancelScope(shield=True):
                for p in procs:
                    if p.returncode is None:
                        p.kill()
                        await p.wait()
        calls = sum(int(r["calls"]) for r in results)
        if not calls:
            raise RuntimeError(f"the {transport} clients made no call")
        wall = max(float(r["seconds"]) for r in results)
        latencies = sorted(x for r in results for x in r["latencies_us"])
        return RoundTripResult(
            calls=calls,
            seconds=wall,
            calls_per_s=sum(int(r["calls"]) / float(r["seconds"]) for r in results),
            p50_ms=percentile(latencies, 0.50) / 1000,
            p99_ms=percentile(latencies, 0.99) / 1000,
            cpu_us_per_call=cpu / calls * 1e6,
            server_core_share=cpu / wall,
            client_cpu_us_per_call=sum(float(r["cpu_s"]) for r in results) / calls * 1e6,
            client_core_share=max(float(r["cpu_s"]) / float(r["seconds"]) for r in results),
            clients=len(results),
        )

    return trio.run(main)


def summarize_roundtrips(
    per_round: dict[str, list[RoundTripResult | None]], errors: dict[str, str]
) -> dict[str, Any]:
    """Medians over rounds per transport, and ws ÷ http per round (both cells of a round back to back)."""
    entry: dict[str, Any] = {}
    for transport in WS_TRANSPORTS:
        cells = [c for c in per_round.get(transport, []) if c is not None]
        if not cells:
            entry[transport] = {"error": errors.get(transport, "not measured")}
            continue
        entry[transport] = {
            name: median([getattr(c, name) for c in cells])
            for name in (
                "calls_per_s",
                "p50_ms",
                "p99_ms",
                "cpu_us_per_call",
                "server_core_share",
                "client_cpu_us_per_call",
                "client_core_share",
            )
        }
        entry[transport]["calls"] = sum(c.calls for c in cells)
        entry[transport]["rounds"] = [c.__dict__ if c is not None else None for c in per_round[transport]]
        if transport in errors:
            entry[transport]["error"] = errors[transport]
    pairs = [
        (w, h) for w, h in zip(per_round.get("ws", []), per_round.get("http", []), strict=False) if w and h
    ]
    if pairs:
        entry["ws_over_http"] = {
            "calls_per_s": median([w.calls_per_s / h.calls_per_s for w, h in pairs if h.calls_per_s]),
            "cpu_us_per_call": median(
                [w.cpu_us_per_call / h.cpu_us_per_call for w, h in pairs if h.cpu_us_per_call]
            ),
            "p50_ms": median([w.p50_ms / h.p50_ms for w, h in pairs if h.p50_ms]),
            "p99_ms": median([w.p99_ms / h.p99_ms for w, h in pairs if h.p99_ms]),
        }
    if errors:
        entry["error"] = "; ".join(f"{t}: {msg}" for t, msg in errors.items())
    return entry


# --------------------------------------------------------------------------- --baseline DIR

BASELINE_PREFIX = "baseline/"  # "baseline/memory", "baseline/redis": trio_mcp imported from DIR
TRIO_MCP_KEYS = ("trio_mcp/memory", "trio_mcp/redis")
# "trio_mcp/memory-noevents", "trio_mcp/redis-noevents": the current trio_mcp with its event store off, in the
# stateful SSE scenario only (every POST SSE stream records its events when it is on, the default).
NOEVENTS_SUFFIX = "-noevents"
NOEVENTS_MODES = ("sse",)
NOEVENTS_ENV = {"TRIO_MCP_EVENT_STORE": "none"}

# Run in the baseline server's environment and working directory: which trio_mcp it imports, which backends.
BASELINE_CHECK = """\
import importlib.util, json, trio_mcp

def has(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False

print(json.dumps({
    "file": trio_mcp.__file__,
    "redis_store": has("trio_mcp._stores.redis"),
    "redis_streams": has("trio_mcp._streams.redis"),
}))
"""


class BaselineError(RuntimeError):
    """--baseline DIR is not a checkout whose trio_mcp a server process would import."""


@dataclass
class Baseline:
    root: Path  # the checkout, prepended to PYTHONPATH of its servers
    rev: str
    servers: Path  # DIR/benchmarks/servers when it has the server module, else this checkout's
    trio_mcp_file: str
    redis_store: bool
    redis_streams: bool


def baseline_key(key: str) -> str:
    return BASELINE_PREFIX + store_of(key)


def noevents_key(key: str) -> str:
    return key + NOEVENTS_SUFFIX


def store_of(key: str) -> str:
    """The store ("memory" or "redis") of any trio_mcp server key."""
    return key.split("/")[1].removesuffix(NOEVENTS_SUFFIX)


# The Redis stream manager needs a requestState key ring shared by the bench's instances.
REQUEST_STATE_KEY = secrets.token_urlsafe(32)


def redis_env(url: str, streams: bool) -> dict[str, str]:
    """A trio_mcp server on the Redis store (and the Redis stream manager when it has one)."""
    env = {"TRIO_MCP_STORE": "redis", "REDIS_URL": url}
    if streams:
        env["TRIO_MCP_REQUEST_STATE_KEYS"] = REQUEST_STATE_KEY
    else:
        env["TRIO_MCP_STREAMS"] = "memory"
    return env


def revision(checkout: Path) -> str:
    """The short commit of a checkout, "-dirty" when trio_mcp or the server modules have local changes."""
    git = ["git", "--no-optional-locks", "-C", str(checkout)]
    try:
        rev = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        changes = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no", "--", "trio_mcp", "benchmarks/servers"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return checkout.name
    return rev.stdout.strip() + ("-dirty" if changes.stdout.strip() else "")


def load_baseline(path: str) -> Baseline:
    """Check that a server started for DIR imports DIR's trio_mcp (not this checkout's or an installed one)."""
    root = Path(path).resolve()
    expected = root / "trio_mcp" / "__init__.py"
    if not expected.is_file():
        raise BaselineError(f"--baseline {path}: {expected} does not exist (not a checkout of trio_mcp)")
    servers = root / "benchmarks" / "servers"
    if not (servers / "trio_mcp_app.py").is_file():
        servers = SERVERS
    spec = ServerSpec("baseline/check", "", {"TRIO_MCP_STORE": "memory"}, cwd=servers, pythonpath=root)
    done = subprocess.run(
        [sys.executable, "-c", BASELINE_CHECK],
        cwd=spec.cwd,
        env=server_env(spec),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise BaselineError(f"--baseline {path}: importing trio_mcp failed:\n{done.stderr.strip()}")
    info = json.loads(done.stdout.strip().splitlines()[-1])
    imported = Path(info["file"]).resolve()
    if imported != expected:
        raise BaselineError(
            f"--baseline {path}: the server process imports trio_mcp from {imported}, not {expected}"
        )
    return Baseline(
        root=root,
        rev=revision(root),
        servers=servers,
        trio_mcp_file=str(imported),
        redis_store=bool(info["redis_store"]),
        redis_streams=bool(info["redis_streams"]),
    )


# --------------------------------------------------------------------------- the harness


@dataclass
class Config:
    rounds: int
    seconds: float
    warmup: float
    sessions: int
    calls_for_redis: int
    threads: int = 2
    connections: int = 8
    churn_connections: int = 8
    ws_connections: int = 8  # the WebSocket-vs-HTTP round-trip cell: sessions, one connection each
    ws_clients: int = 1  # client processes they are split over
    ws_warmup: float = 0.5  # seconds of round trips per cell before the timed phase


SCENARIOS = ("stateless", "sse", "churn")


def sdk_available() -> str | None:
    try:
        from importlib.metadata import version

        return version("mcp")
    except Exception:
        return None


def redis_backend_status() -> tuple[bool, bool, str]:
    """(store available, stream manager available, note)."""
    store = importlib.util.find_spec("trio_mcp._stores.redis") is not None
    streams = importlib.util.find_spec("trio_mcp._streams.redis") is not None
    if importlib.util.find_spec("coredis") is None:
        return False, False, "coredis is not installed (pip install 'trio_mcp[redis]')"
    note = "" if streams else "Redis stream manager not available yet: Redis store + memory stream manager"
    return store, streams, note


class Bench:
    def __init__(self, cfg: Config, args: argparse.Namespace, baseline: Baseline | None = None) -> None:
        self.cfg = cfg
        self.args = args
        self.baseline = baseline
        self.logdir = Path(tempfile.mkdtemp(prefix="trio-mcp-bench-"))
        self.notes: list[str] = []
        self.servers: dict[str, ServerProcess] = {}
        self.na: dict[str, str] = {}  # server key -> why it has no numbers
        # One entry per round (None: the cell failed), so rounds stay aligned with the bare app's.
        self.cells: dict[tuple[str, str], list[CellResult | None]] = {}
        self.bare: list[CellResult | None] = []
        self.redis: Any = None
        self.redis_streams = False
        self.baseline_redis: Any = None  # a Redis server of its own: commandstats and keys not shared
        self.noevents_redis: Any = None  # the same for trio_mcp/redis-noevents
        self.sdk_version = sdk_available()
        self.worker: dict[str, str] = {}
        self.unavailable: set[str] = set()  # servers that never started (no memory cell either)

    # -- setup

    def trio_mcp_keys(self, mode: str | None = None) -> list[str]:
        """The trio_mcp servers, each followed by its twins (`twins`)."""
        return [k for key in TRIO_MCP_KEYS for k in self.twins(key, mode)]

    def twins(self, key: str, mode: str | None = None) -> list[str]:
        """A current trio_mcp server, its --baseline twin, and in `mode` (when it is in NOEVENTS_MODES) the same
        server with its event store off."""
        twins = [key] if self.baseline is None else [key, baseline_key(key)]
        return twins + ([noevents_key(key)] if mode in NOEVENTS_MODES else [])

    def redis_for(self, server_key: str) -> Any:
        return {
            "trio_mcp/redis": self.redis,
            noevents_key("trio_mcp/redis"): self.noevents_redis,
            "baseline/redis": self.baseline_redis,
        }.get(server_key)

    def streams_for(self, server_key: str) -> bool:
        """Whether the Redis server `server_key` has the Redis stream manager."""
        if server_key.startswith(BASELINE_PREFIX):
            return self.baseline is not None and self.baseline.redis_streams
        return self.redis_streams

    def specs(self) -> list[ServerSpec]:
        memory = {"TRIO_MCP_STORE": "memory"}
        specs = [
            ServerSpec("bare", "bare_app:app"),
            ServerSpec("trio_mcp/memory", "trio_mcp_app:app", memory),
        ]
        if self.redis is not None:
            env = redis_env(self.redis.url, self.redis_streams)
            specs.append(ServerSpec("trio_mcp/redis", "trio_mcp_app:app", env))
        specs.append(ServerSpec(noevents_key("trio_mcp/memory"), "trio_mcp_app:app", memory | NOEVENTS_ENV))
        if self.noevents_redis is not None:
            env = redis_env(self.noevents_redis.url, self.redis_streams) | NOEVENTS_ENV
            specs.append(ServerSpec(noevents_key("trio_mcp/redis"), "trio_mcp_app:app", env))
        if (base := self.baseline) is not None:
            envs = {"baseline/memory": memory}
            if self.baseline_redis is not None:
                envs["baseline/redis"] = redis_env(self.baseline_redis.url, base.redis_streams)
            for key, env in envs.items():
                specs.append(ServerSpec(key, "trio_mcp_app:app", env, cwd=base.servers, pythonpath=base.root))
        if self.sdk_version is not None:
            specs.append(ServerSpec("sdk/stateless", "sdk_app:stateless_app"))
            specs.append(ServerSpec("sdk/stateful", "sdk_app:stateful_app"))
        return specs

    def start_redis(self) -> None:
        self._start_redis()
        self.noevents_redis = self._own_redis(noevents_key("trio_mcp/redis"))
        if self.baseline is not None:
            self._start_baseline_redis(self.baseline)

    def _start_redis(self) -> None:
        if self.args.no_redis:
            self.na["trio_mcp/redis"] = "skipped (--no-redis)"
            return
        store, streams, note = redis_backend_status()
        if not store:
            self.na["trio_mcp/redis"] = note or "the Redis session store is not available yet"
            return
        try:
            helper = load_redis_helper()
            self.redis = helper.RedisServer()
            self.redis.start()
        except Exception as exc:
            self.redis = None
            self.na["trio_mcp/redis"] = f"no Redis server: {exc}".splitlines()[0]
            return
        self.redis_streams = streams
        if note:
            self.notes.append(note)
        log(f"Redis: {self.redis.kind} {self.redis.binary} on port {self.redis.port}")

    def _own_redis(self, server_key: str) -> Any:
        """Another Redis server for `server_key` (after the current one started), or None and a reason."""
        if self.redis is None:
            self.na[server_key] = self.na.get("trio_mcp/redis", "no Redis server")
            return None
        try:
            redis = load_redis_helper().RedisServer()
            redis.start()
        except Exception as exc:
            self.na[server_key] = f"no Redis server: {exc}".splitlines()[0]
            return None
        log(f"Redis for {server_key}: port {redis.port}")
        return redis

    def _start_baseline_redis(self, baseline: Baseline) -> None:
        if self.redis is not None and not baseline.redis_store:
            self.na["baseline/redis"] = f"the baseline {baseline.rev} has no Redis session store"
            return
        self.baseline_redis = self._own_redis("baseline/redis")
        if self.baseline_redis is not None and not baseline.redis_streams:
            self.notes.append(f"the baseline {baseline.rev} has no Redis stream manager: memory streams")

    def start(self, spec: ServerSpec, stateful_probe: bool) -> ServerProcess | None:
        workers = [spec.worker] + (["asyncio"] if spec.key.startswith("sdk/") else [])
        error = ""
        for worker in workers:
            spec.worker = worker
            server: ServerProcess | None = None
            try:
                server = ServerProcess(spec, self.logdir)
                probe(server, stateful_probe)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log(f"{spec.key} under the {worker} worker failed: {error.splitlines()[0]}")
                if server is not None:
                    log(server.tail(10))
                    server.stop()
                continue
            if worker != "trio":
                self.notes.append(
                    f"{spec.key} does not run under hypercorn's trio worker: measured on asyncio"
                )
            self.worker[spec.key] = worker
            return server
        self.na[spec.key] = error.splitlines()[0] if error else "failed to start"
        self.unavailable.add(spec.key)
        return None

    def start_all(self) -> None:
        for spec in self.specs():
            server = self.start(spec, stateful_probe=spec.key == "sdk/stateful")
            if server is not None:
                self.servers[spec.key] = server
                log(f"{spec.key}: {server.url} (worker pid {server.worker_pid}, {spec.worker} worker)")

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    # -- load cells

    def cell_plan(self, swapped: bool = False) -> list[tuple[str, str, str]]:
        """(result key, server key, mode) for one round; the bare app first, each --baseline or event-store-off
        cell next to its current twin (in the reverse order when `swapped`)."""
        plan = [("bare", "bare", "stateless")]
        for key in TRIO_MCP_KEYS:
            for mode in SCENARIOS:
                twins = self.twins(key, mode)
                plan += [(k, k, mode) for k in (twins[::-1] if swapped else twins)]
        plan += [
            ("sdk", "sdk/stateless", "stateless"),
            ("sdk", "sdk/stateful", "sse"),
            ("sdk", "sdk/stateful", "churn"),
        ]
        return [p for p in plan if p[1] in self.servers]

    def run_cell(self, server_key: str, mode: str, seconds: float) -> CellResult:
        server = self.servers[server_key]
        extra: list[str] = []
        threads, connections = self.cfg.threads, self.cfg.connections
        if mode == "sse":
            extra = [",".join(open_sessions(server, threads))]
        elif mode == "churn":
            threads = connections = self.cfg.churn_connections
        redis = self.redis_for(server_key)
        return run_wrk(server, mode, seconds, threads, connections, extra, redis)

    def _failed(self, server_key: str, mode: str, exc: Exception) -> None:
        self.na.setdefault(server_key, self._cell_failed(server_key, f"{mode} cell", exc))

    def _cell_failed(self, server_key: str, what: str, exc: Exception) -> str:
        """Log why a cell failed (the first leaf of an exception group) and drop a server that died; the reason."""
        while (
            isinstance(exc, BaseExceptionGroup)
            and exc.exceptions
            and isinstance(exc.exceptions[0], Exception)
        ):
            exc = exc.exceptions[0]
        reason = f"{what} failed: {type(exc).__name__}: {exc}".splitlines()[0]
        log(f"  {server_key}: {reason}")
        server = self.servers.get(server_key)
        if server is not None and not server.alive():
            log(server.tail(15))
            self.servers.pop(server_key)
            reason += " (the server died; log above)"
        return reason

    def warm_up(self) -> None:
        for _, server_key, mode in self.cell_plan():
            try:
                self.run_cell(server_key, mode, self.cfg.warmup)
            except Exception as exc:
                self._failed(server_key, mode, exc)

    def rounds(self) -> None:
        # The bare app opens and closes every round; the round's ceiling is the mean of the two, so drift
        # during the round (another load on the machine) does not favour the cells measured early. A --baseline
        # or event-store-off cell and its current twin swap places every other round.
        for r in range(self.cfg.rounds):
            plan = [*self.cell_plan(swapped=r % 2 == 1), ("bare", "bare", "stateless")]
            log(f"round {r + 1}/{self.cfg.rounds}")
            bare_pair: list[CellResult | None] = []
            for key, server_key, mode in plan:
                result: CellResult | None = None
                if server_key in self.servers:
                    try:
                        result = self.run_cell(server_key, mode, self.cfg.seconds)
                    except Exception as exc:
                        self._failed(server_key, mode, exc)
                if key == "bare":
                    bare_pair.append(result)
                    if len(bare_pair) == 2:
                        self.bare.append(mean_cell(bare_pair))
                else:
                    self.cells.setdefault((key, mode), []).append(result)
                if result is None:
                    continue
                extra = f", {result.loops / result.seconds:.0f} loops/s" if mode == "churn" else ""
                redis = (
                    f", {result.redis_per_request:.2f} Redis cmds/req"
                    if result.redis_commands is not None
                    else ""
                )
                log(
                    f"  {server_key:<23} {mode:<9} {result.rps:8.0f} req/s{extra}  "
                    f"{result.cpu_us_per_request:6.0f} µs CPU/req  wrk {result.wrk_cpu_us_per_request:4.0f} µs/req"
                    f"  bad={result.bad} errors={result.errors}{redis}"
                )

    # -- memory and Redis cells

    def memory(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        wanted = [*self.trio_mcp_keys(), "sdk/stateful"]
        for spec in self.specs():
            if spec.key not in wanted or spec.key in self.unavailable:
                continue
            spec.worker = self.worker.get(spec.key, "trio")
            server = None
            try:
                server = ServerProcess(spec, self.logdir)
                redis = self.redis_for(spec.key)
                result = memory_cell(server, self.cfg.sessions, redis)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
                log(f"memory cell {spec.key} failed: {msg}")
                out[spec.key] = {"error": msg}
                continue
            finally:
                if server is not None:
                    server.stop()
            out[spec.key] = result
            log(
                f"  {spec.key:<16} {result['idle_kib_per_session']:6.1f} KiB/idle session, "
                f"{result['get_kib_per_session']:6.1f} KiB/session with a GET stream "
                f"({result['get_streams']} streams)"
                + (
                    f", Redis {result['redis_kib_per_session']:.2f} KiB/session"
                    if "redis_kib_per_session" in result
                    else ""
                )
            )
        return out

    def redis_round_trips(
        self, server_key: str = "trio_mcp/redis", kinds: tuple[bool | None, ...] = (None, True, False)
    ) -> dict[str, Any] | None:
        server = self.servers.get(server_key)
        redis = self.redis_for(server_key)
        if server is None or redis is None:
            return None
        return redis_calls_per_request(server, redis, self.cfg.calls_for_redis, kinds)

    # -- WebSocket vs HTTP round trips (the same Python client on both)

    def websocket(self) -> dict[str, Any]:
        """Per current trio_mcp server that runs: `cfg.ws_connections` sessions doing sequential tools/call round
        trips over WebSocket, then over HTTP (SSE answers), each round (the order swapping every other round)."""
        cfg = self.cfg
        out: dict[str, Any] = {
            "connections": cfg.ws_connections,
            "clients": cfg.ws_clients,
            "seconds": cfg.seconds,
            "rounds": cfg.rounds,
            "servers": {},
        }
        if self.args.no_websocket:
            out["skipped"] = "skipped (--no-websocket)"
            return out
        keys = [k for k in TRIO_MCP_KEYS if k in self.servers]
        cells: dict[str, dict[str, list[RoundTripResult | None]]] = {
            k: {t: [] for t in WS_TRANSPORTS} for k in keys
        }
        errors: dict[str, dict[str, str]] = {k: {} for k in keys}
        for r in range(cfg.rounds):
            log(
                f"websocket round {r + 1}/{cfg.rounds}: {cfg.ws_connections} connections, {cfg.ws_clients} client process(es)"
            )
            for key in keys:
                for transport in WS_TRANSPORTS if r % 2 == 0 else WS_TRANSPORTS[::-1]:
                    server = self.servers.get(key)
                    result: RoundTripResult | None = None
                    if server is not None and transport not in errors[key]:
                        try:
                            result = roundtrip_cell(
                                server, transport, cfg.seconds, cfg.ws_connections, cfg.ws_clients,
                                cfg.ws_warmup, self.logdir,
                            )  # fmt: skip
                        except Exception as exc:
                            errors[key][transport] = self._roundtrip_failed(key, transport, exc)
                    elif server is None and transport not in errors[key]:
                        errors[key][transport] = "the server died earlier"
                    cells[key][transport].append(result)
                    if result is not None:
                        log(
                            f"  {key:<23} {transport:<5} {result.calls_per_s:8.0f} calls/s  p50 {result.p50_ms:6.2f} ms"
                            f"  p99 {result.p99_ms:6.2f} ms  {result.cpu_us_per_call:6.0f} µs server CPU/call"
                            f"  client {result.client_cpu_us_per_call:4.0f} µs/call, {result.client_core_share:.0%} of a core"
                        )
        for key in keys:
            out["servers"][key] = summarize_roundtrips(cells[key], errors[key])
        return out

    def _roundtrip_failed(self, server_key: str, transport: str, exc: Exception) -> str:
        return self._cell_failed(server_key, f"{transport} round-trip cell", exc)

    def close(self) -> None:
        self.stop_all()
        for redis in (self.redis, self.noevents_redis, self.baseline_redis):
            if redis is not None:
                redis.stop()


# --------------------------------------------------------------------------- side benchmarks


def run_side_benchmarks(quick: bool) -> dict[str, Any]:
    """bench_converter.py, bench_streams.py and bench_redis_client.py (each when present); the last JSON line of
    each is kept."""
    out: dict[str, Any] = {}
    for name in ("bench_converter.py", "bench_streams.py", "bench_redis_client.py"):
        path = HERE / name
        if not path.exists():
            out[name] = "not present"
            continue
        argv = [sys.executable, str(path), *(["--quick"] if quick else [])]
        log(f"{name} ...")
        try:
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240)
        except subprocess.TimeoutExpired:
            out[name] = "timed out after 240 s"
            continue
        print(done.stdout, end="", flush=True)
        if done.returncode != 0:
            out[name] = f"failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:] or ''}"
            print(done.stderr, end="", file=sys.stderr)
            continue
        parsed: Any = None
        for line in reversed(done.stdout.splitlines()):
            with contextlib.suppress(ValueError):
                parsed = json.loads(line)
                break
        out[name] = parsed if parsed is not None else done.stdout.strip().splitlines()[-5:]
    return out


# --------------------------------------------------------------------------- report


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(bench: Bench) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    bare = [c for c in bench.bare if c is not None]
    rows["bare"] = {
        "rps": median([c.rps for c in bare]),
        "cpu_us": median([c.cpu_us_per_request for c in bare]),
        "wrk_cpu_us": median([c.wrk_cpu_us_per_request for c in bare]),
        "rounds": [c.__dict__ if c is not None else None for c in bench.bare],
    }
    for (key, mode), per_round in bench.cells.items():
        pairs = [
            (c, b) for c, b in zip(per_round, bench.bare, strict=False) if c is not None and b is not None
        ]
        cells = [c for c in per_round if c is not None]
        if not cells:
            continue
        entry: dict[str, Any] = {
            "rps": median([c.rps for c in cells]),
            "ratio_to_bare": median([c.rps / b.rps for c, b in pairs if b.rps]),
            "cpu_ratio_to_bare": median(
                [b.cpu_us_per_request / c.cpu_us_per_request for c, b in pairs if c.cpu_us_per_request]
            ),
            "cpu_us": median([c.cpu_us_per_request for c in cells]),
            "wrk_cpu_us": median([c.wrk_cpu_us_per_request for c in cells]),
            "bad": sum(c.bad for c in cells),
            "errors": sum(c.errors for c in cells),
            "rounds": [c.__dict__ if c is not None else None for c in per_round],
        }
        if mode == "churn":
            entry["loops_per_s"] = median([c.loops / c.seconds for c in cells])
        per = [c.redis_per_request for c in cells if c.redis_per_request is not None]
        if per:
            entry["redis_cmds_per_request"] = median(per)
            entry["redis_cpu_us"] = median([c.redis_cpu_us_per_request or 0.0 for c in cells])
        rows[f"{key}:{mode}"] = entry
    # churn against the SDK, per round
    sdk = bench.cells.get(("sdk", "churn"), [])
    for key in bench.trio_mcp_keys():
        pairs = [(a, b) for a, b in zip(bench.cells.get((key, "churn"), []), sdk, strict=False) if a and b]
        if pairs and f"{key}:churn" in rows:
            vs = [(a.loops / a.seconds) / (b.loops / b.seconds) for a, b in pairs if b.loops]
            rows[f"{key}:churn"]["vs_sdk"] = median(vs)
            cpu_vs = [b.cpu_us_per_request / a.cpu_us_per_request for a, b in pairs if a.cpu_us_per_request]
            rows[f"{key}:churn"]["cpu_vs_sdk"] = median(cpu_vs)
    # current against --baseline, per round (both cells of a round share its bare-app ceiling)
    for key in TRIO_MCP_KEYS if bench.baseline is not None else ():
        for mode in SCENARIOS:
            base = bench.cells.get((baseline_key(key), mode), [])
            pairs = [(a, b) for a, b in zip(bench.cells.get((key, mode), []), base, strict=False) if a and b]
            if pairs and f"{key}:{mode}" in rows:
                rows[f"{key}:{mode}"]["vs_baseline"] = median([a.rps / b.rps for a, b in pairs if b.rps])
                rows[f"{key}:{mode}"]["cpu_vs_baseline"] = median(
                    [b.cpu_us_per_request / a.cpu_us_per_request for a, b in pairs if a.cpu_us_per_request]
                )
    # event store on (the default) against off, per round: what recording every SSE event costs
    for key in TRIO_MCP_KEYS:
        for mode in NOEVENTS_MODES:
            off = bench.cells.get((noevents_key(key), mode), [])
            pairs = [(a, b) for a, b in zip(bench.cells.get((key, mode), []), off, strict=False) if a and b]
            if pairs and f"{key}:{mode}" in rows:
                row = rows[f"{key}:{mode}"]
                row["vs_noevents"] = median([a.rps / b.rps for a, b in pairs if b.rps])
                row["cpu_vs_noevents"] = median(
                    [a.cpu_us_per_request / b.cpu_us_per_request for a, b in pairs if b.cpu_us_per_request]
                )
                row["cpu_us_over_noevents"] = median(
                    [a.cpu_us_per_request - b.cpu_us_per_request for a, b in pairs]
                )
    return rows


def baseline_comparison(baseline: Baseline, rows: dict[str, Any]) -> str:
    """One note line: current ÷ baseline per trio_mcp cell (req/s, and CPU per request inverted)."""
    parts: list[str] = []
    for key in TRIO_MCP_KEYS:
        for mode in SCENARIOS:
            row = rows.get(f"{key}:{mode}", {})
            if "vs_baseline" in row:
                parts.append(
                    f"{key.split('/')[1]} {mode} {fmt(row['vs_baseline'], '.2f')}x "
                    f"(CPU {fmt(row['cpu_vs_baseline'], '.2f')}x)"
                )
    what = "; ".join(parts) or "no pair of cells ran"
    return f"current ÷ baseline {baseline.rev}, median over rounds of req/s (CPU: baseline ÷ current µs/req): {what}"


def event_store_comparison(
    rows: dict[str, Any], redis_on: dict[str, Any] | None, redis_off: dict[str, Any] | None
) -> str:
    """One note line: the cost of the event store in the stateful SSE scenario, on (default) ÷ off per backend."""
    names = {"trio_mcp/memory": "memory", "trio_mcp/redis": "Redis store + streams"}
    parts: list[str] = []
    for key in TRIO_MCP_KEYS:
        row = rows.get(f"{key}:sse", {})
        if "vs_noevents" not in row:
            parts.append(f"{names[key]} n/a (no pair of cells ran)")
            continue
        parts.append(
            f"{names[key]} req/s {fmt(row['vs_noevents'], '.2f')}x, CPU µs/req {fmt(row['cpu_vs_noevents'], '.2f')}x "
            f"({fmt(row['cpu_us_over_noevents'], '+.0f')} µs)"
        )
    trips: list[str] = []
    for what, counts in (("on", redis_on), ("off", redis_off)):
        if (r := (counts or {}).get("session_sse")) is None:
            continue
        scripted = sum(r["hot_path_in_scripts"].values()) / r["calls"]
        trips.append(
            f"{what} {r['sent_hot_path_per_call']:.2f}"
            + (f" (running {scripted:.2f} in scripts)" if scripted else "")
        )
    if trips:
        parts.append("Redis commands sent per SSE tools/call on the hot path: " + ", ".join(trips))
    return (
        "event store cost, stateful SSE tools/call, on (default) ÷ off, median over rounds (same rounds and "
        f"ceiling; every POST SSE stream records its events when on): {'; '.join(parts)}"
    )


def websocket_notes(websocket: dict[str, Any] | None) -> list[str]:
    """How the round-trip cell ran, and whether its client was a bottleneck."""
    if not websocket or websocket.get("skipped"):
        return []
    notes = [
        f"WebSocket vs HTTP round trips: {websocket['connections']} connections (one initialized session each) in "
        f"{websocket['clients']} Python client process(es) (benchmarks/_roundtrips.py: trio + wsproto for ws, "
        "trio + h11 for http, the same client), sequential tools/call add round trips, ws and http back to back "
        "on the same server (the order swapping every other round), medians over rounds; CPU µs/call is the "
        "server worker's; ws ÷ http above 1 in calls/s and below 1 in CPU µs/call favour the WebSocket"
    ]
    busy: list[str] = []
    costs: list[str] = []
    for key, entry in websocket.get("servers", {}).items():
        for transport in WS_TRANSPORTS:
            t = entry.get(transport) or {}
            if "client_core_share" not in t:
                continue
            costs.append(
                f"{store_of(key)} {transport} {t['client_cpu_us_per_call']:.0f} µs/call "
                f"({t['client_core_share']:.0%} of a core; server {t['server_core_share']:.0%})"
            )
            if t["client_core_share"] >= CLIENT_SATURATED:
                busy.append(f"{store_of(key)} {transport}")
    if costs:
        notes.append("round-trip client CPU (busiest process): " + "; ".join(costs))
    if busy:
        notes.append(
            f"the round-trip client saturated a core ({', '.join(busy)}): those calls/s and latencies are "
            "client-bound too; the server CPU µs/call (and its ws ÷ http ratio) does not depend on the client "
            "(more client processes: --ws-clients 2, which then share the cores with the server)"
        )
    return notes


def fmt(value: float | None, spec: str = ".0f", suffix: str = "") -> str:
    if value is None or value != value:  # NaN
        return "n/a"
    return f"{value:{spec}}{suffix}"


def verdict(value: float | None, target: float, higher_is_better: bool = True) -> str:
    if value is None or value != value:
        return "n/a"
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "MISSED"


def table(
    bench: Bench,
    rows: dict[str, Any],
    memory: dict[str, Any],
    redis: dict[str, Any] | None,
    baseline_redis: dict[str, Any] | None = None,
    noevents_redis: dict[str, Any] | None = None,
    websocket: dict[str, Any] | None = None,
) -> str:
    out = [
        "| scenario | server (store) | worker | req/s | x bare | CPU µs/req | x bare (CPU) | target | status |",
        "|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    bare = rows["bare"]
    out.append(
        f"| POST, fixed JSON body | bare ASGI app (ceiling) | trio | {fmt(bare['rps'])} | 1.00 | "
        f"{fmt(bare['cpu_us'])} | 1.00 | | |"
    )

    def label(key: str, events: bool = False) -> str:
        """The server's name; with `events`, the current trio_mcp's says whether its event store is on."""
        if key == "sdk":
            return f"official SDK mcp {bench.sdk_version}"
        if store_of(key) == "memory":
            what = "memory"
        elif bench.redis_for(key) is not None and not bench.streams_for(key):
            what = "Redis store, memory streams"
        else:
            what = "Redis store + streams"
        if key.startswith(BASELINE_PREFIX) and bench.baseline is not None:
            return f"trio_mcp (baseline {bench.baseline.rev}, {what})"
        if key.endswith(NOEVENTS_SUFFIX):
            what += ", event store off"
        elif events:
            what += ", event store on (default)"
        return f"trio_mcp ({what})"

    def worker(key: str, mode: str) -> str:
        if key == "sdk":
            return bench.worker.get("sdk/stateless" if mode == "stateless" else "sdk/stateful", "n/a")
        return bench.worker.get(key, "n/a")

    def na_reason(key: str, mode: str) -> str | None:
        server = key if key != "sdk" else ("sdk/stateless" if mode == "stateless" else "sdk/stateful")
        if key == "sdk" and bench.sdk_version is None:
            return "the mcp package is not installed"
        return bench.na.get(server)

    names = {
        "stateless": "stateless JSON tools/call",
        "sse": "stateful SSE tools/call",
        "churn": "session churn",
    }
    targets = {"stateless": TARGET_STATELESS, "sse": TARGET_SSE}
    for mode in SCENARIOS:
        events = mode in NOEVENTS_MODES
        for key in (*bench.trio_mcp_keys(mode), "sdk"):
            row = rows.get(f"{key}:{mode}")
            ours = key != "sdk"
            if row is None:
                reason = na_reason(key, mode) or "not measured"
                out.append(
                    f"| {names[mode]} | {label(key, events)} | n/a | n/a | n/a | n/a | n/a | | n/a: {reason} |"
                )
                continue
            rps = fmt(row["rps"])
            if mode == "churn":
                rps += f" ({fmt(row['loops_per_s'])} sessions/s)"
            target = status = ""
            if key.endswith(NOEVENTS_SUFFIX):
                pass  # the targets are the default configuration's; the note compares the two
            elif ours and mode in targets:
                target = f"≥ {targets[mode]:.2f}x bare"
                status = (
                    f"{verdict(row['ratio_to_bare'], targets[mode])} "
                    f"(on CPU: {verdict(row['cpu_ratio_to_bare'], targets[mode])})"
                )
            elif ours and mode == "churn":
                target = f"≥ {TARGET_CHURN_VS_SDK:.1f}x SDK"
                vs = row.get("vs_sdk")
                status = (
                    f"{fmt(vs, '.2f')}x SDK: {verdict(vs, TARGET_CHURN_VS_SDK)} "
                    f"(CPU: {fmt(row.get('cpu_vs_sdk'), '.2f')}x SDK)"
                    if vs is not None
                    else "n/a: no SDK churn numbers"
                )
            if row["bad"] or row["errors"]:
                status += f" ({row['bad']} bad answers, {row['errors']} socket errors)"
            out.append(
                f"| {names[mode]} | {label(key, events)} | {worker(key, mode)} | {rps} | "
                f"{fmt(row['ratio_to_bare'], '.2f')} | "
                f"{fmt(row['cpu_us'])} | {fmt(row['cpu_ratio_to_bare'], '.2f')} | {target} | {status} |"
            )
    ws = websocket or {}
    conns = ws.get("connections", bench.cfg.ws_connections)
    ws_names = {
        "ws": f"tools/call round trips, WebSocket ({conns} connections, Python client)",
        "http": f"tools/call round trips, HTTP session + SSE ({conns} connections, same client)",
    }
    for key in TRIO_MCP_KEYS:
        entry = (ws.get("servers") or {}).get(key) or {}
        ratio = entry.get("ws_over_http")
        for transport in WS_TRANSPORTS:
            lab = label(key, events=transport == "http")
            t = entry.get(transport) or {}
            if "calls_per_s" not in t:
                reason = t.get("error") or ws.get("skipped") or na_reason(key, "sse") or "not measured"
                out.append(f"| {ws_names[transport]} | {lab} | n/a | n/a | | n/a | | | n/a: {reason} |")
                continue
            rate = f"{fmt(t['calls_per_s'])} calls/s (p50 {t['p50_ms']:.2f} ms, p99 {t['p99_ms']:.2f} ms)"
            status: list[str] = []
            if transport == "ws" and ratio:
                status.append(
                    f"ws ÷ http: {fmt(ratio['calls_per_s'], '.2f')}x calls/s, "
                    f"{fmt(ratio['cpu_us_per_call'], '.2f')}x CPU µs/call, {fmt(ratio['p50_ms'], '.2f')}x p50"
                )
            if t["client_core_share"] >= CLIENT_SATURATED:
                status.append(f"client-bound (client at {t['client_core_share']:.0%} of a core)")
            if "error" in t:
                status.append(f"some rounds failed: {t['error']}")
            out.append(
                f"| {ws_names[transport]} | {lab} | {worker(key, 'sse')} | {rate} | | "
                f"{fmt(t['cpu_us_per_call'])} | | | {'; '.join(status)} |"
            )
    for server_key, name in (*((k, k) for k in bench.trio_mcp_keys()), ("sdk/stateful", "sdk")):
        m = memory.get(server_key)
        lab = label(name)
        if m is None or "error" in m:
            reason = (m or {}).get("error") or na_reason(name, "sse") or "not measured"
            for what in ("RSS per idle session", "RSS per session + GET stream"):
                out.append(f"| {what} | {lab} | n/a | | | | | | n/a: {reason} |")
            continue
        ours = server_key != "sdk/stateful"
        for what, value, target in (
            ("RSS per idle session", m["idle_kib_per_session"], TARGET_IDLE_KIB),
            ("RSS per session + GET stream", m["get_kib_per_session"], TARGET_GET_KIB),
        ):
            out.append(
                f"| {what} ({m['sessions']} sessions) | {lab} | {worker(name, 'sse')} | {value:.1f} KiB | | | | "
                f"{f'≤ {target:.0f} KiB' if ours else ''} | {verdict(value, target, False) if ours else ''} |"
            )
        if "redis_kib_per_session" in m:
            out.append(
                f"| Redis used_memory per idle session | {lab} | | {m['redis_kib_per_session']:.2f} KiB | | | | | |"
            )
    redis_rows = [("trio_mcp/redis", redis), (noevents_key("trio_mcp/redis"), noevents_redis)]
    if bench.baseline is not None:
        redis_rows.append(("baseline/redis", baseline_redis))
    for redis_key, counts in redis_rows:
        if counts is None:
            reason = bench.na.get(redis_key, "not measured")
            lab = "trio_mcp (Redis)" if redis_key == "trio_mcp/redis" else label(redis_key)
            out.append(
                f"| Redis commands per tools/call | {lab} | n/a | | | | | ≤ 1 round trip | n/a: {reason} |"
            )
            continue
        for name, what in (
            ("session_sse", "Redis commands per tools/call (session, SSE)"),
            ("session_json", "Redis commands per tools/call (session, JSON)"),
            ("stateless", "Redis commands per tools/call (stateless)"),
        ):
            r = counts.get(name)
            if r is None:
                continue
            lab = label(redis_key, events=name == "session_sse")
            calls = r["calls"]
            commands = sorted(r["commands"].items())
            in_scripts = r["hot_path_in_scripts"]
            sent = [(k, v - in_scripts.get(k, 0)) for k, v in commands if v / calls >= 0.5]
            hot = ", ".join(f"{k} {v / calls:.2f}" for k, v in sent if v)
            scripts = ", ".join(f"{k} {v / calls:.2f}" for k, v in sorted(in_scripts.items()))
            rest = ", ".join(f"{k} {v / calls:.3f}" for k, v in commands if v / calls < 0.5)
            detail = f"{r['sent_hot_path_per_call']:.2f} sent on the hot path ({hot or 'none'})"
            if scripts:
                detail += f", running {sum(in_scripts.values()) / calls:.2f} in scripts ({scripts})"
            if rest:
                detail += f" + {r['amortized_per_call']:.3f} amortized ({rest})"
            out.append(
                f"| {what}, {calls} calls | {lab} | trio | {detail} | | | | ≤ 1 round trip | "
                f"{verdict(round(r['sent_hot_path_per_call'], 2), TARGET_REDIS_CMDS, False)} |"
            )
    return "\n".join(out)


def chart(path: Path, rows: dict[str, Any], memory: dict[str, Any]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart"
    modes = list(SCENARIOS)
    names = ["stateless JSON", "stateful SSE", "session churn"]
    series = [
        ("trio_mcp/memory", "trio_mcp (memory)"),
        ("trio_mcp/redis", "trio_mcp (Redis)"),
        ("sdk", "official SDK"),
    ]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.26
    for i, (key, label) in enumerate(series):
        values = [rows.get(f"{key}:{mode}", {}).get("ratio_to_bare", 0.0) or 0.0 for mode in modes]
        bars = ax.bar([x + (i - 1) * width for x in range(len(modes))], values, width, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    for x, target in ((0, TARGET_STATELESS), (1, TARGET_SSE)):
        ax.hlines(target, x - 1.5 * width, x + 1.5 * width, colors="black", linestyles="dashed")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(modes)), names)
    ax.set_ylim(0, 1.3)
    ax.set_ylabel("req/s ÷ bare ASGI app (same round)")
    ax.set_title("Throughput relative to the bare app (dashed: targets)")
    ax.legend(fontsize=8, loc="upper center", ncol=3)
    mem_series = [
        ("trio_mcp/memory", "trio_mcp (memory)"),
        ("trio_mcp/redis", "trio_mcp (Redis)"),
        ("sdk/stateful", "official SDK"),
    ]
    for i, (key, label) in enumerate(mem_series):
        m = memory.get(key) or {}
        values = [m.get("idle_kib_per_session", 0.0), m.get("get_kib_per_session", 0.0)]
        bars = ax2.bar([x + (i - 1) * width for x in range(2)], values, width, label=label)
        ax2.bar_label(bars, fmt="%.1f", fontsize=8)
    for x, target in ((0, TARGET_IDLE_KIB), (1, TARGET_GET_KIB)):
        ax2.hlines(target, x - 1.5 * width, x + 1.5 * width, colors="black", linestyles="dashed")
    ax2.set_xticks(range(2), ["idle session", "session + GET stream"])
    ax2.set_ylabel("KiB of server RSS per session")
    ax2.set_title("Memory per session (dashed: targets)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# --------------------------------------------------------------------------- profile


def profile(bench: Bench, seconds: float) -> dict[str, Any]:
    """py-spy samples of the trio_mcp worker under stateless JSON and stateful SSE load (and SSE on Redis)."""
    sibling = Path(sys.executable).parent / "py-spy"
    pyspy = str(sibling) if sibling.exists() else shutil.which("py-spy")
    if pyspy is None:
        return {"error": "py-spy is not installed (nox -s bench -- --profile installs it)"}
    out: dict[str, Any] = {}
    plan = [("trio_mcp/memory", "stateless"), ("trio_mcp/memory", "sse"), ("trio_mcp/redis", "sse")]
    for server_key, mode in plan:
        server = bench.servers.get(server_key)
        if server is None:
            continue
        name = f"{server_key.split('/')[1]}-{mode}"
        raw = bench.logdir / f"profile-{name}.txt"
        spy = subprocess.Popen(
            [pyspy, "record", "--pid", str(server.worker_pid), "--duration", str(int(seconds) + 1), "--rate", "250",
             "--format", "raw", "--output", str(raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(0.5)
        bench.run_cell(server_key, mode, seconds)
        _, err = spy.communicate(timeout=60)
        if not raw.exists():
            out[name] = {"error": err.decode(errors="replace").strip()[-500:]}
            continue
        out[name] = top_costs(raw)
        shutil.copy(raw, RESULTS / f"profile-{name}.txt")
    return out


FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def _frame_key(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    file = match.group("file")
    for marker in ("site-packages/", "/work/main/", str(ROOT) + "/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{file}:{match.group('func')}"


def top_costs(raw: Path, n: int = 25) -> dict[str, Any]:
    """Self and inclusive share of samples per file:function from py-spy's collapsed stacks."""
    self_counts: dict[str, int] = {}
    incl_counts: dict[str, int] = {}
    group_counts: dict[str, int] = {}
    owner_counts: dict[str, int] = {}
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_key(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for frame in set(frames):
            incl_counts[frame] = incl_counts.get(frame, 0) + count
        leaf_pkg = _package(frames[-1])
        group_counts[leaf_pkg] = group_counts.get(leaf_pkg, 0) + count
        # The deepest trio_mcp frame owns the sample (its own code plus the library code it calls directly).
        owner = next((f for f in reversed(frames) if f.startswith("trio_mcp/")), "(outside trio_mcp)")
        owner_counts[owner] = owner_counts.get(owner, 0) + count
    if not total:
        return {"samples": 0}

    def top(counts: dict[str, int], k: int) -> list[tuple[str, float]]:
        return [
            (name, round(c / total * 100, 1)) for name, c in sorted(counts.items(), key=lambda x: -x[1])[:k]
        ]

    trio_mcp_incl = {k: v for k, v in incl_counts.items() if k.startswith("trio_mcp/")}
    return {
        "samples": total,
        "self": top(self_counts, n),
        "inclusive_trio_mcp": top(trio_mcp_incl, n),
        "deepest_trio_mcp_frame": top(owner_counts, n),
        "by_package_self": top(group_counts, 12),
    }


def _package(frame: str) -> str:
    file = frame.split(":", 1)[0]
    if file.startswith("trio_mcp/"):
        return "/".join(file.split("/")[:2])
    return file.split("/", 1)[0] if "/" in file else file


def print_profile(result: dict[str, Any]) -> None:
    if "error" in result:
        print(f"\nno profile: {result['error']}")
        return
    for mode, data in result.items():
        store, _, scenario = mode.partition("-")
        print(f"\nprofile of trio_mcp ({store}), {scenario} tools/call: {data.get('samples', 0)} samples")
        if "error" in data:
            print(f"  {data['error']}")
            continue
        print("  self time, top file:function")
        for name, pct in data["self"][:15]:
            print(f"    {pct:5.1f}%  {name}")
        print("  inclusive time in trio_mcp functions")
        for name, pct in data["inclusive_trio_mcp"][:15]:
            print(f"    {pct:5.1f}%  {name}")
        print("  by deepest trio_mcp frame (its code + the library code it calls directly)")
        for name, pct in data["deepest_trio_mcp_frame"][:15]:
            print(f"    {pct:5.1f}%  {name}")
        print("  self time by package/module")
        for name, pct in data["by_package_self"]:
            print(f"    {pct:5.1f}%  {name}")


# --------------------------------------------------------------------------- cross-instance latency and capacity
# (bench_latency.py, bench_capacity.py: each on a Redis server of its own, its own trio_mcp instances)


def _redis_cell(bench: Bench, name: str, body: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    if bench.args.no_redis:
        return {"error": "skipped (--no-redis)"}
    if bench.redis is None:
        return {"error": bench.na.get("trio_mcp/redis", "no Redis server")}
    redis = None
    try:
        redis = load_redis_helper().RedisServer()
        redis.start()
        return body(redis)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        log(f"{name} cell failed: {reason}")
        return {"error": reason}
    finally:
        if redis is not None:
            redis.stop()


def latency_cell(bench: Bench) -> dict[str, Any]:
    """bench_latency.py: one-hop notification and elicitation round trips across 3 instances."""
    import bench_latency

    log("cross-instance latency cell (3 instances, client process)")
    result = _redis_cell(
        bench, "latency", lambda r: bench_latency.latency_cell(r, bench.logdir, bench.args.quick)
    )
    if "error" not in result:
        n = result["notification"]
        log(f"  notification p50 {n['p50_ms']:.2f} ms, p99 {n['p99_ms']:.2f} ms, max {n['max_ms']:.2f} ms")
    return result


def capacity_cell(bench: Bench) -> dict[str, Any]:
    """bench_capacity.py: Redis cost per unit, the model, its 3-instance validation (results/capacity.md)."""
    import bench_capacity

    log("Redis capacity cell (units, heartbeat, memory, 3-instance validation)")
    result = _redis_cell(
        bench, "capacity", lambda r: bench_capacity.capacity_cell(r, bench.logdir, bench.args.quick)
    )
    result.pop("markdown", None)
    return result


# --------------------------------------------------------------------------- many streams on one instance
# (bench_many_streams.py: memory backends, a server and a client process of its own)


def many_streams_cell(bench: Bench) -> dict[str, Any]:
    """bench_many_streams.py: 10,000 (quick 2,000) GET streams: RSS, a tools/call, keep-alives, fan-out."""
    import bench_many_streams

    log("many-streams cell (one instance, GET streams held by a client process)")
    try:
        result = bench_many_streams.many_streams_cell(bench.logdir, bench.args.quick)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        log(f"many-streams cell failed: {reason}")
        return {"error": reason}
    median = result["fanout_median_s"]
    log(
        f"  {result['streams']} streams: RSS {result['rss']['streams_mib']:.0f} MiB, tools/call p99 "
        f"{result['call']['p99_ms']:.2f} ms, fan-out median {'n/a' if median is None else f'{median:.2f} s'}"
    )
    return result


# --------------------------------------------------------------------------- main


@contextlib.contextmanager
def cleanup(bench: Bench) -> Iterator[None]:
    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous: Callable[..., Any] | int | None = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        bench.close()
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round, fewer sessions (smoke run)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, quick 1)")
    parser.add_argument("--seconds", type=float, help="seconds per cell (default 5, quick 2)")
    parser.add_argument(
        "--sessions", type=int, help="sessions for the memory cells (default 1000, quick 200)"
    )
    parser.add_argument("--profile", action="store_true", help="also py-spy the trio_mcp hot path")
    parser.add_argument("--no-redis", action="store_true", help="leave out the Redis rows")
    parser.add_argument(
        "--no-websocket", action="store_true", help="leave out the WebSocket-vs-HTTP round-trip cell"
    )
    parser.add_argument(
        "--ws-connections",
        type=int,
        default=8,
        help="connections (one session each) of the WebSocket-vs-HTTP round-trip cell (default 8)",
    )
    parser.add_argument(
        "--ws-clients",
        type=int,
        default=1,
        help="client processes the round-trip cell's connections are split over (default 1)",
    )
    parser.add_argument(
        "--no-side",
        action="store_true",
        help="leave out bench_converter.py / bench_streams.py / bench_redis_client.py",
    )
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also run every trio_mcp cell with trio_mcp imported from DIR, a checkout of another revision",
    )
    args = parser.parse_args(argv)
    if args.ws_connections < 1 or not 1 <= args.ws_clients <= args.ws_connections:
        parser.error("--ws-connections must be >= 1 and --ws-clients between 1 and --ws-connections")
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed: run `nox -s bench` (it installs it) or `apt-get install -y wrk`",
            file=sys.stderr,
        )
        return 2
    baseline: Baseline | None = None
    if args.baseline is not None:
        try:
            baseline = load_baseline(args.baseline)
        except BaselineError as exc:
            print(exc, file=sys.stderr)
            return 2
        log(
            f"baseline {baseline.rev}: trio_mcp from {baseline.trio_mcp_file}, "
            f"server module from {baseline.servers}"
        )
    _raise_nofile()
    cfg = Config(
        rounds=args.rounds or (1 if args.quick else 3),
        seconds=args.seconds or (2.0 if args.quick else 5.0),
        warmup=1.0,
        sessions=args.sessions or (200 if args.quick else 1000),
        calls_for_redis=100 if args.quick else 500,
        ws_connections=args.ws_connections,
        ws_clients=args.ws_clients,
        ws_warmup=0.25 if args.quick else 0.5,
    )
    started = time.monotonic()
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    side = {} if args.no_side else run_side_benchmarks(args.quick)

    bench = Bench(cfg, args, baseline)
    log(
        f"logs in {bench.logdir}; {cfg.rounds} round(s) of {cfg.seconds:g} s cells; cpu count {os.cpu_count()}"
    )
    if bench.sdk_version is None:
        bench.na["sdk/stateless"] = bench.na["sdk/stateful"] = "the mcp package is not installed in this venv"
    with cleanup(bench):
        bench.start_redis()
        bench.start_all()
        if "bare" not in bench.servers:
            print("the bare ASGI app did not start: nothing to compare with", file=sys.stderr)
            return 1
        log("warm-up")
        bench.warm_up()
        bench.rounds()
        redis = bench.redis_round_trips()
        baseline_redis = bench.redis_round_trips("baseline/redis") if baseline is not None else None
        noevents_redis = bench.redis_round_trips(noevents_key("trio_mcp/redis"), kinds=(True,))
        websocket = bench.websocket()
        prof = profile(bench, max(cfg.seconds, 8.0)) if args.profile else None
        bench.stop_all()
        log(f"memory cells: {cfg.sessions} sessions each")
        memory = bench.memory()
        many_streams = many_streams_cell(bench)
        latency = latency_cell(bench)
        capacity = capacity_cell(bench)

    rows = summarize(bench)
    text = table(bench, rows, memory, redis, baseline_redis, noevents_redis, websocket)
    import bench_capacity
    import bench_latency
    import bench_many_streams

    text += "\n" + "\n".join([*bench_latency.table_lines(latency), *bench_capacity.table_lines(capacity)])
    text += "\n" + "\n".join(bench_many_streams.table_lines(many_streams))
    elapsed = time.monotonic() - started
    header = (
        f"trio_mcp benchmark {stamp}: {cfg.rounds} round(s) x {cfg.seconds:g} s cells, medians; wrk "
        f"-t{cfg.threads} -c{cfg.connections} (churn -t{cfg.churn_connections} -c{cfg.churn_connections}); "
        f"{os.cpu_count()} cores shared by servers, wrk and Redis; Python {platform.python_version()}; "
        f"took {elapsed:.0f} s"
    )
    current_rev = revision(ROOT)
    if baseline is not None:
        header += f"; baseline {baseline.rev} ({baseline.root}) against {current_rev}"
    print()
    print(header)
    print()
    print(text)
    notes = [
        *bench.notes,
        f"load generator: wrk, median {fmt(rows['bare']['wrk_cpu_us'])} µs CPU per request on the bare app "
        f"against {fmt(rows['bare']['cpu_us'])} µs in the server, so wrk is not the bottleneck",
        "CPU µs/req is the server worker process's utime+stime delta over the cell divided by its requests",
    ]
    notes.append(event_store_comparison(rows, redis, noevents_redis))
    notes += websocket_notes(websocket)
    if baseline is not None:
        notes += [
            f"baseline rows: trio_mcp imported from {baseline.trio_mcp_file} (checked in the server's environment), "
            f"server module {baseline.servers / 'trio_mcp_app.py'}; own Redis server; same rounds and bare-app "
            "ceiling as the current rows, the two swapping places every other round",
            baseline_comparison(baseline, rows),
        ]
    for note in notes:
        print(f"note: {note}")
    if prof is not None:
        print_profile(prof)

    payload = {
        "stamp": stamp,
        "quick": args.quick,
        "elapsed_s": elapsed,
        "config": {**cfg.__dict__},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "sdk_version": bench.sdk_version,
        "workers": bench.worker,
        "redis": None if bench.redis is None else {"kind": bench.redis.kind, "streams": bench.redis_streams},
        "not_available": bench.na,
        "notes": notes,
        "results": rows,
        "memory": memory,
        "redis_commands": redis,
        "redis_commands_event_store_off": noevents_redis,
        "websocket": websocket,
        "latency": latency,
        "capacity": capacity,
        "many_streams": many_streams,
        "side_benchmarks": side,
        "profile": prof,
        "table": text,
    }
    if baseline is not None:
        payload["baseline"] = {
            **baseline.__dict__,
            "current_rev": current_rev,
            "redis_commands": baseline_redis,
        }
    json_path = RESULTS / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(payload, indent=2, default=str))
    (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2, default=str))
    (RESULTS / "latest.md").write_text(f"{header}\n\n{text}\n\n" + "".join(f"- {n}\n" for n in notes))
    png = RESULTS / f"bench-{stamp}.png"
    problem = chart(png, rows, memory)
    if problem is None:
        shutil.copy(png, RESULTS / "latest.png")
        print(f"\nwrote {json_path.relative_to(ROOT)}, {png.relative_to(ROOT)} (and latest.json/.md/.png)")
    else:
        print(f"\nwrote {json_path.relative_to(ROOT)} (and latest.json/.md); {problem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
