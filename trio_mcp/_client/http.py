"""open_client(url) / connect_client(nursery, url): a Streamable HTTP client (httpx) on the ClientSession core.

It recovers by itself (docs/architecture.md §7):
- a request that cannot reach the server is retried with backoff for `reconnect_timeout`, then TransportError;
- a 404 for its session id (the server restarted, the session expired): one new initialize, shared by every
  request that hit it (single flight), what the application set replayed (log level, subscriptions; the GET
  stream reconnects on its own), and the request sent again; a second 404 in a row is an McpError;
- an SSE stream that ends before its response reconnects with GET + `Last-Event-ID` after the server's
  `retry:` (T§Resumability), on whatever instance the URL reaches; a stream whose session is gone meanwhile
  raises instead (the request may have run, so it is not sent again).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, cast

import attrs
import httpx
import trio

from .._proto import modern
from .._proto import types as t
from .._proto.errors import SESSION_NOT_FOUND, McpError, RemoteProtocolError
from .._proto.jsonrpc import (
    ErrorResponse,
    InvalidMessage,
    Message,
    Notification,
    Request,
    RequestId,
    Response,
    encode,
    parse_body,
)
from .._proto.sse import SSEDecoder
from .connect import FIRST_BACKOFF, MAX_BACKOFF, send_with_retry
from .errors import TransportError, http_error
from .oauth.errors import OAuthError
from .options import ClientOptions, Resume
from .reopen import Reopener, SessionReplaced
from .session import (
    ClientSession,
)

log = logging.getLogger("trio_mcp.client")
ACCEPT = "application/json, text/event-stream"
# T§Resumability: without a `retry:` from the server, reconnect after this long.
DEFAULT_RETRY = 1.0
RETRY_STATUSES = (502, 503, 504)
CALL_LOST = (
    "the session ended while {method} ran (the server restarted or expired it); the request may have run, so "
    "it is not sent again"
)


@attrs.define
class _Position:
    """Where a stream is: the last event id received and the server's last `retry:` (milliseconds)."""

    last_id: str | None = None
    retry_ms: int | None = None

    @property
    def wait(self) -> float:
        return DEFAULT_RETRY if self.retry_ms is None else self.retry_ms / 1000


def _last_message(raw: bytes, content_type: str) -> bytes:
    """A JSON body, or the last `data:` of an SSE body (the answer comes last)."""
    if not content_type.startswith("text/event-stream"):
        return raw
    data = [line[5:].strip() for line in raw.splitlines() if line.startswith(b"data:")]
    return data[-1] if data else b""


