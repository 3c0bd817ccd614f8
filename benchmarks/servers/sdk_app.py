"""The official `mcp` SDK server with the same `add(a, b)` tool (only importable in the bench venv).

`stateless_app`: the SDK's stateless JSON mode (stateless_http=True, json_response=True).
`stateful_app`: the SDK's default stateful mode (sessions, SSE responses, GET streams).

The SDK logs at INFO by default, a line per session (and per stateless request) on stderr; the benchmark sets
WARNING so that the SDK is not slowed by its own logging (trio_mcp logs nothing per request either).
"""

from __future__ import annotations

try:  # mcp >= 2: FastMCP was renamed MCPServer
    from mcp.server.mcpserver import MCPServer as _Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as _Server  # type: ignore[no-redef]


def _make(**mode: bool) -> object:
    server = _Server("bench", log_level="WARNING")

    @server.tool()
    async def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    return server.streamable_http_app(**mode)


stateless_app = _make(stateless_http=True, json_response=True)
stateful_app = _make()
