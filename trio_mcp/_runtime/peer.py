"""Server-to-client (or client-to-server) requests: send, then wait for the matching reply, with a timeout.

Waiters live in a table keyed by request id; a reply that arrives anywhere calls `deliver`. When the reply lands on
another instance, the stream manager forwards it here and calls `deliver` just the same.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from .._proto import types as t
from .._proto.errors import REQUEST_TIMEOUT, McpError
from .._proto.jsonrpc import ErrorObject, RequestId
from .._proto.session import ErrorReceived, ProtocolSession, ResponseReceived
from .outbound import BackChannelUnavailable, Outbound


@attrs.define(eq=False)
class _Waiter:
    done: trio.Event = attrs.field(factory=trio.Event)
    result: Any = None
    error: ErrorObject | None = None
    exception: BaseException | None = None


@attrs.define(eq=False)
class Peer:
    protocol: ProtocolSession
    default_timeout: float = 300.0
    # Called with each request id before the request goes out (the HTTP app records where replies must go).
    on_request: Callable[[RequestId], Awaitable[None]] | None = None
    _waiters: dict[RequestId, _Waiter] = attrs.field(factory=dict[RequestId, _Waiter])

    def waiting_for(self, request_id: RequestId) -> bool:
        return request_id in self._waiters

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def request(
        self,
        method: str,
        params: Any,
        outbound: Outbound,
        *,
        timeout: float | None = None,
        routed: bool = True,
    ) -> Any:
        """Send `method` to the peer and return its typed result; McpError on an error reply or timeout.

        `routed=False`: the reply can only come back on the connection that sent the request (a WebSocket's
        keep-alive ping), so `on_request` is not told."""
        if not outbound.can_request:
            reason = getattr(outbound, "reason", "this request has no stream back to the client")
            raise BackChannelUnavailable(f"cannot send {method}: {reason}")
        message = self.protocol.send_request(method, params)
        waiter = _Waiter()
        self._waiters[message.id] = waiter
        if self.on_request is not None and routed:
            try:
                await self.on_request(message.id)
            except BaseException:
                self._waiters.pop(message.id, None)
                self.protocol.forget_request(message.id)
                raise
        limit = self.default_timeout if timeout is None else timeout
        try:
            await outbound.send(message)
            with trio.move_on_after(limit if limit > 0 else math.inf) as scope:
                await waiter.done.wait()
            if scope.cancelled_caught:
                # L§Timeouts: stop waiting and tell the peer; a late reply is then ignored.
                self.protocol.forget_request(message.id)
                cancel = self.protocol.send_notification(
                    "notifications/cancelled",
                    t.CancelledNotificationParams(
                        request_id=message.id, reason=f"timed out after {limit:g} s"
                    ),
                )
                with trio.CancelScope(shield=True):
                    with trio.move_on_after(1):
                        await outbound.send(cancel)
                raise McpError(REQUEST_TIMEOUT, f"{method} got no reply within {limit:g} s (timeout)")
        finally:
            if self._waiters.pop(message.id, None) is not None and not waiter.done.is_set():
                self.protocol.forget_request(message.id)
        if waiter.exception is not None:
            raise waiter.exception
        if waiter.error is not None:
            raise McpError(waiter.error.code, waiter.error.message, waiter.error.data)
        return waiter.result

    def fail_all(self, exception: BaseException) -> None:
        """End every wait with `exception` (the connection to the peer is gone)."""
        for request_id in list(self._waiters):
            self.fail(request_id, exception)

    def fail(self, request_id: RequestId, exception: BaseException) -> bool:
        """End the wait for `request_id` with `exception` (its stream was lost); False when nobody waits."""
        waiter = self._waiters.get(request_id)
        if waiter is None or waiter.done.is_set():
            return False
        waiter.exception = exception
        waiter.done.set()
        return True

    def deliver(self, event: ResponseReceived | ErrorReceived) -> bool:
        """Hand a reply to its waiting task; False when nobody here waits for that id."""
        if event.id is None:
            return False
        waiter = self._waiters.get(event.id)
        if waiter is None:
            return False
        if isinstance(event, ResponseReceived):
            waiter.result = event.result
        else:
            waiter.error = event.error
        waiter.done.set()
        return True
