"""One accepted WebSocket as the MCP connection sees it: text frames in, text frames out, one close.

The close codes say what to change (docs/architecture.md §8). A close sent before the handshake is accepted
reaches the client as a bare HTTP 403, so every refusal is sent after accepting.
"""

from __future__ import annotations

import attrs
import trio

from .._proto.websocket import SUBPROTOCOL, Close, fit_reason
from .asgi import Receive, Send


@attrs.frozen
class Closing:
    code: Close
    reason: str


@attrs.define(eq=False)
class Frame:
    """What the client sent: a text frame, a binary frame, or nothing more (it closed)."""

    text: str | None = None
    binary: bool = False


class WebSocket:
    """The ASGI websocket events of one connection after `websocket.accept`."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.client_gone = False
        self.closed = False
        #: when the client last sent a frame (trio clock): the keep-alive pings only an idle client
        self.last_heard = trio.current_time()

    async def receive(self) -> Frame | None:
        """The next frame; None once the client closed or went away."""
        while not self.client_gone:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                self.client_gone = True
                return None
            if kind != "websocket.receive":
                continue
            self.last_heard = trio.current_time()
            text = message.get("text")
            if text is not None:
                return Frame(text=text)
            return Frame(binary=True)
        return None

    async def send_text(self, text: str) -> None:
        if not self.closed:
            await self._send({"type": "websocket.send", "text": text})

    async def close(self, closing: Closing) -> None:
        """Send the close frame once; a client that already went away gets none."""
        if self.closed:
            return
        self.closed = True
        if not self.client_gone:
            await self._send(
                {"type": "websocket.close", "code": int(closing.code), "reason": fit_reason(closing.reason)}
            )


async def accept(
    send: Send, subprotocols: list[str], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Accept the upgrade, choosing `mcp` when the client offered it (a refusal follows when it did not)."""
    message: dict[str, object] = {"type": "websocket.accept"}
    if SUBPROTOCOL in subprotocols:
        message["subprotocol"] = SUBPROTOCOL
    if headers:
        message["headers"] = headers
    await send(message)
