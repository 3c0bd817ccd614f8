from __future__ import annotations

import datetime
import enum
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import attrs
import pytest

from trio_mcp._server.schema import input_schema_for
from trio_mcp._server.validation import ValidationIssue, bind_arguments, validate


def messages(instance: Any, schema: Mapping[str, Any] | bool, **kwargs: Any) -> list[str]:
    return [str(issue) for issue in validate(instance, schema, **kwargs)]


# --- ValidationIssue ------------------------------------------------------------------------------


def test_issue_str_and_fields() -> None:
    [issue] = validate({"days": "3"}, {"properties": {"days": {"type": "integer"}}})
    assert issue == ValidationIssue("arguments.days", 'expected integer, got string "3"')
    assert str(issue) == 'arguments.days: expected integer, got string "3"'


def test_custom_root_and_empty_root() -> None:
    schema = {"properties": {"a": {"type": "string"}}}
    assert messages({"a": 1}, schema, root="result") == ["result.a: expected string, got integer 1"]
    assert messages({"a": 1}, schema, root="") == ["a: expected string, got integer 1"]


# --- the MCP conformance schema -------------------------------------------------------------------

CONFORMANCE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "instance",
    [
        {},
        {"name": "Ada"},
        {"name": "Ada", "address": {"street": "1 Main St", "city": "Springfield"}},
        {"address": {"zip": "extra keys are fine inside address"}},
    ],
)
def test_conformance_schema_accepts(instance: Any) -> None:
    assert validate(instance, CONFORMANCE_SCHEMA) == []


def test_conformance_schema_rejects_with_paths() -> None:
    instance = {"name": 1, "address": {"street": 2, "city": "x"}, "zip": "12345"}
    assert messages(instance, CONFORMANCE_SCHEMA) == [
        "arguments.name: expected string, got integer 1",
        "arguments.address.street: expected string, got integer 2",
        "arguments.zip: unexpected property; allowed properties are name, address",
    ]


def test_conformance_schema_ref_target_type() -> None:
    assert messages({"address": "Springfield"}, CONFORMANCE_SCHEMA) == [
        'arguments.address: expected object, got string "Springfield"'
    ]
    assert messages([], CONFORMANCE_SCHEMA) == ["arguments: expected object, got array"]


# --- type -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "type_", "valid"),
    [
        (1, "integer", True),
        (3.0, "integer", True),  # 2020-12: a number with zero fractional part is an integer
        (3.5, "integer", False),
        (True, "integer", False),
        (False, "number", False),
        (1, "number", True),
        (1.5, "number", True),
        (True, "boolean", True),
        (0, "boolean", False),
        ("x", "string", True),
        (None, "null", True),
        (0, "null", False),
        ([1], "array", True),
        ((1,), "array", True),
        ({}, "object", True),
        ([], "object", False),
        ("x", "nonsense", False),
    ],
)
def test_type(instance: Any, type_: str, valid: bool) -> None:
    assert (validate(instance, {"type": type_}) == []) is valid


@pytest.mark.parametrize(
    ("instance", "expected"),
    [
        (True, "arguments: expected integer, got boolean true"),
        (False, "arguments: expected integer, got boolean false"),
        (2.5, "arguments: expected integer, got number 2.5"),
        ("3", 'arguments: expected integer, got string "3"'),
        (None, "arguments: expected integer, got null"),
        ([3], "arguments: expected integer, got array"),
        ({"a": 3}, "arguments: expected integer, got object"),
    ],
)
def test_type_messages(instance: Any, expected: str) -> None:
    assert messages(instance, {"type": "integer"}) == [expected]


def test_type_list() -> None:
    schema = {"type": ["string", "integer", "null"]}
    assert validate(None, schema) == []
    assert validate(4, schema) == []
    assert messages(True, schema) == ["arguments: expected string, integer or null, got boolean true"]


