"""Decorators hand back the very function they were given, so type checkers keep its signature.

`typing.assert_type` does nothing at run time; pyright checks this file (`pyright tests/server/test_typing.py`).
The run-time half checks that the decorated functions are the originals and can still be called directly.
"""

# pyright: strict, reportUnnecessaryTypeIgnoreComment=true

from __future__ import annotations

from collections.abc import Callable, Coroutine
from types import CoroutineType
from typing import Annotated, Any, assert_type

import attrs

from trio_mcp import Context, Server
from trio_mcp import types as t

server = Server("typing")


@attrs.frozen
class Total:
    value: int


@server.tool
async def add(a: int, b: Annotated[int, "Second addend"] = 1) -> Total:
    """Add two integers."""
    return Total(a + b)


@server.tool(name="shout", description="Upper-case a word.", blocking=True)
def shout(word: str, times: int = 1) -> str:
    return " ".join([word.upper()] * times)


@server.tool(annotations=t.ToolAnnotations(read_only_hint=True))
async def with_ctx(query: str, *, ctx: Context) -> list[str]:
    """Uses the context."""
    await ctx.log("debug", query)
    return [query]


@server.prompt
async def greet(name: str, style: str = "plain") -> str:
    """Greet someone."""
    return f"Hello {name} ({style})"


@server.prompt(name="farewell", description="Say goodbye.")
def farewell(name: str) -> list[t.PromptMessage]:
    return [t.PromptMessage(role="user", content=t.TextContent(text=f"Bye {name}"))]


@server.resource("typing://items/{item_id}", mime_type="application/json")
async def item(item_id: str) -> str:
    return f'{{"id": "{item_id}"}}'


@server.resource("typing://static")
def static() -> bytes:
    return b"\x00"


@server.completion
async def complete(
    ref: t.CompletionReference, argument: t.CompletionArgument, context: t.CompletionContext | None
) -> list[str]:
    return [argument.value]


# What a type checker sees: the original signatures, names, defaults and return types.
# (A decorator typed to return Any or Callable[..., Any] would make the ignores below unnecessary, which this
# file reports as errors, and the assert_type calls would fail.)


def check_sync_signatures() -> None:
    """Never called: only here for the type checker."""
    assert_type(shout("hi"), str)
    assert_type(shout(word="hi", times=2), str)
    assert_type(farewell(name="Ada"), list[t.PromptMessage])
    assert_type(static(), bytes)
    shout(1)  # pyright: ignore[reportArgumentType]
    shout("hi", loud=True)  # pyright: ignore[reportCallIssue]
    farewell()  # pyright: ignore[reportCallIssue]
    _as_callable: Callable[[str, int], str] = shout


def check_async_signatures(ctx: Context) -> None:
    """Never called: only here for the type checker (the coroutines are never awaited)."""
    first = add(1, 2)
    _ = assert_type(first, CoroutineType[Any, Any, Total])
    by_name = add(a=1)
    _ = assert_type(by_name, CoroutineType[Any, Any, Total])
    mixed = add(1, b=2)
    _ = assert_type(mixed, CoroutineType[Any, Any, Total])
    searched = with_ctx("q", ctx=ctx)
    _ = assert_type(searched, CoroutineType[Any, Any, list[str]])
    greeted = greet("Ada", style="bold")
    _ = assert_type(greeted, CoroutineType[Any, Any, str])
    read = item(item_id="7")
    _ = assert_type(read, CoroutineType[Any, Any, str])
    _ = add("one")  # pyright: ignore[reportArgumentType]
    _ = with_ctx("q")  # pyright: ignore[reportCallIssue, reportUnknownVariableType]
    _ = greet()  # pyright: ignore[reportCallIssue, reportUnknownVariableType]
    _ = item(7)  # pyright: ignore[reportArgumentType]
    _as_callable: Callable[[int, int], Coroutine[Any, Any, Total]] = add


async def check_awaited_types(ctx: Context) -> None:
    """Never called: only here for the type checker."""
    assert_type(await add(1, 2), Total)
    assert_type(await with_ctx("q", ctx=ctx), list[str])
    assert_type(await greet("Ada"), str)
    assert_type(await item("7"), str)
    assert_type(
        await complete(t.PromptReference(name="greet"), t.CompletionArgument(name="n", value=""), None),
        list[str],
    )


# ----- the run-time half -----


def test_decorators_return_the_original_functions() -> None:
    assert server.tools["add"].func is add
    assert server.tools["shout"].func is shout
    assert server.tools["with_ctx"].func is with_ctx
    assert server.prompts["greet"].func is greet
    assert server.prompts["farewell"].func is farewell
    assert server.resources.templates[0].func is item
    assert server.resources.static["typing://static"].func is static
    assert add.__name__ == "add"
    assert add.__doc__ == "Add two integers."


async def test_decorated_functions_can_still_be_called_directly() -> None:
    assert await add(2, 3) == Total(5)
    assert await add(a=4) == Total(5)
    assert shout("hi", times=2) == "HI HI"
    assert await greet("Ada") == "Hello Ada (plain)"
    assert farewell("Ada") == [t.PromptMessage(role="user", content=t.TextContent(text="Bye Ada"))]
    assert await item("7") == '{"id": "7"}'
    assert static() == b"\x00"
    assert await complete(
        t.PromptReference(name="greet"), t.CompletionArgument(name="name", value="A"), None
    ) == ["A"]
