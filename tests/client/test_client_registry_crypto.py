"""Encryption at rest of the records' auth state (TRIO_MCP_CLIENT_STORE_KEY): AES-256-GCM, a key ring, records
bound to their (user_id, session_id), and a clear error rather than silently dropped tokens."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from trio_mcp._runtime.sealing import new_key
from trio_mcp._stores._base import Clock
from trio_mcp.client_sessions import (
    ClientAuthUnreadable,
    ClientRegistryConfigError,
    ClientSessionExpiry,
    ClientSessionRecord,
    ClientSessionRegistry,
    FileClientRegistry,
    MemoryClientRegistry,
    RedisClientRegistry,
    open_client_registry,
)
from trio_mcp.testing import check_client_registry

SECRET = "access-token-that-must-not-be-on-disk"
AUTH: dict[str, Any] = {"tokens": {"access_token": SECRET, "refresh_token": "rt"}, "codeVerifier": "pkce"}


def record(session_id: str = "s1", user_id: str = "alice", **changes: Any) -> ClientSessionRecord:
    return ClientSessionRecord(
        session_id=session_id,
        user_id=user_id,
        server_id="weather",
        transport="http",
        server_url="https://mcp.example.com/mcp",
        auth=changes.pop("auth", AUTH),
        **changes,
    )


def file_records(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["records"]


async def test_the_kit_passes_with_encryption_on_every_local_backend(tmp_path: Path) -> None:
    key = new_key()
    counter = itertools.count()

    def memory(
        expiry: ClientSessionExpiry, clock: Clock
    ) -> AbstractAsyncContextManager[ClientSessionRegistry]:
        return MemoryClientRegistry(
            pending_ttl=expiry.pending_ttl, dormant_age=expiry.dormant_age, clock=clock, keys=key
        )

    def file(expiry: ClientSessionExpiry, clock: Clock) -> AbstractAsyncContextManager[ClientSessionRegistry]:
        return FileClientRegistry(
            tmp_path / f"kit-{next(counter)}.json",
            pending_ttl=expiry.pending_ttl,
            dormant_age=expiry.dormant_age,
            clock=clock,
            keys=[new_key(), key],
        )

    await check_client_registry(memory)
    await check_client_registry(file)


@pytest.mark.redis
async def test_the_kit_passes_with_encryption_on_redis(redis_url: str) -> None:
    key = new_key()

    @asynccontextmanager
    async def factory(expiry: ClientSessionExpiry, clock: Clock) -> AsyncGenerator[ClientSessionRegistry]:
        async with RedisClientRegistry.from_url(
            redis_url, pending_ttl=expiry.pending_ttl, dormant_age=expiry.dormant_age, clock=clock, keys=key
        ) as registry:
            yield registry
            await registry.clear_all()

    await check_client_registry(factory)


async def test_auth_is_encrypted_in_the_file_and_readable_through_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    async with FileClientRegistry(path, keys=new_key()) as registry:
        assert registry.encrypts
        await registry.create(record())
        got = await registry.get("alice", "s1")
        assert got is not None
        assert got.auth == AUTH
    raw = path.read_text()
    assert SECRET not in raw
    assert "pkce" not in raw
    (stored,) = file_records(path)
    assert "auth" not in stored
    assert stored["sealedAuth"].startswith("v1.")
    assert stored["serverUrl"] == "https://mcp.example.com/mcp"  # only auth is encrypted


@pytest.mark.redis
async def test_auth_is_encrypted_in_redis(redis_url: str, redis_server: Any) -> None:
    async with RedisClientRegistry.from_url(redis_url, keys=new_key()) as registry:
        await registry.create(record())
        raw = redis_server.command("GET", registry.layout.session("alice", "s1"))
        assert isinstance(raw, bytes)
        assert SECRET.encode() not in raw
        assert b'"sealedAuth":"v1.' in raw
        got = await registry.get("alice", "s1")
        assert got is not None
        assert got.auth == AUTH


async def test_without_a_key_auth_is_stored_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    async with FileClientRegistry(path) as registry:
        assert not registry.encrypts
        await registry.create(record())
    (stored,) = file_records(path)
    assert stored["auth"] == AUTH


async def test_a_wrong_key_is_a_clear_error_never_a_record_without_tokens(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    async with FileClientRegistry(path, keys=new_key()) as registry:
        await registry.create(record())
    async with FileClientRegistry(path, keys=new_key()) as registry:
        with pytest.raises(ClientAuthUnreadable, match="TRIO_MCP_CLIENT_STORE_KEY") as caught:
            await registry.get("alice", "s1")
        assert (caught.value.user_id, caught.value.session_id) == ("alice", "s1")
        with pytest.raises(ClientAuthUnreadable, match="TRIO_MCP_CLIENT_STORE_KEY"):
            await registry.list("alice")
        with pytest.raises(ClientAuthUnreadable):
            await registry.update("alice", "s1", status="active")  # would re-seal tokens it cannot read
        # What needs no decryption still works, and new auth (a new OAuth flow) replaces the old unread.
        assert await registry.list_ids("alice") == ["s1"]
        assert await registry.list_all_ids() == [("alice", "s1")]
        updated = await registry.update("alice", "s1", auth={"tokens": {"access_token": "new"}})
        assert updated.auth == {"tokens": {"access_token": "new"}}
        got = await registry.get("alice", "s1")
        assert got is not None
        assert got.auth == {"tokens": {"access_token": "new"}}
        assert await registry.delete("alice", "s1")


async def test_an_encrypted_record_without_any_key_names_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    async with FileClientRegistry(path, keys=new_key()) as registry:
        await registry.create(record())
    async with FileClientRegistry(path) as registry:
        with pytest.raises(ClientAuthUnreadable, match="encrypted, and TRIO_MCP_CLIENT_STORE_KEY is not set"):
            await registry.get("alice", "s1")


async def test_keys_rotate_first_encrypts_all_decrypt(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    old, new = new_key(), new_key()
    async with FileClientRegistry(path, keys=old) as registry:
        await registry.create(record())
    async with FileClientRegistry(path, keys=f"{new},{old}") as registry:
        got = await registry.get("alice", "s1")
        assert got is not None
        assert got.auth == AUTH  # the old key still decrypts
        await registry.update("alice", "s1", status="active")  # written again: with the new key
    async with FileClientRegistry(path, keys=new) as registry:
        got = await registry.get("alice", "s1")
        assert got is not None
        assert got.auth == AUTH


async def test_a_blob_moved_to_another_record_does_not_open(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    key = new_key()
    async with FileClientRegistry(path, keys=key) as registry:
        await registry.create(
            record("mine", user_id="mallory", auth={"tokens": {"access_token": "mallory's"}})
        )
        await registry.create(record("theirs", user_id="alice"))
    data = json.loads(path.read_text())
    by_user = {r["userId"]: r for r in data["records"]}
    by_user["mallory"]["sealedAuth"] = by_user["alice"]["sealedAuth"]  # alice's tokens into mallory's record
    path.write_text(json.dumps(data))
    async with FileClientRegistry(path, keys=key) as registry:
        with pytest.raises(
            ClientAuthUnreadable, match=r"'mine' of user 'mallory'.*copied from another record"
        ):
            await registry.get("mallory", "mine")
        got = await registry.get("alice", "theirs")
        assert got is not None
        assert got.auth == AUTH


async def test_a_record_written_in_clear_is_read_with_a_key_and_encrypted_at_its_next_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "clients.json"
    async with FileClientRegistry(path) as registry:
        await registry.create(record())
    async with FileClientRegistry(path, keys=new_key()) as registry:
        got = await registry.get("alice", "s1")
        assert got is not None
        assert got.auth == AUTH
        await registry.update("alice", "s1", status="active")
    assert SECRET not in path.read_text()


def test_a_malformed_key_is_refused_naming_where_it_came_from() -> None:
    with pytest.raises(ClientRegistryConfigError, match=r"keys: key 1 of the ring is not 32 bytes"):
        MemoryClientRegistry(keys="too-short")
    with pytest.raises(ClientRegistryConfigError, match=r"keys: key 2 of the ring"):
        MemoryClientRegistry(keys=[new_key(), "AAAA"])


async def test_the_key_comes_from_the_environment() -> None:
    key = new_key()
    async with open_client_registry(
        environ={"TRIO_MCP_CLIENT_STORE_KEY": f" {key} , {new_key()}"}
    ) as registry:
        assert isinstance(registry, MemoryClientRegistry)
        assert registry.encrypts
    with pytest.raises(ClientRegistryConfigError, match=r"^TRIO_MCP_CLIENT_STORE_KEY: key 2 of the ring"):
        async with open_client_registry(environ={"TRIO_MCP_CLIENT_STORE_KEY": f"{key},nope"}):
            pass
    with pytest.raises(ClientRegistryConfigError, match=r"^keys=: key 1"):
        async with open_client_registry(keys="nope", environ={"TRIO_MCP_CLIENT_STORE_KEY": key}):
            pass
    async with open_client_registry(environ={"TRIO_MCP_CLIENT_STORE_KEY": ""}) as registry:
        assert isinstance(registry, MemoryClientRegistry)
        assert not registry.encrypts
