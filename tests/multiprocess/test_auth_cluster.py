"""Authorization across REAL hypercorn processes sharing the test Redis (examples/auth.py on three instances, one
resource URL, tokens of its development issuer): a user's sessions are bound to them on every instance, and
`app.sessions.revoke_all(principal)` on one instance ends that user's streams held by another at once; every
later request of those sessions is 404 everywhere, and other users are untouched."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from _cluster import open_get
from _instances import Instance, bounded, run_cluster
from _rawhttp import RawConnection
from _redis_server import RedisServer

from trio_mcp.auth import DevelopmentIssuer

pytestmark = [pytest.mark.multiprocess, pytest.mark.redis]

PREFIX = "authcluster:"
RESOURCE = "http://mcp.test/mcp"  # behind one load balancer URL: the same audience on every instance
VERSION = "2025-11-25"
Json = dict[str, Any]


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth-cluster-key") / "dev-issuer.pem"


@pytest.fixture(scope="module")
def cluster(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory, key_file: Path
) -> Iterator[list[Instance]]:
    logs = tmp_path_factory.mktemp("auth-cluster")
    DevelopmentIssuer(key_file=key_file)  # the key exists before the instances read it
    with run_cluster(
        redis_server,
        logs,
        PREFIX,
        app="examples.auth:app",
        TRIO_MCP_DEV_ISSUER_KEY=str(key_file),
        TRIO_MCP_AUTH_RESOURCE=RESOURCE,
    ) as instances:
        yield instances


@pytest.fixture(scope="module")
def issuer(key_file: Path) -> DevelopmentIssuer:
    return DevelopmentIssuer(key_file=key_file)


def token(issuer: DevelopmentIssuer, subject: str, *scopes: str) -> str:
    return issuer.mint(subject, scopes=["mcp", *scopes], audience=RESOURCE)


def headers(bearer: str, sid: str | None = None) -> list[tuple[str, str]]:
    h = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("authorization", f"Bearer {bearer}"),
        ("mcp-protocol-version", VERSION),
    ]
    return h if sid is None else [*h, ("mcp-session-id", sid)]


def rpc(method: str, params: Json | None = None, id: int | None = 1) -> bytes:
    message: Json = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        message["id"] = id
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def answer(body: bytes, content_type: str) -> Json:
    if content_type.startswith("text/event-stream"):
        data = [line[5:].strip() for line in body.decode().splitlines() if line.startswith("data:")]
        body = next(d for d in data if d).encode()
    result: Json = json.loads(body)
    return result


async def post(instance: Instance, bearer: str, sid: str | None, message: bytes) -> tuple[int, Json | None]:
    response = await instance.target.request("POST", headers(bearer, sid), message)
    body = answer(response.body, response.content_type) if response.body else None
    return response.status, body


async def open_session(instance: Instance, bearer: str) -> str:
    initialize = rpc(
        "initialize",
        {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "cluster", "version": "1"}},
    )
    response = await instance.target.request("POST", headers(bearer), initialize)
    assert response.status == 200, (instance.name, response)
    sid = response.header("mcp-session-id")
    assert sid is not None
    status, _ = await post(instance, bearer, sid, rpc("notifications/initialized", id=None))
    assert status == 202
    return sid


@asynccontextmanager
async def get_stream(instance: Instance, bearer: str, sid: str) -> AsyncIterator[RawConnection]:
    with trio.fail_after(10):
        conn = await open_get(instance.target, sid, [("authorization", f"Bearer {bearer}")])
    async with conn:
        yield conn


async def until_end(conn: RawConnection) -> None:
    while (event := await conn.next_event()) is not None:
        assert not event.data or "ping" not in event.data, event


@bounded(90)
async def test_revoke_all_on_one_instance_ends_the_users_streams_everywhere_at_once(
    cluster: list[Instance], issuer: DevelopmentIssuer
) -> None:
    a, b, c = cluster
    alice, bob = token(issuer, "alice"), token(issuer, "bob")
    admin = token(issuer, "root", "admin")
    alice_sessions = [await open_session(a, alice), await open_session(c, alice)]
    bob_session = await open_session(b, bob)
    admin_session = await open_session(a, admin)
    # Bound on every instance: alice's session is unknown to bob wherever he asks.
    for instance in cluster:
        status, body = await post(instance, bob, alice_sessions[0], rpc("tools/list"))
        assert status == 404, (instance.name, body)
    async with (
        get_stream(b, alice, alice_sessions[0]) as alice_stream,
        get_stream(b, bob, bob_session) as bob_stream,
    ):
        status, body = await post(
            a,
            admin,
            admin_session,
            rpc("tools/call", {"name": "log_out_everywhere", "arguments": {"subject": "alice"}}),
        )
        assert status == 200, body
        assert body is not None
        assert body["result"]["content"][0]["text"] == (
            "ended 2 session(s) of https://dev-issuer.trio-mcp.invalid#alice"
        )
        with trio.fail_after(1.0):  # the issue's bound: the stream on B closes within a second
            await until_end(alice_stream)
        # Bob's stream on the same instance is still open: its keep-alive comes (1 s interval).
        with trio.fail_after(5):
            event = await bob_stream.next_event()
        assert event is not None
    for sid in alice_sessions:
        for instance in cluster:
            status, body = await post(instance, alice, sid, rpc("tools/list"))
            assert status == 404, (instance.name, sid, body)
            assert body is not None
            assert body["error"]["code"] == -32001
    status, body = await post(c, bob, bob_session, rpc("tools/list"))
    assert status == 200, body
