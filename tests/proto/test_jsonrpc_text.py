"""Text on the wire is always valid UTF-8: lone surrogates are refused on input and replaced on output."""

from __future__ import annotations

import json
import logging

import pytest

from trio_mcp._proto import jsonrpc
from trio_mcp._proto.errors import PARSE_ERROR, RemoteProtocolError
from trio_mcp._proto.jsonrpc import Request, dumps, parse_body, utf8, valid_text
from trio_mcp._proto.sse import encode_comment, encode_event


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}', "id"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":["ok","\\udfff"]}}', "params.a[1]"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"\\uDBFF":1}}', "a key of params"),
        (
            b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"n":"\\ude00\\ud83d"}}',
            "params.n",
        ),  # reversed pair
    ],
)
def test_escaped_lone_surrogate_is_a_parse_error_naming_where(body: bytes, where: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_body(body)
    assert info.value.code == PARSE_ERROR
    assert f"{where} contains a lone UTF-16 surrogate" in info.value.message


def test_raw_surrogate_bytes_are_not_utf8() -> None:
    # json.loads(bytes) alone accepts ED A0 80 (it decodes with surrogatepass).
    with pytest.raises(RemoteProtocolError) as info:
        parse_body(b'{"jsonrpc":"2.0","id":"\xed\xa0\x80","method":"ping"}')
    assert info.value.code == PARSE_ERROR
    assert "not valid UTF-8" in info.value.message
    assert "0xed at offset 23" in info.value.message


def test_lone_surrogate_in_a_str_line_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="lone UTF-16 surrogate"):
        parse_body('{"jsonrpc":"2.0","id":"\ud800","method":"ping"}')


def test_valid_pairs_escaped_backslashes_and_bom_still_parse() -> None:
    parsed = parse_body(b'{"jsonrpc":"2.0","id":"\\ud83d\\ude00","method":"ping"}')
    assert parsed.messages == (Request(id="\U0001f600", method="ping"),)
    # An escaped backslash followed by the letters "ud800" is no surrogate at all.
    parsed = parse_body(b'{"jsonrpc":"2.0","id":"\\\\ud800","method":"ping"}')
    assert parsed.messages == (Request(id="\\ud800", method="ping"),)
    parsed = parse_body(b'\xef\xbb\xbf{"jsonrpc":"2.0","id":1,"method":"ping"}')
    assert parsed.messages == (Request(id=1, method="ping"),)


def test_output_with_a_lone_surrogate_is_replaced_and_logged_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonrpc, "_warned_surrogates", False)
    with caplog.at_level(logging.WARNING, logger="trio_mcp.proto"):
        first = dumps({"text": "a\ud800b", "\udc00": 1})
        second = utf8("\udfff")
    assert json.loads(first) == {"text": "a\ufffdb", "\ufffd": 1}
    assert second == "\ufffd".encode()
    assert valid_text("fine") == "fine"
    warnings = [r for r in caplog.records if "lone UTF-16 surrogates" in r.getMessage()]
    assert len(warnings) == 1


def test_sse_frames_never_fail_to_encode() -> None:
    assert encode_event("x\ud800") == "data: x\ufffd\n\n".encode()
    assert encode_comment("\ud800") == ": \ufffd\n\n".encode()


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"NaN", b"Infinity", b"-Infinity"])
def test_a_non_finite_number_is_a_parse_error(number: bytes) -> None:
    # RFC 8259 §6: JSON numbers are finite; json.loads alone turns these into inf/nan, which no encoder takes back.
    with pytest.raises(RemoteProtocolError) as info:
        parse_body(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":%s}}' % number)
    assert info.value.code == PARSE_ERROR
    assert "finite" in info.value.message


def test_output_with_a_non_finite_float_becomes_null(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonrpc, "_warned_non_finite", False)
    assert json.loads(dumps({"a": [float("nan"), 1.5, {"b": float("inf")}]})) == {
        "a": [None, 1.5, {"b": None}]
    }
