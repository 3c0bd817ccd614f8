"""Opaque, stable cursors for list methods (Srv/utilities/pagination)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TypeVar

from .._proto.errors import INVALID_PARAMS, McpError

T = TypeVar("T")


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        offset = int(number)
        if prefix != "o" or offset < 0:
            raise ValueError(raw)
    except ValueError:
        # A bad cursor SHOULD be -32602 (Srv/utilities/pagination).
        raise McpError(
            INVALID_PARAMS, f"Invalid cursor {cursor!r}: pass back a nextCursor from an earlier page"
        ) from None
    return offset


def paginate(items: Sequence[T], cursor: str | None, page_size: int) -> tuple[list[T], str | None]:
    start = _decode(cursor) if cursor else 0
    end = start + page_size
    page = list(items[start:end])
    return page, _encode(end) if end < len(items) else None
