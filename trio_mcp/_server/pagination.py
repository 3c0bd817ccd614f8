"""Opaque, stable cursors for list methods (Srv/utilities/pagination).

Every definition gets a registration number that never changes or repeats (a replaced tool gets a new one),
and lists are in that order. A cursor names the number of the last item of its page, so the next page is
"every item registered after it": an item removed or added between two pages never shifts another item
into or out of a page already read, so nothing is skipped or listed twice (an added item comes last). The
numbers come from the same registration code on every instance, so any instance serves the next page.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterable
from typing import Protocol, TypeVar

from .._proto.errors import INVALID_PARAMS, McpError

_registrations = itertools.count()


def registration_number() -> int:
    return next(_registrations)


class Listed(Protocol):
    @property
    def order(self) -> int: ...


L = TypeVar("L", bound=Listed)


def _encode(order: int) -> str:
    return base64.urlsafe_b64encode(f"r:{order}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        order = int(number)
        if prefix != "r" or order < 0:
            raise ValueError(raw)
    except ValueError:
        # A bad cursor SHOULD be -32602 (Srv/utilities/pagination).
        raise McpError(
            INVALID_PARAMS, f"Invalid cursor {cursor!r}: pass back a nextCursor from an earlier page"
        ) from None
    return order


def paginate(items: Iterable[L], cursor: str | None, page_size: int) -> tuple[list[L], str | None]:
    after = _decode(cursor) if cursor else -1
    remaining = sorted((item for item in items if item.order > after), key=lambda item: item.order)
    page = remaining[:page_size]
    return page, _encode(page[-1].order) if len(remaining) > page_size else None
