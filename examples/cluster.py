"""The conformance fixture (examples/everything.py) plus a few tools that send notifications.

The multi-instance tests (tests/multiprocess) run it on several hypercorn processes sharing one Redis:

    TRIO_MCP_STORE=redis REDIS_URL=redis://127.0.0.1:6379/0 \
        hypercorn --worker-class trio -b 127.0.0.1:8001 examples.cluster:app

The extra tools live here, not in everything.py, whose tool list the conformance notes fix exactly. They go on
a private copy of the fixture's server, so importing this module next to examples.everything (the test suite
imports both in one process) leaves ``examples.everything.server`` as documented.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated, TypedDict

import trio

from trio_mcp import Context, Server

MAX_COUNT = 10_000
MAX_INTERVAL_MS = 60_000


def _fixture_server() -> Server:
    """A fresh ``server`` from examples/everything.py, run as its own module (``examples._cluster_fixture``)."""
    name = "examples._cluster_fixture"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).with_name("everything.py")
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load the conformance fixture from {path}", name=name, path=str(path))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it, as an import does: hints resolve through sys.modules
        spec.loader.exec_module(module)
    fixture: Server = module.server
    return fixture


server = _fixture_server()


class Count(TypedDict):
    count: int


@server.tool
async def trigger_resource_update(uri: Annotated[str, "The URI of the resource that changed"]) -> str:
    """Send notifications/resources/updated for a URI to every session subscribed to it, on every instance."""
    await server.notify_resource_updated(uri)
    return f"resources/updated sent for {uri}"


@server.tool
async def trigger_tools_list_changed() -> str:
    """Send notifications/tools/list_changed to every session, on every instance."""
    await server.send_tools_list_changed()
    return "tools/list_changed sent"


@server.tool
async def count_slowly(
    n: Annotated[int, f"How many steps to count, 0 to {MAX_COUNT}"],
    interval_ms: Annotated[int, f"Milliseconds to wait before each step, 0 to {MAX_INTERVAL_MS}"],
    *,
    ctx: Context,
) -> Count:
    """Count from 1 to n, one step every interval_ms milliseconds, then return {"count": n}.

    Each step sends an info-level log message ("count 3 of 20") and, when the call carries
    _meta.progressToken, a progress notification (progress 3, total 20) on the call's own stream.
    """
    if not 0 <= n <= MAX_COUNT:
        raise ValueError(f"invalid value for argument 'n': expected 0 to {MAX_COUNT}, got {n}")
    if not 0 <= interval_ms <= MAX_INTERVAL_MS:
        raise ValueError(
            f"invalid value for argument 'interval_ms': expected 0 to {MAX_INTERVAL_MS}, got {interval_ms}"
        )
    for step in range(1, n + 1):
        await trio.sleep(interval_ms / 1000)
        text = f"count {step} of {n}"
        await ctx.report_progress(step, n, text)  # a no-op without a progress token
        await ctx.info(text)
    return {"count": n}


app = server.asgi_app()
