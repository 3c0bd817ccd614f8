"""Graceful drain: an instance that is going away finishes its work and hands its clients to the others.

`await app.drain()` (SIGTERM/SIGINT under `trio-mcp serve`) runs the sequence of docs/architecture.md §4:

1. readiness answers 503 at once, so load balancers stop sending new work;
2. every open SSE stream ends cleanly after its last event id with `retry:` (T§Resumability: "the server MAY
   close the connection" after an event id; the client reconnects with `Last-Event-ID`, on another instance),
   and an SSE response opened during the drain ends right after its priming event; handlers run on, and what
   they send goes to the event store, where any instance's resumed stream finds it;
3. new sessions (`initialize`) and new standalone GET streams are refused with 503 + `Retry-After`; other
   requests are served while load balancers notice (`drain_notice`, only when readiness was probed lately);
4. in-flight handlers get up to `drain_timeout`; at the deadline they are cancelled, and each request still
   unanswered gets a JSON-RPC error (-32603, `data: {"retryable": true}`) as its stream's last event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from contextlib import contextmanager

import trio

from .._proto.errors import INTERNAL_ERROR
from .._proto.jsonrpc import ErrorResponse, RequestId, error_response
from .asgi import Send, respond_error
from .gate import Headers

log = logging.getLogger("trio_mcp.http")

# A readiness probe this recent means a load balancer watches this instance: give it `drain_notice`.
PROBED_LATELY = 60.0
# After the deadline's cancellation: how long the cancelled handlers get to write their errors.
CANCEL_GRACE = 2.0
DRAIN_DEADLINE_MESSAGE = (
    "the server instance running this request shut down before it finished; the request may be sent again"
)


def drain_deadline_error(request_id: RequestId) -> ErrorResponse:
    return error_response(request_id, INTERNAL_ERROR, DRAIN_DEADLINE_MESSAGE, {"retryable": True})


class Drain:
    """The drain state of one app: its open SSE streams, its in-flight work, and the sequence above."""

    def __init__(self, *, timeout: float, notice: float) -> None:
        self.timeout = timeout
        self.notice = notice
        self._draining = False
        self._done = trio.Event()
        self._streams: set[Callable[[], None]] = set()
        self._work: set[trio.CancelScope] = set()
        self._idle = trio.Event()
        self._idle.set()
        self._last_probe: float | None = None
        self._deadline_scope: trio.CancelScope | None = None

    @property
    def draining(self) -> bool:
        return self._draining

    def probed(self) -> None:
        """A readiness probe arrived (a load balancer watches this instance)."""
        self._last_probe = trio.current_time()

    @contextmanager
    def stream(self, close: Callable[[], None]) -> Generator[None]:
        """An open SSE stream: `close()` ends it after its last event id with `retry:`. Opened during the
        drain, it is closed at once (after the priming event its caller already wrote)."""
        if self._draining:
            close()
            yield
            return
        self._streams.add(close)
        try:
            yield
        finally:
            self._streams.discard(close)

    @contextmanager
    def work(self) -> Generator[trio.CancelScope]:
        """In-flight handlers run in this scope: the drain waits for them, and cancels the scope at its
        deadline; the caller then answers what is unanswered (`scope.cancelled_caught`)."""
        scope = trio.CancelScope()
        if not self._work:
            self._idle = trio.Event()
        self._work.add(scope)
        try:
            with scope:
                yield scope
        finally:
            self._work.discard(scope)
            if not self._work:
                self._idle.set()

    def hurry(self) -> None:
        """End a running drain now: in-flight handlers are cancelled as at the deadline (a second signal)."""
        if self._deadline_scope is not None:
            self._deadline_scope.deadline = trio.current_time()

    async def __call__(self) -> None:
        if self._draining:
            await self._done.wait()
            return
        self._draining = True
        started = trio.current_time()
        log.info(
            "draining: readiness is 503, %d SSE stream(s) end with retry:, %d request(s) in flight get up to %gs",
            len(self._streams),
            len(self._work),
            self.timeout,
        )
        for close in list(self._streams):
            close()
        self._streams.clear()
        watched = self._last_probe is not None and started - self._last_probe < PROBED_LATELY
        with trio.move_on_at(started + self.timeout) as self._deadline_scope:
            if watched:
                # Load balancers notice a failing readiness check only after a few probes: until then they
                # still send requests here, and those are served.
                await trio.sleep_until(started + self.notice)
            while self._work:
                await self._idle.wait()
        self._deadline_scope = None
        if self._work:
            log.warning(
                "drain deadline: cancelling %d request(s) still running; they are answered with a retryable error",
                len(self._work),
            )
            for scope in list(self._work):
                scope.cancel()
            with trio.move_on_after(CANCEL_GRACE):
                while self._work:
                    await self._idle.wait()
        log.info("drained in %.1fs", trio.current_time() - started)
        self._done.set()


async def refuse_while_draining(send: Send, headers: Headers, what: str) -> None:
    """503 + Retry-After: this instance is going away; another one takes `what` (through the load balancer)."""
    await respond_error(
        send,
        503,
        INTERNAL_ERROR,
        f"Service Unavailable: this server instance is shutting down and takes no {what}; retry (another "
        "instance will serve it)",
        headers=[*headers, (b"retry-after", b"1")],
    )
