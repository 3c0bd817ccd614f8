"""The keywords of `open_client` / `connect_client`, whichever transport the URL selects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs
import httpx
import trio

from .._proto import types as t
from .._proto.jsonrpc import Message
from .oauth.flow import OAuthClient
from .reopen import SessionReplaced
from .session import (
    ClientSession,
    ElicitationCallback,
    LoggingCallback,
    NotificationCallback,
    SamplingCallback,
)


@attrs.frozen(kw_only=True)
class Resume:
    """A session this app initialized before, to take up instead of a new initialize (a registry record's)."""

    session_id: str
    protocol_version: str | None = None


@attrs.frozen(kw_only=True)
class ClientOptions:
    """The keywords of `open_client` / `connect_client`."""

    sampling_callback: SamplingCallback | None = None
    elicitation_callback: ElicitationCallback | None = None
    logging_callback: LoggingCallback | None = None
    notification_callback: NotificationCallback | None = None
    roots: list[t.Root] | None = None
    client_info: t.Implementation | None = None
    headers: dict[str, str] | None = None
    request_timeout: float = 60.0
    listen: bool = False
    http_client: httpx.AsyncClient | None = None
    reconnect_timeout: float = 10.0
    recover: bool = True
    on_session_replaced: SessionReplaced | None = None
    #: the protocol era over HTTP: "legacy" (initialize, a session), "modern" (2026-07-28), or "auto" (probe
    #: server/discover, fall back to initialize); WebSocket is legacy only
    mode: Literal["legacy", "auto", "modern"] = "legacy"
    #: authorizes every HTTP request and WebSocket upgrade: an `OAuthClient` (MCP basic/authorization) or any
    #: other httpx.Auth
    auth: httpx.Auth | OAuthClient | None = None
    #: take up this session instead of initializing (a 404 for it: a new one, as the recovery does)
    resume: Resume | None = None
    #: leave the session open on the server when the client closes (no DELETE), for the next process to resume
    keep_session: bool = False

    def __attrs_post_init__(self) -> None:
        if self.mode not in ("legacy", "auto", "modern"):
            raise ValueError(f"mode must be 'legacy', 'auto' or 'modern', not {self.mode!r}")
        if self.auth is not None and self.http_client is not None:
            raise ValueError(
                "auth= and http_client= together: give your client the auth instead (httpx.AsyncClient(auth=...))"
            )

    def session(self, send: Callable[[Message], Awaitable[None]], nursery: trio.Nursery) -> ClientSession:
        """The ClientSession these options describe, sending through `send`."""
        extra: dict[str, Any] = {} if self.client_info is None else {"client_info": self.client_info}
        return ClientSession(
            send,
            nursery,
            sampling_callback=self.sampling_callback,
            elicitation_callback=self.elicitation_callback,
            logging_callback=self.logging_callback,
            notification_callback=self.notification_callback,
            roots=self.roots,
            request_timeout=self.request_timeout,
            **extra,
        )
