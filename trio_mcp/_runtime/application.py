"""What a transport needs from the application it serves: a small protocol, so transports never import Server.

`trio_mcp.Server` implements it; a transport takes any object that does (as hypercorn takes any ASGI app).
"""

from __future__ import annotations

from typing import Any, Protocol

from .dispatcher import Dispatcher, SessionHook
from .hub import ConnectionHub, NotificationHub


class Application(Protocol):
    def dispatcher(self, on_session_change: SessionHook | None = None) -> Dispatcher:
        """A dispatcher over the application's handlers; `on_session_change` persists session state."""
        ...

    def add_hub(self, hub: NotificationHub) -> None:
        """Also send server-wide notifications (list_changed, resource updates) through `hub`."""
        ...

    def remove_hub(self, hub: NotificationHub) -> None: ...

    def required_scopes(self, method: str, params: Any) -> frozenset[str]:
        """The OAuth scopes a request needs beyond the app's own (a scoped tool, prompt or resource);
        `params` raw (a JSON object) or typed."""
        ...

    def declared_scopes(self) -> frozenset[str]:
        """Every scope the application declares (the protected resource metadata lists them)."""
        ...

    @property
    def connections(self) -> ConnectionHub:
        """The hub of the sessions served over stream transports (stdio, the in-memory pair)."""
        ...
