"""The HTTP app when its session store fails, and sessions bound to a user.

* Redis stops under a running app: every request that needs the store gets a clean 503 whose JSON-RPC error
  says the session store cannot be reached (no traceback), the app stays up, stateless requests still work,
  and once Redis is back new sessions work again without restarting the app.
* The app starts while nothing listens at its Redis URL: it answers 503 the same way, and recovers when a
  Redis appears there.
* A session initialized by one principal is invisible (404) to any other, on POST, GET and DELETE (on the memory
  and the Redis backends: `any_start`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from _rawhttp import (
    JSON,
    RawConnection,
    Target,
    assert_error,
    body_message,
    init_body,
    initialize,
    note,
    post_headers,
    rpc,
)
from _redis_server import RedisServer, free_port

VERSION = "2025-11-25"
SESSION_NOT_FOUND = -32001
INTERNAL_ERROR = -32603
TEST_TIMEOUT = 30.0
SIMPLE_TEXT = {"name": "test_simple_text", "arguments": {}}

Start = Callable[..., Awaitable[Target]]


def assert_store_unavailable(response: Any) -> None:
    """A 503 whose JSON-RPC error says the session store cannot be reached (assert_error: no traceback)."""
    assert_error(response, 503, INTERNAL_ERROR, "Service Unavailable", "session store", "cannot be reached")


def session_headers(session_id: str, **extra: str) -> list[tuple[str | bytes, str | bytes]]:
    return [("mcp-session-id", session_id), ("mcp-protocol-version", VERSION), *extra.items()]


async def assert_all_unavailable(target: Target, session_id: str) -> None:
    """initialize, a request in a session, GET and DELETE: all 503."""
    assert_store_unavailable(await target.request("POST", post_headers(), init_body()))
    assert_store_unavailable(
        await target.request("POST", post_headers(session_id, version=VERSION), rpc("tools/list"))
    )
    get = [*session_headers(session_id), ("accept", "text/event-stream")]
    assert_store_unavailable(await target.request("GET", get, None))
    assert_store_unavailable(await target.request("DELETE", session_headers(session_id), None))


async def assert_stateless_works(target: Target) -> None:
    """No session, Accept: application/json: served without touching the store."""
    response = await target.request("POST", post_headers(accept=JSON), rpc("tools/call", SIMPLE_TEXT))
    assert response.status == 200, response.body
    assert response.header("mcp-session-id") is None
    assert (
        body_message(response)["result"]["content"][0]["text"]
        == "This is a simple text response for testing."
    )


async def assert_session_works(target: Target, session_id: str) -> None:
    response = await target.request(
        "POST", post_headers(session_id, version=VERSION), rpc("tools/call", SIMPLE_TEXT)
    )
    assert response.status == 200, response.body
    message = body_message(response)
    message = message[-1] if isinstance(message, list) else message
    assert message["result"]["content"][0]["text"] == "This is a simple text response for testing."


# -- Redis faults --


@pytest.mark.redis
async def test_redis_stopped_mid_run_is_503_then_recovers(
    start: Start, redis_server: RedisServer, redis_url: str
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        # No record cache: every request must reach the store, so the outage shows at once (with the default
        # cache a session used in the last 2 s would still be served from memory during the outage).
        target = await start(store="redis", redis_url=redis_url, session_cache_ttl=0)
        old_session = await initialize(target)
        await assert_session_works(target, old_session)

        redis_server.stop()
        try:
            await assert_all_unavailable(target, old_session)
            await assert_stateless_works(target)
            # Still up, still clean: the same requests again.
            await assert_all_unavailable(target, old_session)
        finally:
            redis_server.start()  # same port, no data: the test server does not persist
        assert redis_server.ping()

        # Back without restarting the app. The old record went with the Redis process, so that session is
        # unknown now (404 tells the client to initialize anew); a new one works.
        response = await target.request("POST", post_headers(old_session, version=VERSION), rpc("tools/list"))
        assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")
        new_session = await initialize(target)
        assert new_session != old_session
        await assert_session_works(target, new_session)
        response = await target.request("DELETE", session_headers(new_session), None)
        assert response.status == 200, response.body


@pytest.mark.redis
async def test_app_started_while_redis_is_down_is_503_then_recovers(start: Start) -> None:
    port = free_port()  # nothing listens here
    with trio.fail_after(TEST_TIMEOUT):
        target = await start(store="redis", redis_url=f"redis://127.0.0.1:{port}/0")
        await assert_all_unavailable(target, "no-such-session")
        await assert_stateless_works(target)
        await assert_all_unavailable(target, "no-such-session")

        # A Redis appears at that URL: the same app serves sessions.
        with RedisServer(port=port) as late:
            assert late.ping()
            session_id = await initialize(target)
            await assert_session_works(target, session_id)
            response = await target.request("DELETE", session_headers(session_id), None)
            assert response.status == 200, response.body


# -- principal binding --


def principal_from_header(scope: dict[str, Any]) -> str | None:
    return dict(scope["headers"]).get(b"x-user", b"").decode() or None


async def test_a_session_is_invisible_to_another_principal(any_start: Start) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        target = await any_start(principal=principal_from_header)
        response = await target.request("POST", post_headers(extra=[("x-user", "alice")]), init_body())
        assert response.status == 200, response.body
        session_id = response.header("mcp-session-id")
        assert session_id
        response = await target.request(
            "POST",
            post_headers(session_id, version=VERSION, extra=[("x-user", "alice")]),
            note("notifications/initialized"),
        )
        assert response.status == 202, response.body

        as_alice = [("x-user", "alice")]
        for intruder in ([("x-user", "bob")], []):  # another user, and no user at all
            response = await target.request(
                "POST", post_headers(session_id, version=VERSION, extra=intruder), rpc("tools/list")
            )
            assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")
            get = [*session_headers(session_id), ("accept", "text/event-stream"), *intruder]
            assert_error(await target.request("GET", get, None), 404, SESSION_NOT_FOUND, "Session not found")
            response = await target.request("DELETE", [*session_headers(session_id), *intruder], None)
            assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")

        # Untouched by all that: alice's POST and GET work.
        response = await target.request(
            "POST", post_headers(session_id, version=VERSION, extra=as_alice), rpc("tools/call", SIMPLE_TEXT)
        )
        assert response.status == 200, response.body
        assert body_message(response)["result"]["content"][0]["type"] == "text"
        async with await RawConnection.open(target.host, target.port) as conn:
            await conn.send(
                "GET",
                "/mcp",
                [*session_headers(session_id), ("accept", "text/event-stream"), *as_alice],
                None,
            )
            head = await conn.read_head()
            assert head.status == 200, head
            assert head.content_type == "text/event-stream"

        response = await target.request("DELETE", [*session_headers(session_id), *as_alice], None)
        assert response.status == 200, response.body
        response = await target.request(
            "POST", post_headers(session_id, version=VERSION, extra=as_alice), rpc("tools/list")
        )
        assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")


@pytest.mark.redis
async def test_recently_used_session_is_served_from_the_record_cache_while_redis_is_down(
    start: Start, redis_server: RedisServer, redis_url: str
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        target = await start(store="redis", redis_url=redis_url, session_cache_ttl=60)
        session = await initialize(target)
        redis_server.stop()
        try:
            # The record was written a moment ago: the cache answers without a store round trip.
            response = await target.request(
                "POST", post_headers(session, version=VERSION, accept=JSON), rpc("tools/list")
            )
            assert response.status == 200, response.body
            assert b'"tools"' in response.body
        finally:
            redis_server.start()


async def test_requests_of_another_principal_do_not_keep_the_session_alive(any_start: Start) -> None:
    # A foreign principal's requests are answered 404; they must not refresh the victim's TTL either (an
    # attacker who learned an id could otherwise keep a session from ever expiring).
    with trio.fail_after(TEST_TIMEOUT):
        target = await any_start(principal=principal_from_header)
        response = await target.request("POST", post_headers(extra=[("x-user", "alice")]), init_body())
        session_id = response.header("mcp-session-id")
        assert session_id
        target.app._sessions.take_touched()  # forget alice's own accesses
        for _ in range(3):
            response = await target.request(
                "POST",
                post_headers(session_id, version=VERSION, extra=[("x-user", "bob")]),
                rpc("tools/list"),
            )
            assert_error(response, 404, SESSION_NOT_FOUND, "Session not found")
            get = [*session_headers(session_id), ("accept", "text/event-stream"), ("x-user", "bob")]
            assert_error(await target.request("GET", get, None), 404, SESSION_NOT_FOUND, "Session not found")
        assert session_id not in target.app._sessions.take_touched()
        assert session_id not in target.app._sessions.live


@pytest.mark.redis
async def test_a_get_while_redis_is_down_is_503_not_an_empty_stream(
    start: Start, redis_server: RedisServer, redis_url: str
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        # The record cache still knows the session, so only the stream manager can tell that the stream would
        # hear no other instance.
        target = await start(store="redis", redis_url=redis_url, session_cache_ttl=60)
        session_id = await initialize(target)
        redis_server.stop()
        try:
            get = [*session_headers(session_id), ("accept", "text/event-stream")]
            response = await target.request("GET", get, None)
            assert_error(response, 503, INTERNAL_ERROR, "Service Unavailable", "stream manager", "retry")
            assert response.header("retry-after") == "1"
            # The operator's log has the details; the client is not told where Redis lives.
            host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
            assert port.encode() not in response.body
            assert host.encode() not in response.body
        finally:
            redis_server.start()
