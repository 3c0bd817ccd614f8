"""Any `httpx.Auth` (an `OAuthClient` included) for a WebSocket upgrade: the auth flow's first request gives
the upgrade's headers; a refused upgrade (401/403 with its challenge, as an HTTP answer would be) goes back into
the flow like an HTTP response, and the headers of the request it answers with open the next attempt. So a
socket gets the same discovery, authorization, refresh and step-up as an HTTP request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import trio_websocket

T = TypeVar("T")
Headers = list[tuple[bytes, bytes]]
_WEB = {"ws": "http", "wss": "https"}


def http_twin(url: str) -> str:
    """The http(s) URL of a ws(s) URL: the resource the token is for."""
    parts = urlsplit(url)
    return urlunsplit(
        (_WEB.get(parts.scheme.lower(), parts.scheme), parts.netloc, parts.path, parts.query, "")
    )


async def upgrade_with_auth(auth: httpx.Auth, url: str, connect: Callable[[Headers], Awaitable[T]]) -> T:
    """`connect(headers)` with the headers `auth` puts on a GET of `url`, again as long as the flow answers
    a refusal with another request; the last refusal is raised when it does not."""
    base = httpx.Request("GET", http_twin(url))
    before = set(base.headers.keys())
    flow = auth.async_auth_flow(base)
    try:
        request = await flow.__anext__()
        while True:
            headers = [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in request.headers.items()
                if name.lower() not in before
            ]
            try:
                return await connect(headers)
            except trio_websocket.ConnectionRejected as refused:
                response = httpx.Response(
                    refused.status_code,
                    headers=list(refused.headers),
                    content=refused.body or b"",
                    request=request,
                )
                try:
                    request = await flow.asend(response)
                except StopAsyncIteration:
                    raise refused from None
    finally:
        await flow.aclose()
