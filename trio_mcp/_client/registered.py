"""A user's connection kept in a client session registry (docs/architecture.md §7): `open_client(url,
registry=..., user_id=..., server_id=...)`.

The record says which MCP session to resume (`mcp_session_id`, `protocol_version`) and holds the OAuth state
(`auth`), so the connection survives the app's restarts and moves between its instances: the next process
resumes the session (a 404 opens a new one, as the client's recovery does, and the record follows it), and
leaving the block keeps the session for the next one. `complete_authorization` finishes an OAuth flow that
ended in `AuthorizationRequired`, from the app's own redirect handler.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from .oauth.authorize import complete_authorization as complete_with_storage
from .oauth.flow import OAuthClient
from .oauth.state import Tokens
from .oauth.storage import JSONTokenStorage
from .options import Resume
from .registry._base import ClientSessionNotFound, ClientSessionRecord, ClientSessionRegistry, ClientTransport
from .reopen import SessionReplaced
from .session import ClientSession

Connect = Callable[..., AbstractAsyncContextManager[ClientSession]]


def transport_of(url: str) -> ClientTransport:
    """The record's transport for `url`: its scheme selects it, as it selects open_client's."""
    if url.startswith(("ws://", "wss://")):
        return "ws"
    if url.startswith(("http://", "https://")):
        return "http"
    raise ValueError(f"an MCP server URL is http(s):// or ws(s)://, not {url!r}")


async def find(registry: ClientSessionRegistry, user_id: str, server_id: str) -> ClientSessionRecord | None:
    """The user's newest connection to `server_id`, if any."""
    for record in await registry.list(user_id):
        if record.server_id == server_id:
            return record
    return None


def record_storage(registry: ClientSessionRegistry, user_id: str, session_id: str) -> JSONTokenStorage:
    """OAuth state kept in the record's `auth` (sealed at rest when the registry has a key)."""

    async def load() -> dict[str, Any] | None:
        record = await registry.get(user_id, session_id)
        if record is None:
            raise ClientSessionNotFound(
                f"the connection {session_id!r} of user {user_id!r} is gone from the registry (deleted or expired)",
                user_id=user_id,
                session_id=session_id,
            )
        return record.auth

    async def save(state: dict[str, Any] | None) -> None:
        await registry.update(user_id, session_id, auth=state)

    return JSONTokenStorage(load, save)


async def stdio_record(
    registry: ClientSessionRegistry,
    user_id: str,
    server_id: str,
    command: str,
    args: list[str],
    env: dict[str, str] | None,
    server_name: str | None,
) -> ClientSessionRecord:
    """The record of a stdio connection: made if missing, its command, args and env brought up to date (the
    app's configuration may have changed)."""
    return await _kept_record(
        registry,
        user_id,
        server_id,
        "stdio",
        "not stdio",
        made_with={"server_name": server_name},
        kept={"command": command, "args": args, "env": env},
    )


async def _record_for(
    registry: ClientSessionRegistry,
    url: str,
    user_id: str,
    server_id: str,
    server_name: str | None,
    callback_url: str | None,
) -> ClientSessionRecord:
    kind = transport_of(url)
    # The server moved: the record follows its URL, and its session is tried anyway.
    return await _kept_record(
        registry,
        user_id,
        server_id,
        kind,
        f"but {url!r} is {kind}",
        made_with={"server_name": server_name, "callback_url": callback_url},
        kept={"server_url": url},
    )


async def _kept_record(
    registry: ClientSessionRegistry,
    user_id: str,
    server_id: str,
    transport: ClientTransport,
    asked: str,
    *,
    made_with: dict[str, Any],
    kept: dict[str, Any],
) -> ClientSessionRecord:
    """The user's record for `server_id` over `transport`: made with `made_with` and `kept` if missing, its
    `kept` fields brought up to date; a record of another transport is an error (`asked` says what was)."""
    record = await find(registry, user_id, server_id)
    if record is None:
        return await registry.create(
            ClientSessionRecord(
                session_id=registry.generate_session_id(),
                user_id=user_id,
                server_id=server_id,
                transport=transport,
                **made_with,
                **kept,
            )
        )
    if record.transport != transport:
        raise ValueError(
            f"user {user_id!r}'s connection to {server_id!r} is over {record.transport}, {asked}: delete the "
            "record (registry.delete) to change transports"
        )
    changed = {name: value for name, value in kept.items() if getattr(record, name) != value}
    return await registry.update(user_id, record.session_id, **changed) if changed else record


@asynccontextmanager
async def open_registered(
    connect: Connect,
    url: str,
    *,
    registry: ClientSessionRegistry,
    user_id: str,
    server_id: str,
    server_name: str | None = None,
    callback_url: str | None = None,
    on_session_replaced: SessionReplaced | None = None,
    auth: Any = None,
    **options: Any,
) -> AsyncGenerator[ClientSession]:
    """`connect` (open_client without the registry) on the record of (user_id, server_id), made if missing."""
    record = await _record_for(registry, url, user_id, server_id, server_name, callback_url)
    sid = record.session_id
    if isinstance(auth, OAuthClient):
        auth.storage = record_storage(registry, user_id, sid)

    async def replaced(old: str, new: str) -> None:
        await registry.update(user_id, sid, mcp_session_id=new)
        if on_session_replaced is not None:
            outcome = on_session_replaced(old, new)
            if isinstance(outcome, Awaitable):
                await outcome

    resume = (
        None
        if record.mcp_session_id is None
        else Resume(session_id=record.mcp_session_id, protocol_version=record.protocol_version)
    )
    async with connect(
        url, auth=auth, resume=resume, keep_session=True, on_session_replaced=replaced, **options
    ) as client:
        await registry.update(
            user_id,
            sid,
            status="active",
            mcp_session_id=client.session_id,
            protocol_version=client.protocol.protocol_version,
        )
        yield client


async def complete_authorization(
    registry: ClientSessionRegistry,
    user_id: str,
    session_id: str,
    *,
    code: str,
    state: str,
    iss: str | None = None,
    **options: Any,
) -> Tokens:
    """Finish the OAuth flow of a connection whose `open_client` raised `AuthorizationRequired`: the app's
    redirect handler passes the redirect's `code` and `state` (and `iss=` when present). The tokens go into
    the record, which becomes active; the next `open_client` of it is authorized."""
    tokens = await complete_with_storage(
        record_storage(registry, user_id, session_id), code=code, state=state, iss=iss, **options
    )
    await registry.update(user_id, session_id, status="active")
    return tokens
