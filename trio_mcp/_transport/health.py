"""Health endpoints for load balancers and orchestrators: liveness (`/healthz`) and readiness (`/readyz`).

Both answer small JSON bodies that name no host, port or secret, and both come before the gate: a probe sends
an IP address as Host and no Origin. Readiness is 503 while the app has not started, is draining or is shutting down, and
while the session store or the stream manager cannot be reached (each check bounded by `READY_TIMEOUT`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import trio

from .._stores._base import SessionStore, StoreError
from .._streams._base import StreamManager, StreamUnavailable
from .asgi import JSON_HEADERS, Send, respond
from .drain import Drain

READY_TIMEOUT = 2.0
PROBE_ID = "trio-mcp-readiness-probe"  # never a session id (those are 32 URL-safe characters)


class Health:
    def __init__(
        self, store: SessionStore, streams: StreamManager, started: Callable[[], bool], drain: Drain
    ) -> None:
        self._store = store
        self._streams = streams
        self._started = started
        self._drain = drain

    async def live(self, send: Send) -> None:
        await _answer(send, 200, {"status": "ok"})

    async def ready(self, send: Send) -> None:
        self._drain.probed()
        problems = await self.problems()
        if problems:
            await _answer(send, 503, {"status": "unavailable", "problems": problems}, retry=True)
        else:
            await _answer(send, 200, {"status": "ready"})

    async def problems(self) -> list[str]:
        if self._drain.draining:
            return ["the app is draining: it is shutting down"]
        if not self._started():
            return ["the app is not serving (starting or shutting down)"]
        problems: list[str] = []
        if not await self._store_answers():
            problems.append("the session store cannot be reached")
        if not self._streams.ready():
            problems.append("the stream manager cannot hear the other instances")
        return problems

    async def _store_answers(self) -> bool:
        with trio.move_on_after(READY_TIMEOUT):
            try:
                await self._store.has(PROBE_ID)
            except (StoreError, StreamUnavailable):
                return False
            return True
        return False


async def _answer(send: Send, status: int, body: dict[str, object], *, retry: bool = False) -> None:
    headers = [*JSON_HEADERS, (b"cache-control", b"no-store")]
    if retry:
        headers.append((b"retry-after", b"1"))
    await respond(send, status, json.dumps(body).encode(), headers)
