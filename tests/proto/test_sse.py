import pytest

from trio_mcp._proto.sse import (
    SSEDecoder,
    SSEEvent,
    encode_comment,
    encode_event,
    make_event_id,
    parse_event_id,
)

# --- encode_event -------------------------------------------------------------------------------


def test_encode_single_line_fast_path() -> None:
    assert encode_event(b'{"jsonrpc":"2.0"}') == b'data: {"jsonrpc":"2.0"}\n\n'
    assert encode_event('{"a":"é"}') == 'data: {"a":"é"}\n\n'.encode()


def test_encode_all_fields_in_order() -> None:
    assert encode_event(b"x", id="s:1", event="message", retry_ms=3000) == (
        b"id: s:1\nevent: message\nretry: 3000\ndata: x\n\n"
    )


def test_encode_multiline_data_one_data_line_each() -> None:
    assert encode_event("a\nb\n\nc") == b"data: a\ndata: b\ndata: \ndata: c\n\n"


def test_encode_splits_on_every_line_ending() -> None:
    # A bare CR would end the line at the receiver, so it must become a line break here too.
    assert encode_event(b"a\r\nb\rc") == b"data: a\ndata: b\ndata: c\n\n"


def test_encode_trailing_newline_round_trips() -> None:
    encoded = encode_event("a\n")
    assert encoded == b"data: a\ndata: \n\n"
    assert SSEDecoder().feed(encoded) == [SSEEvent(data="a\n")]


def test_encode_empty_data_is_one_empty_data_line() -> None:
    assert encode_event(b"") == b"data: \n\n"
    assert encode_event("") == b"data: \n\n"


def test_encode_priming_event() -> None:
    assert encode_event(b"", id="abc:0") == b"id: abc:0\ndata: \n\n"


def test_encode_none_data_writes_no_data_line() -> None:
    assert encode_event(None, id="abc:7") == b"id: abc:7\n\n"
    assert encode_event(None, retry_ms=0) == b"retry: 0\n\n"


def test_encode_nothing_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        encode_event(None)


@pytest.mark.parametrize("bad_id", ["a\nb", "a\rb", "a\0b", "\n"])
def test_encode_rejects_bad_ids(bad_id: str) -> None:
    with pytest.raises(ValueError, match="id"):
        encode_event(b"x", id=bad_id)


def test_encode_empty_id_is_allowed() -> None:
    # An empty id resets the receiver's last event ID (WHATWG §9.2.6).
    assert encode_event(b"x", id="") == b"id: \ndata: x\n\n"


@pytest.mark.parametrize("bad_event", ["a\nb", "a\rb"])
def test_encode_rejects_bad_event_names(bad_event: str) -> None:
    with pytest.raises(ValueError, match="event type"):
        encode_event(b"x", event=bad_event)


@pytest.mark.parametrize("bad_retry", [-1, True])
def test_encode_rejects_bad_retry(bad_retry: int) -> None:
    with pytest.raises(ValueError, match="retry_ms"):
        encode_event(b"x", retry_ms=bad_retry)


# --- encode_comment -----------------------------------------------------------------------------


def test_encode_comment() -> None:
    assert encode_comment("keep-alive") == b": keep-alive\n\n"
    assert encode_comment() == b":\n\n"
    assert encode_comment("a\nb") == b": a\n: b\n\n"


def test_comment_decodes_to_nothing() -> None:
    assert SSEDecoder().feed(encode_comment("ping") + encode_comment()) == []


# --- SSEDecoder ---------------------------------------------------------------------------------


def test_decode_simple_event() -> None:
    assert SSEDecoder().feed(b"data: hello\n\n") == [SSEEvent(data="hello")]


def test_decode_all_fields() -> None:
    events = SSEDecoder().feed(b"id: s:3\nevent: update\nretry: 1500\ndata: x\n\n")
    assert events == [SSEEvent(data="x", event="update", id="s:3", retry=1500)]


def test_decode_multiline_data_joined_with_lf() -> None:
    assert SSEDecoder().feed(b"data: a\ndata: b\ndata:\ndata: c\n\n") == [SSEEvent(data="a\nb\n\nc")]


