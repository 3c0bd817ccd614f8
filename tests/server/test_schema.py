# String annotations on purpose: the generator must resolve them through get_type_hints.
from __future__ import annotations

import datetime
import enum
import functools
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, NewType, NotRequired, Optional, Required, TypedDict, Union

import attrs
import pytest

from trio_mcp._server.schema import SchemaError, input_schema_for, output_schema_for, schema_for_type

# --- fixtures: module level so the string annotations resolve ------------------------------------


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mixed(enum.Enum):
    ONE = 1
    TWO = "two"


class Opaque:
    pass


UserId = NewType("UserId", str)


@attrs.define
class Address:
    street: str
    city: Annotated[str, "City name"] = "Paris"


@attrs.define
class Customer:
    name: str
    address: Address
    billing: Address | None = None
    tags: list[str] = attrs.Factory(list)
    created: list[int] = attrs.Factory(lambda: [1])  # an arbitrary factory is never called
    unit: Unit = Unit.CELSIUS
    internal: int = attrs.field(init=False, default=0)


@attrs.define
class Node:
    value: int
    children: list[Node]


@attrs.define
class HasOpaque:
    thing: Opaque


class Movie(TypedDict):
    title: str
    year: NotRequired[int]
    rating: NotRequired[Annotated[float, "0 to 10"]]


class Partial(TypedDict, total=False):
    id: Required[int]
    note: str


class TreeDict(TypedDict):
    children: list[TreeDict]


# --- schema_for_type: scalars ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (None, {"type": "null"}),
        (type(None), {"type": "null"}),
        (Any, {}),
        (object, {}),
        (datetime.datetime, {"type": "string", "format": "date-time"}),
        (datetime.date, {"type": "string", "format": "date"}),
        (datetime.time, {"type": "string", "format": "time"}),
        (uuid.UUID, {"type": "string", "format": "uuid"}),
        (UserId, {"type": "string"}),
    ],
)
def test_scalar_hints(hint: Any, expected: dict[str, Any]) -> None:
    assert schema_for_type(hint) == expected


def test_scalar_schemas_are_fresh_copies() -> None:
    schema_for_type(str)["description"] = "mutated"
    assert schema_for_type(str) == {"type": "string"}


# --- Literal and Enum -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal[1, 2, 3], {"type": "integer", "enum": [1, 2, 3]}),
        (Literal[True], {"type": "boolean", "enum": [True]}),
        (Literal["a", 1], {"enum": ["a", 1]}),
        (Literal["a", None], {"enum": ["a", None]}),
    ],
)
def test_literal(hint: Any, expected: dict[str, Any]) -> None:
    assert schema_for_type(hint) == expected


def test_literal_with_non_json_value_is_rejected() -> None:
    with pytest.raises(SchemaError, match=r"unsupported literal value b'x'"):
        schema_for_type(Literal[b"x"])


def test_enum_uses_member_values_and_their_type() -> None:
    assert schema_for_type(Unit) == {"type": "string", "enum": ["celsius", "fahrenheit"]}
    assert schema_for_type(Priority) == {"type": "integer", "enum": [1, 2]}
    assert schema_for_type(Mixed) == {"enum": [1, "two"]}


# --- unions ---------------------------------------------------------------------------------------


def test_optional_spellings_are_anyof_with_null() -> None:
    expected = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert schema_for_type(Optional[int]) == expected  # noqa: UP045 - the old spelling is the point
    assert schema_for_type(int | None) == expected


def test_other_unions_are_anyof_in_declaration_order() -> None:
    assert schema_for_type(Union[int, str]) == {"anyOf": [{"type": "integer"}, {"type": "string"}]}  # noqa: UP007
    assert schema_for_type(str | int | None) == {
        "anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]
    }


