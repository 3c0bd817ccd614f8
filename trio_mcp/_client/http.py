"""open_client(url): a Streamable HTTP client (httpx) on the same ClientSession core."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import trio

from .._proto import types as t
from .._proto.errors import INTERNAL_ERROR, SESSION_NOT_FOUND, McpError
from .._proto.jsonrpc import InvalidMessage, Message, Request, encode, parse_body
from .._proto.sse import SSEDecoder
from .session import (
    ClientSession,
    ElicitationCallback,
    LoggingCallback,
    NotificationCallback,
    SamplingCallback,
)

log = logging.getLogger("trio_mcp.client")
ACCEPT = "application/json, text/event-stream"


class HttpTransport:
    """POSTs each message; reads JSON or SSE answers in a task of the client's nursery and feeds the session."""

    def __init__(self, http: httpx.AsyncClient, url: str, nursery: trio.Nursery) -> None:
        self.http = http
        self.url = url
        self.nursery = nursery
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.client: ClientSession | None = None

    def headers(self, *, accept: str = ACCEPT) -> dict[str, str]:
        headers = {"accept": accept}
        if self.session_id is not None:
            headers["mcp-session-id"] = self.session_id
        if self.protocol_version is not None:
            headers["mcp-protocol-version"] = self.protocol_version
        return headers

    async def send(self, message: Message) -> None:
        headers = self.headers()
        headers["content-type"] = "application/json"
        request = self.http.build_request("POST", self.url, content=encode(message), headers=headers)
        response = await self.http.send(request, stream=True)
        try:
            if (
                "mcp-session-id" in response.headers
                and isinstance(message, Request)
                and message.method == "initialize"
            ):
                self.session_id = response.headers["mcp-session-id"]
            if response.status_code == 202:
                await response.aclose()
                return
            if response.status_code >= 400:
                await response.aread()
                await response.aclose()
                raise _http_error(response)
        except BaseException:
            await response.aclose()
            raise
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("text/event-stream"):
            self.nursery.start_soon(self._read_sse, response)
        else:
            body = await response.aread()
            await response.aclose()
            await self._deliver_raw(body)

    async def _read_sse(self, response: httpx.Response) -> None:
        decoder = SSEDecoder()
        try:
            async for chunk in response.aiter_bytes():
                for event in decoder.feed(chunk):
                    if event.data:
                        await self._deliver_raw(event.data.encode())
        except httpx.HTTPError as exc:
            log.debug("SSE stream ended: %s", exc)
        finally:
            await response.aclose()

    async def _deliver_raw(self, body: bytes) -> None:
        assert self.client is not None
        if not body:
            return
        for message in parse_body(body).messages:
            if not isinstance(message, InvalidMessage):
                await self.client.deliver(message)

    async def listen(self) -> None:
        """Hold the standalone GET stream (server notifications and requests), reopening it when it ends."""
        while True:
            try:
                async with self.http.stream(
                    "GET", self.url, headers=self.headers(accept="text/event-stream")
                ) as response:
                    if response.status_code == 404:
                        return
                    if response.status_code >= 400:
                        await trio.sleep(1)
                        continue
                    decoder = SSEDecoder()
                    async for chunk in response.aiter_bytes():
                        for event in decoder.feed(chunk):
                            if event.data:
                                await self._deliver_raw(event.data.encode())
            except httpx.HTTPError as exc:
                log.debug("GET stream failed: %s", exc)
            await trio.sleep(0.5)

    async def terminate(self) -> None:
        """DELETE the session (L§Shutdown for HTTP)."""
        if self.session_id is None:
            return
        try:
            await self.http.delete(self.url, headers=self.headers())
        except httpx.HTTPError as exc:
            log.debug("DELETE failed: %s", exc)


def _http_error(response: httpx.Response) -> McpError:
    try:
        body = response.json()
        error = body["error"]
        code, message, data = int(error["code"]), str(error["message"]), error.get("data")
    except Exception:
        code, message, data = INTERNAL_ERROR, response.text[:200] or response.reason_phrase, None
    if response.status_code == 404:
        code = SESSION_NOT_FOUND
    return McpError(code, f"HTTP {response.status_code}: {message}", data)


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
) -> AsyncGenerator[ClientSession]:
    """Connect to a Streamable HTTP MCP server, initialize, and DELETE the session on exit.

    `listen=True` also holds the standalone GET stream for server notifications (list_changed, resource updates).
    """
    owns_http = http_client is None
    http = http_client or httpx.AsyncClient(
        headers=headers, timeout=httpx.Timeout(request_timeout, read=None)
    )
    try:
        async with trio.open_nursery() as nursery:
            transport = HttpTransport(http, url, nursery)
            options: dict[str, Any] = {}
            if client_info is not None:
                options["client_info"] = client_info
            client = ClientSession(
                transport.send,
                nursery,
                sampling_callback=sampling_callback,
                elicitation_callback=elicitation_callback,
                logging_callback=logging_callback,
                notification_callback=notification_callback,
                roots=roots,
                request_timeout=request_timeout,
                **options,
            )
            transport.client = client
            result = await client.initialize()
            transport.protocol_version = result.protocol_version
            if listen:
                nursery.start_soon(transport.listen)
            try:
                yield client
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await transport.terminate()
                nursery.cancel_scope.cancel()
    finally:
        if owns_http:
            with trio.CancelScope(shield=True):
                await http.aclose()
