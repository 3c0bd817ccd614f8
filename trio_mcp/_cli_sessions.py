"""`trio-mcp sessions list|show|revoke|count|cleanup`: the session admin API (SessionAdmin) from a shell.

It opens the store the servers share, from the same configuration as `serve` (the store flags set their
environment twins; everything else comes from the environment), does one operation and exits. A revoke runs
the stream manager too, so its `SessionDeleted` reaches every running instance. The memory store is refused:
it lives inside the server process. Exit codes: 0 done, 1 the backend failed (unreachable, a file locked by a
running server) or an id is unknown, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import trio

from ._exceptions import first_leaf
from ._stores._base import SessionRecord, SessionStore, StoreError, record_to_json
from ._stores.memory import MemorySessionStore
from ._streams._base import StreamError, StreamManager, StreamUnavailable
from ._streams.control import ControlEvent
from ._streams.events import EventStore
from ._transport.admin import SessionAdmin
from ._transport.backends import select_events, select_store, select_streams
from ._transport.config import ConfigError, env_name, load_config

EXIT_FAILED, EXIT_USAGE = 1, 2
STORE_KNOBS = ("store", "store_file", "redis_url", "redis_prefix")
MEMORY_REFUSED = (
    "the memory session store lives inside the server process: no other process can see its sessions. "
    "Point this command at the store the servers share: --store redis --redis-url redis://host:6379/0 "
    "(or --store file --store-file PATH while no server holds that file)"
)
# Session ids are URL-safe base64: one made before new_session_id avoided it may start with '-', which
# argparse would take for an option.
DASH_HINT = "an id that starts with '-' goes after `--` (trio-mcp sessions revoke -- -AbC...)"
COLUMNS = ("ID", "PRINCIPAL", "CLIENT ID", "STATUS", "TRANSPORT", "CREATED", "LAST ACCESS", "CLIENT")


def add_parser(commands: Any) -> None:
    """`sessions` and its subcommands, under the top-level parser's subcommands."""
    backend = argparse.ArgumentParser(add_help=False)
    knobs = backend.add_argument_group("store (each sets its environment variable; else the environment)")
    for name in STORE_KNOBS:
        knobs.add_argument(
            f"--{name.replace('_', '-')}", dest=f"knob_{name}", metavar="VALUE", help=env_name(name)
        )
    sessions = commands.add_parser(
        "sessions", help="list and end the sessions in the servers' shared store (Redis, or a file)"
    )
    actions = sessions.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[backend], help="list sessions (newest first)")
    listing.add_argument("--principal", help="only this principal's sessions")
    listing.add_argument("--json", action="store_true", help="one JSON record per line")
    show = actions.add_parser(
        "show", parents=[backend], help="one session's record (exit 1 if unknown)", epilog=DASH_HINT
    )
    show.add_argument("session_id", metavar="SID")
    show.add_argument("--json", action="store_true", help="the record as one line of JSON")
    revoke = actions.add_parser(
        "revoke",
        parents=[backend],
        help="end sessions on every instance (their next request gets 404)",
        epilog=DASH_HINT,
    )
    revoke.add_argument("session_ids", nargs="*", metavar="SID")
    revoke.add_argument("--principal", help="every session of this principal (log the user out everywhere)")
    revoke.set_defaults(usage=revoke)
    actions.add_parser("count", parents=[backend], help="how many live sessions the store holds")
    actions.add_parser("cleanup", parents=[backend], help="remove expired sessions and index entries now")