def test_long_strings_are_shortened_in_messages() -> None:
    [message] = messages("x" * 100, {"type": "integer"})
    # 60 characters of JSON in all: the opening quote, 58 characters, the ellipsis.
    assert message == 'arguments: expected integer, got string "' + "x" * 58 + "…"


def test_type_mismatch_stops_other_keywords() -> None:
    schema = {"type": "string", "enum": ["a", "b"], "minLength": 5}
    assert messages(1, schema) == ["arguments: expected string, got integer 1"]


# --- enum and const -------------------------------------------------------------------------------


def test_enum() -> None:
    schema = {"type": "string", "enum": ["celsius", "fahrenheit"]}
    assert validate("celsius", schema) == []
    assert messages("kelvin", schema) == [
        'arguments: expected one of "celsius", "fahrenheit", got string "kelvin"'
    ]


def test_enum_uses_json_equality() -> None:
    assert validate(1.0, {"enum": [1, 2]}) == []
    assert messages(True, {"enum": [1, 2]}) == ["arguments: expected one of 1, 2, got boolean true"]
    assert messages(1, {"enum": [True]}) == ["arguments: expected one of true, got integer 1"]
    assert validate([1, {"a": None}], {"enum": [[1, {"a": None}]]}) == []
    assert messages([1, {"a": 0}], {"enum": [[1, {"a": None}]]}) == [
        'arguments: expected one of [1, {"a": null}], got array'
    ]


def test_long_enum_is_abbreviated() -> None:
    [message] = messages(99, {"enum": list(range(12))})
    assert message == "arguments: expected one of 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, …, got integer 99"


def test_const() -> None:
    assert validate("on", {"const": "on"}) == []
    assert messages("off", {"const": "on"}) == ['arguments: expected "on", got string "off"']
    assert messages(0, {"const": False}) == ["arguments: expected false, got integer 0"]
    assert validate(None, {"const": None}) == []


# --- numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "good", "bad", "message"),
    [
        ({"minimum": 1}, 1, 0, "expected a number >= 1, got 0"),
        ({"maximum": 10}, 10, 10.5, "expected a number <= 10, got 10.5"),
        ({"exclusiveMinimum": 0}, 0.1, 0, "expected a number > 0, got 0"),
        ({"exclusiveMaximum": 5}, 4, 5, "expected a number < 5, got 5"),
        ({"multipleOf": 5}, 15, 7, "expected a multiple of 5, got 7"),
        ({"multipleOf": 0.1}, 0.3, 0.35, "expected a multiple of 0.1, got 0.35"),
        ({"multipleOf": 0.5}, 2, 2.25, "expected a multiple of 0.5, got 2.25"),
    ],
)
def test_numeric_keywords(schema: dict[str, Any], good: float, bad: float, message: str) -> None:
    assert validate(good, schema) == []
    assert messages(bad, schema) == [f"arguments: {message}"]


def test_numeric_keywords_ignore_non_numbers_and_booleans() -> None:
    assert validate("0", {"minimum": 1}) == []
    assert validate(False, {"minimum": 1}) == []


def test_several_numeric_failures_are_all_reported() -> None:
    assert messages(3, {"type": "integer", "minimum": 5, "multipleOf": 2}) == [
        "arguments: expected a number >= 5, got 3",
        "arguments: expected a multiple of 2, got 3",
    ]


# --- strings --------------------------------------------------------------------------------------


def test_min_and_max_length_count_code_points() -> None:
    schema = {"minLength": 2, "maxLength": 3}
    assert validate("éé", schema) == []
    assert messages("a", schema) == ["arguments: expected at least 2 characters, got 1"]
    assert messages("abcd", schema) == ["arguments: expected at most 3 characters, got 4"]
    assert messages("", {"minLength": 1}) == ["arguments: expected at least 1 character, got 0"]


def test_pattern_is_searched_not_matched() -> None:
    assert validate("abc123", {"pattern": "[0-9]+"}) == []
    assert messages("ABC", {"pattern": "^[a-z]+$"}) == [
        'arguments: string "ABC" does not match the pattern "^[a-z]+$"'
    ]


