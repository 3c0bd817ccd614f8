"""Property-based fuzzing of the one parse boundary, `parse_body` (HTTP bodies and stdio lines).

Whatever arrives, parsing returns messages or raises a RemoteProtocolError that the transports turn into a
-32700/-32600 answer with a message; and what it returns can always be written back as strict UTF-8 JSON.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _fuzz import (
    almost_json_texts,
    as_wire,
    batches,
    deeply_nested,
    has_surrogate,
    json_bodies,
    jsonrpc_messages,
    jsonrpc_replies,
    jsonrpc_requests,
    long_number_literals,
    scaled,
    strict_json,
    wire_bytes,
    wire_forms,
)
from hypothesis import event, given, note
from hypothesis import strategies as st

from trio_mcp._proto.errors import INVALID_REQUEST, PARSE_ERROR, RemoteProtocolError
from trio_mcp._proto.jsonrpc import (
    InvalidMessage,
    Message,
    ParsedBody,
    encode,
    error_response,
    is_request_id,
    message_to_obj,
    parse_body,
)

pytestmark = pytest.mark.fuzz


def as_message(item: Message | InvalidMessage) -> Message:
    """What a transport sends back for a parsed item: the message itself, or the error answering it."""
    if isinstance(item, InvalidMessage):
        return error_response(item.id, item.error.code, item.error.message)
    return item


def check_parse(data: bytes | str) -> ParsedBody | None:
    """parse_body's contract: a ParsedBody that encodes again, or a -32700/-32600 error with a message."""
    note(f"input: {data[:2000]!r}")
    try:
        parsed = parse_body(data)
    except RemoteProtocolError as exc:
        refused = exc
    else:
        refused = None
    if refused is not None:
        event(f"refused with {refused.code}")
        assert refused.code in (PARSE_ERROR, INVALID_REQUEST), refused
        assert isinstance(refused.message, str), refused
        assert refused.message.strip(), refused
        return None
    assert isinstance(parsed, ParsedBody)
    event("a batch" if parsed.is_batch else f"one {type(parsed.messages[0]).__name__}")
    assert parsed.messages
    assert parsed.is_batch or len(parsed.messages) == 1
    for item in parsed.messages:
        if isinstance(item, InvalidMessage):
            assert parsed.is_batch, "a single invalid message raises instead"
            assert item.error.code == INVALID_REQUEST, item
            assert item.error.message.strip(), item
            assert item.id is None or is_request_id(item.id), item
        wire = encode(as_message(item))
        assert strict_json(wire) == json.loads(json.dumps(message_to_obj(as_message(item))))
        if not isinstance(item, InvalidMessage):
            # Written back, it reads as the same message.
            assert parse_body(wire).messages == (item,)
    if parsed.is_batch:
        written: Any = strict_json(encode([as_message(item) for item in parsed.messages]))
        assert isinstance(written, list)
        assert len(written) == len(parsed.messages)
    return parsed


@scaled(4)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_fail_with_a_json_rpc_error(data: bytes) -> None:
    """Binary noise, invalid UTF-8 included: a parse error, never another exception."""
    check_parse(data)


@scaled(4)
@given(almost_json_texts, wire_forms)
def test_arbitrary_json_values_parse_or_fail_with_a_json_rpc_error(text: str, form: str) -> None:
    """Any JSON value (and near-JSON), as bytes, str or behind a BOM: parsed or refused with -32700/-32600."""
    check_parse(as_wire(text, form))


@scaled(4)
@given(st.one_of(jsonrpc_messages, jsonrpc_requests, jsonrpc_replies), wire_forms)
def test_json_rpc_shaped_objects_with_wrong_types_parse_or_fail_cleanly(text: str, form: str) -> None:
    """Objects with jsonrpc/id/method/params/result/error of any type: a message that encodes again, or -32600."""
    check_parse(as_wire(text, form))


@scaled(4)
@given(batches, wire_forms)
def test_batches_parse_item_by_item_and_encode_again(text: str, form: str) -> None:
    """A batch parses item by item (bad items become errors with their id), and the answers encode as an array."""
    parsed = check_parse(as_wire(text, form))
    if parsed is not None:
        assert parsed.is_batch


NUMBER_SLOTS = [
    '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":%s}}',
    '{"jsonrpc":"2.0","id":%s,"method":"ping"}',
    '{"jsonrpc":"2.0","id":"r","result":{"x":[%s]}}',
    '{"jsonrpc":"2.0","id":1,"error":{"code":%s,"message":"m"}}',
    '{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"m","data":%s}}',
    '[{"jsonrpc":"2.0","method":"n","params":{"x":%s}}]',
]


@scaled(4)
@given(long_number_literals, st.sampled_from(NUMBER_SLOTS))
def test_numbers_of_any_size_in_any_member_parse_or_fail_and_encode_again(number: str, slot: str) -> None:
    """Integers of thousands of digits, literals beyond a double (1e400) and NaN/Infinity, wherever a
    message can hold a number: refused, or accepted and written back as JSON."""
    check_parse(slot % number)


@scaled(4)
@given(deeply_nested, wire_forms)
def test_deep_nesting_parses_or_is_a_parse_error(text: str, form: str) -> None:
    """Arrays/objects nested around and far past the recursion limit, closed or not: never a RecursionError."""
    check_parse(as_wire(text, form))


@scaled(4)
@given(json_bodies, st.binary(max_size=8), st.binary(max_size=8))
def test_bodies_with_bytes_around_them_parse_or_fail_cleanly(text: str, before: bytes, after: bytes) -> None:
    """Bodies with stray bytes before or after (truncation, garbage, NULs): parsed or refused, nothing else."""
    check_parse(before + wire_bytes(text) + after)


@scaled(4)
@given(st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=4), wire_forms)
def test_lone_surrogates_anywhere_are_parse_errors(surrogates: str, form: str) -> None:
    """A lone surrogate as a raw character or as an escape, in a key or a value: never accepted (-32700)."""
    for escaped in (True, False):
        literal = json.dumps(surrogates, ensure_ascii=escaped)
        if escaped and not has_surrogate(json.loads(literal)):
            continue  # the escapes were valid pairs only: a real character
        for text in (
            '{"jsonrpc":"2.0","id":1,"method":' + literal + "}",
            '{"jsonrpc":"2.0","id":1,"method":"ping","params":{' + literal + ":1}}",
            '[{"jsonrpc":"2.0","method":"x","params":{"a":[' + literal + "]}}]",
        ):
            with pytest.raises(RemoteProtocolError) as caught:
                parse_body(as_wire(text, form))
            assert caught.value.code == PARSE_ERROR
            assert caught.value.message.strip()
