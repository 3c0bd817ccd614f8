"""store_from_config: pick the session store from arguments and the environment.

An explicit argument wins over the environment, the environment over the default (memory):

* ``store`` -- a SessionStore instance (used as is), or a name; else ``TRIO_MCP_STORE``; else ``"memory"``.
* ``file`` -- the file store's path; else ``TRIO_MCP_STORE_FILE``.
* ``redis_url`` -- the Redis URL; else ``REDIS_URL``.

The stores are constructed, not opened: the app's lifespan enters them (``async with store``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ._base import ExpiryPolicy, SessionStore

STORE_ENV = "TRIO_MCP_STORE"
STORE_FILE_ENV = "TRIO_MCP_STORE_FILE"
REDIS_URL_ENV = "REDIS_URL"
CHOICES = ("memory", "file", "redis")


class StoreConfigError(ValueError):
    """The store configuration (argument or environment variable) is invalid; the message says how to fix it."""


def _from_env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def store_from_config(
    store: SessionStore | str | None,
    *,
    file: str | os.PathLike[str] | None,
    redis_url: str | None,
    prefix: str,
    policy: ExpiryPolicy,
    environ: Mapping[str, str] | None = None,
) -> SessionStore:
    """The configured store (see the module docstring). ``environ`` defaults to ``os.environ``."""
    if store is not None and not isinstance(store, str):
        return store
    env = os.environ if environ is None else environ
    if store is not None:
        source, raw = "store=", store
    else:
        source, raw = f"{STORE_ENV}=", _from_env(env, STORE_ENV) or "memory"
    name = raw.strip().lower()

    if name == "memory":
        from .memory import MemorySessionStore

        return MemorySessionStore(policy=policy)

    if name == "file":
        path = file if file is not None and str(file) != "" else _from_env(env, STORE_FILE_ENV)
        if path is None:
            raise StoreConfigError(
                f"{source}{raw!r} needs a file path: pass store_file=... or set {STORE_FILE_ENV}=/path/sessions.json"
            )
        from .file import FileSessionStore

        return FileSessionStore(path, policy=policy)

    if name == "redis":
        from .._redis import require_coredis

        require_coredis()  # ImportError: "... pip install 'trio_mcp[redis]'"
        url = redis_url or _from_env(env, REDIS_URL_ENV)
        if url is None:
            raise StoreConfigError(
                f"{source}{raw!r} needs a Redis URL: pass redis_url=... or set {REDIS_URL_ENV}=redis://host:6379/0"
            )
        from .redis import RedisSessionStore

        return RedisSessionStore.from_url(url, prefix=prefix, policy=policy)

    raise StoreConfigError(f"unknown session store {source}{raw!r}; choose one of: {', '.join(CHOICES)}")