def test_invalid_pattern_is_ignored() -> None:
    assert validate("x", {"pattern": "("}) == []


def test_format_is_not_asserted() -> None:
    assert validate("not a date", {"type": "string", "format": "date-time"}) == []


# --- arrays ---------------------------------------------------------------------------------------


def test_items_paths() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
            }
        },
    }
    assert validate({"items": [{"name": "a"}, {"name": "b"}]}, schema) == []
    assert messages({"items": [{"name": "a"}, {}, {"name": 3}]}, schema) == [
        "arguments.items[1].name: required property is missing",
        "arguments.items[2].name: expected string, got integer 3",
    ]


def test_min_and_max_items() -> None:
    schema = {"minItems": 1, "maxItems": 2}
    assert validate([1, 2], schema) == []
    assert messages([], schema) == ["arguments: expected at least 1 item, got 0"]
    assert messages([1, 2, 3], schema) == ["arguments: expected at most 2 items, got 3"]


def test_unique_items_uses_json_equality() -> None:
    schema = {"uniqueItems": True}
    assert validate([1, True, "1", [1], {"a": 1}], schema) == []
    assert messages([1, 2, 1.0], schema) == ["arguments: items must be unique, but items 0 and 2 are equal"]
    assert messages([{"a": [1]}, {"a": [1]}], schema) == [
        "arguments: items must be unique, but items 0 and 1 are equal"
    ]
    assert validate([1, 1], {"uniqueItems": False}) == []


def test_prefix_items_then_items() -> None:
    schema = {"prefixItems": [{"type": "integer"}, {"type": "string"}], "items": {"type": "boolean"}}
    assert validate([1, "a", True, False], schema) == []
    assert validate([1], schema) == []
    assert messages(["a", "b", 3], schema) == [
        'arguments[0]: expected integer, got string "a"',
        "arguments[2]: expected boolean, got integer 3",
    ]


def test_prefix_items_with_items_false() -> None:
    schema = {"prefixItems": [{"type": "integer"}], "items": False}
    assert validate([1], schema) == []
    assert messages([1, 2, 3], schema) == [
        "arguments[1]: unexpected item; the array allows at most 1 item",
        "arguments[2]: unexpected item; the array allows at most 1 item",
    ]


def test_tuple_schema_from_the_generator() -> None:
    schema = {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
    }
    assert validate([1, "a"], schema) == []
    assert messages([1], schema) == ["arguments: expected at least 2 items, got 1"]


def test_legacy_array_form_of_items() -> None:
    schema = {"items": [{"type": "integer"}], "additionalItems": {"type": "string"}}
    assert validate([1, "a", "b"], schema) == []
    assert messages([1, 2], schema) == ["arguments[1]: expected string, got integer 2"]


def test_contains() -> None:
    schema = {"contains": {"type": "string"}}
    assert validate([1, "a"], schema) == []
    assert messages([1, 2], schema) == ["arguments: no item matches the schema given by 'contains'"]


# --- objects --------------------------------------------------------------------------------------


def test_required() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city", "days"]}
    assert validate({"city": "Oslo", "days": 1}, schema) == []
    assert messages({}, schema) == [
        "arguments.city: required property is missing",
        "arguments.days: required property is missing",
    ]


def test_required_applies_to_nested_objects() -> None:
    schema = {"properties": {"a": {"type": "object", "required": ["b"]}}}
    assert messages({"a": {}}, schema) == ["arguments.a.b: required property is missing"]


def test_non_identifier_property_names_are_bracketed() -> None:
    schema = {"properties": {"first-name": {"type": "string"}}, "required": ["first-name", "x y"]}
    assert messages({"first-name": 1}, schema) == [
        'arguments["x y"]: required property is missing',
        'arguments["first-name"]: expected string, got integer 1',
    ]


