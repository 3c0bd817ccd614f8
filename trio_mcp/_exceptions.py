"""Exception groups: trio nurseries raise them strictly; these find the exceptions inside."""

from __future__ import annotations

from collections.abc import Iterator


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """Every exception that is not a group, depth first (just `exc` when it is not a group)."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:  # pyright: ignore[reportUnknownVariableType]
            yield from leaves(inner)  # pyright: ignore[reportUnknownArgumentType]
    else:
        yield exc


def first_leaf(exc: BaseException) -> BaseException:
    return next(leaves(exc))
