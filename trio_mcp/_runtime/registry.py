"""The low-level handler registry: method -> handler. Decorators of the server API write into it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .context import Context

RequestHandler = Callable[["Context", Any], Awaitable[Any]]
NotificationHandler = Callable[["Context", Any], Awaitable[None]]


@attrs.define(eq=False)
class HandlerRegistry:
    """Handlers get the request's Context and the typed params; they return the typed result (or a dict)."""

    requests: dict[str, RequestHandler] = attrs.field(factory=dict[str, RequestHandler])
    notifications: dict[str, NotificationHandler] = attrs.field(factory=dict[str, NotificationHandler])

    def request(self, method: str) -> Callable[[RequestHandler], RequestHandler]:
        def register(handler: RequestHandler) -> RequestHandler:
            self.requests[method] = handler
            return handler

        return register

    def notification(self, method: str) -> Callable[[NotificationHandler], NotificationHandler]:
        def register(handler: NotificationHandler) -> NotificationHandler:
            self.notifications[method] = handler
            return handler

        return register
