"""redis_stream_manager: the Redis stream manager the HTTP app builds from its configuration.

``TRIO_MCP_STREAMS=redis`` (or a RedisSessionStore, which implies it) selects it; the URL comes from the
``redis_url`` argument, else ``REDIS_URL``. The manager is constructed, not started: the app's lifespan runs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .._redis import require_coredis
from ._base import DEFAULT_HEARTBEAT, StreamManager

REDIS_URL_ENV = "REDIS_URL"


class StreamConfigError(ValueError):
    """The stream manager configuration is invalid; the message says how to fix it."""


def redis_stream_manager(
    url: str | None,
    *,
    prefix: str = "mcp:",
    heartbeat: float = DEFAULT_HEARTBEAT,
    environ: Mapping[str, str] | None = None,
) -> StreamManager:
    """A RedisStreamManager on ``url`` (else ``$REDIS_URL``), heartbeat every ``heartbeat`` seconds."""
    require_coredis()  # ImportError: "... pip install 'trio_mcp[redis]'"
    env = os.environ if environ is None else environ
    resolved = url or env.get(REDIS_URL_ENV, "").strip() or None
    if resolved is None:
        raise StreamConfigError(
            f"the Redis stream manager needs a Redis URL: pass redis_url=... or set {REDIS_URL_ENV}=redis://host:6379/0"
        )
    from .redis import RedisStreamManager

    return RedisStreamManager.from_url(resolved, prefix=prefix, heartbeat_interval=heartbeat)
