"""open_client_registry: the backend chosen from keywords or the environment (a keyword wins over its variable).

- ``store`` / TRIO_MCP_CLIENT_STORE: memory (default) | file | redis
- ``store_file`` / TRIO_MCP_CLIENT_STORE_FILE: the file backend's path
- ``redis_url`` / REDIS_URL: redis://, rediss:// or unix://
- ``redis_prefix`` / TRIO_MCP_CLIENT_REDIS_PREFIX: default ``mcp-client:``
- ``dormant_age`` / TRIO_MCP_CLIENT_DORMANT_AGE: seconds (default 30 days; inf: never)
- ``pending_ttl`` / TRIO_MCP_CLIENT_PENDING_TTL: seconds (default 600)
- ``keys`` / TRIO_MCP_CLIENT_STORE_KEY: base64 of 32 bytes; comma-separated, a ring (the first encrypts)

A bad value is a ClientRegistryConfigError naming the keyword or the variable it came from.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import asynccontextmanager

from ..._redis import require_coredis
from ._base import (
    DEFAULT_DORMANT_AGE,
    DEFAULT_PENDING_TTL,
    ClientRegistryConfigError,
    ClientSessionExpiry,
    ClientSessionRegistry,
)
from .file import FileClientRegistry
from .keys import DEFAULT_PREFIX
from .memory import MemoryClientRegistry
from .sealing import KEY_ENV, AuthSealer, Keys

STORES = ("memory", "file", "redis")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
ENV = {
    "store": "TRIO_MCP_CLIENT_STORE",
    "store_file": "TRIO_MCP_CLIENT_STORE_FILE",
    "redis_url": "REDIS_URL",
    "redis_prefix": "TRIO_MCP_CLIENT_REDIS_PREFIX",
    "dormant_age": "TRIO_MCP_CLIENT_DORMANT_AGE",
    "pending_ttl": "TRIO_MCP_CLIENT_PENDING_TTL",
    "keys": KEY_ENV,
}


class _Settings:
    """Each setting with where it came from (`store=` or the variable), for error messages."""

    def __init__(self, given: Mapping[str, object], environ: Mapping[str, str]) -> None:
        self._given = given
        self._environ = environ

    def get(self, name: str) -> tuple[object, str] | None:
        value = self._given.get(name)
        if value is not None:
            return value, f"{name}="
        text = self._environ.get(ENV[name], "")
        return (text, ENV[name]) if text.strip() else None

    def text(self, name: str) -> tuple[str, str] | None:
        found = self.get(name)
        if found is None:
            return None
        value, source = found
        if not isinstance(value, str) or not value.strip():
            raise ClientRegistryConfigError(f"{source} must be a non-empty string, got {value!r}")
        return value.strip(), source

    def seconds(self, name: str, default: float) -> float:
        found = self.get(name)
        if found is None:
            return default
        value, source = found
        seconds = _as_seconds(value)
        if seconds is None:
            raise ClientRegistryConfigError(
                f"{source} must be a positive number of seconds (inf: never), got {value!r}"
            )
        return seconds


def _as_seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds > 0 else None  # NaN is not > 0 either


def client_registry_from_config(
    *,
    store: str | None = None,
    store_file: str | os.PathLike[str] | None = None,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
    dormant_age: float | None = None,
    pending_ttl: float | None = None,
    keys: str | Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ClientSessionRegistry:
    """The registry the keywords and the environment describe, not yet opened."""
    given: dict[str, object] = {
        "store": store,
        "store_file": None if store_file is None else os.fspath(store_file),
        "redis_url": redis_url,
        "redis_prefix": redis_prefix,
        "dormant_age": dormant_age,
        "pending_ttl": pending_ttl,
    }
    settings = _Settings(given, os.environ if environ is None else environ)
    chosen = settings.text("store")
    name, source = chosen if chosen is not None else ("memory", "")
    if name.lower() not in STORES:
        raise ClientRegistryConfigError(f"{source} must be one of {', '.join(STORES)}, got {name!r}")
    expiry = ClientSessionExpiry(
        pending_ttl=settings.seconds("pending_ttl", DEFAULT_PENDING_TTL),
        dormant_age=settings.seconds("dormant_age", DEFAULT_DORMANT_AGE),
    )
    ring = _ring(keys, settings)
    name = name.lower()
    if name == "file":
        path = settings.text("store_file")
        if path is None:
            raise ClientRegistryConfigError(
                f"the file client registry ({source}) needs a path: pass store_file=... or set {ENV['store_file']}"
            )
        return FileClientRegistry(
            path[0], keys=ring, pending_ttl=expiry.pending_ttl, dormant_age=expiry.dormant_age
        )
    if name == "redis":
        return _redis(settings, source, ring, expiry)
    return MemoryClientRegistry(keys=ring, pending_ttl=expiry.pending_ttl, dormant_age=expiry.dormant_age)


def _ring(keys: Keys, settings: _Settings) -> Keys:
    """The key ring as given, checked here so a bad key names the keyword or the variable."""
    if keys is not None:
        AuthSealer.from_keys(keys, source="keys=")
        return keys
    found = settings.text("keys")
    if found is None:
        return None
    AuthSealer.from_keys(found[0], source=KEY_ENV)
    return found[0]


def _redis(
    settings: _Settings, source: str, ring: Keys, expiry: ClientSessionExpiry
) -> ClientSessionRegistry:
    require_coredis()  # ImportError: "... pip install 'trio_mcp[redis]'"
    from .redis import RedisClientRegistry

    found = settings.text("redis_url")
    if found is None:
        raise ClientRegistryConfigError(
            f"the Redis client registry ({source}) needs a Redis URL: pass redis_url=... or set "
            "REDIS_URL=redis://host:6379/0"
        )
    url, url_source = found
    if not url.startswith(REDIS_SCHEMES):
        raise ClientRegistryConfigError(
            f"{url_source} must start with {', '.join(REDIS_SCHEMES)}, got {url.split('://')[0]!r}://..."
        )
    prefix_found = settings.get("redis_prefix")
    prefix = DEFAULT_PREFIX
    if prefix_found is not None:
        value, prefix_source = prefix_found
        if not isinstance(value, str) or not value:
            raise ClientRegistryConfigError(f"{prefix_source} must be a non-empty string, got {value!r}")
        prefix = value
    try:
        return RedisClientRegistry.from_url(
            url, prefix=prefix, keys=ring, pending_ttl=expiry.pending_ttl, dormant_age=expiry.dormant_age
        )
    except ValueError as exc:  # an unparsable URL (the message hides its password)
        raise ClientRegistryConfigError(f"{url_source}: {exc}") from None


@asynccontextmanager
async def open_client_registry(
    *,
    store: str | None = None,
    store_file: str | os.PathLike[str] | None = None,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
    dormant_age: float | None = None,
    pending_ttl: float | None = None,
    keys: str | Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AsyncGenerator[ClientSessionRegistry]:
    """The configured registry, open for the block: ``async with open_client_registry() as registry:``."""
    registry = client_registry_from_config(
        store=store,
        store_file=store_file,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        dormant_age=dormant_age,
        pending_ttl=pending_ttl,
        keys=keys,
        environ=environ,
    )
    async with registry:
        yield registry
