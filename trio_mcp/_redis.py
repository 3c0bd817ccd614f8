"""RedisConnection: the one place trio_mcp talks to coredis (shared by the Redis session store and stream manager).

What it adds to a bare ``coredis.Redis`` (behaviour of coredis 6.9 under trio, as measured):

* **Lifetime.** coredis needs ``async with client:``; entering opens the connection pool's task group (a trio
  nursery) in the entering task, and does not connect. :meth:`RedisConnection.open` enters it and
  :meth:`RedisConnection.aclose` leaves it, so both must run in the same task and nest like ``async with``
  (the ASGI lifespan does ``await store.open()`` ... ``await store.aclose()`` around its own nursery).
  Entering is reference-counted so a store and a stream manager may share one connection: the first
  ``open()`` enters the client, the last ``aclose()`` leaves it.
* **Lazy connection, fail fast, recover by itself.** Nothing connects before the first command, so an app
  starts while Redis is down. Every command gets a bounded connect/reply timeout (``timeout``, 2 s) plus an
  overall deadline, and a dead pooled connection is replaced on the next command (one transparent retry on
  connection errors only; timeouts are not retried, so a frozen server costs one timeout, not three).
* **One error boundary.** Connection refused/reset/lost and timeouts become ``unavailable`` (the caller's
  exception class, :class:`StoreUnavailable` for the session store) with a message naming the URL without its
  password; other Redis errors become ``error``. coredis exception types never escape.
* **No ResourceWarnings.** coredis 6.9 leaks six anyio memory streams per *failed* connection attempt
  (``ResourceWarning: Unclosed <MemoryObjectSendStream>`` at GC time); the connection classes used here close
  them. ``tests/stores/test_redis.py`` fails if coredis renames those attributes.

coredis is imported lazily: importing this module (and so ``trio_mcp.stores``) works without the ``redis``
extra; constructing a connection without it raises an ImportError naming the extra.

:class:`Scripts` holds a backend's Lua scripts by name and registers them with the client on first use.
"""

from __future__ import annotations

import functools
import math
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import trio

from ._exceptions import leaves as exception_leaves
from ._lifetime import Lifetime

if TYPE_CHECKING:
    import coredis

T = TypeVar("T")

EXTRA_HINT = "pip install 'trio_mcp[redis]'"
DEFAULT_TIMEOUT = 2.0

# The anyio memory streams coredis' BaseConnection.__init__ creates and only closes after a successful connect.
_CONNECTION_STREAMS = (
    "_write_buffer_in",
    "_write_buffer_out",
    "_push_message_buffer_in",
    "_push_message_buffer_out",
    "_streamed_message_buffer_in",
    "_streamed_message_buffer_out",
)


class RedisUnavailable(Exception):
    """Default ``unavailable`` class when the caller gives none (the stores pass their own)."""


def require_coredis() -> None:
    """Raise a clear ImportError when the ``redis`` extra is missing."""
    try:
        import coredis  # noqa: F401  # pyright: ignore[reportUnusedImport]
    except ImportError as exc:
        raise ImportError(f"the Redis backends need coredis, which is not installed: {EXTRA_HINT}") from exc


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe for logs and error messages)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable Redis URL>"
    if not password:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _close_streams(connection: object) -> None:
    for name in _CONNECTION_STREAMS:
        stream = getattr(connection, name, None)
        close = getattr(stream, "close", None)
        if callable(close):
            close()