# --- containers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (Sequence[str], {"type": "array", "items": {"type": "string"}}),
        (tuple[float, ...], {"type": "array", "items": {"type": "number"}}),
        (
            tuple[int, str],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (set[int], {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
        (frozenset[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (
            Mapping[str, list[bool]],
            {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "boolean"}}},
        ),
        (dict[str, Any], {"type": "object"}),
        (dict, {"type": "object"}),
        (list, {"type": "array"}),
        (list[Any], {"type": "array"}),
        (tuple, {"type": "array"}),
        (list[Unit], {"type": "array", "items": {"type": "string", "enum": ["celsius", "fahrenheit"]}}),
    ],
)
def test_containers(hint: Any, expected: dict[str, Any]) -> None:
    assert schema_for_type(hint) == expected


def test_mapping_with_non_string_keys_is_rejected() -> None:
    with pytest.raises(SchemaError, match=r"unsupported type dict\[int, str\]: JSON object keys are strings"):
        schema_for_type(dict[int, str])


# --- Annotated ------------------------------------------------------------------------------------


def test_annotated_string_becomes_description() -> None:
    assert schema_for_type(Annotated[int, "Number of days"]) == {
        "type": "integer",
        "description": "Number of days",
    }


def test_annotated_ignores_non_string_metadata_and_last_string_wins() -> None:
    assert schema_for_type(Annotated[str, 42, "first", object(), "second"]) == {
        "type": "string",
        "description": "second",
    }
    assert schema_for_type(Annotated[str, 42]) == {"type": "string"}


def test_annotated_optional_keeps_description_on_the_anyof() -> None:
    assert schema_for_type(Annotated[int | None, "Limit"]) == {
        "anyOf": [{"type": "integer"}, {"type": "null"}],
        "description": "Limit",
    }


# --- attrs classes and TypedDicts -----------------------------------------------------------------

ADDRESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "street": {"type": "string"},
        "city": {"type": "string", "description": "City name", "default": "Paris"},
    },
    "required": ["street"],
}


def test_attrs_class_inlines_nested_classes_with_defaults() -> None:
    assert schema_for_type(Customer) == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "address": ADDRESS_SCHEMA,
            "billing": {"anyOf": [ADDRESS_SCHEMA, {"type": "null"}], "default": None},
            "tags": {"type": "array", "items": {"type": "string"}, "default": []},
            "created": {"type": "array", "items": {"type": "integer"}},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
        },
        "required": ["name", "address"],
    }


def test_list_of_attrs_class() -> None:
    assert schema_for_type(list[Address]) == {"type": "array", "items": ADDRESS_SCHEMA}


def test_recursive_attrs_class_is_rejected() -> None:
    with pytest.raises(SchemaError) as info:
        schema_for_type(Node)
    assert str(info.value) == "field Node.children: recursive type Node is not supported (Node -> Node)"


def test_attrs_field_with_unsupported_type_names_the_field() -> None:
    with pytest.raises(SchemaError, match=r"^field HasOpaque\.thing: unsupported type Opaque;"):
        schema_for_type(HasOpaque)


def test_typed_dict_with_not_required() -> None:
    # Under `from __future__ import annotations`, 3.11's __required_keys__ wrongly lists
    # year and rating; the generator must still see NotRequired.
    assert schema_for_type(Movie) == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "year": {"type": "integer"},
            "rating": {"type": "number", "description": "0 to 10"},
        },
        "required": ["title"],
    }


def test_typed_dict_total_false_with_required() -> None:
    assert schema_for_type(Partial) == {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "note": {"type": "string"}},
        "required": ["id"],
    }


def test_recursive_typed_dict_is_rejected() -> None:
    with pytest.raises(SchemaError, match=r"recursive type TreeDict is not supported"):
        schema_for_type(TreeDict)


def test_plain_class_is_unsupported() -> None:
    with pytest.raises(SchemaError) as info:
        schema_for_type(Opaque)
    assert str(info.value) == (
        "unsupported type Opaque; use JSON-like types, Literal, an Enum, an attrs class or a TypedDict"
    )


def test_bytes_is_unsupported() -> None:
    with pytest.raises(SchemaError, match=r"^unsupported type bytes;"):
        schema_for_type(bytes)


# --- input_schema_for -----------------------------------------------------------------------------


class Context:
    pass


def get_forecast(
    ctx: Context,
    city: Annotated[str, "City to look up"],
    days: int = 3,
    unit: Unit = Unit.CELSIUS,
    country: str | None = None,
    hours: tuple[int, ...] = (6, 12),
    when: datetime.date = datetime.date(2024, 1, 1),  # not JSON: no "default"
    extra=None,
) -> str:
    return ""


def test_input_schema_for_full_signature() -> None:
    assert input_schema_for(get_forecast, skip={"ctx"}) == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City to look up"},
            "days": {"type": "integer", "default": 3},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
            "country": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "hours": {"type": "array", "items": {"type": "integer"}, "default": [6, 12]},
            "when": {"type": "string", "format": "date"},
            "extra": {"default": None},
        },
        "required": ["city"],
    }


def test_required_keeps_signature_order() -> None:
    def f(b: int, a: str, c: bool = False) -> None: ...

    assert input_schema_for(f)["required"] == ["b", "a"]


