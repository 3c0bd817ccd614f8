"""The client session record, its validation, its expiry rules, the errors, and the registry protocol."""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, Protocol, Self, TypeAlias, runtime_checkable
from urllib.parse import urlsplit

import attrs

ClientTransport = Literal["http", "ws", "stdio"]
ClientSessionStatus = Literal["pending", "active"]

RECORD_SCHEMA_VERSION = 1
DEFAULT_PENDING_TTL = 600.0  # the OAuth window: authorize, log in, come back to the callback
DEFAULT_DORMANT_AGE = 30 * 86_400.0  # 30 days without an update
TRANSPORTS: tuple[ClientTransport, ...] = ("http", "ws", "stdio")
STATUSES: tuple[ClientSessionStatus, ...] = ("pending", "active")
_URL_SCHEMES: dict[str, tuple[str, ...]] = {"http": ("http", "https"), "ws": ("ws", "wss")}


class ClientRegistryError(Exception):
    """Base of the errors a client registry raises."""


class ClientRegistryUnavailable(ClientRegistryError):
    """The backend cannot be reached right now (Redis down, the file locked too long); try again later."""


class ClientRegistryConfigError(ValueError):
    """The registry configuration (keyword or environment variable) is invalid; the message names it."""


class _SessionError(ClientRegistryError):
    def __init__(self, message: str, *, user_id: str, session_id: str) -> None:
        super().__init__(message)
        self.user_id = user_id
        self.session_id = session_id


class ClientSessionExists(_SessionError):
    """`create` of a (user_id, session_id) that already has a live record."""


class ClientSessionNotFound(_SessionError, LookupError):
    """`update` of a (user_id, session_id) with no live record (never created, deleted or expired)."""


class ClientAuthUnreadable(_SessionError):
    """The record's `auth` was encrypted with a key that is not in TRIO_MCP_CLIENT_STORE_KEY (or with no key
    configured at all). Raised rather than returning the record without its tokens."""


@attrs.define(kw_only=True)
class ClientSessionRecord:
    """One user's connection to one MCP server, as the app keeps it across its own restarts and instances."""

    session_id: str  # the registry's id of this connection (`generate_session_id()`), not the server's
    user_id: str
    server_id: str  # the app's own name for the server (its database id...)
    transport: ClientTransport
    server_name: str | None = None
    server_url: str | None = None  # http(s):// or ws(s)://; None for stdio
    callback_url: str | None = None  # the OAuth redirect URI
    status: ClientSessionStatus = "pending"  # pending until the connection (and any OAuth flow) succeeded
    created_at: float = 0.0  # wall clock; 0.0: stamped by create()
    updated_at: float = 0.0  # wall clock; stamped by create() and every update()
    mcp_session_id: str | None = None  # the server's Mcp-Session-Id, to resume the session
    protocol_version: str | None = None  # the version that session negotiated (its MCP-Protocol-Version)
    command: str | None = None  # stdio only
    args: list[str] = attrs.field(factory=list[str])  # stdio only
    env: dict[str, str] | None = None  # stdio only
    # Opaque JSON owned by the OAuth client (tokens, PKCE verifier, state, client registration); stored
    # encrypted when a key is configured.
    auth: dict[str, Any] | None = None
    schema_version: int = RECORD_SCHEMA_VERSION


Records: TypeAlias = list[ClientSessionRecord]  # spelled here: `list` is a method name of the registries
Ids: TypeAlias = list[str]
UserSessionIds: TypeAlias = list[tuple[str, str]]

# What update() may change: everything but the record's identity and the timestamps the registry keeps.
FIXED_FIELDS = frozenset({"session_id", "user_id", "created_at", "updated_at", "schema_version"})
CHANGEABLE_FIELDS = frozenset(a.name for a in attrs.fields(ClientSessionRecord)) - FIXED_FIELDS


