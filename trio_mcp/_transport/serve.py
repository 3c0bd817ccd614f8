"""serve(app, host=, port=): run an ASGI app on hypercorn's trio worker inside the caller's nursery."""

from __future__ import annotations

from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve  # pyright: ignore[reportUnknownVariableType]


async def serve(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    graceful_timeout: float = 3.0,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
    **hypercorn_options: Any,
) -> None:
    """`await nursery.start(functools.partial(serve, app, port=0))` returns the bound URLs (port 0 picks a port).

    Runs until cancelled; hypercorn drives the app's lifespan (startup before the first request).
    """
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    for name, value in hypercorn_options.items():
        setattr(config, name, value)
    await hypercorn_serve(app, config, task_status=task_status)  # pyright: ignore[reportArgumentType]
