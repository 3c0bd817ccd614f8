"""Sending one HTTP request to the server, retried with backoff while the server cannot be reached.

Only a request that never reached the server is retried (a refused or failed connection, a connect timeout):
one that was sent may have run, so its failure is the caller's to handle.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import trio

from .errors import TransportError

log = logging.getLogger("trio_mcp.client")

FIRST_BACKOFF = 0.1
MAX_BACKOFF = 2.0
# Errors raised before the request reached the server.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

T = TypeVar("T")


async def retry_unreached(
    attempt: Callable[[], Awaitable[T]],
    retryable: tuple[type[BaseException], ...],
    reconnect_timeout: float,
    where: object,
) -> T:
    """`attempt()`, again with backoff while it raises a `retryable` error (the server was not reached);
    TransportError once `reconnect_timeout` passed."""
    deadline = trio.current_time() + reconnect_timeout
    backoff = FIRST_BACKOFF
    while True:
        try:
            return await attempt()
        except retryable as exc:
            if trio.current_time() + backoff > deadline:
                raise TransportError(
                    f"cannot reach the MCP server at {where}: {exc or type(exc).__name__} "
                    f"(retried for {reconnect_timeout:g} s)"
                ) from exc
            log.debug("cannot reach %s (%s); retrying in %.1f s", where, exc, backoff)
            await trio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)


async def send_with_retry(
    http: httpx.AsyncClient, request: httpx.Request, reconnect_timeout: float
) -> httpx.Response:
    """`http.send(request, stream=True)`; TransportError once `reconnect_timeout` passed without reaching it,
    or when the request failed after it was sent."""
    try:
        return await retry_unreached(
            lambda: http.send(request, stream=True), NOT_SENT, reconnect_timeout, request.url
        )
    except TransportError:
        raise
    except httpx.HTTPError as exc:
        raise TransportError(f"the request to {request.url} failed: {exc or type(exc).__name__}") from exc
