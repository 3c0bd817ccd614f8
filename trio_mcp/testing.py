"""Test kit: an in-memory client/server pair on the real core (no network), like h11's ConnectionPair."""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import trio

from ._client.registry.kit import check_client_registry as check_client_registry
from ._client.session import (
    ClientSession,
    ElicitationCallback,
    LoggingCallback,
    NotificationCallback,
    SamplingCallback,
)
from ._proto import types as t
from ._proto.jsonrpc import InvalidMessage, Message, encode, parse_body
from ._runtime.connection import serve_connection
from ._runtime.dispatcher import Dispatcher, ServerIdentity
from ._runtime.registry import HandlerRegistry
from ._runtime.state import ServerSession
from ._server.server import Server
from ._stores.kit import check_session_store as check_session_store
from ._streams.event_kit import check_event_store as check_event_store
from ._streams.kit import check_stream_manager as check_stream_manager

__all__ = [
    "check_client_registry",
    "check_event_store",
    "check_session_store",
    "check_stream_manager",
    "open_memory_client",
]

BUFFER = 256


@asynccontextmanager
async def open_memory_client(
    server: Server | HandlerRegistry,
    *,
    sampling_callback: SamplingCallback | None = None,
    elicitation_callback: ElicitationCallback | None = None,
    logging_callback: LoggingCallback | None = None,
    notification_callback: NotificationCallback | None = None,
    roots: list[t.Root] | None = None,
    client_info: t.Implementation | None = None,
    protocol_version: str | None = None,
    request_timeout: float = 30.0,
    initialize: bool = True,
) -> AsyncGenerator[ClientSession]:
    """Connect a ClientSession to `server` through bounded in-memory byte channels and the full JSON encoding.

    The callbacks decide which client capabilities are declared (a callback given = capability declared).
    """
    to_server_send, to_server_recv = trio.open_memory_channel[bytes](BUFFER)
    to_client_send, to_client_recv = trio.open_memory_channel[bytes](BUFFER)
    if isinstance(server, Server):
        dispatcher = server.dispatcher()
        hub = server.connections
    else:
        identity = ServerIdentity(
            info=t.Implementation(name="registry", version="0"), capabilities=t.ServerCapabilities()
        )
        dispatcher = Dispatcher(server, lambda: identity)
        hub = None
    session = ServerSession.new(secrets.token_urlsafe(16))

    async def client_send(message: Message) -> None:
        await to_server_send.send(encode(message))

    async def serve() -> None:
        async with to_client_send:
            await serve_connection(dispatcher, session, to_server_recv, to_client_send.send, hub=hub)

    async with trio.open_nursery() as nursery:
        client = ClientSession(
            client_send,
            nursery,
            client_info=client_info or t.Implementation(name="trio_mcp-memory-client", version="0"),
            sampling_callback=sampling_callback,
            elicitation_callback=elicitation_callback,
            logging_callback=logging_callback,
            notification_callback=notification_callback,
            roots=roots,
            request_timeout=request_timeout,
            **({"protocol_version": protocol_version} if protocol_version else {}),
        )

        async def read_replies() -> None:
            async with to_client_recv:
                async for raw in to_client_recv:
                    for message in parse_body(raw).messages:
                        if not isinstance(message, InvalidMessage):
                            await client.deliver(message)

        nursery.start_soon(serve)
        nursery.start_soon(read_replies)
        async with to_server_send:
            if initialize:
                await client.initialize()
            yield client
        nursery.cancel_scope.cancel()
