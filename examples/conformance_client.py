"""The trio_mcp client as the official conformance suite drives it (`nox -s conformance` runs it):

    conformance client --command "python examples/conformance_client.py" --scenario initialize
    conformance client --command "python examples/conformance_client.py" --suite auth

The harness appends the mock server's URL as the last argument, names the scenario in MCP_CONFORMANCE_SCENARIO,
the protocol revision in MCP_CONFORMANCE_PROTOCOL_VERSION (2026-07-28: the stateless era) and, for some auth
scenarios, credentials in MCP_CONFORMANCE_CONTEXT (JSON). Scenarios: initialize, tools_call,
elicitation-sep1034-client-defaults, sse-retry, and every `auth/*` one: an `OAuthClient` (trio_mcp.client_auth)
lists the tools and calls `test-tool`. The harness's authorization server approves at once, so the redirect
handler GETs the authorization URL without following the redirect and reads `code`, `state` and `iss` from its
Location; the callback handler hands them over.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any, Literal

import httpx
import trio

from trio_mcp import ClientSession, accept_with_defaults, open_client
from trio_mcp.client_auth import AuthorizationResponse, ClientCredentials, OAuthClient

#: the client ID metadata document the harness expects (auth/basic-cimd): the client_id is this URL
CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"
#: never listened on: the redirect is read from the Location header
REDIRECT_URI = "http://localhost:3000/callback"


async def initialize(client: ClientSession) -> None:
    await client.list_tools()


async def tools_call(client: ClientSession) -> None:
    await client.call_tool("add_numbers", {"a": 5, "b": 3})


async def elicitation_defaults(client: ClientSession) -> None:
    # The server asks with a schema whose fields have defaults; accept_with_defaults answers with them.
    await client.call_tool("test_client_elicitation_defaults", {})


async def sse_retry(client: ClientSession) -> None:
    # The server ends the call's stream after `retry: 500`; the client comes back with Last-Event-ID.
    await client.call_tool("test_reconnection", {})


async def authorized(client: ClientSession) -> None:
    # Two requests after the first authorization: step-up (tools/call needs more), a changed
    # authorization server (the second request's 401), a retry limit all show on the second.
    await client.list_tools()
    await client.call_tool("test-tool", {})


SCENARIOS = {
    "initialize": initialize,
    "tools_call": tools_call,
    "elicitation-sep1034-client-defaults": elicitation_defaults,
    "sse-retry": sse_retry,
}


class AutoApproved:
    """The redirect and callback handlers for an authorization server that approves without a user."""

    def __init__(self) -> None:
        self._response: AuthorizationResponse | None = None

    async def redirect(self, authorization_url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as http:
            answer = await http.get(authorization_url)
        location = answer.headers.get("location")
        if location is None:
            raise RuntimeError(f"the authorization endpoint answered {answer.status_code} without a redirect")
        self._response = AuthorizationResponse.from_url(location)

    async def callback(self) -> AuthorizationResponse:
        assert self._response is not None, "the redirect handler runs first"
        response, self._response = self._response, None
        return response


def oauth_client(scenario: str, context: dict[str, Any]) -> OAuthClient:
    if scenario.startswith("auth/client-credentials"):
        return OAuthClient(
            credentials=ClientCredentials(
                client_id=context["client_id"],
                client_secret=context.get("client_secret"),
                private_key=context.get("private_key_pem"),
                signing_algorithm=context.get("signing_algorithm"),
            )
        )
    approve = AutoApproved()
    handlers: dict[str, Any] = {
        "redirect_uri": REDIRECT_URI,
        "redirect_handler": approve.redirect,
        "callback_handler": approve.callback,
        "client_name": "trio-mcp conformance client",
    }
    if "client_id" in context:  # a pre-registered client (the server offers no registration)
        return OAuthClient(
            client_id=context["client_id"],
            client_secret=context.get("client_secret"),
            issuer=context.get("issuer"),
            **handlers,
        )
    return OAuthClient(client_metadata_url=CLIENT_METADATA_URL, **handlers)


async def main(url: str, scenario: str) -> None:
    auth: OAuthClient | None = None
    if scenario.startswith("auth/"):
        run = authorized
        auth = oauth_client(scenario, json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}"))
    elif scenario in SCENARIOS:
        run = SCENARIOS[scenario]
    else:
        raise SystemExit(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}, auth/*")
    modern = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION") == "2026-07-28"
    mode: Literal["legacy", "modern"] = "modern" if modern else "legacy"
    # listen: a server may send its requests (an elicitation) on the GET stream rather than the call's.
    async with open_client(
        url, elicitation_callback=accept_with_defaults, listen=not modern, auth=auth, mode=mode
    ) as client:
        await run(client)


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), stream=sys.stderr)
    trio.run(main, sys.argv[-1], os.environ.get("MCP_CONFORMANCE_SCENARIO", "initialize"))
