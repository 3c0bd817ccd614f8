import pytest

from trio_mcp._transport.headers import (
    AcceptDecision,
    accept_decision,
    host_allowed,
    is_json_content_type,
    loopback_host,
    origin_allowed,
    parse_accept,
)

BOTH = AcceptDecision(json=True, sse=True)
JSON_ONLY = AcceptDecision(json=True, sse=False)
SSE_ONLY = AcceptDecision(json=False, sse=True)
NEITHER = AcceptDecision(json=False, sse=False)

# --- parse_accept -------------------------------------------------------------------------------


def test_parse_accept_typical_mcp_client() -> None:
    assert parse_accept("application/json, text/event-stream") == [
        ("application/json", 1.0),
        ("text/event-stream", 1.0),
    ]


def test_parse_accept_q_values_whitespace_case_params() -> None:
    value = " Application/JSON ; charset=utf-8 ; Q=0.5 ,TEXT/Event-Stream;q=1.000,  */* ;q=0"
    assert parse_accept(value) == [
        ("application/json", 0.5),
        ("text/event-stream", 1.0),
        ("*/*", 0.0),
    ]


@pytest.mark.parametrize("value", [None, "", "   ", ",", " , ,"])
def test_parse_accept_empty(value: str | None) -> None:
    assert parse_accept(value) == []


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("0", 0.0),
        ("0.", 0.0),
        ("0.001", 0.001),
        ("0.5", 0.5),
        (".2", 0.2),
        ("1", 1.0),
        ("1.0", 1.0),
        ("1.", 1.0),
        ("0.12345", 0.12345),
        # Not a qvalue -> 0, "not acceptable".
        ("", 0.0),
        (".", 0.0),
        ("1.5", 0.0),
        ("2", 0.0),
        ("-1", 0.0),
        ("abc", 0.0),
        ("nan", 0.0),
        ("inf", 0.0),
        ("1e-3", 0.0),
        ('"0.5"', 0.0),
    ],
)
def test_parse_accept_q(q: str, expected: float) -> None:
    assert parse_accept(f"text/plain;q={q}") == [("text/plain", expected)]


def test_parse_accept_first_q_wins_and_params_after_ignored() -> None:
    assert parse_accept("text/plain;q=0.3;q=0.9;ext=1") == [("text/plain", 0.3)]


def test_parse_accept_quoted_param_may_contain_separators() -> None:
    assert parse_accept('text/plain;foo="a,b;q=0", application/json') == [
        ("text/plain", 1.0),
        ("application/json", 1.0),
    ]


def test_parse_accept_skips_garbage_elements() -> None:
    value = "garbage, /json, application/, */json, a b/c, text/plain, application/json/x"
    assert parse_accept(value) == [("text/plain", 1.0)]


def test_parse_accept_bare_star_is_any() -> None:
    assert parse_accept("text/html, *; q=.2") == [("text/html", 1.0), ("*/*", 0.2)]


# --- accept_decision ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, BOTH),  # RFC 9110: no Accept means anything goes
        ("", BOTH),
        ("garbage", BOTH),  # nothing usable: no preference expressed
        ("application/json, text/event-stream", BOTH),
        ("text/event-stream, application/json", BOTH),
        ("application/json", JSON_ONLY),
        ("text/event-stream", SSE_ONLY),
        ("text/html", NEITHER),
        ("*/*", BOTH),
        ("application/*", JSON_ONLY),
        ("text/*", SSE_ONLY),
        ("application/*, text/*", BOTH),
        ("*/*;q=0.1", BOTH),
        ("*/*;q=0", NEITHER),
        ("application/json;q=0, text/event-stream", SSE_ONLY),
        ("application/json;q=0, */*", SSE_ONLY),
        ("*/*, application/json;q=0", SSE_ONLY),  # order does not matter
        ("*/*;q=0.1, application/json;q=0", SSE_ONLY),
        ("*/*;q=0, application/json", JSON_ONLY),
        ("application/json, */*;q=0", JSON_ONLY),
        ("text/*;q=0, */*", JSON_ONLY),
        ("*/*, text/*;q=0", JSON_ONLY),
        ("text/*;q=0, text/event-stream", SSE_ONLY),
        ("application/json;q=0, application/*", NEITHER),
        ("application/*;q=0, application/json;q=0.01", JSON_ONLY),
        ("application/json;q=bogus, text/event-stream", SSE_ONLY),
        ("application/json;q=0, application/json;q=0.5", JSON_ONLY),  # same range twice: max
        ("Application/Json; Charset=UTF-8, Text/Event-Stream", BOTH),
        ("application/json-seq, text/event-streams", NEITHER),
    ],
)
def test_accept_decision(value: str | None, expected: AcceptDecision) -> None:
    assert accept_decision(value) == expected


