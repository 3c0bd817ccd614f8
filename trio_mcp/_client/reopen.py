"""A new session after a 404 for the old one (docs/architecture.md §7): opened once for every request that
found the old one gone (single flight), with raw requests outside the ClientSession's bookkeeping, so the
requests it has in flight keep their ids; then set up as the old one was (`ClientSession.replay`).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import httpx
import trio

from .._proto.errors import INTERNAL_ERROR, McpError
from .._proto.sse import SSEDecoder
from .connect import MAX_BACKOFF
from .errors import TransportError, http_error

if TYPE_CHECKING:
    from .http import HttpTransport

log = logging.getLogger("trio_mcp.client")

SessionReplaced = Callable[[str, str], Awaitable[None] | None]


class Reopener:
    def __init__(self, transport: HttpTransport, on_session_replaced: SessionReplaced | None) -> None:
        self.transport = transport
        self.on_session_replaced = on_session_replaced
        self._replacing: trio.Event | None = None
        self._raw_ids = itertools.count(1)

    async def replace(self, old: str) -> None:
        """After a 404 for session `old`: a new session (once, whoever asks), set up as the old one was."""
        transport = self.transport
        while transport.session_id == old and self._replacing is not None:
            await self._replacing.wait()
        if transport.session_id != old:
            return  # replaced by another request meanwhile
        self._replacing = done = trio.Event()
        try:
            new = await self._initialize()
        finally:
            self._replacing = None
            done.set()
        log.info("session %s is gone on the server: continuing in new session %s", old, new)
        if self.on_session_replaced is not None:
            outcome = self.on_session_replaced(old, new)
            if outcome is not None:
                await outcome

    async def replace_quietly(self, old: str) -> None:
        """`replace`, for a task of the transport: a failure is logged, and the caller tries again later."""
        try:
            await self.replace(old)
        except (McpError, TransportError) as exc:
            log.warning("could not open a new session: %s", exc)
            await trio.sleep(MAX_BACKOFF)

    async def _initialize(self) -> str:
        """initialize + notifications/initialized, then what the application had set on the session.
        Requests sent meanwhile still carry the old id: they get a 404 and wait for this one."""
        transport = self.transport
        session = transport.session()
        params = session.protocol.converter.unstructure(session.initialize_params())
        result, new = await self._raw_request("initialize", params, None)
        if new is None:
            raise McpError(INTERNAL_ERROR, "the server answered initialize without an Mcp-Session-Id header")
        transport.protocol_version = result.get("protocolVersion", transport.protocol_version)
        await self._raw_notify("notifications/initialized", new)
        for method, replayed in session.replay():
            try:
                await self._raw_request(method, replayed, new)
            except McpError as exc:
                log.warning("could not set %s again in the new session: %s", method, exc.message)
        transport.session_id = new
        return new

    async def _raw_request(
        self, method: str, params: Any, session_id: str | None
    ) -> tuple[dict[str, Any], str | None]:
        """One request answered here, not through the ClientSession: its result and the Mcp-Session-Id
        header of the answer."""
        request_id = f"trio-mcp-recover-{next(self._raw_ids)}"
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        response = await self.transport.post(json.dumps(body).encode(), session_id)
        try:
            if response.status_code >= 400:
                await response.aread()
                raise http_error(response)
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                answer = await self._sse_answer(response, request_id)
            else:
                answer = json.loads(await response.aread())
        finally:
            await response.aclose()
        message = cast(dict[str, Any], answer) if isinstance(answer, dict) else {}
        result = message.get("result")
        if isinstance(result, dict):
            return cast(dict[str, Any], result), response.headers.get("mcp-session-id")
        error = message.get("error")
        if isinstance(error, dict):
            fields = cast(dict[str, Any], error)
            raise McpError(
                int(fields.get("code", INTERNAL_ERROR)), str(fields.get("message")), fields.get("data")
            )
        raise McpError(INTERNAL_ERROR, f"the server gave no answer to {method}")

    async def _sse_answer(self, response: httpx.Response, request_id: str) -> Any:
        decoder = SSEDecoder()
        answer: dict[str, Any] | None = None
        # Read to the end (the stream ends after the response): an iterator left half-read would leak.
        async for chunk in response.aiter_bytes():
            for event in decoder.feed(chunk):
                if not event.data:
                    continue
                message: object = json.loads(event.data)
                if isinstance(message, dict) and cast(dict[str, Any], message).get("id") == request_id:
                    answer = cast(dict[str, Any], message)
                else:
                    await self.transport.deliver(event.data.encode())  # a notification on the way
        return answer

    async def _raw_notify(self, method: str, session_id: str) -> None:
        response = await self.transport.post(
            json.dumps({"jsonrpc": "2.0", "method": method}).encode(), session_id
        )
        await response.aread()
        await response.aclose()