@functools.cache
def _closing_connection_classes() -> dict[type[Any], type[Any]]:
    """coredis connection class -> subclass that closes its memory streams however ``run()`` ends."""
    from anyio import TASK_STATUS_IGNORED
    from anyio.abc import TaskStatus
    from coredis.connection import TCPConnection, UnixDomainSocketConnection

    class ClosingTCPConnection(TCPConnection):
        async def run(self, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
            try:
                await super().run(task_status=task_status)
            finally:
                _close_streams(self)

    class ClosingUnixDomainSocketConnection(UnixDomainSocketConnection):
        async def run(self, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
            try:
                await super().run(task_status=task_status)
            finally:
                _close_streams(self)

    return {
        TCPConnection: ClosingTCPConnection,
        UnixDomainSocketConnection: ClosingUnixDomainSocketConnection,
    }


def _root_cause(exc: BaseException) -> str:
    """``exc`` plus the innermost cause's text ("Unable to establish ... (Connection refused)")."""
    seen = {id(exc)}
    cause = exc
    while (nxt := cause.__cause__ or cause.__context__) is not None and id(nxt) not in seen:
        seen.add(id(nxt))
        cause = nxt
    text = str(cause) or type(cause).__name__
    return str(exc) if cause is exc else f"{exc} ({text})"


def milliseconds(seconds: float) -> int:
    """A Redis PX/PEXPIRE value: whole milliseconds, at least 1 (0 would mean no expiry or an error)."""
    return max(1, math.ceil(seconds * 1000))


class RedisConnection(Lifetime):
    """A lazily connecting coredis client with bounded timeouts and one error boundary.

    ``unavailable`` is raised (as ``unavailable(message)``) when Redis cannot be reached or answered too late;
    ``error`` for any other failure reported by Redis (a script error, a wrong key type...).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        unavailable: Callable[[str], Exception] = RedisUnavailable,
        error: Callable[[str], Exception] = RuntimeError,
        owner: str = "RedisConnection",
    ) -> None:
        require_coredis()
        import coredis
        from coredis.exceptions import ConnectionError as RedisConnectionError
        from coredis.pool import ConnectionPool
        from coredis.retry import ConstantRetryPolicy

        if not timeout > 0 or math.isinf(timeout):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.url = url
        self.display_url = redact_url(url)
        self.timeout = timeout
        # Overall bound of one operation (a connect retried once, or a connect and a reply).
        self.deadline = 2 * timeout
        self._unavailable = unavailable
        self._error = error
        self._owner = owner
        try:
            pool = ConnectionPool.from_url(
                url,
                decode_responses=True,
                connect_timeout=timeout,
                stream_timeout=timeout,
                timeout=timeout,  # waiting for a free pooled connection
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(f"invalid Redis URL {self.display_url!r}: {exc}") from None
        closing = _closing_connection_classes().get(pool.connection_class)
        if closing is not None:
            pool.connection_class = closing
        self._client: coredis.Redis[str] = coredis.Redis(
            connection_pool=pool,
            decode_responses=True,
            # Replace a dead pooled connection transparently (Redis restarted); never retry a timeout.
            retry_policy=ConstantRetryPolicy((RedisConnectionError,), retries=1, delay=0.01),
        )
        self._closed_once = False

    def same_server(self, other: RedisConnection) -> bool:
        """Both talk to the same Redis database (the same URL): a script sent on one may write the other's keys."""
        return self.url == other.url

    # -- lifetime (Lifetime: entries counted, the client entered on the first and left on the last) --

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        # Entering the client makes no connection yet; leaving it closes every connection.
        try:
            async with self._client:
                yield
        finally:
            self._closed_once = True

    def client(self) -> coredis.Redis[str]:
        """The raw coredis client, for internal callers (Pub/Sub...); wrap its use in :meth:`errors`."""
        if not self.is_open:
            state = "closed" if self._closed_once else "not open"
            raise RuntimeError(
                f"{self._owner} is {state}: enter it with `async with` or call `await open()` before using it"
            )
        return self._client

    # -- the error boundary --

    @contextmanager
    def errors(self, action: str) -> Generator[None]:
        """Map coredis/transport failures raised inside the block (also inside exception groups)."""
        from anyio import BrokenResourceError, ClosedResourceError, EndOfStream
        from coredis.exceptions import ConnectionError as RedisConnectionError
        from coredis.exceptions import RedisError

        down_types = (
            RedisConnectionError,
            TimeoutError,
            OSError,
            trio.TooSlowError,
            BrokenResourceError,
            ClosedResourceError,
            EndOfStream,
        )
        try:
            yield
        except BaseException as exc:
            leaves = list(exception_leaves(exc))
            if any(not isinstance(leaf, Exception) for leaf in leaves):
                raise  # Cancelled, KeyboardInterrupt...: never converted
            down = [leaf for leaf in leaves if isinstance(leaf, down_types)]
            if down and len(down) == len(leaves):
                raise self._unavailable(
                    f"Redis at {self.display_url} is unavailable ({action}): {_root_cause(down[0])}"
                ) from exc
            if all(isinstance(leaf, RedisError) for leaf in leaves):
                raise self._error(f"Redis at {self.display_url} failed ({action}): {leaves[0]}") from exc
            raise

    async def run(self, action: str, operation: Callable[[coredis.Redis[str]], Awaitable[T]]) -> T:
        """``await operation(client)`` within the deadline, with errors mapped (``action`` names it)."""
        client = self.client()
        with self.errors(action):
            with trio.move_on_after(self.deadline) as scope:
                return await operation(client)
        assert scope.cancelled_caught
        raise self._unavailable(
            f"Redis at {self.display_url} is unavailable ({action}): no answer within {self.deadline:g} s"
        )

    def __repr__(self) -> str:
        return f"<RedisConnection {self.display_url} {'open' if self.is_open else 'closed'}>"


class Scripts:
    """A backend's Lua scripts by name, registered together with the connection's coredis client at the first
    use of any (the client can be used only once the connection is open). Each is a coredis ``Script``,
    untyped here: its callback generics are unknown. Calling one sends EVALSHA (EVAL once if Redis lacks it)."""

    __slots__ = ("_conn", "_registered", "_sources")

    def __init__(self, conn: RedisConnection, sources: Mapping[str, str]) -> None:
        self._conn = conn
        self._sources = dict(sources)
        self._registered: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if not self._registered:
            client = self._conn.client()
            self._registered = {key: client.register_script(source) for key, source in self._sources.items()}
        return self._registered[name]