def test_additional_properties_false_names_each_extra() -> None:
    schema = {"properties": {"a": {}, "b": {}}, "additionalProperties": False}
    assert validate({"a": 1}, schema) == []
    assert messages({"a": 1, "c": 2, "d": 3}, schema) == [
        "arguments.c: unexpected property; allowed properties are a, b",
        "arguments.d: unexpected property; allowed properties are a, b",
    ]
    assert messages({"x": 1}, {"additionalProperties": False}) == [
        "arguments.x: unexpected property; this object takes no properties"
    ]


def test_additional_properties_schema() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert validate({"a": 1, "b": 2}, schema) == []
    assert messages({"a": 1, "b": "2"}, schema) == ['arguments.b: expected integer, got string "2"']


def test_pattern_properties() -> None:
    schema = {"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": False}
    assert validate({"x-a": "1"}, schema) == []
    assert messages({"x-a": 1, "y": 1}, schema) == [
        'arguments["x-a"]: expected string, got integer 1',
        "arguments.y: unexpected property; this object takes no properties",
    ]


def test_min_and_max_properties() -> None:
    schema = {"minProperties": 1, "maxProperties": 2}
    assert messages({}, schema) == ["arguments: expected at least 1 property, got 0"]
    assert messages({"a": 1, "b": 2, "c": 3}, schema) == ["arguments: expected at most 2 properties, got 3"]


def test_dependent_required() -> None:
    schema = {"dependentRequired": {"card": ["expiry"]}}
    assert validate({"card": 1, "expiry": 2}, schema) == []
    assert validate({}, schema) == []
    assert messages({"card": 1}, schema) == [
        'arguments.expiry: required property is missing (required when "card" is given)'
    ]


# --- boolean schemas, unknown keywords ------------------------------------------------------------


def test_boolean_schemas() -> None:
    assert validate(1, True) == []
    assert messages(1, False) == ["arguments: no value is allowed here"]
    assert messages({"a": 1}, {"properties": {"a": False}}) == ["arguments.a: no value is allowed here"]


def test_unknown_keywords_and_annotations_are_ignored() -> None:
    schema = {
        "type": "string",
        "title": "T",
        "description": "D",
        "x-custom": {"type": "integer"},
        "default": 1,
    }
    assert validate("s", schema) == []


# --- combinators ----------------------------------------------------------------------------------


def test_any_of_optional_reports_the_combined_types() -> None:
    schema = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert validate(None, schema) == []
    assert validate(3, schema) == []
    assert messages("3", schema) == ['arguments: expected integer or null, got string "3"']


def test_any_of_reports_the_only_alternative_of_the_right_type() -> None:
    schema = {
        "anyOf": [
            {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            {"type": "null"},
        ]
    }
    assert messages({"city": 3}, schema) == ["arguments.city: expected string, got integer 3"]


def test_any_of_with_several_near_misses() -> None:
    schema = {"anyOf": [{"type": "string", "minLength": 5}, {"type": "string", "pattern": "^a"}]}
    assert validate("abc", schema) == []
    assert messages("bc", schema) == [
        "arguments: does not match any of the allowed alternatives "
        "(arguments: expected at least 5 characters, got 2; "
        'arguments: string "bc" does not match the pattern "^a")'
    ]


def test_any_of_without_types() -> None:
    assert messages(3, {"anyOf": [{"const": 1}, {"const": 2}]}) == [
        "arguments: does not match any of the allowed alternatives "
        "(arguments: expected 1, got integer 3; arguments: expected 2, got integer 3)"
    ]


def test_one_of() -> None:
    schema = {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 10}]}
    assert validate(3, schema) == []
    assert validate(10.5, schema) == []
    assert messages(12, schema) == [
        "arguments: matches more than one alternative of 'oneOf' (alternatives 0 and 1)"
    ]
    assert messages("x", schema) == ['arguments: expected integer or number, got string "x"']


