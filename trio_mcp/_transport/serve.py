"""serve(app, host=, port=): run an ASGI app on hypercorn's trio worker inside the caller's nursery."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypercorn.config import Config, Sockets
from hypercorn.trio import serve as hypercorn_serve  # pyright: ignore[reportUnknownVariableType]

DEFAULT_SEND_TIMEOUT = 30.0


class _Config(Config):
    """hypercorn's Config whose listening sockets carry TCP_USER_TIMEOUT (inherited by accepted connections).

    hypercorn writes to a client in a shielded scope with no timeout, so a client that stops reading would
    hold its connection and the response's task forever (a full TCP window blocks the write). The kernel
    aborts a connection whose sent data stayed unacknowledged (zero-window probes included) for longer than
    the user timeout; hypercorn then tells the app the client is gone. Linux only; elsewhere a no-op.
    """

    send_timeout: float = DEFAULT_SEND_TIMEOUT

    def create_sockets(self) -> Sockets:
        sockets = super().create_sockets()
        option = getattr(socket, "TCP_USER_TIMEOUT", None)
        if option is not None and self.send_timeout > 0:
            for sock in [*sockets.secure_sockets, *sockets.insecure_sockets]:
                if sock.family in (socket.AF_INET, socket.AF_INET6):
                    sock.setsockopt(socket.IPPROTO_TCP, option, max(1, int(self.send_timeout * 1000)))
        return sockets


async def serve(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    graceful_timeout: float = 3.0,
    send_timeout: float = DEFAULT_SEND_TIMEOUT,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
    **hypercorn_options: Any,
) -> None:
    """`await nursery.start(functools.partial(serve, app, port=0))` returns the bound URLs (port 0 picks a port).

    Runs until cancelled; hypercorn drives the app's lifespan (startup before the first request).
    `send_timeout`: a client that accepts no data for this long is disconnected (TCP_USER_TIMEOUT on Linux),
    so a stream whose client stopped reading never holds its connection forever; 0 turns it off.
    `shutdown_trigger`: when it returns, hypercorn stops accepting and gives open requests `graceful_timeout`.
    """
    config = _Config()
    config.send_timeout = send_timeout
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    for name, value in hypercorn_options.items():
        setattr(config, name, value)
    await hypercorn_serve(  # pyright: ignore[reportUnknownMemberType]
        app,
        config,
        shutdown_trigger=shutdown_trigger,  # pyright: ignore[reportArgumentType]
        task_status=task_status,
    )
