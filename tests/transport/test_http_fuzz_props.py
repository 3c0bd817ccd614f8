"""Property-based fuzzing of the Streamable HTTP app on a real hypercorn (127.0.0.1, port 0).

Hypothesis generates request bodies (arbitrary bytes, JSON-RPC-ish messages and batches, initialize with hostile
params, lone surrogates, huge numbers, deep nesting) and header values (Accept, Content-Type, Mcp-Session-Id,
MCP-Protocol-Version, Origin, Last-Event-ID; any latin-1 bytes but CR/LF), sent in a session and statelessly.
Each example gets its own app and server (starting one costs about a millisecond), so every example is
independent and shrinks on its own. The hand-written cases are in test_http_fuzz.py.

Invariants: no 5xx but 503; every error body is a JSON-RPC error with an integer code and a message; no
traceback; SSE answers decode and carry JSON; the server answers a valid call afterwards; with the file store,
no write fails and the file reloads every session.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import trio
from _fuzz import (
    METHODS,
    QUICK_TOOLS,
    deeply_nested,
    json_bodies,
    json_leaves,
    json_object,
    json_object_texts,
    json_texts,
    jsonrpc_replies,
    long_number_literals,
    message_text,
    nested_objects,
    number_literals,
    scaled,
    strict_json,
    string_literals,
    valid_json_object_texts,
    valid_json_texts,
    valid_string_literals,
    wire_bytes,
)
from _rawhttp import (
    ACCEPT_BOTH,
    JSON,
    RawResponse,
    Target,
    assert_no_traceback,
    body_message,
    initialize,
    post_headers,
    rpc,
    start_app,
)
from hypothesis import event, given, note
from hypothesis import strategies as st

from examples.everything import server
from trio_mcp._proto.versions import SUPPORTED_VERSIONS
from trio_mcp._stores._base import record_to_json
from trio_mcp._stores.file import FileSessionStore

pytestmark = pytest.mark.fuzz

EXAMPLE_TIMEOUT = 30  # seconds for one whole example (server start, every request, checks, stop)
INITIALIZED = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
SESSION = "<the session id>"  # a header value standing for the id of the session the example initialized

# -- what is sent --

# Any header bytes but CR and LF, which frame the header block rather than being part of a value.
header_bytes = st.binary(max_size=40).map(lambda value: value.replace(b"\r", b"").replace(b"\n", b""))

MEANINGFUL_VALUES: dict[str, list[str]] = {
    "accept": [
        ACCEPT_BOTH,
        JSON,
        "text/event-stream",
        "*/*",
        "application/*",
        "text/*;q=0.5, application/json;q=0",
        "application/json, text/event-stream;q=0",
        "",
        "image/png",
    ],
    "content-type": [
        JSON,
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "APPLICATION/JSON",
        "application/json-seq",
        "text/plain",
        "",
    ],
    "mcp-session-id": [SESSION, SESSION, SESSION, "", "no-such-session", "x" * 300],
    "mcp-protocol-version": [*SUPPORTED_VERSIONS, "2026-07-28", "2024-11-05", "", "latest"],
    "origin": [
        "http://127.0.0.1",
        "http://localhost:8000",
        "https://evil.example",
        "null",
        "",
        "http://[::1]",
    ],
    "last-event-id": ["0", "abc:1", "x" * 300, ""],
}


def header_value(name: str) -> st.SearchStrategy[str | bytes | None]:
    """A meaningful value, arbitrary bytes, or None (the header is left out)."""
    return st.one_of(st.sampled_from(MEANINGFUL_VALUES[name]), header_bytes, st.none())


header_overrides = st.fixed_dictionaries(
    {}, optional={name: header_value(name) for name in MEANINGFUL_VALUES}
)

supported_versions = st.sampled_from(SUPPORTED_VERSIONS).map(json.dumps)
odd_objects = st.one_of(
    valid_json_object_texts,
    st.builds(lambda number: '{"n":' + number + "}", number_literals),
    st.builds(lambda inner: '{"deep":' + inner + "}", nested_objects),
)
"""Objects that parse, holding huge numbers, 1e400/NaN literals, deep nesting or arbitrary members."""

client_infos = st.builds(
    lambda name, version, extra: json_object([('"name"', name), ('"version"', version), *extra]),
    valid_string_literals,
    valid_string_literals,
    st.lists(
        st.one_of(
            st.tuples(st.sampled_from(['"title"', '"description"']), valid_string_literals),
            st.tuples(st.sampled_from(['"x"', '"_meta"']), valid_json_texts),  # unknown members are ignored
            st.tuples(st.sampled_from(['"icons"', '"websiteUrl"']), valid_json_texts),
        ),
        max_size=2,
    ),
)
odd_capabilities = st.one_of(
    st.builds(
        lambda key, value, roots: (
            '{"experimental":{' + key + ":" + value + '},"roots":{"listChanged":' + roots + "}}"
        ),
        valid_string_literals,
        odd_objects,
        st.sampled_from(["true", "false"]),
    ),
    st.builds(lambda sampling: '{"sampling":' + sampling + ',"elicitation":{}}', odd_objects),
    st.builds(lambda tasks: '{"tasks":' + tasks + "}", odd_objects),
)
"""Capabilities of the right shape holding odd values (huge numbers, 1e400, NaN, deep nesting)."""


def initialize_text(request_id: str, version: str, capabilities: str, client_info: str) -> str:
    params = [('"protocolVersion"', version), ('"capabilities"', capabilities), ('"clientInfo"', client_info)]
    return message_text(
        {"jsonrpc": '"2.0"', "id": request_id, "method": '"initialize"', "params": json_object(params)}
    )


accepted_initializes = st.builds(
    initialize_text,
    st.one_of(st.integers().map(str), valid_string_literals),
    supported_versions,
    odd_capabilities,
    client_infos,
)
"""initialize requests that the server accepts (mostly): each creates a session record."""

hostile_initializes = st.builds(
    initialize_text,
    st.one_of(st.integers().map(str), valid_string_literals),
    st.one_of(supported_versions, valid_string_literals, json_leaves),
    st.one_of(
        odd_capabilities,
        json_object_texts,
        json_texts,
        st.builds(lambda inner: '{"experimental":{"x":' + inner + "}}", deeply_nested),
        st.builds(lambda number: '{"experimental":{"x":{"n":' + number + "}}}", long_number_literals),
    ),
    st.one_of(client_infos, json_texts),
)
"""initialize requests that the server may accept (creating a session record) or refuse."""


def rpc_text(method: str, value: str, request_id: str) -> str:
    """A logging/setLevel (level) or resources/(un)subscribe (uri) request with `value` as its one param."""
    key = '"level"' if method == "logging/setLevel" else '"uri"'
    return message_text(
        {
            "jsonrpc": '"2.0"',
            "id": request_id,
            "method": json.dumps(method),
            "params": json_object([(key, value)]),
        }
    )


session_changes = st.builds(
    rpc_text,
    st.sampled_from(["logging/setLevel", "resources/subscribe", "resources/unsubscribe"]),
    st.one_of(
        string_literals, json_leaves, st.sampled_from(['"debug"', '"emergency"', '"test://static-text"'])
    ),
    st.integers(0, 2**70).map(str),
)
"""Requests that change the session record (log level, subscriptions) with hostile values."""

known_calls = st.builds(
    lambda method, request_id, params: message_text(
        {"jsonrpc": '"2.0"', "id": request_id, "method": json.dumps(method), **params}
    ),
    st.sampled_from([m for m in METHODS if m != "initialize"]),
    st.integers(0, 2**70).map(str),
    st.fixed_dictionaries(
        {},
        optional={
            "params": st.one_of(
                json_object_texts,
                st.builds(
                    lambda name, args: json_object([('"name"', name), ('"arguments"', args)]),
                    st.sampled_from(QUICK_TOOLS).map(json.dumps),
                    json_object_texts,
                ),
            )
        },
    ),
)
"""Requests of the methods the server knows (not initialize) with odd params; tools/call only quick tools."""

bodies = st.one_of(
    st.binary(max_size=200),
    st.one_of(json_bodies, hostile_initializes).map(wire_bytes),
    st.one_of(session_changes, known_calls).map(wire_bytes),
)
"""Request bodies: bytes, JSON-RPC-ish text (raw lone surrogates encode as invalid UTF-8), known calls."""

modes = st.sampled_from(["session", "session-json", "stateless", "no-session"])
"""In the example's session (Accept both / JSON only), stateless (Accept: JSON, no id), or SSE without an id."""