def test_no_parameters_keeps_empty_properties_and_omits_required() -> None:
    def ping() -> None: ...

    assert input_schema_for(ping) == {"type": "object", "properties": {}}


def test_only_skipped_parameters() -> None:
    def f(ctx: Context) -> None: ...

    assert input_schema_for(f, skip=["ctx"]) == {"type": "object", "properties": {}}


def test_unsupported_parameter_type_names_the_parameter() -> None:
    def handler(ctx: Context, count: int) -> None: ...

    with pytest.raises(SchemaError) as info:
        input_schema_for(handler)
    assert str(info.value) == (
        "parameter 'ctx' of test_unsupported_parameter_type_names_the_parameter.<locals>.handler(): "
        "unsupported type Context; use JSON-like types, Literal, an Enum, an attrs class or a TypedDict"
    )


def test_nested_unsupported_type_names_parameter_and_field() -> None:
    def handler(item: HasOpaque) -> None: ...

    with pytest.raises(SchemaError, match=r"^parameter 'item' of .*handler\(\): field HasOpaque\.thing: "):
        input_schema_for(handler)


def takes_args(*args: int) -> None: ...


def takes_kwargs(**kw: int) -> None: ...


def positional_only(a: int, /) -> None: ...


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (takes_args, "takes_args(): *args is not supported; tools take named arguments only"),
        (takes_kwargs, "takes_kwargs(): **kw is not supported; tools take named arguments only"),
        (positional_only, "positional_only(): positional-only parameter 'a' cannot be passed by name"),
    ],
)
def test_parameters_that_cannot_be_named_are_rejected(func: Any, message: str) -> None:
    with pytest.raises(SchemaError) as info:
        input_schema_for(func)
    assert str(info.value) == message


def test_var_keyword_in_skip_is_allowed() -> None:
    def f(a: int, **kwargs: Any) -> None: ...

    assert input_schema_for(f, skip={"kwargs"}) == {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "required": ["a"],
    }


def test_unresolvable_annotation_is_a_schema_error() -> None:
    def f(a: DoesNotExist) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(SchemaError, match=r"cannot resolve the type hints of .*f\(\): name 'DoesNotExist'"):
        input_schema_for(f)


@attrs.define
class CallableTool:
    # Instance attribute annotations must not be mistaken for the call's parameters.
    index: str = "main"

    def __call__(self, query: str, limit: int = 10) -> None: ...


def test_callable_object_and_partial() -> None:
    assert input_schema_for(CallableTool()) == {
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "default": 10}},
        "required": ["query"],
    }

    class Tool:
        def __call__(self, query: str, limit: int = 10) -> None: ...

    expected = {
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "default": 10}},
        "required": ["query"],
    }
    assert input_schema_for(Tool()) == expected

    def search(index: str, query: str, limit: int = 10) -> None: ...

    assert input_schema_for(functools.partial(search, "main"), skip={"index"}) == expected


def test_bound_method_drops_self() -> None:
    class Service:
        def lookup(self, key: str) -> None: ...

    assert input_schema_for(Service().lookup) == {
        "type": "object",
        "properties": {"key": {"type": "string"}},
        "required": ["key"],
    }


# --- output_schema_for ----------------------------------------------------------------------------


def test_output_schema_for_object_like_returns() -> None:
    assert output_schema_for(Address) == ADDRESS_SCHEMA
    assert output_schema_for(Annotated[Address, "The address"]) == ADDRESS_SCHEMA
    assert output_schema_for(Partial) == schema_for_type(Partial)
    assert output_schema_for(dict[str, int]) == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    assert output_schema_for(dict) == {"type": "object"}
    assert output_schema_for(dict[str, Any]) == {"type": "object"}
    assert output_schema_for(Mapping[str, str]) == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }


@pytest.mark.parametrize(
    "hint",
    [str, bytes, int, None, type(None), list[Address], Address | None, Opaque, Any, Annotated[str, "text"]],
)
def test_output_schema_for_everything_else_is_none(hint: Any) -> None:
    assert output_schema_for(hint) is None


def test_output_schema_for_missing_annotation_is_none() -> None:
    import inspect

    assert output_schema_for(inspect.Signature.empty) is None


def test_output_schema_for_object_with_unsupported_field_raises() -> None:
    with pytest.raises(SchemaError, match=r"field HasOpaque\.thing"):
        output_schema_for(HasOpaque)
