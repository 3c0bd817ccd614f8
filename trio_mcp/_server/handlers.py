"""What the decorators record about a user function, and how it is called (ctx injection, sync or async)."""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

import trio

from .._runtime.context import Context
from .schema import resolve_hints


def context_parameter(func: Callable[..., Any]) -> str | None:
    """The name of the parameter annotated with Context (injected, never in the schema), if any."""
    hints = resolve_hints(func)
    for name, hint in hints.items():
        if name == "return":
            continue
        if hint is Context or (
            typing.get_origin(hint) in (typing.Union, types.UnionType) and Context in typing.get_args(hint)
        ):
            return name
    return None


def description_of(func: Callable[..., Any], explicit: str | None) -> str | None:
    if explicit and explicit.strip():
        return explicit.strip()
    doc = inspect.getdoc(func)
    return doc.strip() if doc and doc.strip() else None


async def invoke(
    func: Callable[..., Any], kwargs: dict[str, Any], *, ctx: Context, ctx_param: str | None, blocking: bool
) -> Any:
    """Await an async function; run a sync one inline, or in a worker thread when it is marked blocking."""
    if ctx_param is not None:
        kwargs = {**kwargs, ctx_param: ctx}
    if inspect.iscoroutinefunction(func):
        return await func(**kwargs)
    if blocking:
        return await trio.to_thread.run_sync(functools.partial(func, **kwargs))
    result = func(**kwargs)
    if inspect.isawaitable(result):
        return await result
    return result