requests = st.tuples(bodies, modes, st.one_of(st.just({}), st.just({}), header_overrides))
session_versions = st.sampled_from(SUPPORTED_VERSIONS)


def request_headers(
    mode: str, session_id: str, overrides: dict[str, str | bytes | None]
) -> list[tuple[str, bytes]]:
    headers: dict[str, bytes] = {
        "content-type": JSON.encode(),
        "accept": (JSON if mode in ("stateless", "session-json") else ACCEPT_BOTH).encode(),
    }
    if mode.startswith("session"):
        headers["mcp-session-id"] = session_id.encode()
    for name, value in overrides.items():
        if value is None:
            headers.pop(name, None)
        else:
            raw = value if isinstance(value, bytes) else value.encode()
            headers[name] = session_id.encode() if raw == SESSION.encode() else raw
    return list(headers.items())


# -- what every answer must be --


def check_error_body(body: Any) -> None:
    assert isinstance(body, dict), body
    assert body.get("jsonrpc") == "2.0", body
    error = body.get("error")
    assert isinstance(error, dict), body
    code = error.get("code")
    assert isinstance(code, int), body
    assert not isinstance(code, bool), body
    message = error.get("message")
    assert isinstance(message, str), body
    assert message.strip(), body


def check_messages(payload: Any) -> None:
    """One JSON-RPC message or a batch of them, as the server sends them."""
    items = payload if isinstance(payload, list) else [payload]
    assert items, payload
    for item in items:
        assert isinstance(item, dict), payload
        assert item.get("jsonrpc") == "2.0", item
        if "method" in item:
            assert isinstance(item["method"], str), item  # a server-to-client notification or request
        elif "error" in item:
            assert "result" not in item, item
            check_error_body(item)
        else:
            assert isinstance(item.get("result"), dict), item


