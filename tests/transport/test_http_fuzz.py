"""Bad input over a real socket: malformed JSON and JSON-RPC, huge and lying bodies, odd header bytes, random bytes.

Every answer must be a clear 4xx (a JSON-RPC error body saying what is wrong when the request reached the app),
never a 5xx or a traceback, and the server must stay healthy afterwards.

A representative slice runs on the memory and on the Redis backends (`any_target`): malformed JSON, deep
nesting, wrong JSON-RPC shapes, unknown methods and bad params, huge and lying bodies, odd header bytes, and
the random JSON-RPC messages sent inside a session. The cases that HTTP parsing or a check before any session
lookup decides (absurd Content-Length, a non-Latin Host, random non-JSON bytes) stay on the memory backends.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from _rawhttp import (
    ACCEPT_BOTH,
    JSON,
    RawConnection,
    RawResponse,
    Target,
    assert_error,
    assert_no_traceback,
    body_message,
    initialize,
    post_headers,
    rpc,
)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600

Start = Callable[..., Awaitable[Target]]


async def assert_healthy(target: Target, session_id: str | None = None) -> None:
    """A follow-up tools/list works (in the session if given, and statelessly)."""
    if session_id is not None:
        response = await target.request("POST", post_headers(session_id), rpc("tools/list", id="after"))
        assert response.status == 200, response.body
        assert body_message(response)["result"]["tools"]
    response = await target.request("POST", post_headers(accept=JSON), rpc("tools/list", id="after"))
    assert response.status == 200, response.body
    assert response.json()["result"]["tools"]


# ===== malformed JSON and JSON-RPC =====


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b"{'single': 'quotes'}",
        b"\xff\xfe\x00{",
        b'{"jsonrpc":"2.0",}',
        b"\x00",
        b"nul",
    ],
)
@pytest.mark.parametrize("mode", ["session", "stateless", "no-session"])
async def test_invalid_json_is_400_parse_error(any_target: Target, body: bytes, mode: str) -> None:
    session_id = await initialize(any_target) if mode == "session" else None
    headers = post_headers(session_id, accept=JSON if mode == "stateless" else ACCEPT_BOTH)
    response = await any_target.request("POST", headers, body)
    assert_error(response, 400, PARSE_ERROR, "Parse error", "JSON")
    await assert_healthy(any_target, session_id)


async def test_deeply_nested_json_is_400_not_500(any_target: Target) -> None:
    session_id = await initialize(any_target)
    for body in (
        b"[" * 100_000,
        b'{"a":' * 50_000,
        rpc("ping", {"x": "PLACEHOLDER"}).replace(b'"PLACEHOLDER"', b"[" * 5000 + b"]" * 5000),
    ):
        for headers in (post_headers(session_id), post_headers(accept=JSON)):
            response = await any_target.request("POST", headers, body)
            assert_error(response, 400, PARSE_ERROR, "nested too deeply")
    await assert_healthy(any_target, session_id)


WRONG_SHAPES = [
    (b"{}", '"jsonrpc" must be exactly "2.0"'),
    (b'{"jsonrpc":"2.0","id":1}', 'expected "method"'),
    (b"[]", "empty JSON array"),
    (b'{"jsonrpc":"1.0","id":1,"method":"ping"}', '"jsonrpc" must be exactly "2.0"'),
    (b'{"id":1,"method":"ping"}', '"jsonrpc" must be exactly "2.0"'),
    (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', '"id" must be a string or an integer, got null'),
    (b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', '"id" must be a string or an integer, got an object'),
    (b'{"jsonrpc":"2.0","id":[1],"method":"ping"}', '"id" must be a string or an integer'),
    (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', '"id" must be a string or an integer'),
    (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', '"id" must be a string or an integer'),
    (b'{"jsonrpc":"2.0","id":1,"method":42}', '"method" must be a non-empty string'),
    (b'{"jsonrpc":"2.0","id":1,"method":""}', '"method" must be a non-empty string'),
    (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[1,2]}', '"params" must be an object'),
    (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}', '"params" must be an object'),
    (b'{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}', 'either "result" or "error"'),
    (b'{"jsonrpc":"2.0","id":1,"result":[]}', '"result" must be an object'),
    (b'{"jsonrpc":"2.0","id":1,"error":"bad"}', '"error" must be an object'),
    (b'{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}', '"error.code" must be an integer'),
    (b"42", "expected a JSON object, got a number"),
    (b'"ping"', "expected a JSON object, got a string"),
    (b"null", "expected a JSON object"),
]


@pytest.mark.parametrize(("body", "phrase"), WRONG_SHAPES, ids=[b.decode()[:40] for b, _ in WRONG_SHAPES])
async def test_wrong_json_rpc_shapes_are_400_invalid_request(
    any_target: Target, body: bytes, phrase: str
) -> None:
    session_id = await initialize(any_target)
    for headers in (post_headers(session_id), post_headers(accept=JSON)):
        response = await any_target.request("POST", headers, body)
        assert_error(response, 400, INVALID_REQUEST, "Invalid Request", phrase)
    await assert_healthy(any_target, session_id)


async def test_unknown_method_and_bad_params_are_json_rpc_errors(any_target: Target) -> None:
    session_id = await initialize(any_target)
    for headers in (post_headers(session_id), post_headers(accept=JSON)):
        response = await any_target.request("POST", headers, rpc("no/such/method", id=9))
        message = body_message(response)
        assert message["id"] == 9
        assert message["error"]["code"] == -32601
        assert "no/such/method" in message["error"]["message"]
        response = await any_target.request(
            "POST", headers, rpc("logging/setLevel", {"level": "loud"}, id=10)
        )
        message = body_message(response)
        assert message["id"] == 10
        assert message["error"]["code"] == -32602
        assert "level" in message["error"]["message"]
        assert_no_traceback(response)
    await assert_healthy(any_target, session_id)


# ===== huge and lying bodies =====


async def test_huge_bodies(any_target: Target) -> None:
    session_id = await initialize(any_target)
    limit = any_target.app.config.max_body_size
    # Just under the default 4 MiB: parsed and answered.
    big = rpc("ping", {"pad": "PAD"}, id="big")
    big = big.replace(b"PAD", b"y" * (limit - len(big) + 3))
    assert len(big) == limit
    response = await any_target.request("POST", post_headers(session_id), big)
    assert body_message(response) == {"jsonrpc": "2.0", "id": "big", "result": {}}
    # 5 MiB with Content-Length: refused before the body is read (the server may close while we still send).
    huge = b"x" * (5 * 1024 * 1024)
    async with await any_target.connect() as conn:
        response = await conn.request("POST", any_target.path, post_headers(session_id), huge)
    assert_error(response, 413, INVALID_REQUEST, "Payload Too Large", str(limit))
    # 5 MiB chunked: refused once the count passes the limit.
    async with await any_target.connect() as conn:
        response = await conn.request(
            "POST", any_target.path, post_headers(accept=JSON), None, chunks=[b"x" * 65536] * 80
        )
    assert_error(response, 413, INVALID_REQUEST, "Payload Too Large")
    await assert_healthy(any_target, session_id)


async def test_content_length_lies(any_target: Target) -> None:
    session_id = await initialize(any_target)
    message = rpc("ping", id=1)
    headers = post_headers(session_id)
    # Shorter than the body: the app sees a truncated body (parse error); the rest is garbage on the wire.
    async with await any_target.connect() as conn:
        response = await conn.raw_request(
            "POST", any_target.path, [*headers, ("content-length", "5")], message
        )
    assert_error(response, 400, PARSE_ERROR, "Parse error")
    # Longer than the body, then the client stops sending: a 4xx, no traceback.
    async with await any_target.connect() as conn:
        await conn.send_raw(
            b"POST /mcp HTTP/1.1\r\nhost: "
            + conn.host_header.encode()
            + b"\r\ncontent-type: application/json\r\n"
            b"accept: application/json\r\ncontent-length: 100\r\n\r\n" + message
        )
        await conn.stream.send_eof()
        with trio.fail_after(5):
            response = await conn.read_response()
    assert 400 <= response.status < 500
    assert_no_traceback(response)
    await assert_healthy(any_target, session_id)


@pytest.mark.parametrize(
    "value", ["99999999999999999999999", "-1", "abc", "1e3", "10, 11", " ", "0x10"], ids=repr
)
async def test_absurd_content_length_is_400_from_the_http_layer(target: Target, value: str) -> None:
    # h11 (inside hypercorn) rejects these before the app runs: a bare 400, never a 5xx or a traceback.
    async with await target.connect() as conn:
        response = await conn.raw_request(
            "POST", target.path, [*post_headers(accept=JSON), ("content-length", value)], rpc("ping")
        )
    assert response.status == 400, response
    assert_no_traceback(response)
    await assert_healthy(target)


async def test_content_length_beyond_the_limit_is_413_before_reading(target: Target) -> None:
    async with await target.connect() as conn:
        response = await conn.raw_request(
            "POST", target.path, [*post_headers(accept=JSON), ("content-length", "9999999999999999999")], b""
        )
    assert_error(response, 413, INVALID_REQUEST, "Payload Too Large")


# ===== header bytes =====


NON_LATIN = "é☃中".encode()


@pytest.mark.parametrize(
    ("name", "value", "status", "phrase"),
    [
        ("mcp-session-id", b"s" + NON_LATIN, 404, "Session not found"),
        ("mcp-protocol-version", b"2025-11-25" + NON_LATIN, 400, "MCP-Protocol-Version"),
        ("origin", b"http://" + NON_LATIN + b".example", 403, "Origin"),
        ("content-type", b"application/json" + NON_LATIN, 415, "Content-Type"),
        ("accept", b"text/" + NON_LATIN, None, None),
        ("x-anything", NON_LATIN, 200, None),
        ("mcp-session-id", b"", 404, "Session not found"),
        ("mcp-protocol-version", b"", 400, "MCP-Protocol-Version"),
    ],
)
async def test_non_latin_and_odd_header_values(
    any_target: Target, name: str, value: bytes, status: int | None, phrase: str | None
) -> None:
    headers = [(k, v) for k, v in post_headers(accept=JSON) if k != name]
    headers.append((name, value))
    async with await any_target.connect() as conn:
        response = await conn.raw_request(
            "POST", any_target.path, [*headers, ("content-length", str(len(rpc("ping"))))], rpc("ping")
        )
    assert_no_traceback(response)
    assert response.status < 500
    if status is not None:
        assert response.status == status, response
    if phrase is not None:
        code = {404: -32001}.get(response.status, INVALID_REQUEST)
        assert_error(response, response.status, code, phrase)
    if response.status == 200:
        assert response.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}
    await assert_healthy(any_target)


async def test_non_latin_host_is_421(target: Target) -> None:
    async with await target.connect() as conn:
        response = await conn.raw_request(
            "POST",
            target.path,
            [*post_headers(accept=JSON), ("content-length", str(len(rpc("ping"))))],
            rpc("ping"),
        )
        assert response.status == 200
    async with await target.connect() as conn:
        raw = (
            b"POST /mcp HTTP/1.1\r\nhost: "
            + NON_LATIN
            + b"\r\ncontent-type: application/json\r\naccept: application/json\r\ncontent-length: 2\r\n\r\n{}"
        )
        await conn.send_raw(raw)
        response = await conn.read_response()
    assert response.status in (400, 421)
    assert_no_traceback(response)


# ===== random input =====


def random_bodies(rng: random.Random, count: int) -> list[bytes]:
    """Random byte strings of several flavours: binary noise, printable noise, JSON-looking noise,
    truncated and byte-flipped JSON-RPC messages."""
    valid = [
        rpc("tools/list"),
        rpc("ping", {"_meta": {"progressToken": 1}}),
        rpc("tools/call", {"name": "test_simple_text", "arguments": {}}),
    ]
    bodies: list[bytes] = []
    for i in range(count):
        kind = i % 5
        if kind == 0:
            body = rng.randbytes(rng.randrange(1, 200))
        elif kind == 1:
            body = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 120)))
        elif kind == 2:
            alphabet = b'{}[]":,0123456789.-eEtrufalsn \\/abc'
            body = b"{" + bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
        elif kind == 3:
            source = rng.choice(valid)
            body = source[: rng.randrange(0, len(source) - 1)]
        else:
            # Byte flips; the ones that still parse as JSON may be valid requests, so keep only broken JSON.
            body = b"{}"
            while _is_valid_json(body):
                source = bytearray(rng.choice(valid))
                for _ in range(rng.randrange(1, 4)):
                    source[rng.randrange(len(source))] = rng.choice(b'{}[]":,\x00\xff')
                body = bytes(source)
        bodies.append(body)
    return bodies


def _is_valid_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


async def test_a_thousand_random_bodies_get_4xx_json_errors(target: Target) -> None:
    session_id = await initialize(target)
    rng = random.Random(20251125)
    bodies = random_bodies(rng, 1000)
    modes = [
        post_headers(session_id, version="2025-11-25"),
        post_headers(accept=JSON, version="2025-11-25"),
        post_headers(),
    ]
    seen: dict[int, int] = {}
    bad: list[tuple[bytes, RawResponse]] = []

    async def worker(offset: int, step: int) -> None:
        conn: RawConnection | None = None
        try:
            for index in range(offset, len(bodies), step):
                body = bodies[index]
                if conn is None or not conn.reusable:
                    if conn is not None:
                        await conn.aclose()
                    conn = await target.connect()
                response = await conn.request("POST", target.path, modes[index % len(modes)], body)
                seen[response.status] = seen.get(response.status, 0) + 1
                ok = 400 <= response.status < 500 and response.content_type == "application/json"
                if ok:
                    assert_no_traceback(response)
                    error = response.json()["error"]
                    ok = error["code"] in (PARSE_ERROR, INVALID_REQUEST) and bool(error["message"])
                    if _is_valid_json(body):
                        ok = ok and error["code"] == INVALID_REQUEST
                    else:
                        ok = ok and error["code"] == PARSE_ERROR
                if not ok:
                    bad.append((body, response))
        finally:
            if conn is not None:
                await conn.aclose()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for offset in range(20):
                nursery.start_soon(worker, offset, 20)
    assert not bad, bad[:5]
    assert sum(seen.values()) == 1000
    assert set(seen) == {400}
    await assert_healthy(target, session_id)


def random_json(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.randrange(-(2**40), 2**40)
    if choice == 3:
        return rng.random() * 1e6
    if choice in (4, 5):
        return rng.choice(["", "x", "ping", "2.0", "tools/list", "é☃", "\u0000", "a" * 300])
    if choice == 6:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    keys = ["name", "arguments", "uri", "level", "_meta", "progressToken", "cursor", "ref", "argument", "x"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


SAFE_METHODS = [
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "resources/subscribe",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "no/such/method",
]
SAFE_TOOLS = ["test_simple_text", "test_error_handling", "json_schema_2020_12_tool", "missing_tool", 7, None]


def random_message(rng: random.Random) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": rng.choice(["2.0", "2.0", "2.0", "1.0", 2, None])}
    if rng.random() < 0.8:
        message["method"] = rng.choice([*SAFE_METHODS, 5, "", None])
    if rng.random() < 0.7:
        message["id"] = rng.choice([1, "abc", 2**53, -3, None, 1.5, [], {}, True])
    if rng.random() < 0.8:
        params = random_json(rng)
        if isinstance(params, dict) and message.get("method") == "tools/call":
            params["name"] = rng.choice(SAFE_TOOLS)
        message["params"] = params
    if rng.random() < 0.1:
        message["result"] = random_json(rng)
    if rng.random() < 0.1:
        message["error"] = random_json(rng)
    return message


async def test_random_json_rpc_messages_never_5xx(any_target: Target) -> None:
    session_id = await initialize(any_target)
    rng = random.Random(7)
    messages = [random_message(rng) for _ in range(300)]
    modes = [post_headers(session_id), post_headers(accept=JSON)]
    statuses: dict[int, int] = {}
    failures: list[tuple[Any, RawResponse]] = []

    async def worker(offset: int, step: int) -> None:
        async with await any_target.connect() as conn:
            current = conn
            for index in range(offset, len(messages), step):
                if not current.reusable and index != offset:
                    await current.aclose()
                    current = await any_target.connect()
                body = json.dumps(messages[index]).encode()
                response = await current.request("POST", any_target.path, modes[index % 2], body)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                try:
                    assert_no_traceback(response)
                    assert response.status < 500
                    if response.status == 202:
                        assert response.body == b""
                    elif response.content_type == "text/event-stream":
                        assert response.status == 200
                        for event in response.events():
                            if event.data:
                                assert json.loads(event.data)["jsonrpc"] == "2.0"
                    else:
                        assert response.content_type == "application/json"
                        reply = response.json()
                        assert reply["jsonrpc"] == "2.0"
                        assert ("result" in reply) != ("error" in reply)
                        if response.status >= 400:
                            assert "error" in reply
                except AssertionError:
                    failures.append((messages[index], response))
            if current is not conn:
                await current.aclose()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for offset in range(10):
                nursery.start_soon(worker, offset, 10)
    assert not failures, failures[:5]
    # The mix exercised both paths.
    assert statuses.get(200, 0) > 0
    assert statuses.get(400, 0) > 0
    await assert_healthy(any_target, session_id)
