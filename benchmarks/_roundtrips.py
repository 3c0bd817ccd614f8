"""The client process of the WebSocket cell: C connections to one server, each with one initialized session,
sending sequential `tools/call` round trips, over WebSocket or over HTTP (the session's POSTs, SSE answers).

    python benchmarks/_roundtrips.py --port P --transport ws|http --connections C --seconds S [--warmup W]

run.py starts it (one or more processes, so the client never shares the server's process) and talks to it in
JSON lines: once its sessions are open and warmed up it prints {"ready": true}, waits for "go" on stdin, runs
the timed phase, prints {"calls", "seconds", "cpu_s", "latencies_us", ...}, then waits for "close" before it
ends its sessions, so the server CPU that run.py reads around the timed phase covers the round trips only. A
failure prints {"error": "..."} and exits 1. Every phase is bounded in time, every loop in time and count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _client

SETUP_TIMEOUT = 60.0
WAIT_TIMEOUT = 300.0  # for "go" / "close" from run.py
MAX_CALLS_PER_SECOND = 100_000  # per connection: the count bound of a loop (far above what one can do)

Call = Callable[[int], Awaitable[None]]


def emit(data: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(data, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def wait_for(word: str) -> None:
    with trio.fail_after(WAIT_TIMEOUT):
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
    if line.strip() != word:
        raise RuntimeError(f"expected {word!r} from run.py, got {line.strip()!r}")


async def drive(call: Call, seconds: float, latencies: list[int] | None, first_id: int) -> int:
    """Sequential calls for `seconds` (and at most MAX_CALLS_PER_SECOND per second); their count."""
    limit = max(1, int(seconds * MAX_CALLS_PER_SECOND))
    deadline = trio.current_time() + seconds
    clock = time.perf_counter_ns
    n = 0
    while n < limit and trio.current_time() < deadline:
        start = clock()
        await call(first_id + n)
        if latencies is not None:
            latencies.append((clock() - start) // 1000)
        n += 1
    return n


async def open_calls(
    transport: str, port: int, connections: int
) -> tuple[list[Call], list[Callable[[], Awaitable[None]]]]:
    calls: list[Call] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    for _ in range(connections):
        if transport == "ws":
            ws = await _client.ws_open_session(port)
            closers.append(ws.aclose)
            calls.append(lambda i, ws=ws: _client.ws_call_add(ws, i))
        else:
            conn = await _client.Connection.open(port)
            closers.append(conn.aclose)
            sid = await _client.open_session(conn)

            async def end(conn: _client.Connection = conn, sid: str = sid) -> None:
                try:
                    await conn.request("DELETE", "/mcp", _client.session_headers(sid))
                finally:
                    await conn.aclose()

            closers[-1] = end
            calls.append(lambda i, conn=conn, sid=sid: _client.call_add(conn, i, sid, sse=True))
    return calls, closers


async def main(args: argparse.Namespace) -> None:
    closers: list[Callable[[], Awaitable[None]]] = []
    try:
        with trio.fail_after(SETUP_TIMEOUT + args.warmup):
            calls, closers = await open_calls(args.transport, args.port, args.connections)
            async with trio.open_nursery() as nursery:
                for k, call in enumerate(calls):
                    nursery.start_soon(drive, call, args.warmup, None, 1_000_000 * (k + 1))
        emit({"ready": True})
        await wait_for("go")
        latencies: list[list[int]] = [[] for _ in calls]
        counts = [0] * len(calls)

        async def run(k: int) -> None:
            counts[k] = await drive(calls[k], args.seconds, latencies[k], 1_000_000 * (k + 1) + 500_000)

        with trio.fail_after(args.seconds + 30):
            cpu, wall = time.process_time(), time.perf_counter()
            async with trio.open_nursery() as nursery:
                for k in range(len(calls)):
                    nursery.start_soon(run, k)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        emit(
            {
                "calls": sum(counts),
                "seconds": wall,
                "cpu_s": cpu,
                "connections": len(calls),
                "latencies_us": [x for per in latencies for x in per],
            }
        )
        await wait_for("close")
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            for close in closers:
                try:
                    await close()
                except Exception:
                    pass


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--transport", choices=("ws", "http"), required=True)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    args = parser.parse_args()
    try:
        trio.run(main, args)
    except BaseException as exc:  # reported to run.py, whatever it is
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        emit({"error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
