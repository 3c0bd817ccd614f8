"""The OAuth 2.1 client for MCP servers (MCP 2025-11-25 basic/authorization; docs/architecture.md §7 OAuth).

One job per module: `challenge` (WWW-Authenticate), `urls` (RFC 8707 resource identifiers, well-known URLs),
`fetch` (bounded HTTP), `metadata` and `discovery` (RFC 9728, RFC 8414), `registration` (pre-registered,
client ID metadata document, RFC 7591), `pkce`, `authorize` (the authorization request and response),
`grants` (token requests), `credentials` (the client credentials grant), `state` and `storage` (what is kept),
`flow` (`OAuthClient`, the httpx.Auth), `upgrade` (the same for a WebSocket upgrade), `loopback`.
The public names are in `trio_mcp.client_auth`.
"""
