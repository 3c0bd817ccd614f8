"""Streamable HTTP (MCP 2025-11-25 T§Streamable HTTP) as an ASGI 3 app for hypercorn's trio worker.

One endpoint: POST carries client messages, GET opens the session's standalone SSE stream, DELETE ends the
session. Header rules and status codes follow spec-checklist §2 and §7; every error has a JSON-RPC body that says
what to change. JSON mode needs no task and no channel per request; SSE mode one handler task and one bounded
channel per request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import attrs
import sniffio
import trio

from .._auth.tokens import AccessToken, VerifierUnavailable
from .._exceptions import first_leaf
from .._gc import raised_gc_threshold
from .._proto.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
)
from .._runtime.application import Application
from .._stores._base import StoreError, StoreUnavailable
from .._streams._base import StreamError, StreamUnavailable
from .._tasks import guarded, supervised
from .admin import SessionAdmin
from .asgi import (
    Receive,
    RequestHeaders,
    Scope,
    Send,
    respond,
    respond_error,
)
from .auth import ResourceGuard
from .backends import (
    HttpHub,
    select_events,
    select_request_states,
    select_store,
    select_streams,
    select_verifier,
)
from .config import ConfigError, load_config
from .drain import Drain, drain_on_hypercorn_shutdown, hypercorn_shutdown
from .fanout import ControlFanout
from .gate import Gate
from .health import PROBE_ID, READY_TIMEOUT, Health
from .listen import ListenHub
from .live_hub import HttpSessionsHub
from .post import PostHandler
from .sessions import SessionManager
from .standalone import StandaloneStreams
from .stream_timers import StreamTimers
from .websocket import WebSocketEndpoint
from .ws_connection import AppParts

log = logging.getLogger("trio_mcp.http")


class McpASGIApp:
    """`server.asgi_app(**config)`: run it with `hypercorn --worker-class trio module:app`."""

    def __init__(self, server: Application, **config: Any) -> None:
        self.server = server
        self.config = load_config(**config)
        self.store = select_store(self.config)
        self.streams = select_streams(self.config, self.store)
        self.events = select_events(self.config, self.streams)
        self._sessions = SessionManager(
            self.store,
            self.streams,
            reply_timeout=self.config.reply_timeout,
            instance_id=self.streams.instance_id,
            # A cached record must never outlive a quarter of the session's timeouts.
            cache_ttl=min(
                self.config.session_cache_ttl, self.config.pending_timeout / 4, self.config.idle_timeout / 4
            ),
        )
        # The public session admin API (list, revoke across instances); `_sessions` stays private.
        self.sessions = SessionAdmin(self.store, self.streams, self.events, self._sessions)
        self.dispatcher = server.dispatcher(self._sessions.save)
        self.request_states = select_request_states(
            self.config, self.streams, audience=self.dispatcher.identity().info.name
        )
        self.hub = HttpHub(self.streams)
        self.gate = Gate(self.config)
        verifier = select_verifier(self.config)
        self.guard = None if verifier is None else ResourceGuard(self.config, verifier, server)
        if self.guard is None and server.declared_scopes():
            log.warning(
                "tools, resources or prompts declare OAuth scopes, but the app has no auth (auth=, "
                "auth_jwks_url or auth_introspection_url): the scopes are not enforced"
            )
        self._drain = Drain(timeout=self.config.drain_timeout, notice=self.config.drain_notice)
        self.health = Health(self.store, self.streams, lambda: self._started, self._drain)
        self.sessions_hub = HttpSessionsHub(self._sessions, self.streams, self.store, self.events)
        self.listen_hub = ListenHub()
        self.stream_timers = StreamTimers()
        self.control = ControlFanout(self._sessions, self.dispatcher, [self.sessions_hub, self.listen_hub])
        self.get = StandaloneStreams(
            self.config, self.gate, self._sessions, self.streams, self.events, self.sessions_hub, self._drain
        )
        self.post = PostHandler(
            self.config,
            self.gate,
            self._sessions,
            self.streams,
            self.store,
            self.dispatcher,
            self.events,
            self._drain,
            self.listen_hub,
            self.request_states,
            self.guard,
            self.stream_timers,
        )
        self.websocket = WebSocketEndpoint(
            self.gate,
            AppParts(
                config=self.config,
                sessions=self._sessions,
                streams=self.streams,
                store=self.store,
                events=self.events,
                dispatcher=self.dispatcher,
                hub=self.sessions_hub,
                drain=self._drain,
                guard=self.guard,
            ),
        )
        self._started = False

    @property
    def started(self) -> bool:
        """Whether the lifespan runs: backends open, tasks started, requests served."""
        return self._started

    @property
    def draining(self) -> bool:
        """Whether `drain()` began: readiness is 503 and new sessions and GET streams are refused."""
        return self._drain.draining

    async def drain(self) -> None:
        """Drain this instance before it stops (docs/architecture.md §4): readiness 503 at once; every open
        SSE stream ends with `retry:` after its last event id, so its client resumes on another instance; new
        sessions and GET streams get 503; in-flight requests get `drain_timeout` to finish, then are cancelled
        and answered with a retryable error. Returns when that is done; `trio-mcp serve` calls it on SIGTERM.
        Calling it again waits for the same drain."""
        await self._drain()

    def hurry_drain(self) -> None:
        """Cut a running drain short: in-flight requests are cancelled now, as at the drain's deadline."""
        self._drain.hurry()

    # -- lifespan --

    @asynccontextmanager
    async def lifespan(self) -> AsyncGenerator[McpASGIApp]:
        """Runs the app's backends and tasks; enter it from a host app's lifespan when mounted.

        One exit stack, so every lifetime nests (docs/architecture.md §4). It is left in reverse: stop sending
        server-wide notifications here, end the streams held here (with `retry:`) while the stream manager
        still runs, close every live copy, stop the app's tasks, close the store.
        """
        if self._started:
            raise RuntimeError("this trio_mcp app is already running")
        async with AsyncExitStack() as stack:
            stack.enter_context(raised_gc_threshold(self.config.gc_threshold))
            await stack.enter_async_context(self.store)
            await self._check_store()
            if self.events is not None:
                await stack.enter_async_context(self.events)
            stack.callback(setattr, self.control, "nursery", None)
            stack.callback(setattr, self.sessions_hub, "nursery", None)
            nursery = await stack.enter_async_context(trio.open_nursery())
            self.control.nursery = self.sessions_hub.nursery = nursery
            stack.callback(nursery.cancel_scope.cancel)
            await nursery.start(supervised, "stream manager", self.streams.run, self.control)
            nursery.start_soon(supervised, "session heartbeat", self._heartbeat)
            nursery.start_soon(supervised, "stream timers", self.stream_timers.run)
            shutdown = hypercorn_shutdown()
            if shutdown is not None:  # a worker of plain hypercorn: drain when it is told to stop
                nursery.start_soon(
                    guarded, "drain on shutdown", drain_on_hypercorn_shutdown, self._drain, shutdown
                )
            stack.callback(self._close_live_copies)
            await stack.enter_async_context(self.streams)
            self.server.add_hub(self.hub)
            stack.callback(self.server.remove_hub, self.hub)
            self._started = True
            log.info(
                "trio_mcp app started: instance %s, store %s, streams %s, event store %s",
                self.streams.instance_id,
                describe(self.store),
                describe(self.streams),
                describe(self.events),
            )
            try:
                yield self
            finally:
                self._started = False

    async def _check_store(self) -> None:
        """Fail the start when the store refuses us (a wrong password, an ACL): every request would fail.
        One that cannot be reached yet is only a warning: the app starts and answers 503 until it is back."""
        try:
            with trio.move_on_after(READY_TIMEOUT):
                await self.store.has(PROBE_ID)
        except StoreUnavailable as exc:
            log.warning("the session store cannot be reached yet (starting anyway): %s", exc)
        except StoreError as exc:
            raise StoreError(f"the session store refused this server: {exc}") from exc

    def _close_live_copies(self) -> None:
        for sid in list(self._sessions.live):
            self._sessions.close_live(sid, ended=False)

    async def _heartbeat(self) -> None:
        while True:
            await trio.sleep(self.config.heartbeat_interval)
            try:
                await self._sessions.flush_touches()
            except StoreUnavailable as exc:
                log.warning("could not refresh session TTLs: %s", exc)

    async def _run_lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        started = False
        try:
            async with self.lifespan():
                started = True
                await send({"type": "lifespan.startup.complete"})
                while (await receive())["type"] != "lifespan.shutdown":
                    pass
        except Exception as exc:
            reason = first_leaf(exc)
            if isinstance(reason, StoreError | ConfigError):
                # A configuration problem (store file locked, bad URL...): one clear line, not a traceback.
                log.error("trio_mcp app cannot start: %s", reason)
            else:
                log.exception("trio_mcp app lifespan failed")
            if not started:
                await send(
                    {"type": "lifespan.startup.failed", "message": f"{type(reason).__name__}: {reason}"}
                )
                return
        await send({"type": "lifespan.shutdown.complete"})

    # -- ASGI entry --

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if sniffio.current_async_library() != "trio":
            await _refuse_foreign_loop(kind, receive, send)
            return
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._run_lifespan(receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._is_endpoint(_route_path(scope)):
            if "websocket.http.response" in scope.get("extensions", {}):
                await send(
                    {
                        "type": "websocket.http.response.start",
                        "status": 404,
                        "headers": [(b"content-type", b"text/plain")],
                    }
                )
                await send({"type": "websocket.http.response.body", "body": b"Not Found"})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await self.websocket(scope, receive, send, started=self._started)

    def _is_endpoint(self, path: str) -> bool:
        return path.rstrip("/") == self.config.path.rstrip("/") or path == self.config.path

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope)
        # Probes come before the gate: a load balancer sends an IP address as Host and no Origin.
        if path == self.config.health_path:
            await self.health.live(send)
            return
        if path == self.config.ready_path:
            await self.health.ready(send)
            return
        if self.guard is not None and self.guard.is_metadata(path):
            await self.guard.metadata(scope, send, RequestHeaders.from_scope(scope))
            return
        if not self._is_endpoint(path):
            await respond(send, 404, b"Not Found", [(b"content-type", b"text/plain")])
            return
        if not self._started:
            await respond_error(
                send,
                503,
                INTERNAL_ERROR,
                "Service Unavailable: the MCP app has not started. Run it under an ASGI server that sends lifespan "
                "events (hypercorn does), or enter app.lifespan() in the host app's lifespan when it is mounted.",
            )
            return
        h = RequestHeaders.from_scope(scope)
        problem = self.gate.header_verdict(h)
        if problem is None and scope["method"] != "POST":  # a POST's era decides which version rules apply
            problem = self.gate.version_verdict(h)
        if problem is not None:
            status, message = problem
            await respond_error(send, status, INVALID_REQUEST, message, headers=self.gate.cors(h))
            return
        method = scope["method"]
        if self.guard is not None and method != "OPTIONS" and not await self._authorized(scope, send, h):
            return
        try:
            if method == "POST":
                await self.post(scope, receive, send, h)
            elif method == "GET":
                await self.get(scope, receive, send, h)
            elif method == "DELETE":
                await self._delete(scope, send, h)
            elif method == "OPTIONS" and self.config.cors_origins is not None:
                await self.gate.preflight(send, h)
            else:
                await respond_error(
                    send,
                    405,
                    INVALID_REQUEST,
                    f"Method Not Allowed: the MCP endpoint takes POST, GET and DELETE, not {method}",
                    headers=[(b"allow", b"GET, POST, DELETE")],
                )
        except (StoreError, StreamUnavailable, StreamError) as exc:
            await self._unavailable(send, exc)

    async def _authorized(self, scope: Scope, send: Send, h: RequestHeaders) -> bool:
        """Authenticate the request (auth.py); False when it was refused."""
        assert self.guard is not None
        try:
            verdict = await self.guard.admit(scope, h)
        except VerifierUnavailable as exc:
            await self.guard.unavailable(send, exc, self.gate.cors(h))
            return False
        if isinstance(verdict, AccessToken):
            return True
        await self.guard.refuse(send, scope, h, verdict, self.gate.cors(h))
        return False

    async def _unavailable(self, send: Send, exc: StoreError | StreamUnavailable | StreamError) -> None:
        what = "session store" if isinstance(exc, StoreError) else "stream manager"
        # The details (host, port, the backend's error) are for the operator's log, not for clients.
        if isinstance(exc, StoreUnavailable | StreamUnavailable):
            log.warning("answered 503: the %s cannot be reached: %s", what, exc)
            text = f"Service Unavailable: the {what} cannot be reached; retry shortly"
        else:  # reachable, but it refuses us (wrong password, an ACL, a full Redis): retrying will not help
            log.error("answered 503: the %s refused this server: %s", what, exc)
            text = f"Service Unavailable: the {what} refused this server; its operator must fix the configuration"
        try:
            await respond_error(send, 503, INTERNAL_ERROR, text, headers=[(b"retry-after", b"1")])
        except Exception:  # the response had already started; nothing more to say
            log.debug("store failure after the response started", exc_info=True)

    # -- DELETE --

    async def _delete(self, scope: Scope, send: Send, h: RequestHeaders) -> None:
        cors = self.gate.cors(h)
        if await self.gate.refuse_sessionless(send, h, cors, "has no sessions to end"):
            return
        assert h.session_id is not None
        # SBP §Session Hijacking: another principal's session is as unknown as a missing one (404, untouched).
        if not await self.sessions.end(h.session_id, self.config.principal(scope)):
            await self.gate.session_not_found(send, cors)
            return
        await respond(send, 200, b"", cors)