def test_all_of() -> None:
    schema = {"allOf": [{"type": "integer"}, {"minimum": 3}, {"maximum": 5}]}
    assert validate(4, schema) == []
    assert messages(9, schema) == ["arguments: expected a number <= 5, got 9"]


def test_not() -> None:
    assert validate(1, {"not": {"type": "string"}}) == []
    assert messages("x", {"not": {"type": "string"}}) == [
        "arguments: must not match the schema given by 'not'"
    ]


def test_if_then_else() -> None:
    schema = {
        "if": {"properties": {"kind": {"const": "card"}}, "required": ["kind"]},
        "then": {"required": ["number"]},
        "else": {"required": ["iban"]},
    }
    assert validate({"kind": "card", "number": "1"}, schema) == []
    assert messages({"kind": "card"}, schema) == ["arguments.number: required property is missing"]
    assert messages({"kind": "bank"}, schema) == ["arguments.iban: required property is missing"]


# --- $ref -----------------------------------------------------------------------------------------


def test_ref_to_definitions_and_pointer_escapes() -> None:
    schema = {
        "definitions": {"a/b": {"type": "integer"}, "t~": {"type": "string"}},
        "properties": {"x": {"$ref": "#/definitions/a~1b"}, "y": {"$ref": "#/definitions/t~0"}},
    }
    assert validate({"x": 1, "y": "s"}, schema) == []
    assert messages({"x": "1", "y": 2}, schema) == [
        'arguments.x: expected integer, got string "1"',
        "arguments.y: expected string, got integer 2",
    ]


def test_ref_siblings_also_apply() -> None:
    schema = {"$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n", "minimum": 3}
    assert messages(1, schema) == ["arguments: expected a number >= 3, got 1"]
    assert messages("1", schema) == [
        'arguments: expected integer, got string "1"',
    ]


def test_recursive_ref_follows_the_data() -> None:
    schema = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
            }
        },
        "$ref": "#/$defs/node",
    }
    tree = {"value": 1, "children": [{"value": 2, "children": [{"value": "three", "children": []}]}]}
    assert messages(tree, schema) == [
        'arguments.children[0].children[0].value: expected integer, got string "three"'
    ]


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},
        {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        {"anyOf": [{"$ref": "#"}]},
    ],
)
def test_ref_cycles_that_consume_nothing_terminate(schema: dict[str, Any]) -> None:
    assert validate(5, schema) == []


def test_ref_through_any_of_for_optional_object() -> None:
    schema = {
        "$defs": {"address": {"type": "object", "required": ["city"]}},
        "properties": {"address": {"anyOf": [{"$ref": "#/$defs/address"}, {"type": "null"}]}},
    }
    assert validate({"address": None}, schema) == []
    assert messages({"address": {}}, schema) == ["arguments.address.city: required property is missing"]
    assert messages({"address": 3}, schema) == ["arguments.address: expected object or null, got integer 3"]


@pytest.mark.parametrize("ref", ["#/$defs/missing", "other.json#/x", "#anchor", "#/$defs/list/5"])
def test_unresolvable_ref_is_reported(ref: str) -> None:
    schema = {"$defs": {"list": [{}]}, "$ref": ref}
    assert messages(1, schema) == [f'arguments: the schema refers to "{ref}", which cannot be resolved']


def test_ref_into_a_list() -> None:
    schema = {"$defs": {"list": [{"type": "string"}]}, "$ref": "#/$defs/list/0"}
    assert messages(1, schema) == ["arguments: expected string, got integer 1"]


# --- limits ---------------------------------------------------------------------------------------


def test_issues_are_capped_at_twenty() -> None:
    issues = validate(list(range(50)), {"items": {"type": "string"}})
    assert len(issues) == 20
    assert str(issues[-1]) == "arguments[19]: expected string, got integer 19"


def test_deep_nesting_is_reported_not_raised() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    schema = {"$defs": {"a": {"items": {"$ref": "#/$defs/a"}}}, "$ref": "#/$defs/a"}
    assert messages(deep, schema) == ["arguments: value is nested too deeply to validate"]


