"""Configuration from the environment (`load_config(environ=...)`, and through `server.asgi_app()`).

Every knob of HttpConfig but `principal` (a function) and `auth` (a TokenVerifier) has an environment twin, TRIO_MCP_<NAME> (REDIS_URL for
redis_url); an explicit argument wins over the environment, the environment over the default; a bad value is a
ConfigError naming the variable; list values are comma-separated.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest

from examples.everything import server
from trio_mcp._streams.memory import MemoryStreamManager
from trio_mcp._transport.config import ConfigError, HttpConfig, load_config
from trio_mcp.stores import FileSessionStore

# field -> (environment variable, raw value, parsed value): a value other than the default for each knob.
ENV: dict[str, tuple[str, str, Any]] = {
    "path": ("TRIO_MCP_PATH", "/api/mcp", "/api/mcp"),
    "health_path": ("TRIO_MCP_HEALTH_PATH", "/live", "/live"),
    "ready_path": ("TRIO_MCP_READY_PATH", "/ready", "/ready"),
    "store": ("TRIO_MCP_STORE", "file", "file"),
    "store_file": ("TRIO_MCP_STORE_FILE", "/tmp/sessions.json", "/tmp/sessions.json"),
    "streams": ("TRIO_MCP_STREAMS", "redis", "redis"),
    "event_store": ("TRIO_MCP_EVENT_STORE", "none", "none"),
    "event_retention": ("TRIO_MCP_EVENT_RETENTION", "50", 50),
    "redis_url": ("REDIS_URL", "redis://127.0.0.1:6399/3", "redis://127.0.0.1:6399/3"),
    "redis_prefix": ("TRIO_MCP_REDIS_PREFIX", "app7:", "app7:"),
    "idle_timeout": ("TRIO_MCP_IDLE_TIMEOUT", "120", 120.0),
    "pending_timeout": ("TRIO_MCP_PENDING_TIMEOUT", "7.5", 7.5),
    "max_sessions": ("TRIO_MCP_MAX_SESSIONS", "12", 12),
    "allowed_origins": (
        "TRIO_MCP_ALLOWED_ORIGINS",
        "https://a.example, https://b.example",
        ("https://a.example", "https://b.example"),
    ),
    "allowed_hosts": ("TRIO_MCP_ALLOWED_HOSTS", "a.example,b.example:8080", ("a.example", "b.example:8080")),
    "max_body_size": ("TRIO_MCP_MAX_BODY_SIZE", "2048", 2048),
    "keepalive_interval": ("TRIO_MCP_KEEPALIVE_INTERVAL", "2.5", 2.5),
    "heartbeat_interval": ("TRIO_MCP_HEARTBEAT_INTERVAL", "3", 3.0),
    "json_response": ("TRIO_MCP_JSON_RESPONSE", "true", True),
    "stateless": ("TRIO_MCP_STATELESS", "false", False),
    "cors_origins": ("TRIO_MCP_CORS_ORIGINS", "https://c.example", ("https://c.example",)),
    "reply_timeout": ("TRIO_MCP_REPLY_TIMEOUT", "9", 9.0),
    "session_cache_ttl": ("TRIO_MCP_SESSION_CACHE_TTL", "0", 0.0),
    "stream_buffer": ("TRIO_MCP_STREAM_BUFFER", "5", 5),
    "gc_threshold": ("TRIO_MCP_GC_THRESHOLD", "0", 0),
    "slow_stream_timeout": ("TRIO_MCP_SLOW_STREAM_TIMEOUT", "0.75", 0.75),
    "sse_retry_ms": ("TRIO_MCP_SSE_RETRY_MS", "2500", 2500),
    "sse_poll_interval": ("TRIO_MCP_SSE_POLL_INTERVAL", "30", 30.0),
    "drain_timeout": ("TRIO_MCP_DRAIN_TIMEOUT", "12", 12.0),
    "drain_notice": ("TRIO_MCP_DRAIN_NOTICE", "0", 0.0),
    "websocket_ping_interval": ("TRIO_MCP_WEBSOCKET_PING_INTERVAL", "45", 45.0),
    "websocket_ping_timeout": ("TRIO_MCP_WEBSOCKET_PING_TIMEOUT", "2.5", 2.5),
    "cache_ttl_ms": ("TRIO_MCP_CACHE_TTL_MS", "60000", 60000),
    "cache_scope": ("TRIO_MCP_CACHE_SCOPE", "public", "public"),
    "request_state_keys": ("TRIO_MCP_REQUEST_STATE_KEYS", "k1, k2", ("k1", "k2")),
    "request_state_ttl": ("TRIO_MCP_REQUEST_STATE_TTL", "60", 60.0),
    "auth_issuer": ("TRIO_MCP_AUTH_ISSUER", "https://as.example", "https://as.example"),
    "auth_resource": ("TRIO_MCP_AUTH_RESOURCE", "https://mcp.example/mcp", "https://mcp.example/mcp"),
    "auth_jwks_url": ("TRIO_MCP_AUTH_JWKS_URL", "https://as.example/jwks", "https://as.example/jwks"),
    "auth_introspection_url": (
        "TRIO_MCP_AUTH_INTROSPECTION_URL",
        "https://as.example/introspect",
        "https://as.example/introspect",
    ),
    "auth_introspection_client_id": ("TRIO_MCP_AUTH_INTROSPECTION_CLIENT_ID", "rs", "rs"),
    "auth_introspection_client_secret": ("TRIO_MCP_AUTH_INTROSPECTION_CLIENT_SECRET", "s3", "s3"),
    "auth_scopes": ("TRIO_MCP_AUTH_SCOPES", "mcp, files:read", ("mcp", "files:read")),
}

# An explicit value for each knob, different from both the default and ENV's value.
EXPLICIT: dict[str, Any] = {
    "path": "/other",
    "health_path": "/h",
    "ready_path": "/r",
    "store": "memory",
    "store_file": "/tmp/other.json",
    "streams": "memory",
    "event_store": "memory",
    "event_retention": 20,
    "redis_url": "redis://127.0.0.1:6400/0",
    "redis_prefix": "explicit:",
    "idle_timeout": 60.0,
    "pending_timeout": 3.0,
    "max_sessions": 99,
    "allowed_origins": ("https://x.example",),
    "allowed_hosts": ("x.example",),
    "max_body_size": 4096,
    "keepalive_interval": 4.0,
    "heartbeat_interval": 5.0,
    "json_response": False,
    "stateless": True,
    "cors_origins": ("https://y.example",),
    "reply_timeout": 11.0,
    "session_cache_ttl": 1.0,
    "stream_buffer": 7,
    "gc_threshold": 20_000,
    "slow_stream_timeout": 2.0,
    "sse_retry_ms": 100,
    "sse_poll_interval": 5.0,
    "drain_timeout": 3.0,
    "drain_notice": 1.5,
    "websocket_ping_interval": 7.0,
    "websocket_ping_timeout": 3.0,
    "cache_ttl_ms": 1000,
    "cache_scope": "private",
    "request_state_keys": ("k3",),
    "request_state_ttl": 30.0,
    "auth_issuer": "https://other-as.example",
    "auth_resource": "https://other.example/mcp",
    "auth_jwks_url": "https://other-as.example/jwks",
    "auth_introspection_url": "https://other-as.example/introspect",
    "auth_introspection_client_id": "rs2",
    "auth_introspection_client_secret": "s4",
    "auth_scopes": ("mcp",),
}

KNOBS = [f.name for f in attrs.fields(HttpConfig) if f.name not in ("principal", "origins", "auth")]


def test_the_tables_cover_every_knob() -> None:
    """A new knob without an environment test fails here."""
    assert sorted(ENV) == sorted(KNOBS)
    assert sorted(EXPLICIT) == sorted(KNOBS)
    defaults = HttpConfig()
    for name in KNOBS:
        assert ENV[name][2] != getattr(defaults, name), name
        assert EXPLICIT[name] != ENV[name][2], name


@pytest.mark.parametrize("name", KNOBS)
def test_each_knob_is_read_from_its_environment_twin(name: str) -> None:
    variable, raw, parsed = ENV[name]
    config = load_config(environ={variable: raw})
    assert getattr(config, name) == parsed
    # Nothing else moved.
    others = {n: getattr(config, n) for n in KNOBS if n != name}
    assert others == {n: getattr(HttpConfig(), n) for n in KNOBS if n != name}


def test_every_twin_at_once() -> None:
    config = load_config(environ={variable: raw for variable, raw, _ in ENV.values()})
    assert {name: getattr(config, name) for name in KNOBS} == {name: ENV[name][2] for name in KNOBS}


@pytest.mark.parametrize("name", KNOBS)
def test_an_explicit_argument_wins_over_the_environment(name: str) -> None:
    variable, raw, _ = ENV[name]
    config = load_config(environ={variable: raw}, **{name: EXPLICIT[name]})
    assert getattr(config, name) == EXPLICIT[name]


def test_explicit_none_and_empty_environment_values_fall_through() -> None:
    """None as an argument means "not given" (the environment applies); an empty variable means unset."""
    config = load_config(environ={"TRIO_MCP_MAX_SESSIONS": "3"}, max_sessions=None)
    assert config.max_sessions == 3
    config = load_config(environ={"TRIO_MCP_MAX_SESSIONS": "", "TRIO_MCP_PATH": ""})
    assert config.max_sessions == HttpConfig().max_sessions
    assert config.path == "/mcp"


def test_the_default_environment_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_REPLY_TIMEOUT", "42")
    assert load_config().reply_timeout == 42.0
    assert load_config(environ={}).reply_timeout == HttpConfig().reply_timeout


@pytest.mark.parametrize(
    ("variable", "raw", "expected"),
    [
        (
            "TRIO_MCP_ALLOWED_ORIGINS",
            " https://a.example ,, https://b.example ,",
            ("https://a.example", "https://b.example"),
        ),
        ("TRIO_MCP_ALLOWED_HOSTS", "one", ("one",)),
        ("TRIO_MCP_ALLOWED_HOSTS", " , ", ()),
        ("TRIO_MCP_CORS_ORIGINS", "*", ("*",)),
    ],
)
def test_list_values_are_comma_separated_and_trimmed(
    variable: str, raw: str, expected: tuple[str, ...]
) -> None:
    config = load_config(environ={variable: raw})
    name = variable.removeprefix("TRIO_MCP_").lower()
    assert getattr(config, name) == expected


def test_explicit_list_values_become_tuples() -> None:
    config = load_config(environ={}, allowed_hosts=["a.example", "b.example"], cors_origins=iter(["*"]))
    assert config.allowed_hosts == ("a.example", "b.example")
    assert config.cors_origins == ("*",)


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("TRIO_MCP_IDLE_TIMEOUT", "a day"),
        ("TRIO_MCP_PENDING_TIMEOUT", "10m"),
        ("TRIO_MCP_MAX_SESSIONS", "1.5"),
        ("TRIO_MCP_MAX_BODY_SIZE", "4MiB"),
        ("TRIO_MCP_KEEPALIVE_INTERVAL", "often"),
        ("TRIO_MCP_HEARTBEAT_INTERVAL", "1 2"),
        ("TRIO_MCP_REPLY_TIMEOUT", "5s"),
        ("TRIO_MCP_SESSION_CACHE_TTL", "x"),
        ("TRIO_MCP_STREAM_BUFFER", "lots"),
        ("TRIO_MCP_SLOW_STREAM_TIMEOUT", "3 s"),
        ("TRIO_MCP_SSE_RETRY_MS", "1e3"),
        ("TRIO_MCP_JSON_RESPONSE", "maybe"),
        ("TRIO_MCP_STATELESS", "sometimes"),
    ],
)
def test_an_unparseable_value_is_a_config_error_naming_the_variable(variable: str, raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ={variable: raw})
    assert f"{variable}={raw!r}" in str(info.value)


@pytest.mark.parametrize(
    ("variable", "raw"),
    [("TRIO_MCP_IDLE_TIMEOUT", "0"), ("TRIO_MCP_STREAM_BUFFER", "0"), ("TRIO_MCP_PATH", "mcp")],
)
def test_an_out_of_range_value_is_a_config_error_naming_the_variable(variable: str, raw: str) -> None:
    """A number that parses but is out of range came from the environment: the message must say which
    variable to fix (not only the keyword, which the user never wrote)."""
    with pytest.raises(ConfigError) as info:
        load_config(environ={variable: raw})
    assert variable in str(info.value), str(info.value)


def test_an_out_of_range_argument_names_the_keyword() -> None:
    with pytest.raises(ConfigError, match="idle_timeout"):
        load_config(environ={}, idle_timeout=0)
    with pytest.raises(ConfigError, match="stream_buffer"):
        load_config(environ={}, stream_buffer=0)


@pytest.mark.parametrize(
    ("variable", "raw"), [("TRIO_MCP_HEARTBEAT_INTERVAL", "nan"), ("TRIO_MCP_SSE_RETRY_MS", "-1")]
)
def test_a_meaningless_number_is_refused(variable: str, raw: str) -> None:
    """NaN is no duration (every comparison with it is false, so a `<= 0` check lets it through; trio.sleep
    refuses it, so the heartbeat fails and restarts forever), and an SSE `retry:` field takes only digits
    (encode_event refuses a negative one, so every superseded stream errors): ConfigErrors at start-up."""
    with pytest.raises(ConfigError) as info:
        load_config(environ={variable: raw})
    assert variable in str(info.value)


def test_infinity_is_accepted_as_never() -> None:
    assert load_config(environ={"TRIO_MCP_REPLY_TIMEOUT": "inf"}).reply_timeout == math.inf


def test_an_unknown_keyword_is_a_config_error_listing_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown configuration keyword\(s\): idle_timout; known: .*idle_timeout"
    ):
        load_config(environ={}, idle_timout=5)


# -- through server.asgi_app() --


def test_asgi_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The app is built from the environment: the file store at TRIO_MCP_STORE_FILE, the memory stream
    manager, and the other knobs."""
    path = tmp_path / "sessions.json"
    monkeypatch.setenv("TRIO_MCP_STORE", "file")
    monkeypatch.setenv("TRIO_MCP_STORE_FILE", str(path))
    monkeypatch.setenv("TRIO_MCP_STREAMS", "memory")
    monkeypatch.setenv("TRIO_MCP_PATH", "/api")
    monkeypatch.setenv("TRIO_MCP_REPLY_TIMEOUT", "9")
    monkeypatch.setenv("TRIO_MCP_SESSION_CACHE_TTL", "0")
    monkeypatch.setenv("TRIO_MCP_ALLOWED_HOSTS", "a.example, b.example")
    app = server.asgi_app()
    assert isinstance(app.store, FileSessionStore)
    assert app.store.path == path
    assert isinstance(app.streams, MemoryStreamManager)
    assert app.config.path == "/api"
    assert app.config.allowed_hosts == ("a.example", "b.example")
    assert app._sessions.reply_timeout == 9.0
    assert app._sessions.cache_ttl == 0.0
    explicit = server.asgi_app(store="memory", path="/x", reply_timeout=2)
    assert not isinstance(explicit.store, FileSessionStore)
    assert explicit.config.path == "/x"
    assert explicit._sessions.reply_timeout == 2


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("TRIO_MCP_STREAMS", "kafka"),
        ("TRIO_MCP_STORE", "postgres"),
        ("TRIO_MCP_MAX_SESSIONS", "many"),
    ],
)
def test_asgi_app_refuses_a_bad_variable_with_a_config_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str
) -> None:
    """Whatever knob is wrong, asgi_app() raises the one documented ConfigError, naming the variable."""
    monkeypatch.setenv(variable, raw)
    with pytest.raises(ConfigError) as info:
        server.asgi_app()
    assert variable in str(info.value)


