"""Counting a Redis backend's round trips: every `RedisConnection.run` is one (one command, script or pipeline)."""

from __future__ import annotations

from typing import Any

from trio_mcp._redis import RedisConnection


def count_round_trips(connection: RedisConnection) -> list[str]:
    """The action names of every round trip made on `connection` from now on, in order."""
    calls: list[str] = []
    real_run = connection.run

    async def run(action: str, operation: Any) -> Any:
        calls.append(action)
        return await real_run(action, operation)

    connection.run = run  # type: ignore[method-assign]
    return calls
