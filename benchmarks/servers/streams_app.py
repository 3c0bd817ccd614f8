"""The trio_mcp server of the many-streams cell: `add(a, b)` and `announce()`, which changes nothing but tells
every session that the tool list changed (one `notifications/tools/list_changed` fan-out)."""

from __future__ import annotations

from trio_mcp import Server

server = Server("bench-streams", version="1.0.0")


@server.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
async def announce() -> str:
    """Send tools/list_changed to every session."""
    await server.send_tools_list_changed()
    return "sent"


app = server.asgi_app()