def main(args: argparse.Namespace) -> int:
    if args.action == "revoke" and bool(args.session_ids) == (args.principal is not None):
        args.usage.error("give session ids or --principal, not both and not neither")
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in STORE_KNOBS:
        value = getattr(args, f"knob_{name}")
        if value is not None:
            os.environ[env_name(name)] = value
    try:
        config = load_config()
        store = select_store(config)
        streams = select_streams(config, store)
        events = select_events(config, streams)
    except (ConfigError, ImportError, ValueError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    if isinstance(store, MemorySessionStore):
        return _fail(MEMORY_REFUSED, EXIT_USAGE)
    try:
        return trio.run(_run, args, store, streams, events)
    except Exception as exc:
        reason = first_leaf(exc)
        if isinstance(reason, StoreError | StreamUnavailable | StreamError | OSError):
            return _fail(str(reason), EXIT_FAILED)  # a locked file, Redis down: one line, no traceback
        raise


def _fail(message: str, code: int) -> int:
    print(f"trio-mcp: {message}", file=sys.stderr)
    return code


class _NoEvents:
    """This process serves no sessions: what other instances broadcast is nothing to it."""

    def on_broadcast(self, event: ControlEvent) -> None:
        pass

    def on_reply(self, session_id: str, payload: bytes) -> None:
        pass


async def _run(
    args: argparse.Namespace, store: SessionStore, streams: StreamManager, events: EventStore | None
) -> int:
    # As the app's lifespan (docs/architecture.md §4): the store first, then the event store, the stream
    # manager's `run` (only a revoke broadcasts: on Redis that needs the connection `run` opens), its lifetime.
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(store)
        if events is not None:
            await stack.enter_async_context(events)
        if args.action == "revoke":
            nursery = await stack.enter_async_context(trio.open_nursery())
            stack.callback(nursery.cancel_scope.cancel)
            await nursery.start(streams.run, _NoEvents())
        await stack.enter_async_context(streams)
        return await ACTIONS[args.action](SessionAdmin(store, streams, events), args)
    raise AssertionError("unreachable")  # for the type checker: an exit stack may swallow exceptions


# -- the operations --


async def _list(admin: SessionAdmin, args: argparse.Namespace) -> int:
    records = await (admin.list_all() if args.principal is None else admin.list(args.principal))
    if args.json:
        for record in records:
            print(record_to_json(record))
    else:
        print(table(records), end="")
    return 0


async def _show(admin: SessionAdmin, args: argparse.Namespace) -> int:
    record = await admin.get(args.session_id)
    if record is None:
        return _fail(f"no session {args.session_id!r} (unknown, expired or revoked)", EXIT_FAILED)
    print(record_to_json(record) if args.json else details(record).rstrip("\n"))
    return 0


async def _revoke(admin: SessionAdmin, args: argparse.Namespace) -> int:
    if args.principal is not None:
        removed = await admin.revoke_all(args.principal)
        print(f"revoked {_sessions(removed)} of principal {args.principal!r}")
        return 0
    session_ids = list(dict.fromkeys(args.session_ids))
    unknown = [sid for sid in session_ids if not await admin.revoke(sid)]
    print(f"revoked {_sessions(len(session_ids) - len(unknown))}")
    for sid in unknown:
        print(f"trio-mcp: no session {sid!r} (unknown, expired or revoked)", file=sys.stderr)
    return EXIT_FAILED if unknown else 0


async def _count(admin: SessionAdmin, args: argparse.Namespace) -> int:
    print(await admin.count())
    return 0


async def _cleanup(admin: SessionAdmin, args: argparse.Namespace) -> int:
    print(f"removed {_sessions(await admin.cleanup_expired(), 'expired session')}")
    return 0


ACTIONS: dict[str, Callable[[SessionAdmin, argparse.Namespace], Awaitable[int]]] = {
    "list": _list,
    "show": _show,
    "revoke": _revoke,
    "count": _count,
    "cleanup": _cleanup,
}


# -- output --


def _sessions(n: int, noun: str = "session") -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp)) if timestamp > 0 else "-"


def _client(record: SessionRecord) -> str:
    info = record.client_info
    return "-" if info is None else f"{info.name} {info.version}"


def row(record: SessionRecord) -> tuple[str, ...]:
    return (
        record.session_id,
        record.principal or "-",
        record.client_id or "-",
        record.status,
        record.transport,
        _when(record.created_at),
        _when(record.last_accessed_at),
        _client(record),
    )


def table(records: list[SessionRecord]) -> str:
    """The records as aligned columns under a header line (the header alone when there are none)."""
    rows = [COLUMNS, *(row(r) for r in records)]
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(COLUMNS))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n" for cells in rows
    )


def details(record: SessionRecord) -> str:
    """One session, a field per line."""
    fields = {
        "session id": record.session_id,
        "principal": record.principal or "-",
        "client id": record.client_id or "-",
        "status": record.status,
        "transport": record.transport,
        "protocol": record.protocol_version or "-",
        "client": _client(record),
        "created": _when(record.created_at),
        "last access": _when(record.last_accessed_at),
        "log level": record.log_level or "-",
        "subscriptions": ", ".join(record.subscriptions) or "-",
        "capabilities": json.dumps(_capabilities(record), separators=(",", ":")),
    }
    width = max(map(len, fields))
    return "".join(f"{name.ljust(width)}  {value}\n" for name, value in fields.items())


def _capabilities(record: SessionRecord) -> Any:
    return json.loads(record_to_json(record)).get("clientCapabilities")