# --- is_json_content_type -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON;charset=UTF-8", True),
        ("  application/json  ", True),
        (None, False),
        ("", False),
        ("text/json", False),
        ("application/json-rpc", False),
        ("application/vnd.api+json", False),
        ("application/jsonx", False),
        ("text/plain; x=application/json", False),
    ],
)
def test_is_json_content_type(value: str | None, expected: bool) -> None:
    assert is_json_content_type(value) is expected


# --- loopback_host ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("[::1]", True),
        ("[0:0:0:0:0:0:0:1]", True),
        ("localhost.evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("evil-localhost", False),
        ("localhost.", False),
        ("128.0.0.1", False),
        ("0.0.0.0", False),
        ("127.1", False),
        ("[::2]", False),
        ("::1]", False),
        ("", False),
    ],
)
def test_loopback_host(host: str, expected: bool) -> None:
    assert loopback_host(host) is expected


# --- origin_allowed -----------------------------------------------------------------------------


def test_origin_absent_is_allowed() -> None:
    assert origin_allowed(None, None, request_host=None)
    assert origin_allowed(None, [], request_host="example.com")


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost",
        "http://localhost:8000",
        "https://localhost:3000",
        "HTTP://LOCALHOST:8000",
        "http://127.0.0.1",
        "http://127.0.0.1:6274",
        "http://127.8.9.10:1",
        "http://[::1]",
        "http://[::1]:8000",
        "https://[0:0::1]:443",
    ],
)
def test_origin_default_allows_loopback(origin: str) -> None:
    assert origin_allowed(origin, None, request_host="localhost:8000")


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "",
        "http://localhost.evil.example",
        "http://localhost.evil.example:8000",
        "http://127.0.0.1.evil.example",
        "http://evil.example",
        "http://evil.example:8000",
        "http://localhost:8000/",  # an origin has no path
        "http://localhost:8000/path",
        "http://user@localhost:8000",
        "http://localhost:99999",
        "http://localhost:" + "9" * 5000,
        "http://localhost:*",
        "localhost:8000",
        "//localhost:8000",
        "ftp://localhost",  # loopback, but not a web origin
        "file://",
        "http://[::1",
        "http://::1",
        "http://[::2]:8000",
        "http://0.0.0.0:8000",
        "http://localhost:8000 http://evil.example",
    ],
)
def test_origin_default_rejects(origin: str) -> None:
    assert not origin_allowed(origin, None, request_host="localhost:8000")


@pytest.mark.parametrize(
    ("origin", "request_host", "expected"),
    [
        ("https://mcp.example.com", "mcp.example.com", True),
        ("https://MCP.example.com", "mcp.EXAMPLE.com", True),
        ("https://mcp.example.com", "mcp.example.com:443", True),
        ("http://mcp.example.com:8000", "mcp.example.com:8000", True),
        ("https://mcp.example.com:8443", "mcp.example.com:8443", True),
        ("http://[2001:db8::1]:8000", "[2001:db8::1]:8000", True),
        ("https://mcp.example.com", "mcp.example.com:8000", False),
        ("http://mcp.example.com:8000", "mcp.example.com", False),
        ("https://evil.example", "mcp.example.com", False),
        ("https://mcp.example.com.evil.example", "mcp.example.com", False),
        ("https://mcp.example.com", None, False),
        ("https://mcp.example.com", "", False),
        ("https://mcp.example.com", "garbage host", False),
    ],
)
def test_origin_default_same_origin(origin: str, request_host: str | None, expected: bool) -> None:
    assert origin_allowed(origin, None, request_host=request_host) is expected


def test_origin_explicit_list_does_not_add_same_origin() -> None:
    assert not origin_allowed(
        "https://mcp.example.com", ["https://app.example.com"], request_host="mcp.example.com"
    )


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("http://127.0.0.1:8000", True),
        ("HTTP://127.0.0.1:8000", True),
        ("http://127.0.0.1:8001", False),
        ("http://127.0.0.1", False),
        ("https://127.0.0.1:8000", False),
        ("http://localhost:8000", False),  # not listed: the list replaces the loopback default
        ("https://app.example.com", True),
        ("https://app.example.com:443", True),  # default port is implied
        ("https://App.Example.com", True),
        ("http://app.example.com", False),
        ("https://app.example.com:8443", False),
        ("https://app.example.com.evil.example", False),
        ("https://evil.example", False),
        ("http://dev.local", True),
        ("http://dev.local:80", True),
        ("http://dev.local:8080", True),
        ("https://dev.local:8080", False),
        ("http://[::1]:9000", True),
        ("http://[0::1]:9000", True),
        ("http://[::1]:9001", False),
        ("null", False),
    ],
)
def test_origin_allowlist(origin: str, expected: bool) -> None:
    allowed = [
        "http://127.0.0.1:8000",
        "https://app.example.com",
        "http://dev.local:*",
        "http://[::1]:9000",
    ]
    assert origin_allowed(origin, allowed, request_host="127.0.0.1:8000") is expected


