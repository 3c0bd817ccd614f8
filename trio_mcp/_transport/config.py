"""Configuration of the HTTP app: every knob is a keyword with an environment twin TRIO_MCP_<NAME>.

An explicit argument wins over the environment, the environment over the default.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

import attrs

from .._runtime.input_round import DEFAULT_REQUEST_STATE_TTL
from .._stores._base import DEFAULT_IDLE_TIMEOUT, DEFAULT_PENDING_TIMEOUT
from .._streams._base import DEFAULT_SLOW_STREAM_TIMEOUT
from .._streams.events import DEFAULT_EVENT_RETENTION

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


def _knob(default: Any, *, above: float | None = None, at_least: float | None = None, rule: str = "") -> Any:
    """A knob with a range: `above` (exclusive) or `at_least`; `rule` says it in an error message."""
    return attrs.field(default=default, metadata={"above": above, "at_least": at_least, "rule": rule})


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_SECONDS = "a positive number of seconds (inf: never)"


@attrs.frozen(kw_only=True)
class HttpConfig:
    """Every knob of the HTTP app; its type says how its environment twin is parsed (see `_parse`)."""

    path: str = "/mcp"
    health_path: str = "/healthz"  # liveness: 200 while the process serves HTTP
    ready_path: str = "/readyz"  # readiness: 200 when started and the store and stream manager answer
    store: Any = None  # a SessionStore, or "memory" | "file" | "redis"
    store_file: str | None = None
    streams: Any = None  # a StreamManager, or "memory" | "redis"
    event_store: Any = None  # an EventStore, or "memory" | "redis" | "none"; default: like the streams
    event_retention: int = _knob(DEFAULT_EVENT_RETENTION, at_least=1, rule="at least 1 event")
    redis_url: str | None = None
    redis_prefix: str = "mcp:"
    idle_timeout: float = _knob(DEFAULT_IDLE_TIMEOUT, above=0, rule=_SECONDS)
    pending_timeout: float = _knob(DEFAULT_PENDING_TIMEOUT, above=0, rule=_SECONDS)
    max_sessions: int = _knob(10_000, at_least=1, rule="at least 1")
    allowed_origins: tuple[str, ...] | None = None
    allowed_hosts: tuple[str, ...] | None = None
    max_body_size: int = _knob(4 * 1024 * 1024, at_least=1, rule="at least 1")
    keepalive_interval: float = _knob(15.0, above=0, rule=_SECONDS)
    heartbeat_interval: float = _knob(10.0, above=0, rule=_SECONDS)
    json_response: bool = False
    stateless: bool | Literal["auto"] = "auto"
    cors_origins: tuple[str, ...] | None = None
    reply_timeout: float = _knob(300.0, above=0, rule=_SECONDS)
    session_cache_ttl: float = _knob(2.0, at_least=0, rule="0 (off) or more seconds")
    stream_buffer: int = _knob(64, at_least=1, rule="at least 1")
    #: the cyclic GC's first threshold while the app runs (Python's is 700; 0 leaves it): see trio_mcp/_gc.py
    gc_threshold: int = _knob(50_000, at_least=0, rule="0 (leave Python's) or more allocations")
    slow_stream_timeout: float = _knob(DEFAULT_SLOW_STREAM_TIMEOUT, above=0, rule=_SECONDS)
    sse_retry_ms: int = _knob(1000, at_least=0, rule="0 or more milliseconds")
    #: SSE polling: a POST stream open this long is closed (after an event id and `retry:`); None: never
    sse_poll_interval: float | None = _knob(None, above=0, rule=_SECONDS)
    #: graceful drain (SIGTERM): how long in-flight requests get to finish before they are cancelled
    drain_timeout: float = _knob(30.0, at_least=0, rule="0 or more seconds")
    #: graceful drain: how long requests are still served while load balancers notice the failing readiness
    #: (only when readiness was probed in the last minute)
    drain_notice: float = _knob(5.0, at_least=0, rule="0 or more seconds")
    #: WebSocket keep-alive: a connection the client sent nothing on for this long gets an MCP `ping`
    websocket_ping_interval: float = _knob(20.0, above=0, rule=_SECONDS)
    #: ... and is closed (4408) when the ping gets no answer within this long
    websocket_ping_timeout: float = _knob(10.0, above=0, rule=_SECONDS)
    #: 2026-07-28 caching hints (SEP-2549) on list results, resources/read and server/discover: how long a
    #: client may reuse one, and whether a shared cache may keep it
    cache_ttl_ms: int = _knob(0, at_least=0, rule="0 or more milliseconds")
    cache_scope: str = "private"
    #: 2026-07-28 multi-round-trip requests: the key ring sealing `requestState` (base64 of 32 bytes each;
    #: the first seals, all unseal). Required with the Redis stream manager; else one key per process
    request_state_keys: tuple[str, ...] | None = None
    #: ... and how long a sealed requestState stays valid
    request_state_ttl: float = _knob(DEFAULT_REQUEST_STATE_TTL, above=0, rule=_SECONDS)
    #: OAuth 2.1 resource server (docs/architecture.md §10): a TokenVerifier; or one is built from the knobs below
    auth: Any = None
    #: the authorization server issuing this server's tokens: the JWT `iss` checked, the metadata's server
    auth_issuer: str | None = None
    #: this server's resource URL (the tokens' audience); default: the request's scheme, Host and path
    auth_resource: str | None = None
    #: verify JWTs with the keys at this JWKS URL ...
    auth_jwks_url: str | None = None
    #: ... or ask this RFC 7662 introspection endpoint (with this client's credentials, when it needs them)
    auth_introspection_url: str | None = None
    auth_introspection_client_id: str | None = None
    auth_introspection_client_secret: str | None = None
    #: scopes every request needs (named in every challenge and in the metadata)
    auth_scopes: tuple[str, ...] | None = None
    principal: PrincipalHook = default_principal
    #: where each value came from, for error messages: the keyword, or `TRIO_MCP_X='raw'`
    origins: Mapping[str, str] = attrs.field(factory=dict[str, str], eq=False, repr=False)

    def named(self, name: str) -> str:
        """How to name knob `name` in an error: as the user set it (keyword or environment variable)."""
        return self.origins.get(name, name)


attrs.resolve_types(HttpConfig)  # field types as objects, for `_parse`

_ENV_NAMES = {"redis_url": "REDIS_URL"}
_CODE_ONLY = ("principal", "auth")  # a callable or an object: no environment twin
_NAMES = tuple[str, ...] | None  # a comma-separated list in the environment
_AUTO_OR_BOOL = bool | Literal["auto"]
_OPTIONAL_SECONDS = float | None  # "off" in the environment: None


def env_name(field: str) -> str:
    """The environment twin of knob `field` (`TRIO_MCP_<NAME>`; `REDIS_URL` for redis_url)."""
    return _env_name(field)


def _env_name(field: str) -> str:
    return _ENV_NAMES.get(field, f"TRIO_MCP_{field.upper()}")


def _parse(field: attrs.Attribute[Any], raw: str) -> Any:
    """An environment value, by the knob's declared type."""
    name = _env_name(field.name)
    kind = cast(object, field.type)  # a type, a union, or a Literal alias once resolved
    if kind == _OPTIONAL_SECONDS:
        if raw.strip().lower() in ("off", "none"):
            return None
        kind = float
    if kind is float or kind is int:
        try:
            return kind(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
    if kind is bool:
        return _parse_bool(name, raw)
    if kind == _AUTO_OR_BOOL:
        if raw.strip().lower() == "auto":
            return "auto"
        try:
            return _parse_bool(name, raw)
        except ConfigError:
            raise ConfigError(f"{name}={raw!r} is not auto, true or false") from None
    if kind == _NAMES:
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
            if cast(object, field.type) == _NAMES and not isinstance(value, tuple):
                value = tuple(value)
            values[name] = value
            origin[name] = name
        elif name not in _CODE_ONLY and (raw := env.get(_env_name(name))) is not None and raw != "":
            values[name] = _parse(field, raw)
            origin[name] = f"{_env_name(name)}={raw!r}"
    config = HttpConfig(**values, origins=origin)
    _check(config, config.named)
    return config


def _check(config: HttpConfig, named: Callable[[str], str]) -> None:
    if config.redis_url is not None and not config.redis_url.startswith(REDIS_SCHEMES):
        # coredis answers a URL without a scheme with a bare AssertionError: say what is wrong instead.
        raise ConfigError(
            f"{named('redis_url')}: not a Redis URL; use redis://[user:password@]host:port/db, rediss://... "
            "(TLS) or unix:///path/to/socket"
        )
    if config.cache_scope not in ("private", "public"):
        raise ConfigError(f"{named('cache_scope')}: use private or public, not {config.cache_scope!r}")
    _check_auth(config, named)
    for knob in ("path", "health_path", "ready_path"):
        route: str = getattr(config, knob)
        if not route.startswith("/"):
            raise ConfigError(f"{named(knob)}: the path must start with '/', got {route!r}")
    for field in attrs.fields(HttpConfig):
        above, at_least = field.metadata.get("above"), field.metadata.get("at_least")
        if above is None and at_least is None:
            continue
        value = getattr(config, field.name)
        if value is None:
            continue  # an optional knob left off
        # NaN passes every `<= 0` test (all its comparisons are false), and trio refuses it as a deadline.
        if (
            math.isnan(value)
            or (above is not None and value <= above)
            or (at_least is not None and value < at_least)
        ):
            raise ConfigError(f"{named(field.name)}: {field.name} must be {field.metadata['rule']}")


def _check_auth(config: HttpConfig, named: Callable[[str], str]) -> None:
    # Each knob on its own; how they combine is checked where the verifier is chosen (backends.py).
    if config.auth is not None and not callable(getattr(config.auth, "verify", None)):
        raise ConfigError(
            f"{named('auth')}: a TokenVerifier (an object with `async verify(token)`), not {config.auth!r}"
        )
    for knob in ("auth_issuer", "auth_resource", "auth_jwks_url", "auth_introspection_url"):
        url: str | None = getattr(config, knob)
        if url is not None and (not url.startswith(("https://", "http://")) or "#" in url):
            raise ConfigError(f"{named(knob)}: an absolute http(s) URL without a fragment, not {url!r}")
