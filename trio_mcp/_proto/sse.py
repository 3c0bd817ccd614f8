"""Server-Sent Events framing: the WHATWG HTML "event stream" format (§9.2.5/§9.2.6).

Sans-IO: the encoder returns bytes, the decoder consumes bytes; nobody here touches a socket.
"""

from __future__ import annotations

import re

import attrs

from .jsonrpc import utf8

__all__ = [
    "SSEDecoder",
    "SSEEvent",
    "encode_comment",
    "encode_event",
    "make_event_id",
    "parse_event_id",
]

# §9.2.5: "end-of-line = ( cr lf / cr / lf )". A lone CR ends a line too, so data containing one
# must be split there, or the receiver would see a line the sender never meant.
_LINE_END = re.compile(rb"\r\n?|\n")
_UTF8_BOM = b"\xef\xbb\xbf"


@attrs.frozen
class SSEEvent:
    """One dispatched event.

    ``id`` is the ``id`` field of *this* event (``None`` when it had none); the spec's sticky
    "last event ID" lives on :attr:`SSEDecoder.last_event_id`.
    """

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


def _data_lines(data: bytes) -> list[bytes]:
    return _LINE_END.split(data)


def encode_event(
    data: bytes | str | None,
    *,
    id: str | None = None,
    event: str | None = None,
    retry_ms: int | None = None,
) -> bytes:
    """Encode one event, terminated by the blank line that dispatches it.

    ``data=None`` writes no ``data`` line (a receiver then only records ``id``/``retry``);
    ``data=b""`` writes one empty ``data:`` line, which a receiver dispatches with empty data —
    the MCP "priming" event (``id`` plus empty data) relies on that.
    """
    if isinstance(data, str):
        data = utf8(data)
    if id is None and event is None and retry_ms is None:
        if data is None:
            raise ValueError("an event needs at least one of data, id, event or retry_ms")
        # Hot path (one JSON-RPC message per event): a single concatenation.
        if b"\n" not in data and b"\r" not in data:
            return b"data: " + data + b"\n\n"
    parts: list[bytes] = []
    if id is not None:
        # §9.2.6: an id containing NULL is ignored by the receiver; CR/LF would end the field early.
        if "\n" in id or "\r" in id or "\0" in id:
            raise ValueError(f"SSE event id must not contain CR, LF or NUL: {id!r}")
        parts.append(b"id: " + id.encode() + b"\n")
    if event is not None:
        if "\n" in event or "\r" in event:
            raise ValueError(f"SSE event type must not contain CR or LF: {event!r}")
        parts.append(b"event: " + event.encode() + b"\n")
    if retry_ms is not None:
        # §9.2.6: the receiver only honours a value made of ASCII digits.
        if isinstance(retry_ms, bool) or retry_ms < 0:
            raise ValueError(f"retry_ms must be a non-negative int: {retry_ms!r}")
        parts.append(b"retry: %d\n" % retry_ms)
    if data is not None:
        for line in _data_lines(data):
            parts.append(b"data: " + line + b"\n")
    parts.append(b"\n")
    return b"".join(parts)


def encode_comment(text: str = "") -> bytes:
    """A comment (``: text``), used as a keep-alive: receivers ignore it (§9.2.6)."""
    if not text:
        return b":\n\n"
    return b"".join(b": " + line + b"\n" for line in _data_lines(utf8(text))) + b"\n"


class SSEDecoder:
    """Incremental event-stream parser (WHATWG HTML §9.2.6 "Interpreting an event stream").

    Feed it bytes as they arrive; it returns the events completed by each chunk. Lines may end
    in LF, CRLF or CR, and a CRLF split across two chunks counts once. An incomplete event at the
    end of the stream is, as the spec says, discarded: just stop feeding.
    """

    __slots__ = (
        "_data",
        "_event",
        "_expect_bom",
        "_has_data",
        "_id",
        "_pending",
        "_retry",
        "_skip_lf",
        "last_event_id",
    )

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        # §9.2.6: "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are present."
        self._expect_bom = True
        # The previous chunk ended in CR: a LF opening the next chunk belongs to that line ending.
        self._skip_lf = False
        self._data: list[str] = []
        self._has_data = False
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        #: The spec's "last event ID buffer": sticky across events, what a client sends back
        #: as ``Last-Event-ID`` when it reconnects. An ``id`` field with an empty value resets it.
        self.last_event_id: str = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\n" not in chunk and b"\r" not in chunk:
            # No line completed: park the bytes, so a long line in many chunks costs linear time.
            if chunk:
                self._pending.append(chunk)
            return []
        if self._pending:
            self._pending.append(chunk)
            buffer = b"".join(self._pending)
            self._pending.clear()
        else:
            buffer = chunk
        if self._expect_bom:
            # The first line is complete here, so a BOM cannot still be arriving in pieces.
            self._expect_bom = False
            if buffer.startswith(_UTF8_BOM):
                buffer = buffer[len(_UTF8_BOM) :]
        events: list[SSEEvent] = []
        start = 0
        for match in _LINE_END.finditer(buffer):
            self._process_line(buffer[start : match.start()], events)
            start = match.end()
        if start == len(buffer):
            # Ended on a line ending; if it was a lone CR, a LF may still follow in the next chunk.
            self._skip_lf = buffer[-1:] == b"\r"
        else:
            self._pending.append(buffer[start:])
        return events

    def _process_line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            self._dispatch(events)
            return
        # Splitting bytes on CR/LF is safe: neither byte occurs inside a multi-byte UTF-8 sequence.
        line = raw.decode("utf-8", "replace")
        if line[0] == ":":
            return  # comment
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:  # §9.2.6: "Otherwise, ignore the field."
                self._id = value
                self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():  # else ignored (§9.2.6)
            self._retry = int(value)
        # Any other field name is ignored.

    def _dispatch(self, events: list[SSEEvent]) -> None:
        # The spec drops an event with an empty data buffer; we still surface it when it carried
        # an id or retry, so the caller sees ids and reconnection hints as they arrive.
        if self._has_data or self._id is not None or self._retry is not None:
            events.append(
                SSEEvent(
                    data="\n".join(self._data),
                    event=self._event or "message",
                    id=self._id,
                    retry=self._retry,
                )
            )
        self._data = []
        self._has_data = False
        self._event = ""
        self._id = None
        self._retry = None


def make_event_id(stream_id: str, seq: int) -> str:
    """The SSE id of the ``seq``-th event on a stream: ``"<stream_id>:<seq>"``."""
    if not stream_id or ":" in stream_id:
        raise ValueError(f"stream id must be non-empty and contain no ':': {stream_id!r}")
    if seq < 0:
        raise ValueError(f"sequence number must be non-negative: {seq}")
    return f"{stream_id}:{seq}"


def parse_event_id(value: str) -> tuple[str, int] | None:
    """Inverse of :func:`make_event_id`; ``None`` for anything it would not have produced.

    The value comes from a client's ``Last-Event-ID`` header, so it is untrusted: this never raises.
    """
    stream_id, colon, seq = value.rpartition(":")
    if not colon or not stream_id or ":" in stream_id:
        return None
    # Canonical decimal only (no sign, no leading zeros, bounded), so parse∘make is the identity.
    if not (seq.isascii() and seq.isdigit()) or len(seq) > 20 or (len(seq) > 1 and seq[0] == "0"):
        return None
    return stream_id, int(seq)
