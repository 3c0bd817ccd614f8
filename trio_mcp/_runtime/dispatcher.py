"""Dispatch incoming messages of one session: lifecycle built-ins, then the handler registry.

Each request runs in its own CancelScope kept under its JSON-RPC id; a handler's exception becomes a JSON-RPC
error at this boundary and never reaches the session or the transport.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from .._auth.tokens import AccessToken
from .._proto import types as t
from .._proto.errors import INTERNAL_ERROR, METHOD_NOT_FOUND, McpError, ProtocolError, RemoteProtocolError
from .._proto.jsonrpc import ErrorResponse, Message, Notification, Request, Response, error_response
from .._proto.modern import ALL_VERSIONS, META_SERVER_INFO
from .._proto.session import ErrorReceived, NotificationReceived, RequestReceived, ResponseReceived
from .context import Context
from .input_round import InputRound, only_input_required
from .outbound import BackChannelUnavailable, Outbound
from .registry import HandlerRegistry
from .state import ServerSession

log = logging.getLogger("trio_mcp")

SessionHook = Callable[[ServerSession], Awaitable[None]]


@attrs.frozen(kw_only=True)
class ServerIdentity:
    info: t.Implementation
    capabilities: t.ServerCapabilities
    instructions: str | None = None


async def _no_hook(session: ServerSession) -> None:
    return None


@attrs.define(eq=False)
class Dispatcher:
    registry: HandlerRegistry
    identity: Callable[[], ServerIdentity]
    # Called after a change of persisted session state (initialize, initialized, setLevel, subscriptions).
    on_session_change: SessionHook = _no_hook

    # -- sans-I/O part: what is this message? --

    def receive(
        self, session: ServerSession, message: Request | Notification
    ) -> RequestReceived | NotificationReceived | ErrorResponse:
        """Check a client request or notification against the protocol.

        A bad request becomes its error response; a bad notification raises RemoteProtocolError (nobody to answer).
        """
        if isinstance(message, Request):
            try:
                event = session.protocol.receive(message)
            except RemoteProtocolError as exc:
                return error_response(message.id, exc.code, exc.message, exc.data)
            assert isinstance(event, RequestReceived)
            return event
        event = session.protocol.receive(message)
        assert isinstance(event, NotificationReceived)
        return event

    def deliver_reply(self, session: ServerSession, message: Response | ErrorResponse) -> bool:
        """Hand a client's reply to the task waiting for it here; False when no task here waits for it."""
        if message.id is None or not session.protocol.expects_response(message.id):
            return False
        event = session.protocol.receive(message)
        assert isinstance(event, ResponseReceived | ErrorReceived)
        return session.peer.deliver(event)

    # -- requests --

    async def handle_request(
        self,
        session: ServerSession,
        event: RequestReceived,
        outbound: Outbound,
        *,
        scope: trio.CancelScope | None = None,
        inputs: InputRound | None = None,
        access: AccessToken | None = None,
    ) -> Message | None:
        """Run one request to completion; None when `notifications/cancelled` cancelled it (no reply is sent).

        A caller that starts this in a new task passes the `scope` it already put in `session.in_flight` (see
        `register_request`), so a cancellation read before the task first runs still finds the request.
        `inputs`: this run's round of a 2026-07-28 multi-round-trip request (input_round.py); the handler's
        asks then end in an input_required result instead of requests to the client. `access`: the verified
        token the request came with (the handler's `ctx.access_token`).
        """
        if scope is None:
            scope = self.register_request(session, event)
        try:
            with scope:
                try:
                    result = await self._call(session, event, outbound, inputs, access)
                    return session.protocol.send_result(event.id, result)
                except McpError as exc:
                    return error_response(event.id, exc.code, exc.message, exc.data)
                except ProtocolError as exc:
                    return error_response(event.id, exc.code, exc.message, exc.data)
                except BackChannelUnavailable as exc:
                    return error_response(event.id, INTERNAL_ERROR, str(exc))
                except Exception:
                    log.exception("handler for %s (request id %r) raised", event.method, event.id)
                    return error_response(
                        event.id,
                        INTERNAL_ERROR,
                        f"Internal error while handling {event.method}; see the server log",
                    )
            # Only our own scope's cancellation lands here: U/cancellation says send no response.
            return None
        finally:
            session.in_flight.pop(event.id, None)

    @staticmethod
    def register_request(session: ServerSession, event: RequestReceived) -> trio.CancelScope:
        """Put the request's CancelScope in the in-flight table now (synchronously)."""
        scope = trio.CancelScope()
        session.in_flight[event.id] = scope
        return scope

    async def _call(
        self,
        session: ServerSession,
        event: RequestReceived,
        outbound: Outbound,
        inputs: InputRound | None,
        access: AccessToken | None,
    ) -> Any:
        context = self._context(session, event, outbound, inputs, access)
        if inputs is None:
            return await self._call_handler(session, event, context)
        try:
            return await self._call_handler(session, event, context)
        except BaseException as exc:
            if not only_input_required(exc):
                raise
        return inputs.result()

    async def _call_handler(self, session: ServerSession, event: RequestReceived, context: Context) -> Any:
        method, params = event.method, event.params
        if method == "initialize":
            ident = self.identity()
            result = session.protocol.accept_initialize(
                params, ident.capabilities, ident.info, ident.instructions
            )
            await self.on_session_change(session)
            return result
        if method == "ping":
            return t.EmptyResult()
        if method == "server/discover":
            return self.discover()
        if method == "logging/setLevel":
            session.protocol.set_log_level(params.level)
            await self.on_session_change(session)
            return t.EmptyResult()
        handler = self.registry.requests.get(method)
        if method in ("resources/subscribe", "resources/unsubscribe"):
            if handler is not None:
                await handler(context, params)
            if method == "resources/subscribe":
                session.subscriptions.add(params.uri)
            else:
                session.subscriptions.discard(params.uri)
            await self.on_session_change(session)
            return t.EmptyResult()
        if handler is None:
            raise McpError(METHOD_NOT_FOUND, f"Method not found: this server does not offer {method}")
        return await handler(context, params)

    def discover(self) -> t.DiscoverResult:
        """`server/discover` (2026-07-28, SEP-2575): both eras' versions, the capabilities (list changes and
        resource updates reach `subscriptions/listen` streams), and who we are in `_meta`
        (io.modelcontextprotocol/serverInfo)."""
        ident = self.identity()
        return t.DiscoverResult(
            supported_versions=list(ALL_VERSIONS),
            capabilities=ident.capabilities,
            instructions=ident.instructions,
            meta={META_SERVER_INFO: {"name": ident.info.name, "version": ident.info.version}},
        )

    @staticmethod
    def _context(
        session: ServerSession,
        event: RequestReceived,
        outbound: Outbound,
        inputs: InputRound | None,
        access: AccessToken | None,
    ) -> Context:
        return Context(
            session,
            outbound,
            request_id=event.id,
            method=event.method,
            progress_token=event.progress_token,
            inputs=inputs,
            access_token=access,
        )

    # -- notifications --

    async def handle_notification(
        self, session: ServerSession, event: NotificationReceived, outbound: Outbound
    ) -> None:
        method = event.method
        if method == "notifications/initialized":
            await self.on_session_change(session)
            return
        if method == "notifications/cancelled":
            params: t.CancelledNotificationParams = event.params
            scope = session.in_flight.get(params.request_id) if params.request_id is not None else None
            # U/cancellation: unknown or finished ids are ignored; initialize is never cancelled.
            if scope is not None:
                scope.cancel()
            return
        handler = self.registry.notifications.get(method)
        if handler is not None:
            ctx = Context(session, outbound, request_id="", method=method)
            try:
                await handler(ctx, event.params)
            except Exception:
                log.exception("notification handler for %s raised", method)