# --- generated schemas round-trip -----------------------------------------------------------------


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Color(enum.IntEnum):
    RED = 1
    GREEN = 2


@attrs.define
class Item:
    name: str
    quantity: int = 1


@attrs.frozen
class Order:
    items: list[Item]
    unit: Unit = Unit.CELSIUS
    labels: frozenset[str] = frozenset()
    notes: dict[str, Item] = attrs.Factory(dict)


class Options(TypedDict):
    verbose: bool
    unit: NotRequired[Unit]


def forecast(
    ctx: object,
    city: Annotated[str, "City"],
    days: int = 3,
    unit: Unit = Unit.CELSIUS,
    order: Order | None = None,
) -> str:
    return ""


def test_generated_schema_accepts_good_arguments() -> None:
    schema = input_schema_for(forecast, skip={"ctx"})
    arguments = {"city": "Oslo", "days": 2, "unit": "fahrenheit", "order": {"items": [{"name": "tea"}]}}
    assert validate(arguments, schema) == []


def test_generated_schema_rejects_bad_arguments() -> None:
    schema = input_schema_for(forecast, skip={"ctx"})
    arguments = {"days": "2", "unit": "kelvin", "order": {"items": [{"name": "tea", "quantity": True}]}}
    assert messages(arguments, schema) == [
        "arguments.city: required property is missing",
        'arguments.days: expected integer, got string "2"',
        'arguments.unit: expected one of "celsius", "fahrenheit", got string "kelvin"',
        "arguments.order.items[0].quantity: expected integer, got boolean true",
    ]


# --- bind_arguments -------------------------------------------------------------------------------


def test_bind_converts_enums_and_attrs_recursively() -> None:
    arguments = {
        "city": "Oslo",
        "unit": "fahrenheit",
        "order": {
            "items": [{"name": "tea"}, {"name": "cake", "quantity": 2}],
            "unit": "celsius",
            "labels": ["gift"],
            "notes": {"extra": {"name": "napkin", "quantity": 3}},
        },
    }
    assert bind_arguments(forecast, arguments, skip={"ctx"}) == {
        "city": "Oslo",
        "unit": Unit.FAHRENHEIT,
        "order": Order(
            items=[Item("tea"), Item("cake", 2)],
            unit=Unit.CELSIUS,
            labels=frozenset({"gift"}),
            notes={"extra": Item("napkin", 3)},
        ),
    }


def test_bind_leaves_missing_optional_parameters_out() -> None:
    assert bind_arguments(forecast, {"city": "Oslo"}, skip={"ctx"}) == {"city": "Oslo"}
    assert bind_arguments(forecast, {"city": "Oslo", "order": None}, skip={"ctx"}) == {
        "city": "Oslo",
        "order": None,
    }


def test_bind_skips_skipped_and_unknown_arguments() -> None:
    assert bind_arguments(forecast, {"ctx": 1, "city": "Oslo", "nope": 2}, skip={"ctx"}) == {"city": "Oslo"}


def test_bind_passes_extras_through_var_keyword() -> None:
    def tool(a: int, **rest: Any) -> None: ...

    assert bind_arguments(tool, {"a": 1, "b": [2], "ctx": 3}, skip={"ctx"}) == {"a": 1, "b": [2]}


def test_bind_containers_and_numbers() -> None:
    def tool(
        pair: tuple[int, str],
        many: tuple[float, ...],
        unique: set[int],
        ratio: float,
        count: int,
        color: Color,
        colors: list[Color],
        anything: Any,
        untyped,  # type: ignore[no-untyped-def]
        mapping: dict[str, Unit],
    ) -> None: ...

    bound = bind_arguments(
        tool,
        {
            "pair": [1, "a"],
            "many": [1, 2.5],
            "unique": [1, 2, 2],
            "ratio": 2,
            "count": 3.0,
            "color": 2,
            "colors": [1, 2],
            "anything": {"k": [1]},
            "untyped": "as is",
            "mapping": {"x": "celsius"},
        },
    )
    assert bound == {
        "pair": (1, "a"),
        "many": (1.0, 2.5),
        "unique": {1, 2},
        "ratio": 2.0,
        "count": 3,
        "color": Color.GREEN,
        "colors": [Color.RED, Color.GREEN],
        "anything": {"k": [1]},
        "untyped": "as is",
        "mapping": {"x": Unit.CELSIUS},
    }
    assert type(bound["ratio"]) is float
    assert type(bound["count"]) is int