class HttpTransport:
    """POSTs each message; reads JSON or SSE answers in tasks of the client's nursery and feeds the session."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        nursery: trio.Nursery,
        *,
        reconnect_timeout: float = 10.0,
        recover: bool = True,
        on_session_replaced: SessionReplaced | None = None,
    ) -> None:
        self.http = http
        self.url = url
        self.nursery = nursery
        self.reconnect_timeout = reconnect_timeout
        self.recover = recover
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.client: ClientSession | None = None
        self.closed = False
        self._tasks: set[trio.CancelScope] = set()
        self._reopener = Reopener(self, on_session_replaced)

    def headers(
        self, *, accept: str = ACCEPT, session_id: str | Literal["current"] | None = "current"
    ) -> dict[str, str]:
        headers = {"accept": accept}
        sid = self.session_id if session_id == "current" else session_id
        if sid is not None:
            headers["mcp-session-id"] = sid
        if self.protocol_version is not None:
            headers["mcp-protocol-version"] = self.protocol_version
        return headers

    def session(self) -> ClientSession:
        assert self.client is not None, "the transport has no ClientSession yet"
        return self.client

    # -- tasks owned by the transport (ended by aclose) --

    def _start(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        scope = trio.CancelScope()
        self._tasks.add(scope)

        async def task() -> None:
            try:
                with scope:
                    await fn(*args)
            except Exception:  # a task of ours never takes the application's nursery down
                log.exception("a task of the MCP client failed")
            finally:
                self._tasks.discard(scope)

        self.nursery.start_soon(task)

    # -- sending --

    async def post(
        self,
        body: bytes,
        session_id: str | Literal["current"] | None = "current",
        extra: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = self.headers(session_id=session_id)
        headers["content-type"] = "application/json"
        if extra:
            headers.update(extra)
        request = self.http.build_request("POST", self.url, content=body, headers=headers)
        return await send_with_retry(self.http, request, self.reconnect_timeout)

    async def send(self, message: Message) -> None:
        initialize = isinstance(message, Request) and message.method == "initialize"
        recoverable = self.recover and isinstance(message, Request | Notification) and not initialize
        replaced = False
        extra: dict[str, str] | None = None
        if self.session().era == "modern" and isinstance(message, Request):
            message, extra = self._modern(message)
        while True:
            used = self.session_id
            response = await self.post(encode(message), extra=extra)
            if response.status_code == 404 and used is not None and recoverable and not replaced:
                await response.aclose()
                await self.replace_session(used)  # then send it again, once, in the new session
                replaced = True
                continue
            break
        try:
            if initialize and "mcp-session-id" in response.headers:
                self.session_id = response.headers["mcp-session-id"]
            if response.status_code == 202:
                await response.aclose()
                return
            if response.status_code >= 400:
                await response.aread()
                raise http_error(response)
        except BaseException:
            await response.aclose()
            raise
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            awaited = {message.id} if isinstance(message, Request) else set[RequestId]()
            method = message.method if isinstance(message, Request) else "the request"
            self._start(self._read_sse, response, awaited, self.session_id, method)
        else:
            try:
                body = await response.aread()
            except httpx.HTTPError as exc:
                raise TransportError(f"the answer from {self.url} broke off: {exc}") from exc
            finally:
                await response.aclose()
            await self.deliver(body)

    # -- 2026-07-28: every request says who the client is (M§_meta) and mirrors its method in headers --

    def _modern(self, message: Request) -> tuple[Request, dict[str, str]]:
        session = self.session()
        converter = session.protocol.converter
        params: dict[str, Any] = dict(message.params) if isinstance(message.params, dict) else {}  # pyright: ignore[reportUnknownArgumentType]
        meta: dict[str, Any] = dict(params.get("_meta") or {})
        meta.update(
            modern.request_meta(
                converter.unstructure(session.capabilities),
                converter.unstructure(session.client_info),
                session.logging_level,
            )
        )
        params["_meta"] = meta
        return Request(id=message.id, method=message.method, params=params), modern.mirrored_headers(
            message.method, params
        )

    async def discover(self, required: bool) -> t.DiscoverResult | None:
        """`server/discover` in the 2026-07-28 form: the server's answer, or None when it does not speak
        that era (`required`: raise the server's error instead; M§Backward Compatibility)."""
        session = self.session()
        converter = session.protocol.converter
        meta = modern.request_meta(
            converter.unstructure(session.capabilities), converter.unstructure(session.client_info), None
        )
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": "trio-mcp-discover",
                "method": "server/discover",
                "params": {"_meta": meta},
            }
        ).encode()
        self.protocol_version = modern.MODERN_VERSION
        response = await self.post(body, None, modern.mirrored_headers("server/discover", {}))
        try:
            raw = await response.aread()
        finally:
            await response.aclose()
        result: object = None
        if response.status_code == 200:
            try:
                answer: object = json.loads(_last_message(raw, response.headers.get("content-type", "")))
            except ValueError:
                answer = None
            if isinstance(answer, dict):
                result = cast(dict[str, Any], answer).get("result")
        if isinstance(result, dict):
            try:
                return converter.structure(result, t.DiscoverResult)
            except Exception as exc:
                if required:
                    raise TransportError(f"{self.url} answered server/discover with {exc}") from exc
        self.protocol_version = None
        if required:
            if response.status_code >= 400:
                raise http_error(response)
            raise TransportError(f"{self.url} does not speak MCP 2026-07-28 (no server/discover result)")
        log.info(
            "%s does not speak MCP 2026-07-28 (HTTP %s): initialize instead", self.url, response.status_code
        )
        return None

    async def deliver(self, body: bytes, awaited: set[RequestId] | None = None) -> None:
        """Hand the messages of a body (or an SSE event's data) to the session; a response's id leaves
        `awaited`."""
        if not body:
            return
        try:
            parsed = parse_body(body)
        except RemoteProtocolError as exc:  # e.g. an error with "id": null: nobody to hand it to
            log.warning(
                "ignored an answer from %s that is not a JSON-RPC message for this client: %s", self.url, exc
            )
            return
        for message in parsed.messages:
            if isinstance(message, InvalidMessage):
                continue
            if (
                awaited is not None
                and isinstance(message, Response | ErrorResponse)
                and message.id is not None
            ):
                awaited.discard(message.id)
            await self.session().deliver(message)

    # -- SSE streams: read, then resume with Last-Event-ID until every awaited response arrived --

    async def _read_sse(
        self, response: httpx.Response, awaited: set[RequestId], session_id: str | None, method: str
    ) -> None:
        position = _Position()
        try:
            await self._consume(response, position, awaited)
            if awaited:
                await self._resume(position, awaited, session_id, method)
        except (McpError, TransportError, OAuthError) as exc:
            for request_id in awaited:
                self.session().peer.fail(request_id, exc)

    async def _consume(self, response: httpx.Response, position: _Position, awaited: set[RequestId]) -> bool:
        """Deliver the stream's messages until it ends; True when it carried at least one event id."""
        moved = False
        decoder = SSEDecoder()
        try:
            async for chunk in response.aiter_bytes():
                for event in decoder.feed(chunk):
                    if event.retry is not None:
                        position.retry_ms = event.retry
                    if event.id:
                        position.last_id, moved = event.id, True
                    if event.data:
                        await self.deliver(event.data.encode(), awaited)
        except httpx.HTTPError as exc:
            log.debug("an SSE stream from %s broke: %s", self.url, exc)
        finally:
            await response.aclose()
        return moved

    async def _resume(
        self, position: _Position, awaited: set[RequestId], session_id: str | None, method: str
    ) -> None:
        give_up = trio.current_time() + self.reconnect_timeout
        backoff = FIRST_BACKOFF
        while awaited and not self.closed:
            if position.last_id is None:
                raise TransportError(
                    f"the stream answering {method} broke before its first event id, so it cannot be resumed; "
                    "the request may have run"
                )
            await trio.sleep(position.wait)
            if self.session_id != session_id:  # replaced meanwhile: the old session's streams are gone
                raise McpError(SESSION_NOT_FOUND, CALL_LOST.format(method=method), http_status=404)
            headers = self.headers(accept="text/event-stream")
            headers["last-event-id"] = position.last_id
            request = self.http.build_request("GET", self.url, headers=headers)
            response = await send_with_retry(self.http, request, max(0.0, give_up - trio.current_time()))
            if response.status_code == 200:
                if await self._consume(response, position, awaited):
                    give_up = trio.current_time() + self.reconnect_timeout  # it moved: a new budget
                    backoff = FIRST_BACKOFF
                elif awaited and trio.current_time() > give_up:
                    raise TransportError(
                        f"the stream answering {method} brought nothing new for {self.reconnect_timeout:g} s"
                    )
                continue
            await response.aread()
            await response.aclose()
            if response.status_code == 404:
                if session_id is not None and self.recover:
                    self._start(self._replace_quietly, session_id)  # later calls get a new session
                raise McpError(SESSION_NOT_FOUND, CALL_LOST.format(method=method), http_status=404)
            if response.status_code not in RETRY_STATUSES:
                raise http_error(response)
            if trio.current_time() + backoff > give_up:
                raise TransportError(
                    f"could not resume the stream answering {method}: the server answered "
                    f"{response.status_code} for {self.reconnect_timeout:g} s"
                )
            await trio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    # -- the standalone GET stream --

    async def listen(self, first_answer: trio.Event) -> None:
        """Hold the standalone GET stream (server notifications and requests): reconnect with `Last-Event-ID`
        after the server's `retry:`, and in a new session after a 404. `first_answer` is set once the first
        GET was answered (open, or refused)."""
        position = _Position()
        backoff = FIRST_BACKOFF
        while not self.closed:
            used = self.session_id
            headers = self.headers(accept="text/event-stream")
            if position.last_id is not None:
                headers["last-event-id"] = position.last_id
            try:
                request = self.http.build_request("GET", self.url, headers=headers)
                response = await send_with_retry(self.http, request, self.reconnect_timeout)
            except TransportError as exc:
                first_answer.set()
                log.warning("the GET stream cannot reconnect yet: %s", exc)
                await trio.sleep(MAX_BACKOFF)
                continue
            except OAuthError as exc:
                first_answer.set()
                log.warning("the GET stream stops: it cannot be authorized (%s)", exc)
                return
            first_answer.set()
            status = response.status_code
            if status == 200:
                if await self._consume(response, position, set()):
                    backoff = FIRST_BACKOFF
                await trio.sleep(position.wait)
                continue
            await response.aread()
            await response.aclose()
            if status == 404 and used is not None and self.recover:
                await self._replace_quietly(used)
                position = _Position()
            elif status == 400 and position.last_id is not None:
                position = _Position()  # cannot be resumed: a fresh stream
            elif status == 405:
                log.info("the server offers no GET stream (405); not listening")
                return
            elif status == 404:
                log.warning("the session is gone (404) and recover=False: the GET stream stops")
                return
            else:
                await trio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    # -- recovery: one new session for everybody who found the old one gone (reopen.py) --

    async def replace_session(self, old: str) -> None:
        await self._reopener.replace(old)

    async def _replace_quietly(self, old: str) -> None:
        await self._reopener.replace_quietly(old)

    # -- closing --

    async def aclose(self, *, end_session: bool = True) -> None:
        """DELETE the session (L§Shutdown for HTTP; not when `end_session` is false: another process of the
        app resumes it), then end the transport's tasks."""
        if self.closed:
            return
        self.closed = True
        for scope in list(self._tasks):
            scope.cancel()
        if self.session_id is None or not end_session:
            return
        try:
            await self.http.delete(self.url, headers=self.headers())
        except (httpx.HTTPError, OAuthError) as exc:
            log.debug("DELETE failed: %s", exc)


