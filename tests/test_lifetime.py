"""Lifetime (trio_mcp/_lifetime.py): one async-context lifetime per backend, entries counted."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import pytest
import trio

from trio_mcp._lifetime import Lifetime


class Recorder(Lifetime):
    """A backend whose lifetime runs a task in its own nursery, as the file store's writer does."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.seen_exit: type[BaseException] | None = None

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        self.log.append("open")
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.sleep_forever)
                try:
                    yield
                except BaseException as exc:
                    self.seen_exit = type(exc)
                    raise
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            self.log.append("close")


async def test_async_with_opens_and_closes_once() -> None:
    backend = Recorder()
    assert not backend.is_open
    async with backend as entered:
        assert entered is backend
        assert backend.is_open
        assert backend.log == ["open"]
    assert backend.log == ["open", "close"]
    assert not backend.is_open


async def test_entries_are_counted_so_a_shared_backend_closes_on_its_last_exit() -> None:
    backend = Recorder()
    async with backend:
        async with backend:
            assert backend.log == ["open"]
        assert backend.is_open
        assert backend.log == ["open"]
    assert backend.log == ["open", "close"]


async def test_open_and_aclose_are_the_same_context_and_aclose_is_idempotent() -> None:
    backend = Recorder()
    await backend.open()
    assert backend.is_open
    await backend.aclose()
    await backend.aclose()
    assert backend.log == ["open", "close"]
    async with backend:  # reopening runs the lifetime again
        pass
    assert backend.log == ["open", "close", "open", "close"]


async def test_an_error_inside_propagates_unwrapped_and_the_backend_still_closes() -> None:
    """The error is not thrown into the lifetime: its nursery would wrap it in an ExceptionGroup."""
    backend = Recorder()
    with pytest.raises(ValueError, match="boom") as info:
        async with backend:
            raise ValueError("boom")
    assert type(info.value) is ValueError
    assert backend.seen_exit is None
    assert backend.log == ["open", "close"]
    assert not backend.is_open


async def test_a_lifetime_that_fails_to_open_leaves_the_backend_closed() -> None:
    class FailsToOpen(Lifetime):
        @asynccontextmanager
        async def _lifetime(self) -> AsyncGenerator[None]:
            raise OSError("cannot open")
            yield

    backend = FailsToOpen()
    with pytest.raises(OSError, match="cannot open"):
        async with backend:
            pass
    assert not backend.is_open
    await backend.aclose()  # nothing to close
