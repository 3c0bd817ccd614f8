"""A trio_mcp client: a call with progress, and the answers to the server's elicitation and sampling requests.

    python examples/client.py http://127.0.0.1:8000/mcp     # against `nox -s serve` (examples/everything.py)

The client recovers by itself: it retries while the server cannot be reached (`reconnect_timeout`), opens a
new session when the server lost its own (a 404), and resumes a stream that broke with `Last-Event-ID`.
Errors arrive as one plain exception: `McpError` from the server, `TransportError` when it cannot be reached.
"""

from __future__ import annotations

import sys

import trio

from trio_mcp import McpError, TransportError, open_client
from trio_mcp import types as t


async def on_progress(params: t.ProgressNotificationParams) -> None:
    print(f"  progress {params.progress:g} of {params.total:g}")


async def answer_elicitation(params: t.ElicitRequestParams) -> t.ElicitResult:
    # A real client asks its user; this one answers for "ada".
    print(f"  the server asks: {params.message}")
    return t.ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.org"})


async def answer_sampling(params: t.CreateMessageRequestParams) -> t.CreateMessageResult:
    # A real client asks its language model; this one always says the same.
    return t.CreateMessageResult(role="assistant", content=t.TextContent(text="4"), model="example-model")


def text(result: t.CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, t.TextContent))


async def main(url: str) -> None:
    async with open_client(
        url, elicitation_callback=answer_elicitation, sampling_callback=answer_sampling
    ) as client:
        print("tools:", ", ".join(tool.name for tool in await client.list_all_tools()))
        print("a call with progress:")
        print(" ", text(await client.call_tool("test_tool_with_progress", progress=on_progress)))
        print("a call that asks the user:")
        print(" ", text(await client.call_tool("test_elicitation", {"message": "Who are you?"})))
        print("a call that asks the model:")
        print(" ", text(await client.call_tool("test_sampling", {"prompt": "What is 2 + 2?"})))


if __name__ == "__main__":
    try:
        trio.run(main, sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/mcp")
    except TransportError as exc:
        sys.exit(f"cannot reach the server: {exc}")
    except McpError as exc:
        sys.exit(f"the server answered an error: {exc}")
