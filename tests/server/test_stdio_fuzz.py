"""Property-based fuzzing of the stdio transport: generated lines into `serve_streams`, over in-memory streams.

Whatever lines arrive (bytes, invalid UTF-8, lone surrogates, huge numbers, deep nesting, wrong types,
batches), every line the server writes is one UTF-8 JSON-RPC message, every unparseable line gets its parse
error, the server never crashes, answers a valid ping afterwards and exits cleanly at EOF.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
import trio.testing
from _fuzz import json_bodies, jsonrpc_requests, scaled, strict_json, wire_bytes
from hypothesis import event, given, note
from hypothesis import strategies as st

from examples import everything
from trio_mcp._proto.errors import PARSE_ERROR, RemoteProtocolError
from trio_mcp._proto.jsonrpc import Request, parse_body
from trio_mcp._proto.versions import SUPPORTED_VERSIONS
from trio_mcp._transport.stdio import serve_streams

pytestmark = pytest.mark.fuzz

EXAMPLE_TIMEOUT = 30  # seconds for one whole example
AFTER = "ping-after-the-fuzzed-lines"
BATCH_VERSION = "2025-03-26"  # the one protocol version with JSON-RPC batches

fuzzed_lines = st.one_of(
    st.binary(max_size=200),
    st.one_of(json_bodies, jsonrpc_requests).map(wire_bytes),
    st.sampled_from([b"\xff\xfe", b"\xef\xbb\xbf{}", b"\xed\xa0\x80", b"\x00", b"   ", b"\r", b"{\n}"]),
)
"""Whole lines; any b"\\n" inside one splits it into several, as on a real pipe."""


def split_lines(data: bytes) -> list[bytes]:
    """The lines the server reads from `data` (stdio.lines: split on LF, stripped, blank ones skipped)."""
    return [line.strip() for line in data.split(b"\n") if line.strip()]


def request_ids(lines: list[bytes], version: str) -> list[Any]:
    """The ids of the requests among `lines` that must each get an answer (batches only where allowed)."""
    found: list[Any] = []
    for line in lines:
        try:
            parsed = parse_body(line)
        except RemoteProtocolError:
            continue
        if parsed.is_batch and version != BATCH_VERSION:
            continue  # refused as a whole, with one error whose id is null
        found += [m.id for m in parsed.messages if isinstance(m, Request)]
    return found


def is_parse_error(line: bytes) -> bool:
    try:
        parse_body(line)
    except RemoteProtocolError as exc:
        return exc.code == PARSE_ERROR
    return False


class Wire:
    """The client end: writes lines, reads every line the server writes."""

    def __init__(
        self, stream: trio.StapledStream[trio.testing.MemorySendStream, trio.testing.MemoryReceiveStream]
    ) -> None:
        self.stream = stream
        self.buffer = bytearray()
        self.lines: list[bytes] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.stream.send_all(json.dumps(message).encode() + b"\n")

    async def until(self, request_id: str) -> dict[str, Any]:
        """Read lines until the response to `request_id`."""
        while True:
            while b"\n" not in self.buffer:
                chunk = await self.stream.receive_some(65536)
                assert chunk, (
                    f"stdout ended before the answer to {request_id!r}; unread: {bytes(self.buffer)!r}"
                )
                self.buffer += chunk
            line, _, rest = bytes(self.buffer).partition(b"\n")
            self.buffer = bytearray(rest)
            self.lines.append(line)
            message = strict_json(line)
            if isinstance(message, dict) and message.get("id") == request_id and "method" not in message:
                return message

    async def rest(self) -> None:
        """Read to EOF."""
        while chunk := await self.stream.receive_some(65536):
            self.buffer += chunk
        assert self.buffer.endswith(b"\n") or not self.buffer, bytes(self.buffer)
        self.lines += bytes(self.buffer).split(b"\n")[:-1]
        self.buffer.clear()


def check_line(line: bytes) -> dict[str, Any]:
    """One output line: strict UTF-8 JSON, one JSON-RPC message (stdio never writes batches)."""
    message = strict_json(line)
    assert isinstance(message, dict), line
    assert message.get("jsonrpc") == "2.0", line
    if "method" in message:
        assert isinstance(message["method"], str), line
    elif "error" in message:
        assert "result" not in message, line
        error = message["error"]
        assert isinstance(error, dict), line
        assert isinstance(error.get("code"), int), line
        assert isinstance(error.get("message"), str), line
        assert error["message"].strip(), line
    else:
        assert isinstance(message.get("result"), dict), line
    return message


@scaled(2)
@given(st.sampled_from(SUPPORTED_VERSIONS), st.booleans(), st.lists(fuzzed_lines, min_size=1, max_size=8))
async def test_stdio_answers_every_line_with_json_and_keeps_serving(
    version: str, initialized: bool, lines: list[bytes]
) -> None:
    client, server_end = trio.testing.memory_stream_pair()
    wire = Wire(client)
    data = b"".join(line + b"\n" for line in lines)
    note(f"stdin after initialize: {data[:4000]!r}")

    async def serve() -> None:
        await serve_streams(everything.server, server_end, server_end)
        await server_end.aclose()  # the process would exit here: stdout ends

    with trio.fail_after(EXAMPLE_TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            await wire.send(
                {
                    "jsonrpc": "2.0",
                    "id": "init",
                    "method": "initialize",
                    "params": {
                        "protocolVersion": version,
                        "capabilities": {},
                        "clientInfo": {"name": "stdio-fuzz", "version": "0"},
                    },
                }
            )
            assert (await wire.until("init"))["result"]["protocolVersion"] == version
            if initialized:
                await wire.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            await client.send_all(data)
            await wire.send({"jsonrpc": "2.0", "id": AFTER, "method": "ping"})
            assert (await wire.until(AFTER))["result"] == {}
            await client.send_stream.aclose()  # EOF on stdin: the server finishes and returns
            await wire.rest()
    messages = [check_line(line) for line in wire.lines]
    parse_errors = [m for m in messages if "error" in m and m["error"]["code"] == PARSE_ERROR]
    expected = sum(is_parse_error(line) for line in split_lines(data))
    event(f"{expected} parse errors")
    assert len(parse_errors) == expected, (parse_errors, split_lines(data))
    assert all(m["id"] is None for m in parse_errors), parse_errors
    answered = {json.dumps(m.get("id")) for m in messages if "method" not in m}
    unanswered = [i for i in request_ids(split_lines(data), version) if json.dumps(i) not in answered]
    assert not unanswered, (unanswered, messages)
