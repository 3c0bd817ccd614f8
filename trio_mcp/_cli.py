"""`trio-mcp serve module:app` (also `python -m trio_mcp serve ...`): run an MCP app on hypercorn's trio worker.
(`trio-mcp sessions ...`, the session admin commands, live in _cli_sessions.py.)

Flags for the app's knobs set their environment twins before the app's module is imported, so they configure
an app built at import time (`app = server.asgi_app()`); keywords given in code still win over them. The
current directory goes on `sys.path`, so `examples.cluster:app` imports from a checkout. SIGINT and SIGTERM
drain the app (docs/architecture.md §4), then stop it; a startup failure prints one line and exits
non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import attrs
import trio

from . import _cli_sessions
from ._exceptions import first_leaf
from ._server.server import Server
from ._transport.config import ConfigError, HttpConfig, env_name
from ._transport.http import McpASGIApp, describe
from ._transport.serve import serve
from ._version import __version__

# Knobs that only code can set (a callable, an instance) have no flag.
# Secrets have no place on a command line (ps shows it): TRIO_MCP_REQUEST_STATE_KEYS,
# TRIO_MCP_AUTH_INTROSPECTION_CLIENT_SECRET.
_NO_FLAG = ("principal", "origins", "auth", "request_state_keys", "auth_introspection_client_secret")
EXIT_USAGE, EXIT_STARTUP = 2, 1
log = logging.getLogger("trio_mcp.cli")
# After the graceful timeout, how long hypercorn and the app's lifespan get to finish before they are cut.
STOP_MARGIN = 5.0


def _knobs() -> list[str]:
    return [f.name for f in attrs.fields(HttpConfig) if f.name not in _NO_FLAG]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="trio-mcp", description="Run Model Context Protocol servers on Trio.")
    top.add_argument("--version", action="version", version=f"trio_mcp {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve an app (module:attribute) over Streamable HTTP")
    run.add_argument("app", help="module:attribute naming an app from server.asgi_app(), or a Server")
    run.add_argument(
        "--bind",
        "-b",
        action="append",
        metavar="HOST:PORT",
        help="where to listen (repeatable; 127.0.0.1:8000)",
    )
    run.add_argument("--certfile", help="TLS certificate (PEM); with --keyfile, serve HTTPS")
    run.add_argument("--keyfile", help="TLS private key (PEM)")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    run.add_argument(
        "--graceful-timeout",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="after the drain, how long hypercorn waits for open connections before it closes them (3)",
    )
    run.add_argument(
        "--keep-alive",
        type=float,
        metavar="SECONDS",
        help="how long an idle keep-alive connection stays open (hypercorn's default: 5)",
    )
    run.add_argument("--access-logfile", metavar="FILE", help="hypercorn's access log ('-': stdout)")
    run.add_argument("--access-logformat", metavar="FORMAT", help="hypercorn's access log format")
    knobs = run.add_argument_group("app configuration (each sets its environment variable)")
    for name in _knobs():
        knobs.add_argument(
            f"--{name.replace('_', '-')}", dest=f"knob_{name}", metavar="VALUE", help=env_name(name)
        )
    _cli_sessions.add_parser(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "sessions":
        return _cli_sessions.main(args)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in _knobs():
        value = getattr(args, f"knob_{name}")
        if value is not None:
            os.environ[env_name(name)] = value
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        app = load_app(args.app)
    except (ImportError, AttributeError, ValueError, ConfigError) as exc:
        print(f"trio-mcp: {exc}", file=sys.stderr)
        return EXIT_USAGE
    binds = args.bind or ["127.0.0.1:8000"]
    options: dict[str, Any] = {"bind": binds, "graceful_timeout": args.graceful_timeout}
    if args.keep_alive is not None:
        options["keep_alive_timeout"] = args.keep_alive
    if args.access_logfile:
        options["accesslog"] = args.access_logfile
    if args.access_logformat:
        options["access_log_format"] = args.access_logformat
    if args.certfile or args.keyfile:
        if not (args.certfile and args.keyfile):
            print("trio-mcp: TLS needs both --certfile and --keyfile", file=sys.stderr)
            return EXIT_USAGE
        options |= {"certfile": args.certfile, "keyfile": args.keyfile}
    return run(app, options)


def run(app: Any, options: dict[str, Any]) -> int:
    """Serve `app` until SIGINT/SIGTERM with hypercorn `options` (bind, graceful_timeout...); the exit code."""
    # hypercorn's log through the caller's logging setup (the CLI's: --log-level), not a handler of its own.
    options = {"graceful_timeout": 3.0, "errorlog": logging.getLogger("hypercorn.error"), **options}
    return trio.run(_serve, app, options)


def load_app(spec: str) -> Any:
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError(
            f"the app must be given as module:attribute (e.g. examples.everything:app), not {spec!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"cannot import {module_name!r}: {exc}") from exc
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise AttributeError(f"{module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    return target.asgi_app() if isinstance(target, Server) else target


async def _serve(app: Any, options: dict[str, Any]) -> int:
    signalled = trio.Event()  # SIGINT or SIGTERM: drain, then stop
    stop = trio.Event()  # hypercorn's shutdown trigger: stop accepting, close connections

    async def until_stopped() -> None:
        await stop.wait()

    listening = trio.CancelScope()  # the signal handler's, until hypercorn has stopped

    async def on_signals() -> None:
        with listening:
            await _on_signals(signalled, app)

    async def serving(task_status: trio.TaskStatus[list[str]]) -> None:
        try:
            await serve(app, shutdown_trigger=until_stopped, task_status=task_status, **options)
        finally:
            listening.cancel()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(on_signals)
            urls: list[str] = await nursery.start(serving)
            if isinstance(app, McpASGIApp) and not app.started:
                # hypercorn listens even when the app's lifespan failed; the failure ends this nursery.
                await trio.sleep_forever()
            print(startup_line(app, urls), flush=True)
            await signalled.wait()
            if isinstance(app, McpASGIApp):
                # docs/architecture.md §4: hand the clients to the other instances before hypercorn stops.
                await app.drain()
            stop.set()
            nursery.cancel_scope.deadline = (
                trio.current_time() + float(options["graceful_timeout"]) + STOP_MARGIN
            )
    except Exception as exc:  # a lifespan that failed, a port in use...
        print(f"trio-mcp: the app did not start: {_reason(exc)}", file=sys.stderr)
        return EXIT_STARTUP
    if nursery.cancel_scope.cancelled_caught:
        log.warning("the server did not stop within the graceful timeout + %gs: stopped it", STOP_MARGIN)
    return 0


async def _on_signals(signalled: trio.Event, app: Any) -> None:
    """The first signal drains; a second one cuts the drain short (in-flight requests are cancelled and
    answered with a retryable error)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for sig in signals:
            name = signal.Signals(sig).name
            if not signalled.is_set():
                log.info("%s: draining, then stopping (send it again to stop sooner)", name)
                signalled.set()
            elif isinstance(app, McpASGIApp):
                log.info("%s again: cancelling the requests still running", name)
                app.hurry_drain()


def startup_line(app: Any, urls: list[str]) -> str:
    where = ", ".join(url + (app.config.path if isinstance(app, McpASGIApp) else "") for url in urls)
    line = f"trio-mcp {__version__} serving {where}"
    if isinstance(app, McpASGIApp):
        line += (
            f" (instance {app.streams.instance_id}; store {describe(app.store)}; streams {describe(app.streams)};"
            f" event store {describe(app.events)})"
        )
    return line


def _reason(exc: BaseException) -> str:
    leaf = first_leaf(exc)
    return f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__
