"""The SessionStore interface, the session record and its TTL rules (shared by every backend)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Literal, Protocol, Self, cast, runtime_checkable

import attrs

from .._proto import types as t
from .._proto.converter import make_converter
from .._proto.jsonrpc import valid_text

Clock = Callable[[], float]
SessionStatus = Literal["pending", "active"]

RECORD_SCHEMA_VERSION = 1
DEFAULT_IDLE_TIMEOUT = 86_400.0  # 1 day
DEFAULT_PENDING_TIMEOUT = 600.0  # 10 minutes


class StoreError(Exception):
    """Base of the errors a session store raises."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached right now (Redis down...); the HTTP layer answers 503."""


class StoreConfigError(ValueError):
    """The store configuration (argument or environment variable) is invalid; the message says how to fix it."""


class StoreCorrupt(StoreError):
    """Stored data could not be read; the message says where it was moved."""


@attrs.define(kw_only=True)
class SessionRecord:
    """Everything another instance needs to continue a session exactly where this one left it."""

    session_id: str
    principal: str | None = None
    # The OAuth client the principal's token was issued to (recorded beside the principal, for the admin API).
    client_id: str | None = None
    status: SessionStatus = "pending"
    protocol_version: str | None = None
    client_capabilities: t.ClientCapabilities | None = None
    client_info: t.Implementation | None = None
    log_level: t.LoggingLevel | None = None
    subscriptions: list[str] = attrs.field(factory=list[str])
    last_progress_token: str | int | None = None
    created_at: float = 0.0
    last_accessed_at: float = 0.0
    # The transport the session was created on: "http" | "websocket". A plain str, not a Literal: a record
    # written by a newer version naming another transport must still load here, not be quarantined.
    transport: str = "http"
    schema_version: int = RECORD_SCHEMA_VERSION


_converter = make_converter()


def record_to_json(record: SessionRecord) -> str:
    return dump_json(_converter.unstructure(record))


def dump_json(obj: Any) -> str:
    """How every store writes JSON: compact, and always encodable (a lone surrogate becomes U+FFFD)."""
    return valid_text(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))


def record_from_obj(obj: Any) -> SessionRecord:
    """Load a stored record; older schema versions are upgraded here as the schema grows."""
    if not isinstance(obj, dict) or "sessionId" not in obj:
        raise StoreCorrupt(f"not a session record: {str(obj)[:80]!r}")  # pyright: ignore[reportUnknownArgumentType]
    return _converter.structure(cast(dict[str, Any], obj), SessionRecord)


def record_from_json(text: str | bytes) -> SessionRecord:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise StoreCorrupt(f"a session record is not valid JSON: {exc}") from None
    return record_from_obj(obj)


@attrs.frozen(kw_only=True)
class ExpiryPolicy:
    """Store TTL and idle timeout are the same number (a pending session gets the short pending timeout)."""

    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    pending_timeout: float = DEFAULT_PENDING_TIMEOUT

    def ttl_for(self, record: SessionRecord) -> float:
        return self.pending_timeout if record.status == "pending" else self.idle_timeout


async def activate_read(
    store: SessionStore, session_id: str, principal: str | None, now: float
) -> SessionRecord | None:
    """`activate` for a store whose `get` and `set` need no round trip (and whose process owns its data, so
    nothing can come between them): read, check the principal, write it active."""
    record = await store.get(session_id)
    if record is None or (record.principal is not None and record.principal != principal):
        return None
    active = attrs.evolve(record, status="active", last_accessed_at=now)
    await store.set(active)
    return active


async def get_each(
    get: Callable[[str], Awaitable[SessionRecord | None]], session_ids: Iterable[str]
) -> dict[str, SessionRecord]:
    """`get_many` for a store whose `get` needs no round trip: one `get` per id."""
    found: dict[str, SessionRecord] = {}
    for sid in session_ids:
        record = await get(sid)
        if record is not None:
            found[sid] = record
    return found


def wall_clock() -> float:
    return time.time()


@runtime_checkable
class SessionStore(Protocol):
    """Where session records live. Every method may raise StoreUnavailable."""

    policy: ExpiryPolicy

    async def get(self, session_id: str) -> SessionRecord | None:
        """The record, or None when unknown or expired."""
        ...

    async def get_many(self, session_ids: Iterable[str]) -> dict[str, SessionRecord]:
        """The records of those of `session_ids` that are live, by id, in one round trip (an MGET on Redis):
        a fan-out to many sessions reads the store once, not once per session."""
        ...

    async def set(self, record: SessionRecord, *, ttl: float | None = None) -> None:
        """Create or replace; the TTL defaults to the policy's for the record's status."""
        ...

    async def delete(self, session_id: str) -> bool:
        """True when a record was removed."""
        ...

    async def has(self, session_id: str) -> bool: ...

    def keys(self) -> AsyncGenerator[str]:
        """Every live session id (SCAN-style iteration on Redis, never KEYS)."""
        ...

    async def touch(self, session_ids: Iterable[str]) -> None:
        """Refresh TTL and last access of many sessions at once (one batch per heartbeat)."""
        ...

    async def clear(self) -> None: ...

    async def list_for_user(self, principal: str) -> list[str]: ...

    async def count(self) -> int:
        """Live (non-expired) sessions."""
        ...

    async def cleanup_expired(self) -> int:
        """Remove expired records and their index entries now (the per-user indexes too), rather than when
        they are next read or swept; returns how many expired sessions it removed (Redis: how many left the
        session index). Live sessions are never touched. For operators (`trio-mcp sessions cleanup`); the
        stores need no call of it to stay correct."""
        ...

    async def create(self, record: SessionRecord, *, max_sessions: int) -> bool:
        """Store a new session's `record` if fewer than `max_sessions` live sessions exist; False at the cap.

        The count and the write are one atomic step, also across instances sharing the store, so concurrent
        initializes can never overshoot the cap (on Redis: one Lua script).
        """
        ...

    async def activate(self, session_id: str, principal: str | None) -> SessionRecord | None:
        """The client's `notifications/initialized`: the record turned active and refreshed as a touch does
        (last access now, the active TTL), in one step; the record as now stored. None, with nothing written,
        when the session is unknown or expired, or bound to another principal than `principal` (one round
        trip on Redis: a Lua script reads, checks and writes)."""
        ...

    # Its lifetime: `async with store:` opens it (lock and load a file, enter the Redis client...) and closes
    # it; the app's lifespan enters it first and leaves it last. The built-in stores subclass Lifetime.
    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...
