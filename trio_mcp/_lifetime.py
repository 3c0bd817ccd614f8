"""One async-context lifetime for every backend: session stores, stream managers, the Redis connection.

A backend writes what opening and closing mean once, as one `@asynccontextmanager` (`_lifetime`), so a nursery
it needs nests properly inside it. `async with backend:` runs it; the app's lifespan enters its store and stream
manager that way, on one AsyncExitStack (docs/architecture.md §4). Entries are counted: a backend shared by
several users (one Redis connection under two stores) opens on the first entry and closes on the last exit.
`open()`/`aclose()` enter and leave the same context for code that cannot nest a block; pair them in one task.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Self


class Lifetime:
    _lifetime_users: int = 0
    _lifetime_context: AbstractAsyncContextManager[None] | None = None

    def _lifetime(self) -> AbstractAsyncContextManager[None]:
        """Open on entry, close on exit (an `@asynccontextmanager` method)."""
        raise NotImplementedError

    @property
    def is_open(self) -> bool:
        return self._lifetime_users > 0

    async def __aenter__(self) -> Self:
        if self._lifetime_users == 0:
            context = self._lifetime()
            await context.__aenter__()
            self._lifetime_context = context
        self._lifetime_users += 1
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._lifetime_users == 0:
            return  # closing what is not open is a no-op (aclose is idempotent)
        self._lifetime_users -= 1
        if self._lifetime_users > 0:
            return
        context, self._lifetime_context = self._lifetime_context, None
        assert context is not None
        # The caller's exception is not thrown into the lifetime: it propagates as it was raised (a nursery in
        # the lifetime would wrap it in an ExceptionGroup), and closing never swallows it.
        await context.__aexit__(None, None, None)

    async def open(self) -> None:
        await self.__aenter__()

    async def aclose(self) -> None:
        await self.__aexit__(None, None, None)