async def _resume(transport: HttpTransport, client: ClientSession, resume: Resume) -> None:
    """Take up a session initialized before; a ping checks it is still there. A 404 opens a new one, as for
    any request (the recovery, with `on_session_replaced` told); without recovery it is the McpError."""
    transport.session_id = resume.session_id
    client.resume(resume.protocol_version)
    transport.protocol_version = client.protocol.protocol_version
    await client.ping()


async def connect_http_client(nursery: trio.Nursery, url: str, opts: ClientOptions) -> ClientSession:
    """`connect_client` for an http(s) URL: Streamable HTTP."""
    http = opts.http_client or httpx.AsyncClient(
        headers=opts.headers, timeout=httpx.Timeout(opts.request_timeout, read=None), auth=opts.auth
    )
    transport = HttpTransport(
        http,
        url,
        nursery,
        reconnect_timeout=opts.reconnect_timeout,
        recover=opts.recover,
        on_session_replaced=opts.on_session_replaced,
    )
    client = transport.client = opts.session(transport.send, nursery)
    client.session_id_source = lambda: transport.session_id

    async def close() -> None:
        try:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await transport.aclose(end_session=not opts.keep_session)
        finally:
            if opts.http_client is None:
                with trio.CancelScope(shield=True):
                    await http.aclose()

    client.closer = close
    try:
        discovered = None if opts.mode == "legacy" else await transport.discover(opts.mode == "modern")
        if discovered is not None:
            client.use_modern(discovered)
            return client  # 2026-07-28: no handshake, no session, no GET stream
        if opts.resume is not None:
            await _resume(transport, client, opts.resume)
        else:
            transport.protocol_version = (await client.initialize()).protocol_version
    except BaseException:
        await close()
        raise
    if opts.listen:
        # Open before the application's first request: a server may send that request's own requests (an
        # elicitation) on the GET stream, and without an event store it drops what finds no stream open.
        listening = trio.Event()
        transport._start(transport.listen, listening)  # pyright: ignore[reportPrivateUsage]
        with trio.move_on_after(opts.reconnect_timeout):
            await listening.wait()
    return client
