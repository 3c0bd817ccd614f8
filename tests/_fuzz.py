"""Hypothesis strategies shared by the fuzz tests (marked `fuzz`): hostile text and JSON written as text.

JSON is generated as *text*, not as Python values passed through json.dumps, so that it can hold what no
Python value serialises to: integers of thousands of digits, number literals beyond a double (``1e400``),
``NaN``/``Infinity``, lone surrogates both escaped (``"\\ud800"``) and raw, and nesting far deeper than the
recursion limit. `as_wire` then turns a text into what a transport receives: UTF-8 bytes (a raw lone surrogate
becomes the invalid bytes ``ED A0 80``), the str itself, or the bytes behind a byte order mark.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st


def scaled(factor: float) -> settings:
    """The active profile's example count times `factor`: cheap pure-function properties run more examples,
    end-to-end ones (a server per example) fewer. Read when the test module is imported, after pytest has
    loaded the profile (tests/conftest.py, `--hypothesis-profile`)."""
    return settings(max_examples=max(1, round(settings.default.max_examples * factor)))


# -- text --

ODD_CHARACTERS = "\x00\x01\x1f\x7f\t\n\r\"\\/'\u2028\u2029\ufeff\ufffd\U0001f600é☃中"
LONE_SURROGATES = "\ud800\udbff\udc00\udfff"

scalar_values = st.one_of(
    st.characters(
        codec="utf-8"
    ),  # any Unicode scalar value (no surrogates), controls and unassigned included
    st.sampled_from(ODD_CHARACTERS),
)
surrogates = st.one_of(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), st.sampled_from(LONE_SURROGATES)
)
valid_text = st.text(scalar_values, max_size=30)
"""Arbitrary valid Unicode text (it has a UTF-8 form), control and odd characters included."""

hostile_text = st.one_of(
    valid_text,
    valid_text,
    # A list of one_of draws keeps the branches' weights (st.text would merge them into one code point range,
    # where the 2048 surrogates are rare).
    st.lists(st.one_of(scalar_values, surrogates), max_size=30).map("".join),
)
"""Arbitrary str; one in three may hold lone surrogates."""

# -- JSON text --


def string_literal(text: str, *, escaped: bool) -> str:
    """`text` as a JSON string literal: non-ASCII escaped as \\uXXXX (a lone surrogate as \\udXXX) or raw."""
    return json.dumps(text, ensure_ascii=escaped)


string_literals = st.builds(string_literal, hostile_text, escaped=st.booleans())


def _huge(digits: int, below: int, sign: int) -> int:
    return sign * (10**digits - 1 - below)


huge_integers = st.builds(_huge, st.integers(20, 400), st.integers(0, 2**64), st.sampled_from([1, -1]))
"""Integers of 20 to 400 digits (built, not drawn between huge bounds: their repr would be huge too)."""

NUMBER_LITERALS = [
    "0",
    "-0",
    "1e400",
    "-1e400",
    "1E+99999",
    "1e-400",
    "-0.0e-999",
    "1.7976931348623157e308",
    "2.2250738585072014e-308",
    "123456789012345678901234567890.123456789e-5",
    # Not RFC 8259 JSON, but Python's json.loads takes them:
    "NaN",
    "Infinity",
    "-Infinity",
]
NOT_NUMBERS = ["01", "1.", ".5", "+1", "0x10", "1e", "--1", "nan", "inf"]

number_literals = st.one_of(
    st.integers().map(str),
    st.integers().map(str),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2).map(str),
    huge_integers.map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(NUMBER_LITERALS),
    st.sampled_from(NUMBER_LITERALS),
)
"""Number literals Python's json module reads: huge integers, floats, values beyond a double, NaN."""

long_number_literals = st.one_of(
    number_literals,
    # Digit strings around CPython's 4300-digit limit for int(str) (beyond it, json.loads refuses them).
    st.builds(lambda sign, n: sign + "9" * n, st.sampled_from(["", "-"]), st.integers(4290, 4310)),
)
"""`number_literals` plus integers of about 4300 digits: kept out of the general strategies, because one such
literal beyond the limit makes a whole text unparseable (-32700) and would hide everything else in it."""

json_leaves = st.one_of(
    st.sampled_from(["null", "true", "false"]), string_literals, number_literals, number_literals
)
bad_leaves = st.sampled_from([*NOT_NUMBERS, "undefined", "True", "'x'", '"\\x41"', '"\\ud800', '"a\nb"'])
"""Leaves that are not JSON (each makes the whole text a parse error)."""


def json_array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def json_object(pairs: list[tuple[str, str]]) -> str:
    """An object from (key literal, value text) pairs; keys may repeat."""
    return "{" + ",".join(f"{key}:{value}" for key, value in pairs) + "}"


def _containers(keys: st.SearchStrategy[str]) -> Any:
    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.lists(children, max_size=3).map(json_array),
            st.lists(st.tuples(keys, children), max_size=3).map(json_object),
        )

    return extend


json_texts = st.recursive(json_leaves, _containers(string_literals), max_leaves=10)
"""Any JSON value as text (leaves included), nested a few levels."""

almost_json_texts = st.recursive(
    st.one_of(json_leaves, json_leaves, json_leaves, bad_leaves), _containers(string_literals), max_leaves=10
)
"""Like `json_texts`, but some leaves are not JSON."""

json_object_texts = st.lists(st.tuples(string_literals, json_texts), max_size=3).map(json_object)

valid_string_literals = st.builds(string_literal, valid_text, escaped=st.booleans())
valid_json_texts = st.recursive(
    st.one_of(st.sampled_from(["null", "true", "false"]), valid_string_literals, number_literals),
    _containers(valid_string_literals),
    max_leaves=10,
)
valid_json_object_texts = st.lists(st.tuples(valid_string_literals, valid_json_texts), max_size=3).map(
    json_object
)
"""JSON objects that parse: valid text only, but every kind of number (1e400 and NaN included)."""