def test_decode_several_events_in_one_chunk() -> None:
    events = SSEDecoder().feed(b"data: 1\n\ndata: 2\n\n")
    assert events == [SSEEvent(data="1"), SSEEvent(data="2")]


def test_decode_incomplete_event_waits_for_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\n") == []
    assert decoder.feed(b"data: 2\n") == []
    assert decoder.feed(b"\n") == [SSEEvent(data="1\n2")]


@pytest.mark.parametrize(
    "stream",
    [
        b"data: a\r\ndata: b\r\n\r\n",
        b"data: a\rdata: b\r\r",
        b"data: a\ndata: b\n\n",
        b"data: a\r\ndata: b\n\r",
    ],
)
def test_decode_all_line_endings(stream: bytes) -> None:
    assert SSEDecoder().feed(stream) == [SSEEvent(data="a\nb")]


@pytest.mark.parametrize(
    "stream",
    [
        b"data: a\r\ndata: b\r\n\r\n",
        b"data: a\rdata: b\r\r",
        b"id: 1\r\nevent: e\r\ndata: a\r\ndata: b\r\n\r\n",
    ],
)
def test_decode_byte_by_byte(stream: bytes) -> None:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for i in range(len(stream)):
        events += decoder.feed(stream[i : i + 1])
    assert [e.data for e in events] == ["a\nb"]


def test_decode_crlf_split_across_chunks_counts_once() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # Had the LF been taken as a second line ending, this would be a blank line and dispatch.
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r") == [SSEEvent(data="a\nb")]
    assert decoder.feed(b"\n") == []  # LF after that CR is part of it: no extra event, no error


def test_decode_lone_cr_dispatches_without_waiting_for_next_chunk() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == [SSEEvent(data="a")]
    assert decoder.feed(b"data: b\r\r") == [SSEEvent(data="b")]


def test_decode_cr_then_empty_chunk_keeps_pending_lf_skip() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n\n") == [SSEEvent(data="a")]


def test_decode_long_line_in_many_chunks() -> None:
    decoder = SSEDecoder()
    payload = "x" * 10_000
    raw = f"data: {payload}\n\n".encode()
    events: list[SSEEvent] = []
    for i in range(0, len(raw), 7):
        events += decoder.feed(raw[i : i + 7])
    assert events == [SSEEvent(data=payload)]


def test_decode_multibyte_utf8_split_across_chunks() -> None:
    raw = "data: é€😀\n\n".encode()
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for i in range(len(raw)):
        events += decoder.feed(raw[i : i + 1])
    assert events == [SSEEvent(data="é€😀")]


def test_decode_invalid_utf8_is_replaced() -> None:
    assert SSEDecoder().feed(b"data: \xff\n\n") == [SSEEvent(data="\ufffd")]


def test_decode_comments_ignored() -> None:
    events = SSEDecoder().feed(b": hello\ndata: a\n:\n: data: no\ndata: b\n\n")
    assert events == [SSEEvent(data="a\nb")]


def test_decode_leading_space_stripped_once() -> None:
    assert SSEDecoder().feed(b"data:  two\n\n") == [SSEEvent(data=" two")]
    assert SSEDecoder().feed(b"data:none\n\n") == [SSEEvent(data="none")]


def test_decode_value_keeps_later_colons() -> None:
    assert SSEDecoder().feed(b"data: a: b:c\n\n") == [SSEEvent(data="a: b:c")]


def test_decode_field_without_colon() -> None:
    # "data" alone is the field "data" with an empty value.
    assert SSEDecoder().feed(b"data\n\n") == [SSEEvent(data="")]
    assert SSEDecoder().feed(b"data\ndata\n\n") == [SSEEvent(data="\n")]


def test_decode_unknown_fields_ignored() -> None:
    assert SSEDecoder().feed(b"foo: bar\nData: x\ndata: y\n\n") == [SSEEvent(data="y")]


def test_decode_priming_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: x\ndata:\n\n") == [SSEEvent(data="", id="x")]
    assert decoder.last_event_id == "x"


def test_decode_id_only_event_is_returned() -> None:
    assert SSEDecoder().feed(b"id: x\n\n") == [SSEEvent(data="", id="x")]


