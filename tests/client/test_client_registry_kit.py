"""The client registry's conformance kit, run against every backend (and shown to catch broken ones)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from trio_mcp._stores._base import Clock
from trio_mcp.client_sessions import (
    ClientSessionExpiry,
    ClientSessionRecord,
    ClientSessionRegistry,
    FileClientRegistry,
    MemoryClientRegistry,
    RedisClientRegistry,
)
from trio_mcp.testing import check_client_registry


async def test_memory_registry_passes_the_kit() -> None:
    def factory(
        expiry: ClientSessionExpiry, clock: Clock
    ) -> AbstractAsyncContextManager[ClientSessionRegistry]:
        return MemoryClientRegistry(
            pending_ttl=expiry.pending_ttl, dormant_age=expiry.dormant_age, clock=clock
        )

    await check_client_registry(factory)


async def test_file_registry_passes_the_kit(tmp_path: Path) -> None:
    counter = itertools.count()

    def factory(
        expiry: ClientSessionExpiry, clock: Clock
    ) -> AbstractAsyncContextManager[ClientSessionRegistry]:
        return FileClientRegistry(
            tmp_path / f"kit-{next(counter)}.json",
            pending_ttl=expiry.pending_ttl,
            dormant_age=expiry.dormant_age,
            clock=clock,
        )

    await check_client_registry(factory)


@pytest.mark.redis
async def test_redis_registry_passes_the_kit(redis_url: str) -> None:
    counter = itertools.count()

    @asynccontextmanager
    async def factory(expiry: ClientSessionExpiry, clock: Clock) -> AsyncGenerator[ClientSessionRegistry]:
        registry = RedisClientRegistry.from_url(
            redis_url,
            prefix=f"kit{next(counter)}:",
            pending_ttl=expiry.pending_ttl,
            dormant_age=expiry.dormant_age,
            clock=clock,
        )
        async with registry:
            yield registry
            await registry.clear_all()

    await check_client_registry(factory)


async def test_the_kit_catches_a_registry_that_shows_one_users_sessions_to_another() -> None:
    class Leaky(MemoryClientRegistry):
        async def get(self, user_id: str, session_id: str) -> ClientSessionRecord | None:
            for user, sid in await self.list_all_ids():
                if sid == session_id:
                    return await super().get(user, sid)
            return None

    def factory(
        expiry: ClientSessionExpiry, clock: Clock
    ) -> AbstractAsyncContextManager[ClientSessionRegistry]:
        return Leaky(pending_ttl=expiry.pending_ttl, dormant_age=expiry.dormant_age, clock=clock)

    with pytest.raises(AssertionError, match=r"Leaky / users\] get\(\) showed alice's session to bob"):
        await check_client_registry(factory)


async def test_the_kit_catches_a_registry_that_ignores_expiry() -> None:
    class Immortal(MemoryClientRegistry):
        def _live(self, stored: object, now: float) -> bool:
            return True

    def factory(
        expiry: ClientSessionExpiry, clock: Clock
    ) -> AbstractAsyncContextManager[ClientSessionRegistry]:
        return Immortal(pending_ttl=expiry.pending_ttl, dormant_age=expiry.dormant_age, clock=clock)

    with pytest.raises(AssertionError, match=r"Immortal / exists\]|Immortal / expiry\]"):
        await check_client_registry(factory)