def test_bind_union_keeps_the_json_type() -> None:
    def tool(a: int | str, b: float | int, c: int | bool, d: Literal["x"] | int, e: Item | str) -> None: ...

    assert bind_arguments(tool, {"a": "3", "b": 3, "c": True, "d": "x", "e": {"name": "n"}}) == {
        "a": "3",
        "b": 3,
        "c": True,
        "d": "x",
        "e": Item("n"),
    }
    bound = bind_arguments(tool, {"a": 3, "b": 2.5, "c": 1, "d": 4, "e": "s"})
    assert bound == {"a": 3, "b": 2.5, "c": 1, "d": 4, "e": "s"}
    assert type(bound["c"]) is int


def test_bind_typed_dict_with_not_required_key_missing() -> None:
    def tool(options: Options) -> None: ...

    assert bind_arguments(tool, {"options": {"verbose": True}}) == {"options": {"verbose": True}}
    assert bind_arguments(tool, {"options": {"verbose": False, "unit": "celsius"}}) == {
        "options": {"verbose": False, "unit": Unit.CELSIUS}
    }


def test_bind_dates_and_uuids() -> None:
    def tool(when: datetime.datetime, day: datetime.date, at: datetime.time, id: uuid.UUID) -> None: ...

    assert bind_arguments(
        tool,
        {
            "when": "2024-05-06T07:08:09+00:00",
            "day": "2024-05-06",
            "at": "07:08",
            "id": "12345678-1234-5678-1234-567812345678",
        },
    ) == {
        "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
        "day": datetime.date(2024, 5, 6),
        "at": datetime.time(7, 8),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    }


class Opaque:
    pass


def test_bind_unknown_hint_passes_value_through() -> None:
    def tool(thing: Opaque) -> None: ...

    assert bind_arguments(tool, {"thing": {"raw": 1}}) == {"thing": {"raw": 1}}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"unit": "kelvin"},
            "invalid value for argument 'unit': "
            'expected one of "celsius", "fahrenheit", got string "kelvin"',
        ),
        ({"days": "3"}, """invalid value for argument 'days': expected integer, got string "3\""""),
        ({"order": "x"}, """invalid value for argument 'order': expected object, got string "x\""""),
        (
            {"order": {"items": [{"name": "a"}, {"quantity": 2}]}},
            "invalid value for argument 'order': required field missing @ order.items[1].name",
        ),
        (
            {"order": {"items": [{"name": 1}], "unit": "kelvin"}},
            "invalid value for argument 'order': expected string, got integer 1 @ order.items[0].name; "
            'expected one of "celsius", "fahrenheit", got string "kelvin" @ order.unit',
        ),
    ],
)
def test_bind_failures_name_the_parameter(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        bind_arguments(forecast, {"city": "Oslo", **arguments}, skip={"ctx"})
    assert str(info.value) == message


def test_bind_union_failure() -> None:
    def tool(a: int | str) -> None: ...

    with pytest.raises(ValueError) as info:
        bind_arguments(tool, {"a": 1.5})
    assert str(info.value) == "invalid value for argument 'a': expected int or str, got number 1.5"


def test_bind_bad_date() -> None:
    def tool(day: datetime.date) -> None: ...

    with pytest.raises(ValueError) as info:
        bind_arguments(tool, {"day": "tomorrow"})
    assert str(info.value) == """invalid value for argument 'day': expected a date string, got "tomorrow\""""
