"""Configuration of the HTTP app: every knob is a keyword with an environment twin TRIO_MCP_<NAME>.

An explicit argument wins over the environment, the environment over the default.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from .._stores._base import DEFAULT_IDLE_TIMEOUT, DEFAULT_PENDING_TIMEOUT
from .._streams._base import DEFAULT_SLOW_STREAM_TIMEOUT

PrincipalHook = Callable[[Mapping[str, Any]], "str | None"]


class ConfigError(ValueError):
    """A configuration value (argument or environment variable) is invalid; the message names it."""


def default_principal(scope: Mapping[str, Any]) -> str | None:
    """Auth middleware puts the authenticated user id in the ASGI scope under "mcp.principal" (or state)."""
    value = scope.get("mcp.principal")
    if value is None:
        state = scope.get("state")
        if isinstance(state, Mapping):
            value = state.get("mcp.principal")  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
    return value if isinstance(value, str) else None


@attrs.frozen(kw_only=True)
class HttpConfig:
    path: str = "/mcp"
    store: Any = None  # a SessionStore, or "memory" | "file" | "redis"
    store_file: str | None = None
    streams: Any = None  # a StreamManager, or "memory" | "redis"
    redis_url: str | None = None
    redis_prefix: str = "mcp:"
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    pending_timeout: float = DEFAULT_PENDING_TIMEOUT
    max_sessions: int = 10_000
    allowed_origins: tuple[str, ...] | None = None
    allowed_hosts: tuple[str, ...] | None = None
    max_body_size: int = 4 * 1024 * 1024
    keepalive_interval: float = 15.0
    heartbeat_interval: float = 10.0
    json_response: bool = False
    stateless: bool | Literal["auto"] = "auto"
    cors_origins: tuple[str, ...] | None = None
    reply_timeout: float = 300.0
    session_cache_ttl: float = 2.0
    stream_buffer: int = 64
    slow_stream_timeout: float = DEFAULT_SLOW_STREAM_TIMEOUT
    sse_retry_ms: int = 1000
    principal: PrincipalHook = default_principal
    #: where each value came from, for error messages: the keyword, or `TRIO_MCP_X='raw'`
    origins: Mapping[str, str] = attrs.field(factory=dict[str, str], eq=False, repr=False)

    def named(self, name: str) -> str:
        """How to name knob `name` in an error: as the user set it (keyword or environment variable)."""
        return self.origins.get(name, name)


_ENV_NAMES = {"redis_url": "REDIS_URL"}


def _env_name(field: str) -> str:
    return _ENV_NAMES.get(field, f"TRIO_MCP_{field.upper()}")


def _parse(field: attrs.Attribute[Any], raw: str) -> Any:
    name = _env_name(field.name)
    kind = field.name
    try:
        if kind in (
            "idle_timeout",
            "pending_timeout",
            "keepalive_interval",
            "heartbeat_interval",
            "reply_timeout",
            "session_cache_ttl",
            "slow_stream_timeout",
        ):
            return float(raw)
        if kind in ("max_sessions", "max_body_size", "stream_buffer", "sse_retry_ms"):
            return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if kind == "json_response":
        return _parse_bool(name, raw)
    if kind == "stateless":
        return "auto" if raw.strip().lower() == "auto" else _parse_bool(name, raw)
    if kind in ("allowed_origins", "allowed_hosts", "cors_origins"):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def load_config(environ: Mapping[str, str] | None = None, **explicit: Any) -> HttpConfig:
    env = os.environ if environ is None else environ
    fields = {f.name: f for f in attrs.fields(HttpConfig)}
    unknown = sorted(set(explicit) - set(fields) | ({"origins"} & set(explicit)))
    if unknown:
        raise ConfigError(
            f"unknown configuration keyword(s): {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
        )
    values: dict[str, Any] = {}
    # How to name each value in an error: the keyword the caller wrote, or the variable it came from.
    origin: dict[str, str] = {}
    for name, field in fields.items():
        if name == "origins":
            continue
        if name in explicit and explicit[name] is not None:
            value = explicit[name]
            if name in ("allowed_origins", "allowed_hosts", "cors_origins") and not isinstance(value, tuple):
                value = tuple(value)
            values[name] = value
            origin[name] = name
        elif name != "principal" and (raw := env.get(_env_name(name))) is not None and raw != "":
            values[name] = _parse(field, raw)
            origin[name] = f"{_env_name(name)}={raw!r}"
    config = HttpConfig(**values, origins=origin)
    _check(config, config.named)
    return config


_DURATIONS = (
    "idle_timeout",
    "pending_timeout",
    "keepalive_interval",
    "heartbeat_interval",
    "reply_timeout",
    "slow_stream_timeout",
)


def _check(config: HttpConfig, named: Callable[[str], str]) -> None:
    if not config.path.startswith("/"):
        raise ConfigError(f"{named('path')}: the path must start with '/', got {config.path!r}")
    for name in _DURATIONS:
        value = getattr(config, name)
        # NaN passes every `<= 0` test (all its comparisons are false), and trio refuses it as a deadline.
        if math.isnan(value) or value <= 0:
            raise ConfigError(f"{named(name)}: {name} must be a positive number of seconds (inf: never)")
    if math.isnan(config.session_cache_ttl) or config.session_cache_ttl < 0:
        raise ConfigError(f"{named('session_cache_ttl')}: session_cache_ttl must be 0 (off) or more seconds")
    for name in ("max_sessions", "max_body_size", "stream_buffer"):
        if getattr(config, name) < 1:
            raise ConfigError(f"{named(name)}: {name} must be at least 1")
    if config.sse_retry_ms < 0:
        raise ConfigError(f"{named('sse_retry_ms')}: sse_retry_ms must be 0 or more milliseconds")
