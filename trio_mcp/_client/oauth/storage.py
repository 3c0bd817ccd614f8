"""Where the client keeps its tokens, its registration and an authorization in progress: the `TokenStorage`
protocol, kept in memory (`MemoryTokenStorage`) or in one JSON-able dict held elsewhere (`JSONTokenStorage`,
e.g. a client session registry record's `auth`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import attrs

from .state import ClientInfo, OAuthState, PendingAuthorization, Tokens


@runtime_checkable
class TokenStorage(Protocol):
    """Async get/set of the three parts of `OAuthState`; `None` clears a part. One storage belongs to one MCP
    server (the client refuses tokens stored for another)."""

    async def get_tokens(self) -> Tokens | None: ...

    async def set_tokens(self, tokens: Tokens | None) -> None: ...

    async def get_client_info(self) -> ClientInfo | None: ...

    async def set_client_info(self, client: ClientInfo | None) -> None: ...

    async def get_pending(self) -> PendingAuthorization | None: ...

    async def set_pending(self, pending: PendingAuthorization | None) -> None: ...


class _StateStorage:
    """TokenStorage over one `OAuthState` read and written whole."""

    async def load(self) -> OAuthState:
        raise NotImplementedError

    async def store(self, state: OAuthState) -> None:
        raise NotImplementedError

    async def get_tokens(self) -> Tokens | None:
        return (await self.load()).tokens

    async def set_tokens(self, tokens: Tokens | None) -> None:
        await self.store(attrs.evolve(await self.load(), tokens=tokens))

    async def get_client_info(self) -> ClientInfo | None:
        return (await self.load()).client

    async def set_client_info(self, client: ClientInfo | None) -> None:
        await self.store(attrs.evolve(await self.load(), client=client))

    async def get_pending(self) -> PendingAuthorization | None:
        return (await self.load()).pending

    async def set_pending(self, pending: PendingAuthorization | None) -> None:
        await self.store(attrs.evolve(await self.load(), pending=pending))


class MemoryTokenStorage(_StateStorage):
    """In this process only; `state` is what it holds (`state.to_json()` to keep it elsewhere)."""

    def __init__(self, state: OAuthState | None = None) -> None:
        self.state = state or OAuthState()

    def __repr__(self) -> str:
        return f"MemoryTokenStorage({self.state!r})"

    async def load(self) -> OAuthState:
        return self.state

    async def store(self, state: OAuthState) -> None:
        self.state = state


class JSONTokenStorage(_StateStorage):
    """The state as one JSON-able dict (`OAuthState.to_json()`) that `load()` reads and `save(dict | None)`
    writes (None once nothing is left), e.g. the `auth` of a client session registry record."""

    def __init__(
        self,
        load: Callable[[], Awaitable[dict[str, Any] | None]],
        save: Callable[[dict[str, Any] | None], Awaitable[None]],
    ) -> None:
        self._load = load
        self._save = save

    async def load(self) -> OAuthState:
        document = await self._load()
        return OAuthState() if document is None else OAuthState.from_json(document)

    async def store(self, state: OAuthState) -> None:
        empty = state.tokens is None and state.client is None and state.pending is None
        await self._save(None if empty else state.to_json())
