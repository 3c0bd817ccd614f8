"""Choosing the session store and stream manager: the one selection path, from the parsed configuration only.

`load_config` is the one reader of the environment (TRIO_MCP_STORE, TRIO_MCP_STORE_FILE, TRIO_MCP_STREAMS,
REDIS_URL...); here a name becomes a backend, and a mistake becomes the app's one ConfigError naming the
keyword or variable the user set. Also the app's notification hub, and the outbound of JSON-mode requests.
"""

from __future__ import annotations

import logging
from typing import cast

from .._auth.tokens import TokenVerifier
from .._proto.jsonrpc import Message, encode
from .._redis import require_coredis
from .._runtime.input_round import RequestStates
from .._runtime.sealing import KeyRing, KeyRingError
from .._stores._base import ExpiryPolicy, SessionStore, StoreConfigError
from .._stores.file import FileSessionStore
from .._stores.memory import MemorySessionStore
from .._stores.redis import RedisSessionStore
from .._streams._base import StreamConfigError, StreamError, StreamManager, StreamUnavailable
from .._streams.control import Notify, ResourceUpdated
from .._streams.event_redis import RedisEventStore
from .._streams.events import EventStore, MemoryEventStore
from .._streams.memory import MemoryStreamManager
from .._streams.redis import RedisStreamManager
from .config import ConfigError, HttpConfig

log = logging.getLogger("trio_mcp.http")


class StoreChoiceError(ConfigError, StoreConfigError):
    """A bad store choice: the app's ConfigError, and the public StoreConfigError."""


class StreamsChoiceError(ConfigError, StreamConfigError):
    """A bad stream manager choice: the app's ConfigError, and the public StreamConfigError."""


STORES = ("memory", "file", "redis")
STREAMS = ("memory", "redis")
EVENT_STORES = ("memory", "redis", "none")


def _as_set(config: HttpConfig, knob: str) -> str:
    """The knob as the user set it: `store='file'` (keyword) or `TRIO_MCP_STORE='file'` (environment)."""
    named = config.named(knob)
    return f"{knob}={getattr(config, knob)!r}" if named == knob else named


def _choice(config: HttpConfig, knob: str, value: str, choices: tuple[str, ...], what: str) -> str:
    name = value.strip().lower()
    if name not in choices:
        error = StoreChoiceError if knob == "store" else StreamsChoiceError
        raise error(f"unknown {what} {_as_set(config, knob)}; choose one of: {', '.join(choices)}")
    return name


def _redis_url(config: HttpConfig, needed_by: str, error: type[ConfigError]) -> str:
    require_coredis()  # ImportError: "... pip install 'trio_mcp[redis]'"
    if config.redis_url is None:
        raise error(f"{needed_by} needs a Redis URL: pass redis_url=... or set REDIS_URL=redis://host:6379/0")
    return config.redis_url


def select_store(config: HttpConfig) -> SessionStore:
    """`store`: a SessionStore (used as is) or memory | file | redis (default memory)."""
    if config.store is not None and not isinstance(config.store, str):
        return config.store  # pyright: ignore[reportUnknownVariableType]
    name = _choice(config, "store", config.store or "memory", STORES, "session store")
    policy = ExpiryPolicy(idle_timeout=config.idle_timeout, pending_timeout=config.pending_timeout)
    if name == "file":
        if not config.store_file:
            raise StoreChoiceError(
                f"{_as_set(config, 'store')} needs a file path: pass store_file=... or set "
                "TRIO_MCP_STORE_FILE=/path/sessions.json"
            )
        return FileSessionStore(config.store_file, policy=policy)
    if name == "redis":
        url = _redis_url(config, _as_set(config, "store"), StoreChoiceError)
        return RedisSessionStore.from_url(url, prefix=config.redis_prefix, policy=policy)
    return MemorySessionStore(policy=policy)


def select_streams(config: HttpConfig, store: SessionStore) -> StreamManager:
    """`streams`: a StreamManager (used as is) or memory | redis; defaults to redis when the store is Redis."""
    if config.streams is not None and not isinstance(config.streams, str):
        return config.streams  # pyright: ignore[reportUnknownVariableType]
    if config.streams is None:
        name = "redis" if isinstance(store, RedisSessionStore) else "memory"
    else:
        name = _choice(config, "streams", config.streams, STREAMS, "stream manager")
    if name == "redis":
        chosen = "implied by the Redis store" if config.streams is None else _as_set(config, "streams")
        url = _redis_url(config, f"the Redis stream manager ({chosen})", StreamsChoiceError)
        return RedisStreamManager.from_url(
            url, prefix=config.redis_prefix, heartbeat_interval=config.heartbeat_interval
        )
    return MemoryStreamManager()


