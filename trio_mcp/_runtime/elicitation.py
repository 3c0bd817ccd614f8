"""Elicitation form schemas (Cli/elicitation: a flat object of primitives) from attrs classes, and back."""

from __future__ import annotations

import enum
import types
import typing
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import attrs

_PRIMITIVES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


class ElicitationSchemaError(TypeError):
    """The schema class has a field an elicitation form cannot ask for (nested objects, arbitrary types)."""


def requested_schema_for(schema: type | dict[str, Any]) -> dict[str, Any]:
    """A raw dict is sent verbatim; an attrs class becomes a flat object schema."""
    if isinstance(schema, dict):
        return schema
    if not attrs.has(schema):
        raise ElicitationSchemaError(f"elicit() takes an attrs class or a JSON Schema dict, not {schema!r}")
    hints = get_type_hints(schema, include_extras=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in attrs.fields(schema):
        prop = _field_schema(field.name, hints[field.name])
        if field.default is not attrs.NOTHING and not isinstance(field.default, attrs.Factory):  # pyright: ignore[reportArgumentType]
            default = field.default.value if isinstance(field.default, enum.Enum) else field.default
            if default is not None:
                prop["default"] = default
        else:
            required.append(field.name)
        properties[field.name] = prop
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


def _field_schema(name: str, hint: Any) -> dict[str, Any]:
    description: str | None = None
    if get_origin(hint) is Annotated:
        hint, *extras = get_args(hint)
        description = next((e for e in extras if isinstance(e, str)), None)
    hint = _strip_optional(hint)
    prop = _value_schema(name, hint)
    if description:
        prop["description"] = description
    return prop


def _strip_optional(hint: Any) -> Any:
    if get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _choices(hint: Any) -> list[str] | None:
    if get_origin(hint) is Literal:
        values = list(get_args(hint))
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [member.value for member in hint]
    else:
        return None
    if not all(isinstance(v, str) for v in values):
        return None
    return values


def _value_schema(name: str, hint: Any) -> dict[str, Any]:
    if hint in _PRIMITIVES:
        return {"type": _PRIMITIVES[hint]}
    choices = _choices(hint)
    if choices is not None:
        return {"type": "string", "enum": choices}
    if get_origin(hint) in (list, set, frozenset, tuple):
        args = get_args(hint)
        item_choices = _choices(args[0]) if args else None
        if item_choices is not None:
            return {"type": "array", "items": {"type": "string", "enum": item_choices}}
    raise ElicitationSchemaError(
        f"elicitation field {name!r} has type {hint!r}; forms take str, int, float, bool, "
        "Literal/Enum of strings, or a list of those choices"
    )


def content_to_instance(schema: type, content: dict[str, Any]) -> Any:
    """Build the attrs instance from accepted form content (enum fields converted back to members)."""
    hints = get_type_hints(schema, include_extras=True)
    values: dict[str, Any] = {}
    for field in attrs.fields(schema):
        if field.name not in content:
            continue
        hint = hints[field.name]
        if get_origin(hint) is Annotated:
            hint = get_args(hint)[0]
        hint = _strip_optional(hint)
        value = content[field.name]
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            value = hint(value)
        elif hint is float and isinstance(value, int):
            value = float(value)
        values[field.name] = value
    return schema(**values)
