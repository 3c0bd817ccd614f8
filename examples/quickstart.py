"""Quickstart: a small notes server showing the everyday parts of trio_mcp.

Run it over stdio (what desktop MCP clients start):

    python examples/quickstart.py

or over Streamable HTTP:

    hypercorn --worker-class trio -b 127.0.0.1:8000 examples.quickstart:app

The notes live in this process's memory: a real server would keep them in a database.
"""

from __future__ import annotations

import json
from typing import Annotated

import attrs
import trio

from trio_mcp import Context, McpError, Server
from trio_mcp import types as t

server = Server(
    "notes",
    version="1.0.0",
    instructions="Keep short notes: add them, search them, and read any note as notes://{id}.",
)


@attrs.frozen
class Note:
    id: int
    title: str
    body: str
    tags: list[str] = attrs.field(factory=list[str])


@attrs.frozen
class SearchResult:
    query: str
    matches: list[Note]
    total: int


NOTES: dict[int, Note] = {
    1: Note(id=1, title="Groceries", body="Milk, eggs, coffee beans.", tags=["home"]),
    2: Note(
        id=2,
        title="Trio nurseries",
        body="Every task has a parent; errors propagate.",
        tags=["python", "trio"],
    ),
}


# The docstring is the tool's description; the signature becomes its inputSchema (Annotated strings describe
# the parameters, defaults make them optional) and the attrs return type its outputSchema.
@server.tool(annotations=t.ToolAnnotations(destructive_hint=False, idempotent_hint=False))
async def add_note(
    title: Annotated[str, "A short title"],
    body: Annotated[str, "The text of the note"],
    tags: Annotated[list[str] | None, "Labels to find the note by"] = None,
) -> Note:
    """Add a note and return it with its new id."""
    note = Note(id=max(NOTES, default=0) + 1, title=title, body=body, tags=tags or [])
    NOTES[note.id] = note
    await server.send_resources_list_changed()
    return note


@server.tool(annotations=t.ToolAnnotations(read_only_hint=True))
async def search_notes(
    query: Annotated[str, "Words to look for in titles, bodies and tags"],
    limit: Annotated[int, "The most notes to return"] = 5,
    *,
    ctx: Context,
) -> SearchResult:
    """Search the notes; reports progress while it scans them."""
    await ctx.log("info", f"searching {len(NOTES)} notes for {query!r}")
    words = query.lower().split()
    matches: list[Note] = []
    notes = list(NOTES.values())
    for done, note in enumerate(notes, start=1):
        haystack = " ".join([note.title, note.body, *note.tags]).lower()
        if all(word in haystack for word in words):
            matches.append(note)
        await ctx.report_progress(done, len(notes), f"scanned {done} of {len(notes)}")
        await trio.sleep(0)  # a real search would await I/O here
    return SearchResult(query=query, matches=matches[:limit], total=len(matches))


@server.resource("notes://{note_id}", mime_type="application/json", description="One note as JSON")
async def read_note(note_id: str) -> str:
    note = NOTES.get(int(note_id)) if note_id.isdigit() else None
    if note is None:
        raise McpError(-32002, f"Resource not found: notes://{note_id}", {"uri": f"notes://{note_id}"})
    return json.dumps(attrs.asdict(note))


@server.prompt
async def summarize_note(note_id: Annotated[str, "The id of the note to summarize"]) -> str:
    """Ask the model for a one-sentence summary of a note."""
    note = NOTES.get(int(note_id)) if note_id.isdigit() else None
    if note is None:
        raise McpError(-32602, f"No note with id {note_id!r}")
    return f"Summarize this note in one sentence.\n\nTitle: {note.title}\n\n{note.body}"


app = server.asgi_app()

if __name__ == "__main__":
    server.run_stdio()
