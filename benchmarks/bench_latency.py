"""Cross-instance latency: three trio_mcp instances (A, B, C) on one Redis, a client in a process of its own.

Redis store + Redis stream manager + Redis event store (TRIO_MCP_STORE=redis, REDIS_URL); each instance is a
`hypercorn --worker-class trio` process of `servers/latency_app.py` on a free 127.0.0.1 port.

1. One-hop notification: the client opens a session, holds its GET stream on B, and POSTs tools/call `stamp`
   to A in JSON mode (Accept: application/json), so the request has no stream of its own: the handler's
   `ctx.log(...)` goes through the stream manager to the session's GET stream, wherever it is held (here B, over
   Redis Pub/Sub). The message carries the sender's time.time_ns() read right before it is sent; the client's
   GET-stream reader on B records receive time - stamp (same host, same clock). One call in flight at a time.
2. Elicitation round trip: tools/call `ask` to A (JSON mode); A's `ctx.elicit(...)` goes to the GET stream on
   B, the client POSTs its answer to C, which forwards it to A (the reply route in Redis). The tool times
   `await ctx.elicit(...)` with perf_counter and returns it; the client times the whole tools/call.

Run: python benchmarks/bench_latency.py [--quick]   (a table, then one JSON line; targets shown, never asserted)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import h11
import trio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _client  # noqa: E402  (benchmarks/ is not a package)

TARGET_NOTIFY_P50_MS = 1.0
TARGET_NOTIFY_P99_MS = 5.0
APP = "latency_app:app"
WARMUP = 50  # round trips of each kind before the measured ones
INITIALIZE = _client.rpc(
    "initialize",
    {
        "protocolVersion": _client.PROTOCOL_VERSION,
        "capabilities": {"elicitation": {}},
        "clientInfo": {"name": "bench-latency", "version": "1"},
    },
    id=0,
)


def harness() -> Any:
    """run.py (ServerProcess, the Redis helper), imported lazily: it imports this module for its cells."""
    import run

    return run


# --------------------------------------------------------------------------- the client process


async def open_session(conn: _client.Connection) -> str:
    """initialize (declaring elicitation) + notifications/initialized."""
    headers = [("content-type", "application/json"), ("accept", _client.ACCEPT_BOTH)]
    status, response_headers, body = await conn.request("POST", "/mcp", headers, INITIALIZE)
    sid = response_headers.get("mcp-session-id")
    if status != 200 or not sid:
        raise RuntimeError(f"initialize failed: {status} {body[:300]!r}")
    status, _, body = await conn.request("POST", "/mcp", _client.session_headers(sid), _client.INITIALIZED)
    if status != 202:
        raise RuntimeError(f"notifications/initialized failed: {status} {body[:300]!r}")
    return sid


async def read_sse(
    conn: _client.Connection, inbox: trio.MemorySendChannel[tuple[int, dict[str, Any]]]
) -> None:
    """The GET stream's events, each with the wall clock (ns) at which the bytes carrying it were read."""
    buffer = b""
    while True:
        event = await conn.next_event()
        now = time.time_ns()
        if isinstance(event, h11.Data):
            buffer += bytes(event.data).replace(b"\r\n", b"\n")
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            raise RuntimeError("the GET stream ended")
        while (end := buffer.find(b"\n\n")) >= 0:
            block, buffer = buffer[:end], buffer[end + 2 :]
            data = b"\n".join(line[5:].lstrip() for line in block.split(b"\n") if line.startswith(b"data:"))
            if data:
                await inbox.send((now, json.loads(data)))


async def next_message(
    inbox: trio.MemoryReceiveChannel[tuple[int, dict[str, Any]]], method: str
) -> tuple[int, dict[str, Any]]:
    with trio.fail_after(10):
        while True:
            received, message = await inbox.receive()
            if message.get("method") == method:
                return received, message


def tool_result(body: bytes) -> Any:
    reply = json.loads(body)
    if "result" not in reply or reply["result"].get("isError"):
        raise RuntimeError(f"tools/call failed: {body[:300]!r}")
    result = reply["result"]
    structured = result.get("structuredContent")
    if isinstance(structured, dict) and "result" in structured:
        return structured["result"]
    return json.loads(result["content"][0]["text"])


