"""Cross-instance delivery over Redis Pub/Sub: latency p50/p99 and throughput of RedisStreamManager.

Two managers ("instances") run in one trio process against a private Redis the script starts itself
(tests/_redis_server.py). Instance A publishes; instance B holds the session streams and its single pump task
fans messages out into their bounded channels, where reader tasks (the "clients") consume them. Both instances
share one CPU thread here, so these numbers are a floor for two real processes.

* latency: one message in flight at a time, publish on A -> received from the channel on B (payload ~130 B).
* throughput, 1 stream: 8 concurrent publishers on A, one stream on B; messages/s from first publish to last
  receive; dropped streams must be 0 (the reader keeps up).
* throughput, fan-out: 8 publishers round-robin over 100 streams held on B.
* broadcast: one control event from A -> B's on_broadcast (latency).

Run: python benchmarks/bench_streams.py [--quick]     (prints a table, then one JSON line)
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import trio
import trio.lowlevel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from trio_mcp.streams import Notify, RecordingEvents, RedisStreamManager  # noqa: E402


def _load_redis_server() -> Any:
    spec = importlib.util.spec_from_file_location("_redis_server", REPO / "tests" / "_redis_server.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_redis_server"] = module
    spec.loader.exec_module(module)
    return module.RedisServer


def _payload(n: int) -> bytes:
    body = {
        "jsonrpc": "2.0",
        "method": "notifications/message",
        "params": {"level": "info", "data": f"benchmark message {n:08d}", "t": time.perf_counter_ns()},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _sent_at(payload: bytes) -> int:
    return int(json.loads(payload)["params"]["t"])


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def bench_latency(a: RedisStreamManager, b: RedisStreamManager, count: int) -> dict[str, float]:
    latencies: list[float] = []
    async with b.subscribe("latency", 16) as channel:
        for n in range(count + 50):
            await a.publish("latency", _payload(n))
            with trio.fail_after(5):
                payload = await channel.receive()
            if n >= 50:  # warm-up
                latencies.append((time.perf_counter_ns() - _sent_at(payload)) / 1000)
    return {
        "latency_p50_us": round(_percentile(latencies, 50), 1),
        "latency_p99_us": round(_percentile(latencies, 99), 1),
        "latency_mean_us": round(statistics.fmean(latencies), 1),
        "latency_messages": count,
    }


async def bench_throughput(
    a: RedisStreamManager, b: RedisStreamManager, count: int, streams: int, publishers: int = 8
) -> dict[str, float]:
    sids = [f"tp-{streams}-{i}" for i in range(streams)]
    per_stream = count // streams
    total = per_stream * streams
    received = 0
    done = trio.Event()
    dropped_before = b.statistics().dropped_streams

    async def read(sid: str, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal received
        async with b.subscribe(sid, 1024) as channel:
            task_status.started()
            for _ in range(per_stream):
                with trio.fail_after(30):
                    await channel.receive()
                received += 1
                if received == total:
                    done.set()

    async def publish(worker: int) -> None:
        for n in range(worker, total, publishers):
            await a.publish(sids[n % streams], _payload(n))

    async with trio.open_nursery() as nursery:
        for sid in sids:
            await nursery.start(read, sid)
        started = time.perf_counter()
        async with trio.open_nursery() as senders:
            for worker in range(publishers):
                senders.start_soon(publish, worker)
        published = time.perf_counter()
        with trio.fail_after(60):
            await done.wait()
        finished = time.perf_counter()
    label = "1_stream" if streams == 1 else f"{streams}_streams"
    return {
        f"throughput_{label}_msgs_per_s": round(total / (finished - started)),
        f"publish_{label}_msgs_per_s": round(total / (published - started)),
        f"throughput_{label}_messages": total,
        f"dropped_{label}": b.statistics().dropped_streams - dropped_before,
    }


async def bench_broadcast(a: RedisStreamManager, events_b: RecordingEvents, count: int) -> dict[str, float]:
    latencies: list[float] = []
    for n in range(count):
        before = len(events_b.broadcasts)
        started = time.perf_counter_ns()
        await a.broadcast(Notify(method=f"notifications/bench/{n}"))
        with trio.fail_after(5):
            while len(events_b.broadcasts) == before:
                await trio.lowlevel.checkpoint()
        latencies.append((time.perf_counter_ns() - started) / 1000)
    return {
        "broadcast_p50_us": round(_percentile(latencies, 50), 1),
        "broadcast_p99_us": round(_percentile(latencies, 99), 1),
    }


async def run(url: str, quick: bool) -> dict[str, float]:
    a = RedisStreamManager.from_url(url, prefix="bench:")
    b = RedisStreamManager.from_url(url, prefix="bench:")
    events_b = RecordingEvents()
    results: dict[str, float] = {}
    async with trio.open_nursery() as nursery:
        await nursery.start(a.run, RecordingEvents())
        await nursery.start(b.run, events_b)
        results |= await bench_latency(a, b, 300 if quick else 3000)
        results |= await bench_throughput(a, b, 2_000 if quick else 15_000, 1)
        results |= await bench_throughput(a, b, 2_000 if quick else 15_000, 100)
        results |= await bench_broadcast(a, events_b, 100 if quick else 1000)
        nursery.cancel_scope.cancel()
    return results


def main() -> int:
    quick = "--quick" in sys.argv
    redis_server_class = _load_redis_server()
    with redis_server_class() as server:
        started = time.perf_counter()
        results = trio.run(run, server.url, quick)
        results["wall_s"] = round(time.perf_counter() - started, 2)
        results["redis"] = server.kind  # type: ignore[assignment]
    rows = [
        ("cross-instance latency p50", f"{results['latency_p50_us']:.0f} µs"),
        ("cross-instance latency p99", f"{results['latency_p99_us']:.0f} µs"),
        (
            "broadcast latency p50 / p99",
            f"{results['broadcast_p50_us']:.0f} / {results['broadcast_p99_us']:.0f} µs",
        ),
        ("throughput, 1 stream", f"{results['throughput_1_stream_msgs_per_s']:,} msg/s"),
        ("throughput, 100 streams", f"{results['throughput_100_streams_msgs_per_s']:,} msg/s"),
        (
            "dropped streams (must be 0)",
            f"{results['dropped_1_stream'] + results['dropped_100_streams']:.0f}",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"RedisStreamManager, 2 instances in one process ({'quick' if quick else 'full'} run)")
    for label, value in rows:
        print(f"  {label:<{width}}  {value:>16}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
