"""Under another event loop (hypercorn without --worker-class trio) the app says so once and refuses to start."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from examples.everything import server


def run_under_asyncio(scope: dict[str, Any], incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    app = server.asgi_app()
    sent: list[dict[str, Any]] = []

    async def main() -> None:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in incoming:
            queue.put_nowait(message)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, queue.get, send)

    asyncio.run(main())
    return sent


def test_the_lifespan_fails_with_a_message_that_says_how_to_run_it() -> None:
    sent = run_under_asyncio({"type": "lifespan"}, [{"type": "lifespan.startup"}])
    assert len(sent) == 1
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "not asyncio" in sent[0]["message"]
    assert "--worker-class trio" in sent[0]["message"]
    assert "trio-mcp serve" in sent[0]["message"]


def test_a_request_gets_a_500_with_the_same_message() -> None:
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": []}
    sent = run_under_asyncio(scope, [{"type": "http.request", "body": b"{}", "more_body": False}])
    assert sent[0]["status"] == 500
    error = json.loads(sent[1]["body"])["error"]
    assert "--worker-class trio" in error["message"]