def select_events(config: HttpConfig, streams: StreamManager) -> EventStore | None:
    """`event_store`: an EventStore (used as is), memory | redis | none; defaults to redis when the streams
    are Redis (a client may resume on any instance), else memory. None: streams are not resumable."""
    if config.event_store is not None and not isinstance(config.event_store, str):
        return config.event_store  # pyright: ignore[reportUnknownVariableType]
    if config.event_store is None:
        name = "redis" if isinstance(streams, RedisStreamManager) else "memory"
    else:
        name = _choice(config, "event_store", config.event_store, EVENT_STORES, "event store")
    if name == "none":
        return None
    if name == "redis":
        chosen = (
            "implied by the Redis streams" if config.event_store is None else _as_set(config, "event_store")
        )
        url = _redis_url(config, f"the Redis event store ({chosen})", StreamsChoiceError)

        return RedisEventStore.from_url(
            url,
            prefix=config.redis_prefix,
            retention=config.event_retention,
            ttl=config.idle_timeout,
            # Same Redis, same prefix: a follower's wake-up comes over the stream manager's Pub/Sub.
            wakeups=streams if isinstance(streams, RedisStreamManager) else None,
        )
    return MemoryEventStore(retention=config.event_retention, ttl=config.idle_timeout)


def select_request_states(config: HttpConfig, streams: StreamManager, audience: str) -> RequestStates:
    """The key ring of 2026-07-28 `requestState` (input_round.py): from `request_state_keys`, required when the
    streams are Redis (a retry may reach any instance, which must open what another sealed)."""
    keys = config.request_state_keys
    if not keys:
        if isinstance(streams, RedisStreamManager):
            raise ConfigError(
                "request_state_keys is required with the Redis stream manager: every instance must open the "
                "requestState another one sealed. Set TRIO_MCP_REQUEST_STATE_KEYS to the same comma-separated "
                'keys on every instance (make one with `python -c "import secrets; '
                'print(secrets.token_urlsafe(32))"`)'
            )
        return RequestStates(
            ring=KeyRing.generated(), audience=audience, ttl=config.request_state_ttl, ephemeral=True
        )
    try:
        ring = KeyRing.from_strings(keys)
    except KeyRingError as exc:
        raise ConfigError(f"{config.named('request_state_keys')}: {exc}") from None
    return RequestStates(ring=ring, audience=audience, ttl=config.request_state_ttl)


class HttpHub:
    """Server-wide notifications go through the stream manager, so they reach sessions on every instance."""

    def __init__(self, streams: StreamManager) -> None:
        self._streams = streams

    async def broadcast(self, method: str) -> None:
        await self._streams.broadcast(Notify(method=method))

    async def resource_updated(self, uri: str) -> None:
        await self._streams.broadcast(ResourceUpdated(uri=uri))


class SessionStreamOutbound:
    """Messages of a request answered in JSON go to the session's standalone stream, wherever it is held;
    while no instance holds it they are parked in the event store for the GET that resumes it."""

    can_request = True

    def __init__(self, streams: StreamManager, session_id: str, events: EventStore | None) -> None:
        self._streams = streams
        self._session_id = session_id
        self._events = events

    async def send(self, message: Message) -> None:
        payload = encode(message)
        if not await self._streams.publish(self._session_id, payload) and self._events is not None:
            try:
                await self._events.park(self._session_id, payload)
            except (StreamUnavailable, StreamError) as exc:  # the message is lost, as without an event store
                log.warning("could not keep a message for session %s: %s", self._session_id, exc)

    def close_stream(self, retry_ms: int | None) -> bool:
        return False  # no SSE stream of its own


def select_verifier(config: HttpConfig) -> TokenVerifier | None:
    """The token verifier: `auth=` as given, else one from `auth_jwks_url` or `auth_introspection_url` (one of
    them, with `auth_issuer`); None: the app has no auth."""
    named = config.named
    sources = [
        k for k in ("auth", "auth_jwks_url", "auth_introspection_url") if getattr(config, k) is not None
    ]
    if len(sources) > 1:
        raise ConfigError(f"{' and '.join(named(k) for k in sources)}: choose one way to verify tokens")
    if not sources:
        return None
    issuer = config.auth_issuer
    if issuer is None:
        # MCP basic/authorization: the protected resource metadata MUST name the authorization server.
        raise ConfigError(
            f"{named(sources[0])} needs auth_issuer (TRIO_MCP_AUTH_ISSUER): the authorization server that "
            "issues the tokens, named in the protected resource metadata"
        )
    if config.auth is not None:
        return cast(TokenVerifier, config.auth)
    # Imported here: an app without auth never loads PyJWT.
    if config.auth_jwks_url is not None:
        from .._auth.jwt import JWTVerifier

        return JWTVerifier(issuer, config.auth_jwks_url)
    from .._auth.introspection import IntrospectionVerifier

    assert config.auth_introspection_url is not None
    return IntrospectionVerifier(
        config.auth_introspection_url,
        client_id=config.auth_introspection_client_id,
        client_secret=config.auth_introspection_client_secret,
        issuer=issuer,
    )