def test_sse_poll_interval_is_off_by_default_and_off_in_the_environment() -> None:
    assert load_config(environ={}).sse_poll_interval is None
    assert load_config(environ={"TRIO_MCP_SSE_POLL_INTERVAL": "off"}).sse_poll_interval is None
    assert load_config(environ={"TRIO_MCP_SSE_POLL_INTERVAL": "2.5"}).sse_poll_interval == 2.5
    with pytest.raises(ConfigError, match="TRIO_MCP_SSE_POLL_INTERVAL='0'"):
        load_config(environ={"TRIO_MCP_SSE_POLL_INTERVAL": "0"})


@pytest.mark.parametrize(
    ("environ", "phrase"),
    [
        ({"REDIS_URL": "garbage"}, "REDIS_URL='garbage': not a Redis URL; use redis://"),
        ({"REDIS_URL": "http://localhost:6379"}, "not a Redis URL"),
        ({"TRIO_MCP_STATELESS": "maybe"}, "TRIO_MCP_STATELESS='maybe' is not auto, true or false"),
        ({"TRIO_MCP_STORE": "bogus"}, "TRIO_MCP_STORE='bogus'; choose one of: memory, file, redis"),
        (
            {"TRIO_MCP_EVENT_STORE": "kafka"},
            "TRIO_MCP_EVENT_STORE='kafka'; choose one of: memory, redis, none",
        ),
    ],
)
def test_a_bad_variable_is_one_clear_line_naming_it(
    environ: dict[str, str], phrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        server.asgi_app()
    assert phrase in str(info.value)
