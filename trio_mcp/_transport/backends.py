"""Choosing the session store and stream manager from configuration, and the app's notification hub."""

from __future__ import annotations

from .._proto.jsonrpc import Message, encode
from .._stores._base import ExpiryPolicy, SessionStore
from .._stores.redis import RedisSessionStore
from .._stores.select import StoreConfigError, store_from_config
from .._streams._base import StreamManager
from .._streams.control import Notify, ResourceUpdated
from .._streams.memory import MemoryStreamManager
from .._streams.select import redis_stream_manager
from .config import ConfigError, HttpConfig


def select_store(config: HttpConfig) -> SessionStore:
    policy = ExpiryPolicy(idle_timeout=config.idle_timeout, pending_timeout=config.pending_timeout)
    try:
        return store_from_config(
            config.store,
            file=config.store_file,
            redis_url=config.redis_url,
            prefix=config.redis_prefix,
            policy=policy,
            environ={},  # load_config already read every environment twin: one place reads the environment
        )
    except StoreConfigError as exc:  # the app's one documented configuration error, naming what was set
        raise ConfigError(f"{config.named('store')}: {exc}") from exc


def select_streams(config: HttpConfig, store: SessionStore) -> StreamManager:
    """TRIO_MCP_STREAMS=memory|redis; defaults to redis when the store is Redis."""
    choice = config.streams
    if choice is not None and not isinstance(choice, str):
        return choice  # pyright: ignore[reportUnknownVariableType]
    if choice is None:
        choice = "redis" if isinstance(store, RedisSessionStore) else "memory"
    if choice == "memory":
        return MemoryStreamManager()
    if choice == "redis":
        return redis_stream_manager(
            config.redis_url, prefix=config.redis_prefix, heartbeat=config.heartbeat_interval, environ={}
        )
    raise ConfigError(f"TRIO_MCP_STREAMS={choice!r} is not a stream manager; choose memory or redis")


class HttpHub:
    """Server-wide notifications go through the stream manager, so they reach sessions on every instance."""

    def __init__(self, streams: StreamManager) -> None:
        self._streams = streams

    async def broadcast(self, method: str) -> None:
        await self._streams.broadcast(Notify(method=method))

    async def resource_updated(self, uri: str) -> None:
        await self._streams.broadcast(ResourceUpdated(uri=uri))


class SessionStreamOutbound:
    """Messages of a request answered in JSON go to the session's standalone stream, wherever it is held."""

    can_request = True

    def __init__(self, streams: StreamManager, session_id: str) -> None:
        self._streams = streams
        self._session_id = session_id

    async def send(self, message: Message) -> None:
        await self._streams.publish(self._session_id, encode(message))