def generate_session_id() -> str:
    # Never with a leading '-' (a command line would take it for an option); drawing again keeps every id
    # equally likely. Same rule as the server's session ids.
    while (session_id := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return session_id


def _require_text(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError(
            f"{name} must be valid Unicode text (it holds a lone surrogate): {value!r}"
        ) from None


def validate_record(record: ClientSessionRecord) -> None:
    """Raise ValueError naming the field when the record does not describe a connection one can open."""
    for name in ("session_id", "user_id", "server_id"):
        _require_text(name, getattr(record, name))
    for name in ("server_name", "callback_url", "mcp_session_id"):
        _require_text(name, getattr(record, name), optional=True)
    if record.transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {record.transport!r}")
    if record.status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {record.status!r}")
    for name in ("created_at", "updated_at"):
        value = getattr(record, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number (wall-clock seconds), got {value!r}")
    if not isinstance(record.args, list) or not all(isinstance(a, str) for a in record.args):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(f"args must be a list of strings, got {record.args!r}")
    if record.env is not None and not _str_mapping(record.env):
        raise ValueError(f"env must be a mapping of strings to strings, got {record.env!r}")
    if record.auth is not None and not isinstance(record.auth, dict):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(f"auth must be a JSON object (a dict) or None, got {type(record.auth).__name__}")
    if record.callback_url is not None and not urlsplit(record.callback_url).scheme:
        raise ValueError(f"callback_url must be an absolute URL, got {record.callback_url!r}")
    if record.transport == "stdio":
        _validate_stdio(record)
    else:
        _validate_url(record)


def _str_mapping(value: object) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str)
        for k, v in value.items()  # pyright: ignore[reportUnknownVariableType]
    )


def _validate_stdio(record: ClientSessionRecord) -> None:
    if not record.command:
        raise ValueError("a stdio session needs command (the server program to start)")
    if record.server_url is not None:
        raise ValueError(
            f"a stdio session has no server_url (got {record.server_url!r}); use transport='http'"
        )


def _validate_url(record: ClientSessionRecord) -> None:
    schemes = _URL_SCHEMES[record.transport]
    if record.server_url is None:
        raise ValueError(f"a {record.transport} session needs server_url ({' or '.join(schemes)}://...)")
    _require_text("server_url", record.server_url)
    parts = urlsplit(record.server_url)
    if parts.scheme.lower() not in schemes or not parts.netloc:
        raise ValueError(
            f"server_url {record.server_url!r} does not match transport={record.transport!r}: "
            f"expected {' or '.join(f'{s}://host/...' for s in schemes)}"
        )
    if record.command is not None or record.args or record.env is not None:
        raise ValueError(f"command, args and env are for stdio sessions, not {record.transport}")


@attrs.frozen(kw_only=True)
class ClientSessionExpiry:
    """A pending record lives `pending_ttl` from its last write; an active one until dormant (not updated)
    for `dormant_age`. `math.inf`: never."""

    pending_ttl: float = DEFAULT_PENDING_TTL
    dormant_age: float = DEFAULT_DORMANT_AGE

    def __attrs_post_init__(self) -> None:
        for name in ("pending_ttl", "dormant_age"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds (inf: never), got {value!r}")

    def lifetime(self, status: str) -> float:
        return self.pending_ttl if status == "pending" else self.dormant_age

    def deadline(self, status: str, updated_at: float) -> float:
        return updated_at + self.lifetime(status)


@runtime_checkable
class ClientSessionRegistry(Protocol):
    """Where a client app keeps its users' MCP sessions. Every async method may raise
    ClientRegistryUnavailable; reads raise ClientAuthUnreadable for a record whose auth does not decrypt."""

    expiry: ClientSessionExpiry

    def generate_session_id(self) -> str:
        """A fresh, unguessable session id (URL-safe, never starting with '-')."""
        ...

    async def create(self, record: ClientSessionRecord) -> ClientSessionRecord:
        """Store a new record (validated; created_at stamped when 0, updated_at always) and return it as
        stored. ClientSessionExists when (user_id, session_id) has a live record."""
        ...

    async def update(self, user_id: str, session_id: str, /, **changes: Any) -> ClientSessionRecord:
        """Apply `changes` (field names of the record, except its identity and timestamps: TypeError) and stamp
        updated_at, which also keeps an active record from going dormant. ClientSessionNotFound when missing."""
        ...

    async def get(self, user_id: str, session_id: str) -> ClientSessionRecord | None:
        """The live record, or None (unknown, expired, or another user's)."""
        ...

    async def list(self, user_id: str) -> Records:
        """The user's live records, newest (created_at) first."""
        ...

    async def list_ids(self, user_id: str) -> Ids:
        """The session ids of `list(user_id)`, in its order (nothing is decrypted)."""
        ...

    async def delete(self, user_id: str, session_id: str) -> bool:
        """True when a live record was removed."""
        ...

    async def list_all_ids(self) -> UserSessionIds:
        """(user_id, session_id) of every live record, sorted; an admin call, unbounded."""
        ...

    async def clear_all(self) -> None:
        """Remove every record of this registry (and nothing else sharing the backend)."""
        ...

    async def cleanup_expired(self) -> int:
        """Remove expired records and their index entries now; how many it removed. The registries stay
        correct without it (expired records are invisible); it reclaims their space."""
        ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...
