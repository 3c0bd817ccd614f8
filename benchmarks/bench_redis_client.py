"""What one Redis round trip costs the trio_mcp process: coredis as trio_mcp uses it vs a plain trio socket.

One trio process against a private Redis the script starts itself (tests/_redis_server.py); one command in
flight at a time, so each figure is the client's CPU (process time) per round trip, median of 5 runs:

* coredis PUBLISH, raw (``client.publish``) and through ``RedisConnection.run`` (deadline + error mapping);
* coredis EVALSHA of a one-SET script, called as the Redis backends call theirs (``_redis.Scripts``);
* the same PUBLISH and EVALSHA bytes written to a trio socket stream, the reply read back (no parsing beyond
  reading it): a floor for any trio Redis client.

Redis session churn and cross-instance notifications pay the coredis figure per round trip (docs/capacity.md).

Run: python benchmarks/bench_redis_client.py [--quick]     (prints a table, then one JSON line)
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from bench_streams import _load_redis_server  # noqa: E402  (benchmarks/ is not a package)

from trio_mcp._redis import RedisConnection, Scripts  # noqa: E402

SET_LUA = "return redis.call('SET', KEYS[1], ARGV[1])"
RUNS = 5


def _resp(*parts: bytes) -> bytes:
    out = b"*%d\r\n" % len(parts)
    for part in parts:
        out += b"$%d\r\n%s\r\n" % (len(part), part)
    return out


async def _cpu_per_call(call: Callable[[], Awaitable[object]], count: int) -> float:
    for _ in range(count // 10):  # warm up: connection made, script loaded
        await call()
    runs: list[float] = []
    for _ in range(RUNS):
        began = time.process_time()
        for _ in range(count):
            await call()
        runs.append((time.process_time() - began) / count * 1e6)
    return round(statistics.median(runs), 1)


async def run(url: str, port: int, count: int) -> dict[str, float]:
    results: dict[str, float] = {}
    conn = RedisConnection(url)
    await conn.open()
    try:
        client = conn.client()
        scripts = Scripts(conn, {"set": SET_LUA})
        results["coredis_publish_us"] = await _cpu_per_call(lambda: client.publish("bench", "hello"), count)
        results["connection_run_publish_us"] = await _cpu_per_call(
            lambda: conn.run("publish", lambda redis: redis.publish("bench", "hello")), count
        )
        results["coredis_evalsha_us"] = await _cpu_per_call(
            lambda: scripts["set"](keys=["bench:key"], args=["v"]), count
        )
        sha = str(scripts["set"].sha).encode()
    finally:
        await conn.aclose()
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        for name, command in (
            ("socket_publish_us", _resp(b"PUBLISH", b"bench", b"hello")),
            ("socket_evalsha_us", _resp(b"EVALSHA", sha, b"1", b"bench:key", b"v")),
        ):

            async def round_trip(command: bytes = command) -> None:
                await stream.send_all(command)
                await stream.receive_some(4096)  # each reply is one short line

            results[name] = await _cpu_per_call(round_trip, count)
    return results


def main() -> int:
    quick = "--quick" in sys.argv
    with _load_redis_server()() as server:
        results: dict[str, Any] = trio.run(run, server.url, server.port, 300 if quick else 2000)
        results["redis"] = server.kind
    rows = [
        ("coredis PUBLISH", results["coredis_publish_us"]),
        ("coredis PUBLISH via RedisConnection.run", results["connection_run_publish_us"]),
        ("coredis EVALSHA (Scripts)", results["coredis_evalsha_us"]),
        ("trio socket PUBLISH", results["socket_publish_us"]),
        ("trio socket EVALSHA", results["socket_evalsha_us"]),
    ]
    print("client CPU per Redis round trip (one in flight)")
    for label, value in rows:
        print(f"  {label:42} {value:7.1f} µs")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