def test_decode_retry_only_event_is_returned() -> None:
    assert SSEDecoder().feed(b"retry: 500\n\n") == [SSEEvent(data="", retry=500)]


def test_decode_events_without_data_id_or_retry_are_dropped() -> None:
    assert SSEDecoder().feed(b"\n\n\nevent: x\n\n") == []


def test_decode_event_type_defaults_to_message() -> None:
    assert SSEDecoder().feed(b"event:\ndata: a\n\n") == [SSEEvent(data="a", event="message")]
    assert SSEDecoder().feed(b"event: ping\ndata: a\n\n") == [SSEEvent(data="a", event="ping")]


def test_decode_event_type_does_not_leak_into_next_event() -> None:
    events = SSEDecoder().feed(b"event: ping\ndata: a\n\ndata: b\n\n")
    assert events == [SSEEvent(data="a", event="ping"), SSEEvent(data="b")]


@pytest.mark.parametrize("bad", [b"1.5", b"-1", b" 1", b"1a", b"", b"\xc2\xb2"])
def test_decode_retry_must_be_ascii_digits(bad: bytes) -> None:
    # b" 1" arrives as "retry:  1" after the one stripped space; "²" is a digit to str.isdigit.
    assert SSEDecoder().feed(b"retry: " + bad + b"\ndata: a\n\n") == [SSEEvent(data="a")]


def test_decode_id_with_nul_is_ignored() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: a\x00b\ndata: x\n\n") == [SSEEvent(data="x")]
    assert decoder.last_event_id == ""


def test_decode_last_event_id_is_sticky_and_resettable() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 1\ndata: a\n\ndata: b\n\n") == [SSEEvent(data="a", id="1"), SSEEvent(data="b")]
    assert decoder.last_event_id == "1"
    assert decoder.feed(b"id\ndata: c\n\n") == [SSEEvent(data="c", id="")]
    assert decoder.last_event_id == ""


def test_decode_leading_bom_stripped_once() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef\xbb") == []
    assert decoder.feed(b"\xbfdata: a\n\n") == [SSEEvent(data="a")]
    # A second BOM is not at the start of the stream: it makes an unknown field name.
    assert decoder.feed(b"\xef\xbb\xbfdata: b\n\n") == []


def test_decode_incomplete_final_event_is_not_returned() -> None:
    assert SSEDecoder().feed(b"data: a\ndata: b") == []


def test_round_trip() -> None:
    decoder = SSEDecoder()
    stream = (
        encode_event(b"", id="s:0")
        + encode_comment()
        + encode_event('{"x": "a\\nb"}', id="s:1")
        + encode_event("multi\nline", event="note", retry_ms=10)
    )
    assert decoder.feed(stream) == [
        SSEEvent(data="", id="s:0"),
        SSEEvent(data='{"x": "a\\nb"}', id="s:1"),
        SSEEvent(data="multi\nline", event="note", retry=10),
    ]
    assert decoder.last_event_id == "s:1"


# --- event ids ----------------------------------------------------------------------------------


def test_make_event_id() -> None:
    assert make_event_id("abc", 0) == "abc:0"
    assert make_event_id("3f2a-b", 42) == "3f2a-b:42"


@pytest.mark.parametrize(("stream_id", "seq"), [("", 1), ("a:b", 1), ("a", -1)])
def test_make_event_id_rejects(stream_id: str, seq: int) -> None:
    with pytest.raises(ValueError):
        make_event_id(stream_id, seq)


def test_parse_event_id() -> None:
    assert parse_event_id("abc:0") == ("abc", 0)
    assert parse_event_id("3f2a-b:42") == ("3f2a-b", 42)
    assert parse_event_id(make_event_id("s", 12345678901234567890)) == ("s", 12345678901234567890)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        ":1",
        "abc:",
        "a:b:1",
        "abc:-1",
        "abc:+1",
        "abc:01",
        "abc:1.0",
        "abc: 1",
        "abc:\u0661",  # ARABIC-INDIC DIGIT ONE: str.isdigit says yes
        "abc:" + "9" * 21,
    ],
)
def test_parse_event_id_malformed(value: str) -> None:
    assert parse_event_id(value) is None