NESTINGS = {
    "array": ("[", "]"),
    "object": ('{"a":', "}"),
    "mixed": ('[{"k":', "}]"),
}


def nest(depth: int, kind: str, inner: str, closed: bool) -> str:
    head, tail = NESTINGS[kind]
    return head * depth + inner + (tail * depth if closed else "")


nesting_depths = st.one_of(st.integers(1, 1200), st.sampled_from([2000, 5000, 100_000]))
"""Around the interpreter's recursion limit (1000) and well beyond."""

deeply_nested = st.builds(
    nest, nesting_depths, st.sampled_from(sorted(NESTINGS)), json_leaves, closed=st.booleans()
)
nested_objects = st.builds(
    nest, st.integers(1, 900), st.just("object"), number_literals, closed=st.just(True)
)
"""Objects nested up to 900 deep, which parse (the limit is about 1000 levels less the caller's stack)."""

# -- JSON-RPC-shaped messages --

METHODS = [
    "ping",
    "initialize",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "no/such/method",
]
# The example server's tools that answer at once (no sampling/elicitation round trip, no sleeps).
QUICK_TOOLS = ["test_simple_text", "test_image_content", "test_error_handling", "json_schema_2020_12_tool"]

ids = st.one_of(
    st.integers().map(str),
    number_literals,
    string_literals,
    st.sampled_from(["null", "true", "1.5", "[]", "{}", '"after"']),
)
methods = st.one_of(st.sampled_from(METHODS).map(json.dumps), string_literals, json_texts)
tool_params = st.builds(
    lambda name, arguments: json_object([('"name"', name), ('"arguments"', arguments)]),
    st.one_of(st.sampled_from(QUICK_TOOLS).map(json.dumps), string_literals, json_leaves),
    st.one_of(json_object_texts, json_texts),
)
params = st.one_of(json_object_texts, json_texts, deeply_nested, tool_params)
error_objects = st.one_of(
    st.builds(
        lambda code, message, data: json_object([('"code"', code), ('"message"', message), ('"data"', data)]),
        st.one_of(number_literals, json_leaves),
        st.one_of(string_literals, json_leaves),
        json_texts,
    ),
    json_texts,
)

message_fields = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.one_of(st.just('"2.0"'), st.just('"2.0"'), json_leaves),
        "id": ids,
        "method": methods,
        "params": params,
        "result": st.one_of(json_object_texts, json_texts, deeply_nested),
        "error": error_objects,
    },
)


def message_text(fields: dict[str, str]) -> str:
    return json_object([(json.dumps(name), value) for name, value in fields.items()])


jsonrpc_messages = message_fields.map(message_text)
"""Objects with any subset of the JSON-RPC members, each of the right type or not."""

jsonrpc_requests = st.builds(
    lambda method, request_id, fields: message_text(
        {"jsonrpc": '"2.0"', "id": request_id, "method": method, **fields}
    ),
    st.sampled_from(METHODS).map(json.dumps),
    st.one_of(st.integers().map(str), string_literals),
    st.fixed_dictionaries({}, optional={"params": params}),
)
"""Well-formed requests of the methods the server knows, with hostile params."""

odd_number_objects = st.builds(
    lambda number: '{"x":' + number + "}", st.one_of(number_literals, st.sampled_from(NUMBER_LITERALS))
)
"""`{"x": <number>}`, the odd literals (1e400, NaN, -0...) often."""

jsonrpc_replies = st.one_of(
    st.builds(
        lambda request_id, result: message_text({"jsonrpc": '"2.0"', "id": request_id, "result": result}),
        st.one_of(st.integers().map(str), string_literals),
        st.one_of(json_object_texts, odd_number_objects),
    ),
    st.builds(
        lambda request_id, code, message, data: message_text(
            {
                "jsonrpc": '"2.0"',
                "id": request_id,
                "error": json_object([('"code"', code), ('"message"', message), ('"data"', data)]),
            }
        ),
        st.one_of(st.integers().map(str), string_literals, st.just("null")),
        st.integers().map(str),
        string_literals,
        st.one_of(json_texts, number_literals, st.sampled_from(NUMBER_LITERALS)),
    ),
)
"""Well-formed responses and error responses (what a client sends back), with hostile results and data."""

batches = st.lists(
    st.one_of(jsonrpc_requests, jsonrpc_messages, jsonrpc_replies, json_texts), max_size=5
).map(json_array)

json_bodies = st.one_of(
    almost_json_texts, jsonrpc_messages, jsonrpc_requests, jsonrpc_replies, batches, deeply_nested
)
"""Whole JSON-RPC bodies (or lines) as text."""


def wire_bytes(text: str) -> bytes:
    """`text` as UTF-8; a raw lone surrogate becomes the (invalid UTF-8) bytes it would be in CESU-8."""
    return text.encode("utf-8", "surrogatepass")


def as_wire(text: str, form: str) -> bytes | str:
    """`text` as a transport receives it: "utf-8" bytes (raw lone surrogates become invalid bytes), the str
    itself, or UTF-8 with a byte order mark in front."""
    if form == "str":
        return text
    data = wire_bytes(text)
    return b"\xef\xbb\xbf" + data if form == "bom" else data


wire_forms = st.sampled_from(["utf-8", "str", "bom"])


def strict_json(data: bytes) -> Any:
    """Decode what trio_mcp wrote: strict UTF-8 and RFC 8259 JSON (no NaN/Infinity, which json.loads takes)."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)
