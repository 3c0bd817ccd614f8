"""MemoryStreamManager: one process; the same semantics as Redis without the network."""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from ._base import StreamEvents, offer


@attrs.define(eq=False)
class MemoryStreamManager:
    instance_id: str = attrs.field(factory=lambda: secrets.token_hex(4))
    _events: StreamEvents | None = None
    _streams: dict[str, trio.MemorySendChannel[bytes]] = attrs.field(
        factory=dict[str, "trio.MemorySendChannel[bytes]"]
    )
    _routes: set[tuple[str, str | int]] = attrs.field(factory=set[tuple[str, "str | int"]])

    async def run(
        self, events: StreamEvents, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._events = events
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            self._events = None

    @asynccontextmanager
    async def subscribe(
        self, session_id: str, capacity: int
    ) -> AsyncGenerator[trio.MemoryReceiveChannel[bytes]]:
        send, receive = trio.open_memory_channel[bytes](capacity)
        previous = self._streams.get(session_id)
        if previous is not None:
            previous.close()
        self._streams[session_id] = send
        try:
            async with receive:
                yield receive
        finally:
            if self._streams.get(session_id) is send:
                del self._streams[session_id]
            send.close()

    def deliver_local(self, session_id: str, payload: bytes) -> bool:
        return offer(self._streams, session_id, payload)

    async def publish(self, session_id: str, payload: bytes) -> None:
        self.deliver_local(session_id, payload)

    async def broadcast(self, event: dict[str, Any]) -> None:
        if self._events is not None:
            self._events.on_broadcast(event)

    async def session_deleted(self, session_id: str) -> None:
        if self._events is not None:
            self._events.on_session_deleted(session_id)

    async def set_route(self, session_id: str, request_id: str | int) -> None:
        self._routes.add((session_id, request_id))

    async def forward_reply(self, session_id: str, request_id: str | int, payload: bytes) -> bool:
        if (session_id, request_id) not in self._routes or self._events is None:
            return False
        self._routes.discard((session_id, request_id))
        self._events.on_reply(session_id, payload)
        return True

    async def holder(self, session_id: str) -> str | None:
        return self.instance_id if session_id in self._streams else None

    async def aclose(self) -> None:
        for channel in self._streams.values():
            channel.close()
        self._streams.clear()