async def client(ports: list[int], notifications: int, elicitations: int, seconds: float) -> dict[str, Any]:
    port_a, port_b, port_c = ports
    conn_a = await _client.Connection.open(port_a)
    conn_c = await _client.Connection.open(port_c)
    sid = await open_session(conn_a)
    json_headers = _client.session_headers(sid, "application/json")
    stream = await _client.open_get_stream(port_b, sid)
    send, inbox = trio.open_memory_channel[tuple[int, dict[str, Any]]](1024)
    out: dict[str, Any] = {"session": sid}
    ids = iter(range(1, 1 << 30))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_sse, stream, send)
        await trio.sleep(0.2)  # the GET stream's subscription is live before the first message

        # 1. one-hop notification latency: A -> Redis -> B's GET stream
        latencies: list[int] = []
        started = time.monotonic()
        deadline = started + seconds
        for n in range(WARMUP + notifications):
            if n >= WARMUP and time.monotonic() > deadline:
                break
            if n and n % 400 == 0:  # hypercorn closes a keep-alive connection after 1,000 requests
                await conn_a.aclose()
                conn_a = await _client.Connection.open(port_a)
            call = _client.rpc("tools/call", {"name": "stamp", "arguments": {}}, id=next(ids))
            status, _, body = await conn_a.request("POST", "/mcp", json_headers, call)
            if status != 200:
                raise RuntimeError(f"tools/call stamp failed: {status} {body[:300]!r}")
            received, message = await next_message(inbox, "notifications/message")
            if n >= WARMUP:
                latencies.append(received - int(message["params"]["data"]))
        out["notify_ns"] = latencies
        out["notify_seconds"] = time.monotonic() - started

        # 2. elicitation: A -> B's GET stream -> client -> C -> A
        tool_us: list[int] = []
        total_ns: list[int] = []
        client_ns: list[int] = []  # between the elicitation's arrival on B and the reply's POST to C
        started = time.monotonic()
        deadline = started + seconds
        for n in range(WARMUP + elicitations):
            if n >= WARMUP and time.monotonic() > deadline:
                break
            if n % 400 == 0:
                await conn_a.aclose()
                await conn_c.aclose()
                conn_a = await _client.Connection.open(port_a)
                conn_c = await _client.Connection.open(port_c)
            result: list[Any] = []
            call = _client.rpc("tools/call", {"name": "ask", "arguments": {}}, id=next(ids))
            begun = time.perf_counter_ns()

            async def ask(
                call: bytes = call, result: list[Any] = result, conn_a: _client.Connection = conn_a
            ) -> None:
                status, _, body = await conn_a.request("POST", "/mcp", json_headers, call)
                if status != 200:
                    raise RuntimeError(f"tools/call ask failed: {status} {body[:300]!r}")
                result.append(tool_result(body))

            async with trio.open_nursery() as round_trip:
                round_trip.start_soon(ask)
                received, request = await next_message(inbox, "elicitation/create")
                answer = {
                    "jsonrpc": "2.0",
                    "id": request["id"],
                    "result": {"action": "accept", "content": {"ok": True}},
                }
                reply_at = time.time_ns()
                status, _, body = await conn_c.request(
                    "POST", "/mcp", _client.session_headers(sid), json.dumps(answer).encode()
                )
                if status != 202:
                    raise RuntimeError(f"the elicitation reply to C answered {status} {body[:300]!r}")
            if n >= WARMUP:
                total_ns.append(time.perf_counter_ns() - begun)
                tool_us.append(int(result[0]))
                client_ns.append(reply_at - received)
        out["elicit_tool_us"] = tool_us
        out["elicit_total_ns"] = total_ns
        out["elicit_client_ns"] = client_ns
        out["elicit_seconds"] = time.monotonic() - started
        nursery.cancel_scope.cancel()
    await stream.aclose()
    await conn_a.request("DELETE", "/mcp", _client.session_headers(sid))
    await conn_a.aclose()
    await conn_c.aclose()
    return out


def client_main(args: argparse.Namespace) -> int:
    ports = [int(p) for p in args.ports.split(",")]

    async def main() -> dict[str, Any]:
        with trio.fail_after(args.seconds * 2 + 120):
            return await client(ports, args.notifications, args.elicitations, args.seconds)

    return _client.run_client_process(main)


# --------------------------------------------------------------------------- the cell


def summary_ms(values_ns: list[int]) -> dict[str, float]:
    return harness().summary_ms(values_ns)


