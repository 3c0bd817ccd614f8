"""A stdio MCP server written with the official `mcp` SDK, for the stdio client's tests."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("sdk-stdio")


@server.tool()
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


if __name__ == "__main__":
    server.run()
