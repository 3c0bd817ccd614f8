"""open_client(url) / connect_client(nursery, url): the MCP client; the URL's scheme selects the transport
(http/https: Streamable HTTP, http.py; ws/wss: WebSocket, websocket.py). Both recover by themselves
(docs/architecture.md §7)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx
import trio

from .._proto import types as t
from .http import connect_http_client
from .oauth.flow import OAuthClient
from .options import ClientOptions, Resume
from .registered import open_registered
from .registry._base import ClientSessionRegistry
from .reopen import SessionReplaced
from .session import (
    ClientSession,
    ElicitationCallback,
    LoggingCallback,
    NotificationCallback,
    SamplingCallback,
)
from .websocket import connect_websocket_client


async def connect_client(nursery: trio.Nursery, url: str, **options: Any) -> ClientSession:
    """Connect to an MCP server and initialize; the client's tasks run in `nursery`. `await client.aclose()`
    ends the session (HTTP: DELETE) and them. Keywords: those of `open_client`."""
    opts = ClientOptions(**options)
    if url.startswith(("ws://", "wss://")):
        return await connect_websocket_client(nursery, url, opts)
    return await connect_http_client(nursery, url, opts)


@asynccontextmanager
async def open_client(
    url: str,
    *,
    sampling_callback: SamplingCallback | None = None,
    elicitation_callback: ElicitationCallback | None = None,
    logging_callback: LoggingCallback | None = None,
    notification_callback: NotificationCallback | None = None,
    roots: list[t.Root] | None = None,
    client_info: t.Implementation | None = None,
    headers: dict[str, str] | None = None,
    request_timeout: float = 60.0,
    listen: bool = False,
    http_client: httpx.AsyncClient | None = None,
    reconnect_timeout: float = 10.0,
    recover: bool = True,
    on_session_replaced: SessionReplaced | None = None,
    mode: Literal["legacy", "auto", "modern"] = "legacy",
    auth: httpx.Auth | OAuthClient | None = None,
    resume: Resume | None = None,
    keep_session: bool = False,
    registry: ClientSessionRegistry | None = None,
    user_id: str | None = None,
    server_id: str | None = None,
    server_name: str | None = None,
    callback_url: str | None = None,
) -> AsyncGenerator[ClientSession]:
    """Connect to an MCP server, initialize, and end the session on exit (HTTP: DELETE; WebSocket: close).

    `url`: `http(s)://…` speaks Streamable HTTP, `ws(s)://…` the WebSocket transport (server notifications
    always arrive; `listen` and `http_client` are HTTP's). `listen=True` also holds the standalone GET stream
    for server notifications (list_changed, resource updates). Errors reach the caller as one plain exception: `McpError` (the server's JSON-RPC error, with
    `http_status`) or `TransportError` (the server could not be reached for `reconnect_timeout`, or a
    stream broke for good). `recover=False` turns off the new session after a 404 (WebSocket: close 4404); `on_session_replaced(old,
    new)` is told when one is opened. `auth=OAuthClient(...)` (`trio_mcp.client_auth`) authorizes every request
    and upgrade with OAuth 2.1 (MCP basic/authorization): its failures are one `OAuthError` (e.g.
    `AuthorizationRequired` for an application that finishes the authorization itself).

    `registry=` (a client session registry, `trio_mcp.client_sessions`) with `user_id=` and `server_id=`: the
    user's connection to that server is kept in its record (made if missing; `server_name`, `callback_url`
    recorded): the stored session is resumed (`resume=`; a 404 opens a new one) and kept open on exit
    (`keep_session=`), the record follows the session id, an `OAuthClient`'s tokens live in the record, and the
    URL's scheme must be the record's transport (registered.py).
    """
    options: dict[str, Any] = dict(
        sampling_callback=sampling_callback,
        elicitation_callback=elicitation_callback,
        logging_callback=logging_callback,
        notification_callback=notification_callback,
        roots=roots,
        client_info=client_info,
        headers=headers,
        request_timeout=request_timeout,
        listen=listen,
        http_client=http_client,
        reconnect_timeout=reconnect_timeout,
        recover=recover,
        on_session_replaced=on_session_replaced,
        mode=mode,
        auth=auth,
        resume=resume,
        keep_session=keep_session,
    )
    if registry is None:
        async with _open_client(url, **options) as client:
            yield client
        return
    if user_id is None or server_id is None:
        raise ValueError("registry= needs the user_id= and server_id= of the connection")
    if resume is not None:
        raise ValueError("with registry=, the session to resume is the record's: give no resume=")
    del options["resume"], options["keep_session"]  # the record's session, kept for the next process
    async with open_registered(
        _open_client,
        url,
        registry=registry,
        user_id=user_id,
        server_id=server_id,
        server_name=server_name,
        callback_url=callback_url,
        **options,
    ) as client:
        yield client


@asynccontextmanager
async def _open_client(url: str, **options: Any) -> AsyncGenerator[ClientSession]:
    """open_client without the registry: connect, yield, close; one plain exception, never a group."""
    failure: Exception | None = None
    async with trio.open_nursery() as nursery:
        try:
            client = await connect_client(nursery, url, **options)
        except Exception as exc:
            failure = exc
        else:
            try:
                yield client
            except Exception as exc:
                # Raised outside the nursery, so the caller gets it as it was, not in an ExceptionGroup.
                failure = exc
            finally:
                await client.aclose()
        nursery.cancel_scope.cancel()
    if failure is not None:
        raise failure