def check_answer(response: RawResponse) -> None:
    """What any answer to any request keeps: no 5xx but 503, JSON-RPC error bodies, decodable SSE."""
    event(f"HTTP {response.status} {response.content_type or '(no content type)'}")
    assert_no_traceback(response)
    assert response.status < 500 or response.status == 503, (response.status, response.body[:500])
    if response.content_type == "text/event-stream":
        assert response.status == 200, response
        for sse in response.events():
            if sse.data:
                check_messages(strict_json(sse.data.encode()))
    elif response.status >= 400:
        if response.body:
            assert response.content_type == "application/json", (response.headers, response.body[:500])
            check_error_body(strict_json(response.body))
    elif response.status == 202:
        assert response.body == b"", response
    else:
        assert response.status == 200, response
        assert response.content_type == "application/json", response
        check_messages(strict_json(response.body))


async def send(target: Target, headers: list[tuple[str, bytes]], body: bytes) -> RawResponse:
    """One POST exactly as given (raw header bytes), on a fresh connection."""
    note(f"POST {headers!r} {body[:2000]!r}")
    async with await target.connect() as conn:
        response = await conn.raw_request(
            "POST", target.path, [*headers, ("content-length", str(len(body)))], body
        )
    note(f"-> {response.status} {response.body[:500]!r}")
    return response


async def assert_still_serves(target: Target, session_id: str) -> None:
    """A valid tools/list works in the session and statelessly."""
    response = await target.request("POST", post_headers(session_id), rpc("tools/list", id="after"))
    assert response.status == 200, response.body
    assert body_message(response)["result"]["tools"]
    response = await target.request("POST", post_headers(accept=JSON), rpc("tools/list", id="after"))
    assert response.status == 200, response.body
    assert response.json()["result"]["tools"]


async def run_example(
    app: Any, version: str, exchanges: list[tuple[bytes, str, dict[str, str | bytes | None]]]
) -> None:
    """Serve `app`, open a session, send every exchange, check every answer and the server afterwards."""
    async with trio.open_nursery() as nursery:
        target = await start_app(nursery, app)
        session_id = await initialize(target, version)
        for body, mode, overrides in exchanges:
            check_answer(await send(target, request_headers(mode, session_id, overrides), body))
        await assert_still_serves(target, session_id)
        nursery.cancel_scope.cancel()


