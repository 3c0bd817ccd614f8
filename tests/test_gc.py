"""The app's GC threshold: raised while an app runs, put back after the last one stops (trio_mcp/_gc.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from trio_mcp import Server
from trio_mcp._gc import raised_gc_threshold


@pytest.fixture(autouse=True)
def python_default_threshold() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, saved[1], saved[2])
    yield
    gc.set_threshold(*saved)


def test_the_threshold_is_raised_inside_and_restored_after() -> None:
    with raised_gc_threshold(50_000):
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold()[0] == 700


def test_nested_holders_restore_only_when_the_last_leaves() -> None:
    outer = raised_gc_threshold(20_000)
    outer.__enter__()
    with raised_gc_threshold(50_000):
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold()[0] == 50_000  # another app still runs: its raise stays
    outer.__exit__(None, None, None)
    assert gc.get_threshold()[0] == 700


def test_zero_leaves_it_alone() -> None:
    with raised_gc_threshold(0):
        assert gc.get_threshold()[0] == 700


def test_a_higher_threshold_set_by_the_user_is_kept() -> None:
    gc.set_threshold(100_000)
    with raised_gc_threshold(50_000):
        assert gc.get_threshold()[0] == 100_000
    assert gc.get_threshold()[0] == 100_000


@pytest.mark.parametrize(("knob", "inside"), [(None, 50_000), (0, 700), (9_000, 9_000)])
async def test_the_app_lifespan_applies_the_knob(knob: int | None, inside: int) -> None:
    server = Server("gc")
    app = server.asgi_app() if knob is None else server.asgi_app(gc_threshold=knob)
    async with app.lifespan():
        assert gc.get_threshold()[0] == inside
    assert gc.get_threshold()[0] == 700
