"""A Redis that is reachable but refuses us (a wrong password, an ACL): a clear startup failure, and at run
time a 503 with a clear JSON-RPC error and /readyz 503 — never an empty 500 with a traceback."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from _rawhttp import Target, assert_error, init_body, post_headers
from _redis_server import RedisServer

from examples.everything import server
from trio_mcp._proto.errors import INTERNAL_ERROR
from trio_mcp.stores import StoreError

pytestmark = pytest.mark.redis


@pytest.fixture
def acl_user(redis_server: RedisServer) -> Iterator[str]:
    """A Redis ACL user `<name>` with the password "secret" and every right; removed afterwards."""
    name = f"trio-{secrets.token_hex(3)}"
    redis_server.command("ACL", "SETUSER", name, "on", ">secret", "~*", "&*", "+@all")
    yield name
    redis_server.command("ACL", "DELUSER", name)


def url_for(redis_server: RedisServer, user: str, password: str) -> str:
    return f"redis://{user}:{password}@127.0.0.1:{redis_server.port}/0"


async def test_a_wrong_password_fails_the_start_with_one_clear_message(
    redis_server: RedisServer, acl_user: str
) -> None:
    app = server.asgi_app(store="redis", redis_url=url_for(redis_server, acl_user, "wrong"))
    with pytest.raises(StoreError, match="the session store refused this server") as info:
        async with app.lifespan():
            pass
    assert "wrong" not in str(info.value)  # the password is redacted


async def test_a_refusal_at_run_time_is_a_503_with_a_clear_error(
    start: Any, redis_server: RedisServer, acl_user: str
) -> None:
    target: Target = await start(
        store="redis",
        redis_url=url_for(redis_server, acl_user, "secret"),
        redis_prefix=f"r{secrets.token_hex(3)}:",
    )
    redis_server.command("ACL", "SETUSER", acl_user, "-@all")  # the operator took our rights away
    response = await target.request("POST", post_headers(), init_body())
    error = assert_error(response, 503, INTERNAL_ERROR, "the session store refused this server")
    assert str(redis_server.port) not in json.dumps(error)  # no address for clients
    async with await target.connect() as conn:
        ready = await conn.request("GET", "/readyz", [], None)
    assert ready.status == 503
    assert "the session store cannot be reached" in json.loads(ready.body)["problems"]