NOT_TRIO = (
    "trio_mcp runs on Trio, not {library}: run it with `hypercorn --worker-class trio module:app` or "
    "`trio-mcp serve module:app`"
)


async def _refuse_foreign_loop(kind: str, receive: Receive, send: Send) -> None:
    """Under another event loop (hypercorn without `--worker-class trio`) say so once, clearly, and refuse
    to start: nothing here may call Trio (only the server's own receive and send are awaited)."""
    reason = NOT_TRIO.format(library=sniffio.current_async_library())
    if kind == "lifespan":
        if (await receive())["type"] == "lifespan.startup":
            log.error("%s", reason)
            await send({"type": "lifespan.startup.failed", "message": reason})
    elif kind == "http":
        await respond_error(send, 500, INTERNAL_ERROR, f"Internal Server Error: {reason}")


def describe(backend: object | None) -> str:
    """A backend as a log line names it: its own repr when it has one (Redis: the address, password redacted),
    else its class (an attrs repr would list every session)."""
    if backend is None:
        return "none"
    kind = type(backend)
    if attrs.has(kind) or kind.__repr__ is object.__repr__:
        return kind.__name__
    return repr(backend)


def _route_path(scope: Scope) -> str:
    """The request path relative to where the app is mounted.

    ASGI: `path` includes `root_path`, the mount prefix (Starlette's Mount, hypercorn's root_path), so
    an app mounted at /tools sees path "/tools/mcp" and root_path "/tools". Servers that strip the prefix
    from `path` themselves are handled too (the path then does not start with root_path).
    """
    path: str = scope["path"]
    root: str = scope.get("root_path") or ""
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path
