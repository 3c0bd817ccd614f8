"""The trio_mcp server under test: one `add(a, b)` tool, store and stream manager from the environment."""

from __future__ import annotations

from trio_mcp import Server

server = Server("bench", version="1.0.0")


@server.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


app = server.asgi_app()
