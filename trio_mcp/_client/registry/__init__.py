"""The client registry: a client app's MCP sessions per user, kept across its restarts (docs/architecture.md §7).

Public names are re-exported by `trio_mcp.client_sessions`.
"""
