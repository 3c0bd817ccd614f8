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

import importlib.metadata
import logging
import multiprocessing
from collections.abc import Callable
from types import TracebackType
from typing import Any, cast

import attrs
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
        # Made by a drain that waits for the work to end: no request pays for an event nobody waits on.
        self._idle: trio.Event | None = None
        self._last_probe: float | None = None
        self._deadline_scope: trio.CancelScope | None = None
        self._hurried = False

    @property
    def draining(self) -> bool:
        return self._draining

    def probed(self) -> None:
        """A readiness probe arrived (a load balancer watches this instance)."""
        self._last_probe = trio.current_time()

    def stream(self, close: Callable[[], None]) -> _OpenStream:
        """An open SSE stream: `close()` ends it after its last event id with `retry:`. Opened during the
        drain, it is closed at once (after the priming event its caller already wrote)."""
        return _OpenStream(self, close)

    def work(self) -> _Work:
        """In-flight handlers run in this scope: the drain waits for them, and cancels the scope at its
        deadline; the caller then answers what is unanswered (`scope.cancelled_caught`)."""
        return _Work(self)

    def _work_done(self, scope: trio.CancelScope) -> None:
        self._work.discard(scope)
        if not self._work and self._idle is not None:
            self._idle.set()

    def hurry(self) -> None:
        """End a running drain now (or the next one at once): in-flight handlers are cancelled as at the
        deadline (a second signal)."""
        self._hurried = True
        if self._deadline_scope is not None:
            self._deadline_scope.deadline = trio.current_time()

    async def _all_work_done(self) -> None:
        while self._work:
            self._idle = trio.Event()
            await self._idle.wait()

    async def __call__(self, *, timeout: float | None = None, notice: float | None = None) -> None:
        """Drain (the sequence above); `timeout` and `notice` override the configured ones."""
        if self._draining:
            await self._done.wait()
            return
        self._draining = True
        timeout = 0.0 if self._hurried else self.timeout if timeout is None else timeout
        notice = self.notice if notice is None else notice
        started = trio.current_time()
        log.info(
            "draining: readiness is 503, %d stream(s) end (SSE with retry:, WebSocket with 1012), %d request(s) in flight get up to %gs",
            len(self._streams),
            len(self._work),
            timeout,
        )
        for close in list(self._streams):
            close()
        self._streams.clear()
        watched = self._last_probe is not None and started - self._last_probe < PROBED_LATELY
        with trio.move_on_at(started + timeout) as self._deadline_scope:
            if watched:
                # Load balancers notice a failing readiness check only after a few probes: until then they
                # still send requests here, and those are served.
                await trio.sleep_until(started + notice)
            await self._all_work_done()
        self._deadline_scope = None
        if self._work:
            log.warning(
                "drain deadline: cancelling %d request(s) still running; they are answered with a retryable error",
                len(self._work),
            )
            for scope in list(self._work):
                scope.cancel()
            with trio.move_on_after(CANCEL_GRACE):
                await self._all_work_done()
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


@attrs.frozen
class HypercornShutdown:
    """How a worker of plain `hypercorn --worker-class trio` learns it must stop: the parent process sets a
    multiprocessing event on SIGTERM/SIGINT, which hypercorn polls; its open connections are then cancelled
    after `graceful_timeout`, without telling the app (docs/deploy.md)."""

    event: Any
    graceful_timeout: float

    def is_set(self) -> bool:
        return bool(self.event.is_set())


# How often a hypercorn worker's shutdown event is read (hypercorn itself reads it every 0.1 s).
HYPERCORN_POLL = 0.1
# The drain's deadline comes this long before hypercorn cancels the connections, so a call still running is
# answered with a retryable error rather than cut.
HYPERCORN_MARGIN = 0.5


async def drain_on_hypercorn_shutdown(drain: Drain, shutdown: HypercornShutdown) -> None:
    """Under plain hypercorn: drain when the worker's shutdown event is set. hypercorn stops accepting at
    that moment (so no notice period) and cancels open connections after its `graceful_timeout`, which
    bounds the drain: `--graceful-timeout 30` gives calls the default `drain_timeout`."""
    # A multiprocessing event set by another process: nothing to await, only to poll (as hypercorn does).
    while not shutdown.is_set():  # noqa: ASYNC110
        await trio.sleep(HYPERCORN_POLL)
    timeout = min(drain.timeout, max(0.0, shutdown.graceful_timeout - HYPERCORN_MARGIN))
    await drain(timeout=timeout, notice=0)


def hypercorn_shutdown() -> HypercornShutdown | None:
    """The shutdown event of the hypercorn worker process this runs in, if it is one (None under
    `trio-mcp serve`, `hypercorn -w 0`, or anything else).

    hypercorn starts each worker as `multiprocessing` Process(target=worker, kwargs={"config": ...,
    "shutdown_event": ..., "sockets": ...}); the child's `current_process()` is that Process object. This reads
    its keyword arguments (private to multiprocessing, hence every check here).
    """
    kwargs = getattr(multiprocessing.current_process(), "_kwargs", None)
    if not isinstance(kwargs, dict):
        return None
    event: Any = cast(dict[str, Any], kwargs).get("shutdown_event")
    config: Any = cast(dict[str, Any], kwargs).get("config")
    if not callable(getattr(event, "is_set", None)):
        return None
    graceful = getattr(config, "graceful_timeout", None)
    if not isinstance(graceful, int | float):
        return None
    version = _hypercorn_version()
    if not version.startswith(TESTED_HYPERCORN):
        log.warning(
            "draining under plain hypercorn is tested with hypercorn %s, this is %s: trying all the same "
            "(trio-mcp serve drains without relying on hypercorn's internals)",
            " and ".join(TESTED_HYPERCORN),
            version,
        )
    return HypercornShutdown(event, float(graceful))


# The hypercorn versions whose worker start-up hypercorn_shutdown() was read from and tested against
# (tests/multiprocess/test_graceful_shutdown.py).
TESTED_HYPERCORN = ("0.18.",)


def _hypercorn_version() -> str:
    try:
        return importlib.metadata.version("hypercorn")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# Plain classes rather than @contextmanager: every POST answered over SSE enters both (a generator-based
# context manager costs each request a generator, its frame and two extra calls).


class _OpenStream:
    __slots__ = ("_close", "_drain")

    def __init__(self, drain: Drain, close: Callable[[], None]) -> None:
        self._drain = drain
        self._close = close

    def __enter__(self) -> None:
        if self._drain.draining:
            self._close()
        else:
            self._drain._streams.add(self._close)  # pyright: ignore[reportPrivateUsage]

    def __exit__(self, *exc: object) -> None:
        self._drain._streams.discard(self._close)  # pyright: ignore[reportPrivateUsage]


class _Work:
    __slots__ = ("_drain", "_scope")

    def __init__(self, drain: Drain) -> None:
        self._drain = drain
        self._scope = trio.CancelScope()

    def __enter__(self) -> trio.CancelScope:
        self._drain._work.add(self._scope)  # pyright: ignore[reportPrivateUsage]
        return self._scope.__enter__()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        try:
            return self._scope.__exit__(exc_type, exc, tb)
        finally:
            self._drain._work_done(self._scope)  # pyright: ignore[reportPrivateUsage]
