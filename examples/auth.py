"""A protected MCP server: OAuth 2.1 bearer tokens, per-tool scopes, sessions bound to the token's user.

Serve it on any port:

    trio-mcp serve examples.auth:app --bind 127.0.0.1:8000

Its protected resource metadata (RFC 9728) is at http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp;
a request to /mcp without a token gets 401 with `WWW-Authenticate: Bearer resource_metadata="…", scope="mcp"`.

Tokens come from a **development issuer** (not for production: one key in a local file, no login, anyone who
can run the mint command gets any token). Mint one for a subject and scopes, for the URL you serve:

    python -m examples.auth mint alice --scope mcp --scope notes:read --scope notes:write \
        --resource http://127.0.0.1:8000/mcp

and send it as `Authorization: Bearer <token>`. The key lives in TRIO_MCP_DEV_ISSUER_KEY (default: a file in the
temporary directory), shared by the server and the mint command.

For a real authorization server, set TRIO_MCP_AUTH_ISSUER and TRIO_MCP_AUTH_JWKS_URL (or
TRIO_MCP_AUTH_INTROSPECTION_URL); the development issuer is then not used.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from trio_mcp import Context, Server
from trio_mcp.auth import DevelopmentIssuer

server = Server("auth-example", instructions="Notes per user; the tools need OAuth scopes.")

KEY_FILE = os.environ.get("TRIO_MCP_DEV_ISSUER_KEY") or str(
    Path(tempfile.gettempdir()) / f"trio_mcp-dev-issuer-{os.getuid() if hasattr(os, 'getuid') else 0}.pem"
)
ISSUER = DevelopmentIssuer(key_file=KEY_FILE)
SCOPES = ["mcp"]  # every request needs it

#: notes per principal (`<issuer>#<subject>`): each user sees only their own
NOTES: defaultdict[str, list[str]] = defaultdict(list)


def _principal(ctx: Context) -> str:
    assert ctx.principal is not None  # the app has auth: every request carries a verified token
    return ctx.principal


@server.tool
async def whoami(ctx: Context) -> dict[str, object]:
    """Who the access token says you are: subject, client and scopes."""
    token = ctx.access_token
    assert token is not None
    return {"principal": ctx.principal, "client_id": token.client_id, "scopes": sorted(token.scopes)}


@server.tool(scopes=["notes:read"])
async def list_notes(ctx: Context) -> list[str]:
    """Your notes (needs the notes:read scope)."""
    return NOTES[_principal(ctx)]


@server.tool(scopes=["notes:write"])
async def add_note(text: str, ctx: Context) -> str:
    """Add a note (needs the notes:write scope)."""
    NOTES[_principal(ctx)].append(text)
    return f"{len(NOTES[_principal(ctx)])} note(s)"


@server.tool(scopes=["admin"])
async def log_out_everywhere(subject: str, ctx: Context) -> str:
    """End every session of a user on every instance (needs the admin scope)."""
    assert ctx.access_token is not None
    principal = f"{ctx.access_token.issuer}#{subject}"
    ended = await app.sessions.revoke_all(principal)
    return f"ended {ended} session(s) of {principal}"


def _real_issuer_configured() -> bool:
    return bool(os.environ.get("TRIO_MCP_AUTH_JWKS_URL") or os.environ.get("TRIO_MCP_AUTH_INTROSPECTION_URL"))


app = (
    server.asgi_app(auth_scopes=SCOPES)
    if _real_issuer_configured()
    else server.asgi_app(auth=ISSUER.verifier(), auth_issuer=ISSUER.issuer, auth_scopes=SCOPES)
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.auth", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    mint = commands.add_parser("mint", help="print a development access token")
    mint.add_argument("subject", help="who the token is for (its `sub`)")
    mint.add_argument("--scope", action="append", default=[], help="a scope to grant (repeatable)")
    mint.add_argument(
        "--resource",
        default="http://127.0.0.1:8000/mcp",
        help="the server's resource URL, the token's audience (default: %(default)s)",
    )
    mint.add_argument("--ttl", type=float, default=3600, help="seconds until it expires (default: 3600)")
    args = parser.parse_args(argv)
    print(ISSUER.mint(args.subject, scopes=args.scope or SCOPES, audience=args.resource, ttl=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
