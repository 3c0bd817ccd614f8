"""The trio_mcp client as the official conformance suite drives it (`nox -s conformance` runs it):

    conformance client --command "python examples/conformance_client.py" --scenario initialize

The harness appends the mock server's URL as the last argument and names the scenario in
MCP_CONFORMANCE_SCENARIO. Scenarios: initialize, tools_call, elicitation-sep1034-client-defaults, sse-retry.
"""

from __future__ import annotations

import logging
import os
import sys

import trio

from trio_mcp import ClientSession, accept_with_defaults, open_client


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


SCENARIOS = {
    "initialize": initialize,
    "tools_call": tools_call,
    "elicitation-sep1034-client-defaults": elicitation_defaults,
    "sse-retry": sse_retry,
}


async def main(url: str, scenario: str) -> None:
    run = SCENARIOS.get(scenario)
    if run is None:
        raise SystemExit(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    # listen: a server may send its requests (an elicitation) on the GET stream rather than the call's.
    async with open_client(url, elicitation_callback=accept_with_defaults, listen=True) as client:
        await run(client)


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), stream=sys.stderr)
    trio.run(main, sys.argv[-1], os.environ.get("MCP_CONFORMANCE_SCENARIO", "initialize"))
