"""CORS (opt-in with cors_origins): preflights, the headers on real responses, and who is refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from _rawhttp import Target, assert_error, init_body, post_headers

Start = Callable[..., Awaitable[Target]]
APP = "https://app.example"
INVALID_REQUEST = -32600


def preflight(origin: str) -> list[tuple[str | bytes, str | bytes]]:
    return [
        ("origin", origin),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type, mcp-session-id"),
    ]


async def test_cors_origins_alone_lets_that_origin_in(start: Start) -> None:
    # Setting cors_origins must be enough: the origin used to be refused (403) unless allowed_origins named it.
    target = await start(cors_origins=[APP])
    response = await target.request("OPTIONS", preflight(APP), None)
    assert response.status == 204, response.body
    assert response.header("access-control-allow-origin") == APP
    assert "POST" in (response.header("access-control-allow-methods") or "")
    assert "Mcp-Session-Id" in (response.header("access-control-allow-headers") or "")
    assert response.header("vary") == "Origin"

    init = await target.request("POST", post_headers(extra=[("origin", APP)]), init_body())
    assert init.status == 200, init.body
    assert init.header("access-control-allow-origin") == APP
    assert "Mcp-Session-Id" in (init.header("access-control-expose-headers") or "")
    assert init.header("mcp-session-id")


async def test_an_origin_not_named_is_refused_with_no_cors_headers(start: Start) -> None:
    target = await start(cors_origins=[APP])
    evil = "https://evil.example"
    response = await target.request("OPTIONS", preflight(evil), None)
    assert_error(response, 403, INVALID_REQUEST, "Origin", "not allowed")
    assert response.header("access-control-allow-origin") is None
    post = await target.request("POST", post_headers(extra=[("origin", evil)]), init_body())
    assert_error(post, 403, INVALID_REQUEST, "Origin")
    # Loopback origins stay allowed by default (allowed_origins unset), without CORS headers.
    local = await target.request(
        "POST", post_headers(extra=[("origin", "http://127.0.0.1:5173")]), init_body()
    )
    assert local.status == 200, local.body
    assert local.header("access-control-allow-origin") is None


async def test_a_wildcard_echoes_any_origin(start: Start) -> None:
    target = await start(cors_origins=["*"])
    for origin in (APP, "https://other.example"):
        response = await target.request("OPTIONS", preflight(origin), None)
        assert response.status == 204, response.body
        assert response.header("access-control-allow-origin") == origin


async def test_without_cors_options_is_405(start: Start) -> None:
    target = await start()
    response = await target.request("OPTIONS", preflight("http://127.0.0.1:5173"), None)
    assert_error(response, 405, INVALID_REQUEST, "Method Not Allowed")
    assert response.header("access-control-allow-origin") is None


async def test_cors_origins_from_the_environment(start: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_CORS_ORIGINS", f"{APP}, https://second.example")
    target = await start()
    response = await target.request("OPTIONS", preflight("https://second.example"), None)
    assert response.status == 204, response.body
    assert response.header("access-control-allow-origin") == "https://second.example"
