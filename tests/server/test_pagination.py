"""Pagination of tools/list, resources/list, resources/templates/list and prompts/list (Srv/utilities/pagination).

The page size is the Server's `page_size`; a page has `nextCursor` while more items follow and none on the last
page; a cursor not handed out by the server is -32602; cursors are meant to be stable (pagination.py: "Opaque,
stable cursors"), so a list that changes between two pages must not make the client miss an item that was there
all along, nor see one twice.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from _rawhttp import JSON, post_headers, rpc, start_app

from trio_mcp import McpError, Server
from trio_mcp import types as t
from trio_mcp.testing import open_memory_client

INVALID_PARAMS = -32602
ITEMS = 5
PAGE = 2


def paged_server() -> Server:
    """ITEMS tools, prompts, static resources and resource templates; pages of PAGE."""
    server = Server("paged", page_size=PAGE)
    for i in range(ITEMS):
        add_tool(server, f"tool{i}")

        async def prompt_fn() -> str:
            return "p"

        server.prompt(name=f"prompt{i}", description=f"Prompt {i}.")(prompt_fn)

        async def resource_fn() -> str:
            return "r"

        server.resource(f"mem://r{i}", name=f"r{i}")(resource_fn)

        async def template_fn(key: str) -> str:
            return key

        server.resource(f"mem://t{i}/{{key}}", name=f"t{i}")(template_fn)
    return server


def add_tool(server: Server, name: str) -> None:
    async def tool_fn() -> str:
        return name

    server.tool(name=name, description=f"The tool {name}.")(tool_fn)


async def test_every_list_pages_with_next_cursor_on_the_wire(nursery: trio.Nursery) -> None:
    """Over HTTP (stateless JSON): pages of `page_size`, `nextCursor` a string on every page but the last,
    absent on the last; chaining the cursors yields every item once, in registration order."""
    target = await start_app(nursery, paged_server().asgi_app())
    expected = {
        "tools/list": ("tools", "name", [f"tool{i}" for i in range(ITEMS)]),
        "prompts/list": ("prompts", "name", [f"prompt{i}" for i in range(ITEMS)]),
        "resources/list": ("resources", "uri", [f"mem://r{i}" for i in range(ITEMS)]),
        "resources/templates/list": (
            "resourceTemplates",
            "uriTemplate",
            [f"mem://t{i}/{{key}}" for i in range(ITEMS)],
        ),
    }
    for method, (field, key, names) in expected.items():
        seen: list[str] = []
        params: dict[str, Any] = {}
        pages: list[dict[str, Any]] = []
        for _ in range(ITEMS + 2):  # bounded: more pages than items means the cursor never ends
            response = await target.request("POST", post_headers(accept=JSON), rpc(method, params, id=method))
            assert response.status == 200, response.body
            result = response.json()["result"]
            pages.append(result)
            seen += [item[key] for item in result[field]]
            if "nextCursor" not in result:
                break
            assert isinstance(result["nextCursor"], str), result
            assert result["nextCursor"]
            params = {"cursor": result["nextCursor"]}
        assert seen == names, (method, pages)
        assert [len(page[field]) for page in pages] == [2, 2, 1], (method, pages)
        assert "nextCursor" not in pages[-1]


async def test_a_cursor_whose_earlier_items_were_removed_still_gives_the_rest() -> None:
    """A cursor handed out for the third page, used after every item before it was removed: the items not yet
    listed (tool4), without nextCursor; never a crash or a skipped item. And a cursor past the end of the
    list gives an empty last page."""
    server = paged_server()
    async with open_memory_client(server) as client:
        first = await client.list_tools()
        second = await client.list_tools(first.next_cursor)
        assert second.next_cursor is not None
        for name in ("tool0", "tool1", "tool2", "tool3"):
            await server.remove_tool(name)
        page = await client.list_tools(second.next_cursor)
        assert [tool.name for tool in page.tools] == ["tool4"]
        assert page.next_cursor is None
        await server.remove_tool("tool4")
        empty = await client.list_tools(second.next_cursor)
        assert empty.tools == []
        assert empty.next_cursor is None


@pytest.mark.parametrize("cursor", ["%%%", "not a cursor", "eyJvZmZzZXQiOiAyfQ", "bzotMQ", "eDoy"])
async def test_a_cursor_the_server_never_made_is_invalid_params(cursor: str) -> None:
    """Garbage, someone else's (base64 JSON), an old offset cursor ("o:-1") and a foreign prefix ("x:2"): -32602,
    on every list method."""
    async with open_memory_client(paged_server()) as client:
        for method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list"):
            with pytest.raises(McpError) as info:
                await client.request(method, t.PaginatedRequestParams(cursor=cursor))
            assert info.value.code == INVALID_PARAMS, (method, info.value)
            assert "cursor" in info.value.message.lower()


async def test_a_tool_added_between_pages_is_seen_once_at_the_end() -> None:
    """A tool registered while a client pages through tools/list: no item is missed or repeated, and the new
    tool comes on a later page (tools are listed in registration order)."""
    server = paged_server()
    async with open_memory_client(server) as client:
        first = await client.list_tools()
        await server.add_tool(lambda: "new", name="added", description="Added between pages.")
        names = [tool.name for tool in first.tools]
        cursor = first.next_cursor
        for _ in range(ITEMS + 2):
            if cursor is None:
                break
            page = await client.list_tools(cursor)
            names += [tool.name for tool in page.tools]
            cursor = page.next_cursor
    assert names == [f"tool{i}" for i in range(ITEMS)] + ["added"]


async def test_a_tool_removed_between_pages_makes_no_other_tool_go_missing() -> None:
    """tool0 (already seen, on page 1) is removed before page 2 is asked for: every tool that existed all
    along must still be listed once. (With a cursor that is a bare offset, the items shift left under it and
    tool2 is skipped.)"""
    server = paged_server()
    async with open_memory_client(server) as client:
        first = await client.list_tools()
        assert [tool.name for tool in first.tools] == ["tool0", "tool1"]
        await server.remove_tool("tool0")
        names = [tool.name for tool in first.tools]
        cursor = first.next_cursor
        for _ in range(ITEMS + 2):
            if cursor is None:
                break
            page = await client.list_tools(cursor)
            names += [tool.name for tool in page.tools]
            cursor = page.next_cursor
    assert sorted(set(names) - {"tool0"}) == [f"tool{i}" for i in range(1, ITEMS)], names
    assert len(names) == len(set(names)), names


async def test_the_page_size_applies_to_every_list_and_one_page_has_no_cursor() -> None:
    """A list that fits in one page has no nextCursor; page_size=1 pages one item at a time."""
    async with open_memory_client(Server("empty")) as client:
        for method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list"):
            raw = await client.request(method, t.PaginatedRequestParams())
            assert raw.next_cursor is None, method
    one = Server("one", page_size=1)
    add_tool(one, "a")
    add_tool(one, "b")
    async with open_memory_client(one) as client:
        first = await client.list_tools()
        assert [tool.name for tool in first.tools] == ["a"]
        second = await client.list_tools(first.next_cursor)
        assert [tool.name for tool in second.tools] == ["b"]
        assert second.next_cursor is None
