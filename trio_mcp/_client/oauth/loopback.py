"""`loopback_redirect()`: the redirect URI of a native app (RFC 8252 §7.3): a tiny HTTP server on a loopback
address and a free port that waits for the authorization server's redirect and hands over its `code`,
`state` and `iss`. It opens nothing itself: the caller's redirect handler opens the browser.

    async with loopback_redirect() as loopback:
        auth = OAuthClient(redirect_uri=loopback.redirect_uri, redirect_handler=open_browser,
                           callback_handler=loopback.callback)
        async with open_client(url, auth=auth) as client:
            ...
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlsplit

import trio

from .authorize import AuthorizationResponse
from .errors import OAuthError

log = logging.getLogger("trio_mcp.client.oauth")

MAX_REQUEST = 8 * 1024
READ_TIMEOUT = 10.0
DONE_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>Authorized</title>"
    b"<p>The authorization went back to the application. You can close this window.</p>"
)


class LoopbackRedirect:
    """The running listener: `redirect_uri` to register and send, `callback()` to wait for the redirect."""

    def __init__(self, redirect_uri: str, path: str, timeout: float) -> None:
        self.redirect_uri = redirect_uri
        self.path = path
        self.timeout = timeout
        self._arrived = trio.Event()
        self._response: AuthorizationResponse | None = None

    def __repr__(self) -> str:
        return f"LoopbackRedirect({self.redirect_uri!r})"

    async def callback(self) -> AuthorizationResponse:
        """The next redirect's parameters; OAuthError when none came within `timeout` seconds. Usable as an
        `OAuthClient` callback handler (each call waits for a new redirect)."""
        with trio.move_on_after(self.timeout):
            await self._arrived.wait()
        response = self._response
        if response is None:
            raise OAuthError(
                f"no authorization response reached {self.redirect_uri} within {self.timeout:g} s"
            )
        self._response, self._arrived = None, trio.Event()
        return response

    def _deliver(self, response: AuthorizationResponse) -> bool:
        if self._arrived.is_set():
            return False  # one response per wait; the first one wins
        self._response = response
        self._arrived.set()
        return True


@asynccontextmanager
async def loopback_redirect(
    *, host: str = "127.0.0.1", port: int = 0, path: str = "/callback", timeout: float = 300.0
) -> AsyncGenerator[LoopbackRedirect]:
    """Listen on `host` (a loopback address; RFC 8252 §8.3: an IP literal, not `localhost`) at `port` (0: a
    free one) for the redirect to `path`, for the body of the `async with`."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"a loopback redirect listens on a loopback address, not {host!r}")
    listeners = await trio.open_tcp_listeners(port, host=host)
    listener, rest = listeners[0], listeners[1:]
    for extra in rest:
        await extra.aclose()
    bound = listener.socket.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    redirect = LoopbackRedirect(f"http://{shown}:{bound}{path}", path, timeout)
    failure: Exception | None = None
    async with listener, trio.open_nursery() as nursery:
        nursery.start_soon(_serve, listener, redirect)
        try:
            yield redirect
        except Exception as exc:  # raised outside the nursery: the caller gets it as it was
            failure = exc
        nursery.cancel_scope.cancel()
    if failure is not None:
        raise failure


async def _serve(listener: trio.SocketListener, redirect: LoopbackRedirect) -> None:
    async with trio.open_nursery() as nursery:
        while True:
            stream = await listener.accept()
            nursery.start_soon(_answer, stream, redirect)


async def _answer(stream: trio.SocketStream, redirect: LoopbackRedirect) -> None:
    async with stream:
        try:
            with trio.fail_after(READ_TIMEOUT):
                head = await _read_head(stream)
                status, body = _handle(head, redirect)
                await stream.send_all(
                    b"HTTP/1.1 %d %s\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: %d\r\n"
                    b"cache-control: no-store\r\nconnection: close\r\n\r\n%s"
                    % (status, b"OK" if status == 200 else b"Not Found", len(body), body)
                )
        except (trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError, ValueError) as exc:
            log.debug("a request to the loopback redirect failed: %r", exc)


async def _read_head(stream: trio.SocketStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_REQUEST:
            raise ValueError("request head too large")
        chunk = await stream.receive_some(4096)
        if not chunk:
            break
        data += chunk
    return data


def _handle(head: bytes, redirect: LoopbackRedirect) -> tuple[int, bytes]:
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    method, _, rest = line.partition(" ")
    target = rest.rpartition(" ")[0] or rest
    parts = urlsplit(target)
    if method != "GET" or parts.path != redirect.path:
        return 404, b"<!doctype html><title>Not found</title><p>Not found."
    query = dict(parse_qsl(parts.query))
    if "code" not in query and "error" not in query:
        return 404, b"<!doctype html><title>Not found</title><p>No authorization response here."
    redirect._deliver(AuthorizationResponse.from_query(query))  # pyright: ignore[reportPrivateUsage]
    return 200, DONE_PAGE
