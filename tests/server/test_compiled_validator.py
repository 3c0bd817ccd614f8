"""The compiled validator's fast path must agree with the full validator on every instance."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from trio_mcp._server.validation import _flat_object_check, compile_validator, validate

FLAT = {
    "type": "object",
    "properties": {
        "s": {"type": "string", "description": "text"},
        "i": {"type": "integer", "default": 3},
        "n": {"type": "number"},
        "b": {"type": "boolean"},
    },
    "required": ["s", "i"],
}
CLOSED = {**FLAT, "additionalProperties": False}
VALUES: list[Any] = ["x", "", 0, 7, -1, 3.0, 2.5, True, False, None, [], {}, [1], {"k": 1}]


def instances() -> list[Any]:
    out: list[Any] = [None, [], "x", 3, {}]
    for s, i in itertools.product(VALUES, VALUES):
        out.append({"s": s, "i": i})
    for n, b in itertools.product(VALUES, VALUES):
        out.append({"s": "ok", "i": 1, "n": n, "b": b})
    out.append({"s": "ok", "i": 1, "extra": 1})
    out.append({"s": "ok"})
    return out


@pytest.mark.parametrize("schema", [FLAT, CLOSED], ids=["open", "closed"])
def test_fast_path_agrees_with_full_validator(schema: dict[str, Any]) -> None:
    assert _flat_object_check(schema) is not None
    check = compile_validator(schema)
    for instance in instances():
        assert check(instance) == validate(instance, schema), instance


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": ["string", "null"]}}},
        {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
        {"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}},
        {"type": "object", "$defs": {}, "properties": {}},
        {"type": "object", "properties": {"a": {"type": "array"}}},
        {"type": "object", "additionalProperties": {"type": "string"}},
    ],
)
def test_anything_else_uses_the_full_validator(schema: dict[str, Any]) -> None:
    assert _flat_object_check(schema) is None
    check = compile_validator(schema)
    for instance in [{"a": "x"}, {"a": None}, {"a": 1}, {"a": []}, {}, {"b": 2}]:
        assert check(instance) == validate(instance, schema)


def test_rejections_still_explain_the_problem() -> None:
    issues = compile_validator(FLAT)({"s": 1, "i": "2"})
    assert [str(i) for i in issues] == [
        "arguments.s: expected string, got integer 1",
        'arguments.i: expected integer, got string "2"',
    ]
