"""The trio_mcp server of the cross-instance latency and capacity cells: an ordinary app, backends from the
environment (TRIO_MCP_STORE=redis, REDIS_URL: Redis store, stream manager and event store).

- `add(a, b)`: the tools/call of the capacity cell's per-call cost.
- `stamp()`: one `notifications/message` whose data is the wall clock (time.time_ns()) read right before it is
  sent. Called in JSON mode (Accept: application/json) the request has no stream of its own, so the message goes
  to the session's GET stream wherever it is held (`SessionStreamOutbound`: the stream manager's publish).
- `burst(count)`: `count` such messages (the capacity cell's per-notification cost).
- `ask()`: one elicitation/create (form mode), timed with perf_counter around `ctx.elicit`; returns the elapsed
  microseconds. In JSON mode the request goes to the GET stream, and the client's reply may land on any instance.
"""

from __future__ import annotations

import time

from trio_mcp import Context, Server

server = Server("bench-latency", version="1.0.0")

FORM = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


@server.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
async def stamp(*, ctx: Context) -> str:
    """Send one log message carrying the sender's wall clock (ns)."""
    await ctx.log("info", str(time.time_ns()))
    return "sent"


@server.tool
async def burst(count: int, *, ctx: Context) -> int:
    """Send `count` log messages."""
    for n in range(count):
        await ctx.log("info", f"burst {n} {time.time_ns()}")
    return count


@server.tool
async def ask(*, ctx: Context) -> int:
    """One elicitation round trip; returns its duration in µs as the tool measured it."""
    started = time.perf_counter()
    answer = await ctx.elicit("Continue?", FORM)
    elapsed = time.perf_counter() - started
    if not answer.accepted:
        raise ValueError(f"the elicitation was answered {answer.action!r}")
    return round(elapsed * 1e6)


app = server.asgi_app()
