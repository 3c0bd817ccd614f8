"""Serve one session over a single bidirectional message stream (in-memory pair, stdio); `handle_frame`, the
shared intake of one frame, serves the WebSocket too (docs/architecture.md §8)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Protocol

import trio

from .._proto.errors import RemoteProtocolError
from .._proto.jsonrpc import (
    ErrorResponse,
    Message,
    RequestId,
    Response,
    encode,
    error_response,
    parse_body,
)
from .._proto.session import RequestReceived
from .dispatcher import Dispatcher, log
from .hub import ConnectionHub
from .intake import triage
from .outbound import ChannelOutbound, Outbound
from .state import ServerSession

WRITE_QUEUE = 256


class Router(Protocol):
    """Where a networked transport (WebSocket) sends what is not for this connection: the instance that waits
    for a reply, or the one running a request the client cancels (docs/architecture.md §3)."""

    async def stray_reply(self, session: ServerSession, response: Response | ErrorResponse) -> None: ...

    async def cancel_elsewhere(self, session: ServerSession, request_id: RequestId) -> None: ...


async def serve_connection(
    dispatcher: Dispatcher,
    session: ServerSession,
    incoming: AsyncIterable[bytes | str | RemoteProtocolError],
    write: Callable[[bytes], Awaitable[None]],
    *,
    hub: ConnectionHub | None = None,
    eof_grace: float = 10.0,
) -> None:
    """Read messages until EOF; each request runs in its own task; one task owns all writes.

    `initialize` runs inline, so requests piped right behind it see an initialized session. On EOF the
    in-flight handlers get `eof_grace` seconds to finish and write their answers (a client may close stdin
    right after its last request), then they are cancelled.
    """
    send_channel, receive_channel = trio.open_memory_channel[Message](WRITE_QUEUE)
    outbound = ChannelOutbound(send_channel)

    async def run_request(event: RequestReceived, scope: trio.CancelScope) -> None:
        reply = await dispatcher.handle_request(session, event, outbound, scope=scope)
        if reply is not None:
            await outbound.send(reply)

    async def writer() -> None:
        async with receive_channel:
            async for message in receive_channel:
                await write(encode(message))

    if hub is not None:
        hub.attach(session, outbound)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            async with trio.open_nursery() as handlers:
                async for raw in incoming:
                    replies, initialize = handle_frame(
                        dispatcher, session, raw, handlers, run_request, outbound
                    )
                    for reply in replies:
                        await outbound.send(reply)
                    if initialize is not None:
                        await run_request(initialize, dispatcher.register_request(session, initialize))
                # EOF: the handlers still running get a grace period, then are cancelled.
                handlers.cancel_scope.deadline = trio.current_time() + eof_grace
            # Every handler is done: closing the channel lets the writer flush what is left and stop.
            await send_channel.aclose()
            nursery.cancel_scope.deadline = trio.current_time() + 1
    finally:
        if hub is not None:
            hub.detach(session)
        session.protocol.close()


def handle_frame(
    dispatcher: Dispatcher,
    session: ServerSession,
    raw: bytes | str | RemoteProtocolError,
    nursery: trio.Nursery,
    run_request: Callable[[RequestReceived, trio.CancelScope], Awaitable[None]],
    outbound: Outbound,
    router: Router | None = None,
) -> tuple[list[Message], RequestReceived | None]:
    """One frame (a line, a WebSocket text message) through the shared intake: the replies to send at once
    (errors) and an initialize to run inline; other requests and notifications are started in `nursery`.

    `raw` may be the transport's framing error (an oversize line): answered like a parse error. Without a
    `router`, a reply nobody here waits for is dropped."""
    if isinstance(raw, RemoteProtocolError):
        return [error_response(None, raw.code, raw.message)], None
    try:
        parsed = parse_body(raw)
    except RemoteProtocolError as exc:
        return [error_response(None, exc.code, exc.message)], None
    if parsed.is_batch:
        try:
            session.protocol.check_batch()
        except RemoteProtocolError as exc:
            return [error_response(None, exc.code, exc.message)], None
    intake = triage(dispatcher, session, parsed)
    for refused in intake.refused:
        # JSON-RPC never answers a notification: the verdict HTTP renders as a 400 is only logged here.
        log.warning("refused a notification: %s", refused.message)
    for response in intake.responses:
        if dispatcher.deliver_reply(session, response):
            continue
        if router is not None:
            nursery.start_soon(router.stray_reply, session, response)
        else:
            log.debug("dropped a reply to request id %r that nobody waits for", response.id)
    initialize: RequestReceived | None = None
    for event in intake.requests:
        if event.method == "initialize" and not parsed.is_batch:
            initialize = event
        else:
            # Registered before any task starts: a `notifications/cancelled` in the same batch (or read before
            # this task first runs) must find it (U/cancellation: handle the races).
            nursery.start_soon(run_request, event, dispatcher.register_request(session, event))
    for notification in intake.notifications:
        nursery.start_soon(dispatcher.handle_notification, session, notification, outbound)
        if router is not None and notification.method == "notifications/cancelled":
            request_id = notification.params.request_id
            if request_id is not None and request_id not in session.in_flight:
                nursery.start_soon(router.cancel_elsewhere, session, request_id)
    replies: list[Message] = list(intake.replies)
    return replies, initialize