def start_instances(
    redis: Any, logdir: Path, names: str = "ABC", env: dict[str, str] | None = None
) -> list[Any]:
    """One hypercorn process of latency_app per name, all on `redis` (store, stream manager, event store)."""
    run = harness()
    servers: list[Any] = []
    try:
        for name in names:
            spec = run.ServerSpec(f"latency/{name}", APP, run.redis_env(redis.url, True) | (env or {}))
            servers.append(run.ServerProcess(spec, logdir))
            run.probe(servers[-1], stateful=True)  # one real tools/call, so a broken app fails here
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def latency_cell(
    redis: Any, logdir: Path, quick: bool = False, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Three instances on `redis`, the client in its own process; percentiles of both round trips. `env`: more
    settings for the instances (the standalone `--no-event-store` diagnosis)."""
    run = harness()
    notifications, elicitations, seconds = (300, 100, 5.0) if quick else (2000, 500, 20.0)
    servers = start_instances(redis, logdir, env=env)
    try:
        argv = [sys.executable, str(Path(__file__).resolve()), "--client", "--ports",
                ",".join(str(s.port) for s in servers), "--notifications", str(notifications),
                "--elicitations", str(elicitations), "--seconds", f"{seconds:g}"]  # fmt: skip
        cpu_before = [run.cpu_seconds(s.worker_pid) for s in servers]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=seconds * 2 + 180)
        cpu = [run.cpu_seconds(s.worker_pid) - b for s, b in zip(servers, cpu_before, strict=True)]
        data = run.client_result(done, "latency")
        run.raise_if_died(servers)
    finally:
        for server in servers:
            server.stop()
    notify = summary_ms(data["notify_ns"])
    worst = sorted(range(len(data["notify_ns"])), key=lambda i: -data["notify_ns"][i])[:5]
    notify["worst"] = [(i, data["notify_ns"][i] / 1e6) for i in sorted(worst)]
    notify["per_s"] = len(data["notify_ns"]) / data["notify_seconds"] if data["notify_seconds"] else 0.0
    return {
        "instances": len(servers),
        "env": env or {},
        "quick": quick,
        "notification": notify,
        "elicitation_tool": summary_ms([us * 1000 for us in data["elicit_tool_us"]]),
        "elicitation_call": summary_ms(data["elicit_total_ns"]),
        "elicitation_client": summary_ms(data["elicit_client_ns"]),
        "server_cpu_s": {name: round(c, 3) for name, c in zip("ABC", cpu, strict=True)},
        "targets": {"notify_p50_ms": TARGET_NOTIFY_P50_MS, "notify_p99_ms": TARGET_NOTIFY_P99_MS},
    }


def verdict(value: float | None, target: float) -> str:
    if value is None or value != value:
        return "n/a"
    return "met" if value <= target else "MISSED"


def table_lines(result: dict[str, Any]) -> list[str]:
    """Rows in run.py's table shape (| scenario | server | worker | value | ... | target | status |)."""
    if "error" in result:
        return [
            f"| cross-instance latency | trio_mcp (3 instances, Redis) | n/a | | | | | | n/a: {result['error']} |"
        ]
    n = result["notification"]
    e, c = result["elicitation_tool"], result["elicitation_call"]
    lab = "trio_mcp (3 instances A, B, C; Redis store + streams + events)"
    target = f"p50 ≤ {TARGET_NOTIFY_P50_MS:g} ms, p99 ≤ {TARGET_NOTIFY_P99_MS:g} ms"
    status = f"p50 {verdict(n.get('p50_ms'), TARGET_NOTIFY_P50_MS)}, p99 {verdict(n.get('p99_ms'), TARGET_NOTIFY_P99_MS)}"
    return [
        f"| notification A → GET stream on B, {n['count']} messages | {lab} | trio | p50 {n['p50_ms']:.2f} ms, "
        f"p90 {n['p90_ms']:.2f}, p99 {n['p99_ms']:.2f}, max {n['max_ms']:.2f} ms | | | | {target} | {status} |",
        f"| elicitation A → B → client → C → A, {e['count']} round trips | {lab} | trio | tool p50 "
        f"{e['p50_ms']:.2f} ms, p99 {e['p99_ms']:.2f} ms (tools/call p50 {c['p50_ms']:.2f}, p99 "
        f"{c['p99_ms']:.2f} ms) | | | | | |",
    ]


def print_report(result: dict[str, Any]) -> None:
    n = result["notification"]
    extra = f" ({', '.join(f'{k}={v}' for k, v in result['env'].items())})" if result.get("env") else ""
    print(
        f"cross-instance latency: {result['instances']} instances on one Redis{extra}, client in its own process"
    )
    for name, key in (
        ("notification A -> GET stream on B", "notification"),
        ("elicitation round trip (tool's ctx.elicit)", "elicitation_tool"),
        ("elicitation tools/call (client)", "elicitation_call"),
        ("  of which the client (B arrival -> reply POST)", "elicitation_client"),
    ):
        s = result[key]
        print(
            f"  {name:<47} n={s['count']:5d}  p50 {s['p50_ms']:6.3f}  p90 {s['p90_ms']:6.3f}  "
            f"p99 {s['p99_ms']:6.3f}  max {s['max_ms']:7.3f} ms"
        )
    print(
        f"  targets (notification): p50 <= {TARGET_NOTIFY_P50_MS:g} ms "
        f"({verdict(n['p50_ms'], TARGET_NOTIFY_P50_MS)}), p99 <= {TARGET_NOTIFY_P99_MS:g} ms "
        f"({verdict(n['p99_ms'], TARGET_NOTIFY_P99_MS)})"
    )
    print(f"  slowest notifications (index, ms): {n['worst']}")
    print(f"  server worker CPU seconds over the cell: {result['server_cpu_s']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer round trips (300 / 100), 5 s bounds")
    parser.add_argument(
        "--no-event-store",
        action="store_true",
        help="diagnosis: the instances with TRIO_MCP_EVENT_STORE=none (the GET stream records nothing)",
    )
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ports", help=argparse.SUPPRESS)
    parser.add_argument("--notifications", type=int, default=2000, help=argparse.SUPPRESS)
    parser.add_argument("--elicitations", type=int, default=500, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=20.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(args)
    run = harness()
    logdir = Path(tempfile.mkdtemp(prefix="trio-mcp-bench-latency-"))
    redis = run.load_redis_helper().RedisServer()
    redis.start()
    try:
        env = {"TRIO_MCP_EVENT_STORE": "none"} if args.no_event_store else None
        result = latency_cell(redis, logdir, args.quick, env)
    finally:
        redis.stop()
    print_report(result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