def test_origin_allowlist_default_port_written_out() -> None:
    assert origin_allowed("https://app.example.com", ["https://app.example.com:443"], request_host=None)
    assert not origin_allowed("https://app.example.com", ["https://app.example.com:80"], request_host=None)


def test_origin_allowlist_any_port_pattern_localhost() -> None:
    allowed = ["http://localhost:*"]
    assert origin_allowed("http://localhost", allowed, request_host=None)
    assert origin_allowed("http://localhost:5173", allowed, request_host=None)
    assert not origin_allowed("https://localhost:5173", allowed, request_host=None)
    assert not origin_allowed("http://localhost.evil.example:5173", allowed, request_host=None)


def test_origin_star_allows_any_well_formed_origin_but_not_null() -> None:
    assert origin_allowed("https://anything.example", ["*"], request_host=None)
    assert not origin_allowed("null", ["*"], request_host=None)


def test_origin_empty_allowlist_refuses_every_browser() -> None:
    assert not origin_allowed("http://localhost:8000", [], request_host="localhost:8000")


@pytest.mark.parametrize("bad", ["localhost:8000", "http://", "http://x:y", "http://x/"])
def test_origin_malformed_allowlist_entry_is_a_config_error(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid allowed origin"):
        origin_allowed("http://localhost:8000", [bad], request_host=None)


# --- host_allowed -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("localhost:8000", True),
        ("LOCALHOST:8000", True),
        ("localhost:", True),  # RFC 3986 allows an empty port
        ("127.0.0.1:8000", True),
        ("127.0.0.2", True),
        ("[::1]", True),
        ("[::1]:8000", True),
        (None, False),
        ("", False),
        ("evil.example", False),
        ("localhost.evil.example:8000", False),
        ("127.0.0.1.evil.example", False),
        ("::1", False),  # a Host header brackets IPv6
        ("[::1", False),
        ("localhost:99999", False),
        ("localhost:" + "9" * 5000, False),
        ("localhost:abc", False),
        ("localhost:8000:1", False),
        ("user@localhost", False),
        ("local host", False),
        ("0.0.0.0:8000", False),
    ],
)
def test_host_default_loopback_only(host: str | None, expected: bool) -> None:
    assert host_allowed(host, None) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("mcp.example.com", True),
        ("mcp.example.com:443", True),
        ("MCP.Example.COM:8443", True),
        ("api.example.com:8000", True),
        ("api.example.com:8001", False),
        ("api.example.com", False),
        ("[2001:db8::1]:8000", True),
        ("[2001:DB8:0::1]", True),
        ("[::1]:9000", True),
        ("[::1]:9001", False),
        ("localhost:8000", False),  # the list replaces the loopback default
        ("mcp.example.com.evil.example", False),
        ("evil.example", False),
        (None, False),
        ("", False),
    ],
)
def test_host_allowlist(host: str | None, expected: bool) -> None:
    allowed = ["mcp.example.com", "api.example.com:8000", "2001:db8::1", "[::1]:9000"]
    assert host_allowed(host, allowed) is expected


def test_host_allowlist_any_port_pattern() -> None:
    assert host_allowed("dev.local:1234", ["dev.local:*"])
    assert not host_allowed("other.local:1234", ["dev.local:*"])


@pytest.mark.parametrize("host", [None, "", "anything.example:1", "garbage host"])
def test_host_star_allows_everything(host: str | None) -> None:
    assert host_allowed(host, ["*"])
    assert host_allowed(host, ["mcp.example.com", "*"])


def test_host_empty_allowlist_refuses_everything() -> None:
    assert not host_allowed("localhost", [])


@pytest.mark.parametrize("bad", ["", "a b", "host:port", "http://host", "[::1"])
def test_host_malformed_allowlist_entry_is_a_config_error(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid allowed host"):
        host_allowed("localhost", [bad])
