"""The one conformance kit, run against every backend."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from trio_mcp._stores._base import Clock
from trio_mcp._stores.kit import check_session_store
from trio_mcp.stores import (
    ExpiryPolicy,
    FileSessionStore,
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
)


async def test_memory_store_passes_the_kit() -> None:
    @asynccontextmanager
    async def factory(policy: ExpiryPolicy, clock: Clock) -> AsyncGenerator[SessionStore]:
        yield MemorySessionStore(policy=policy, clock=clock)

    await check_session_store(factory)


async def test_file_store_passes_the_kit(tmp_path: Path) -> None:
    counter = itertools.count()

    def factory(policy: ExpiryPolicy, clock: Clock) -> AbstractAsyncContextManager[SessionStore]:
        return FileSessionStore(tmp_path / f"kit-{next(counter)}.json", policy=policy, clock=clock)

    await check_session_store(factory)


@pytest.mark.redis
async def test_redis_store_passes_the_kit(redis_url: str) -> None:
    counter = itertools.count()

    @asynccontextmanager
    async def factory(policy: ExpiryPolicy, clock: Clock) -> AsyncGenerator[SessionStore]:
        store = RedisSessionStore.from_url(
            redis_url, prefix=f"kit{next(counter)}:", policy=policy, clock=clock
        )
        async with store:
            yield store
            await store.clear()

    await check_session_store(factory)


async def test_the_kit_catches_a_broken_store() -> None:
    class ForgetfulStore(MemorySessionStore):
        async def delete(self, session_id: str) -> bool:
            return True  # claims to delete, keeps the record

    @asynccontextmanager
    async def factory(policy: ExpiryPolicy, clock: Clock) -> AsyncGenerator[SessionStore]:
        yield ForgetfulStore(policy=policy, clock=clock)

    with pytest.raises(
        AssertionError, match=r"ForgetfulStore / basics\] delete\(\) of an unknown id returned True"
    ):
        await check_session_store(factory)


async def test_the_kit_catches_a_cleanup_that_removes_live_sessions() -> None:
    class OverzealousStore(MemorySessionStore):
        async def cleanup_expired(self) -> int:
            removed = await self.count()
            await self.clear()  # removes the live sessions too
            return removed

    @asynccontextmanager
    async def factory(policy: ExpiryPolicy, clock: Clock) -> AsyncGenerator[SessionStore]:
        yield OverzealousStore(policy=policy, clock=clock)

    with pytest.raises(AssertionError, match=r"OverzealousStore / expiry\] cleanup_expired\(\) returned 5"):
        await check_session_store(factory)


async def test_the_kit_names_a_missing_protocol_method() -> None:
    class OldStore:
        """A store written before cleanup_expired: everything else delegates to a memory store."""

        def __init__(self, policy: ExpiryPolicy, clock: Clock) -> None:
            self._inner = MemorySessionStore(policy=policy, clock=clock)
            self.policy = policy

        def __getattr__(self, name: str) -> Any:
            if name == "cleanup_expired":
                raise AttributeError(name)
            return getattr(self._inner, name)

        async def __aenter__(self) -> OldStore:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

    def factory(policy: ExpiryPolicy, clock: Clock) -> AbstractAsyncContextManager[SessionStore]:
        return cast(AbstractAsyncContextManager[SessionStore], OldStore(policy, clock))

    with pytest.raises(
        AssertionError, match=r"does not implement the SessionStore protocol: no cleanup_expired"
    ):
        await check_session_store(factory)