# -- the properties --


client_replies = st.tuples(
    jsonrpc_replies.map(wire_bytes), st.sampled_from(["session", "session-json"]), st.just({})
)
"""Responses and error responses posted in the session, as a client answers a server's request."""


@scaled(2)
@given(
    session_versions,
    st.lists(st.one_of(st.tuples(bodies, modes, st.just({})), client_replies), min_size=1, max_size=5),
)
async def test_hostile_bodies_get_json_rpc_answers_and_never_a_5xx(
    version: str, exchanges: list[tuple[bytes, str, dict[str, str | bytes | None]]]
) -> None:
    """Any body, in a session or not: a JSON-RPC answer (or 202), never a 5xx, and the server keeps serving."""
    with trio.fail_after(EXAMPLE_TIMEOUT):
        await run_example(server.asgi_app(), version, exchanges)


@scaled(2)
@given(
    session_versions,
    st.lists(
        st.tuples(
            st.one_of(
                st.just(rpc("ping")),
                st.just(rpc("tools/list", id="t")),
                hostile_initializes.map(wire_bytes),
                bodies,
            ),
            modes,
            header_overrides,
        ),
        min_size=1,
        max_size=5,
    ),
)
async def test_hostile_header_values_get_json_rpc_errors_and_never_a_5xx(
    version: str, exchanges: list[tuple[bytes, str, dict[str, str | bytes | None]]]
) -> None:
    """Any Accept/Content-Type/Mcp-Session-Id/MCP-Protocol-Version/Origin/Last-Event-ID bytes: a clear 4xx
    with a JSON-RPC error (or a bare 400 from the HTTP parser), never a 5xx; the server keeps serving."""
    with trio.fail_after(EXAMPLE_TIMEOUT):
        await run_example(server.asgi_app(), version, exchanges)


new_sessions = st.tuples(
    st.one_of(accepted_initializes, accepted_initializes, hostile_initializes).map(wire_bytes),
    st.just("no-session"),  # SSE accepted and no session id: a stateful initialize
    st.just({}),
)


@scaled(2)
@given(
    session_versions,
    st.builds(
        lambda first, rest: [first, *rest],
        new_sessions,  # every example opens at least one more session with hostile client info and capabilities
        st.lists(
            st.one_of(
                new_sessions,
                st.tuples(
                    session_changes.map(wire_bytes), st.sampled_from(["session", "session-json"]), st.just({})
                ),
                st.tuples(st.just(INITIALIZED), st.just("session"), st.just({})),
                requests,
            ),
            max_size=5,
        ),
    ),
)
async def test_file_store_writes_every_fuzzed_session_and_reloads_it(
    version: str, exchanges: list[tuple[bytes, str, dict[str, str | bytes | None]]]
) -> None:
    """Whatever sessions hostile requests create or change (odd capabilities and client info, log levels,
    subscriptions), the file store writes them without an error and a new store reads every one back."""
    with tempfile.TemporaryDirectory() as tmp, trio.fail_after(EXAMPLE_TIMEOUT):
        path = Path(tmp) / "sessions.json"
        app = server.asgi_app(store="file", store_file=str(path))
        async with trio.open_nursery() as nursery:
            target = await start_app(nursery, app)
            session_id = await initialize(target, version)
            created = {session_id}
            for body, mode, overrides in exchanges:
                response = await send(target, request_headers(mode, session_id, overrides), body)
                check_answer(response)
                if new_id := response.header("mcp-session-id"):
                    created.add(new_id)
            await assert_still_serves(target, session_id)
            await app.store.flush()
            assert app.store.statistics().write_errors == 0
            written = {sid: record_to_json(await app.store.get(sid)) async for sid in app.store.keys()}  # noqa: SIM118
            nursery.cancel_scope.cancel()
        assert app.store.statistics().write_errors == 0
        assert created <= set(written), "every session id handed out is in the store"
        event(f"{len(written)} sessions in the file")
        async with FileSessionStore(path) as reloaded:
            assert {sid: record_to_json(await reloaded.get(sid)) async for sid in reloaded.keys()} == written  # noqa: SIM118
