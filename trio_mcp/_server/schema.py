"""JSON Schema (2020-12 dialect, no ``$schema`` key) generated from Python type hints.

Used at registration time for tool ``inputSchema``/``outputSchema`` and prompt
arguments, so every failure is a :class:`SchemaError` that names the culprit.
Pure: no trio, no I/O.
"""

from __future__ import annotations

import collections.abc
import contextlib
import datetime
import enum
import inspect
import math
import types
import typing
import uuid
from collections.abc import Callable, Collection, Generator
from typing import Annotated, Any, Final, Literal, NotRequired, Required, Union

import attrs

from .._proto.jsonrpc import json_type_name

__all__ = [
    "SchemaError",
    "input_schema_for",
    "output_schema_for",
    "resolve_hints",
    "schema_for_type",
]


class SchemaError(Exception):
    """A callable or type hint cannot be described as JSON Schema (raised at registration time)."""


# Compared by identity, so ``bool`` never matches ``int`` and an IntEnum falls through to the enum case.
_SIMPLE_SCHEMAS: Final[tuple[tuple[Any, dict[str, Any]], ...]] = (
    (str, {"type": "string"}),
    (bool, {"type": "boolean"}),
    (int, {"type": "integer"}),
    (float, {"type": "number"}),
    (None, {"type": "null"}),
    (types.NoneType, {"type": "null"}),
    (datetime.datetime, {"type": "string", "format": "date-time"}),
    (datetime.date, {"type": "string", "format": "date"}),
    (datetime.time, {"type": "string", "format": "time"}),
    (uuid.UUID, {"type": "string", "format": "uuid"}),
)

_ARRAY_ORIGINS: Final = frozenset(
    {list, collections.abc.Sequence, collections.abc.MutableSequence},
)
_SET_ORIGINS: Final = frozenset({set, frozenset, collections.abc.Set, collections.abc.MutableSet})
_MAPPING_ORIGINS: Final = frozenset({dict, collections.abc.Mapping, collections.abc.MutableMapping})

# attrs.Factory is typed as a function but is a class at runtime.
_FACTORY_TYPE: Final = typing.cast("type[Any]", attrs.Factory)

# Returned by _to_json for values JSON cannot represent.
_NOT_JSON: Final = object()


def schema_for_type(hint: Any) -> dict[str, Any]:
    """JSON Schema for a single type hint; raises :class:`SchemaError` for unsupported hints."""
    return _Builder().schema(hint)


def input_schema_for(func: Callable[..., Any], *, skip: Collection[str] = ()) -> dict[str, Any]:
    """Object schema describing the keyword arguments of *func* (minus the names in *skip*)."""
    hints = resolve_hints(func)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in _signature(func).parameters.values():
        if param.name in skip:
            continue
        _check_parameter_kind(func, param)
        try:
            prop = schema_for_type(hints.get(param.name, Any))
        except SchemaError as exc:
            raise SchemaError(f"parameter {param.name!r} of {_callable_name(func)}: {exc}") from exc
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        else:
            _add_default(prop, param.default)
        properties[param.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def output_schema_for(return_hint: Any) -> dict[str, Any] | None:
    """Object schema for structured tool results, or None when the result is not an object.

    MCP requires ``outputSchema`` to describe an object, so only attrs classes,
    TypedDicts and string-keyed mappings qualify; everything else is returned as
    plain content.
    """
    hint = _strip_annotated(return_hint)
    if hint is inspect.Signature.empty:
        return None
    if _is_attrs_class(hint) or typing.is_typeddict(hint):
        return schema_for_type(hint)
    if (typing.get_origin(hint) or hint) in _MAPPING_ORIGINS:
        return schema_for_type(hint)
    return None


def resolve_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """Evaluated type hints (``Annotated`` kept) of *func*'s parameters and return value."""
    try:
        if inspect.isroutine(func):
            return typing.get_type_hints(func, include_extras=True)
        # Callable instances and functools.partial: get_type_hints would read the instance's
        # own attribute annotations (or fail), while the signature describes the call.
        sig = inspect.signature(func, eval_str=True)
    except (NameError, SyntaxError, TypeError) as exc:
        raise SchemaError(f"cannot resolve the type hints of {_callable_name(func)}: {exc}") from exc
    hints = {p.name: p.annotation for p in sig.parameters.values() if p.annotation is not p.empty}
    if sig.return_annotation is not sig.empty:
        hints["return"] = sig.return_annotation
    return hints


def _signature(func: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"cannot inspect the signature of {_callable_name(func)}: {exc}") from exc


def _check_parameter_kind(func: Callable[..., Any], param: inspect.Parameter) -> None:
    # Arguments arrive as a JSON object and are passed by keyword, so only named parameters work.
    if param.kind is inspect.Parameter.VAR_POSITIONAL:
        problem = f"*{param.name} is not supported; tools take named arguments only"
    elif param.kind is inspect.Parameter.VAR_KEYWORD:
        problem = f"**{param.name} is not supported; tools take named arguments only"
    elif param.kind is inspect.Parameter.POSITIONAL_ONLY:
        problem = f"positional-only parameter {param.name!r} cannot be passed by name"
    else:
        return
    raise SchemaError(f"{_callable_name(func)}: {problem}")


def _callable_name(func: Any) -> str:
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    return f"{name}()" if isinstance(name, str) else repr(func)


def _type_name(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__qualname__
    return repr(hint)


def _is_enum_class(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, enum.Enum)


def _is_attrs_class(hint: Any) -> bool:
    return isinstance(hint, type) and attrs.has(hint)


def _strip_annotated(hint: Any) -> Any:
    while typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def _add_default(schema: dict[str, Any], default: Any) -> None:
    value = _to_json(default)
    if value is not _NOT_JSON:
        schema["default"] = value


def _to_json(value: Any) -> Any:
    """*value* as plain JSON data, or ``_NOT_JSON``; defaults that do not fit are simply left out."""
    if isinstance(value, enum.Enum):
        return _to_json(value.value)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else _NOT_JSON
    if isinstance(value, list | tuple):
        items = [_to_json(item) for item in typing.cast("Collection[Any]", value)]
        return _NOT_JSON if any(item is _NOT_JSON for item in items) else items
    if isinstance(value, dict):
        entries = typing.cast("dict[Any, Any]", value)
        if not all(isinstance(key, str) for key in entries):
            return _NOT_JSON
        converted = {key: _to_json(item) for key, item in entries.items()}
        return _NOT_JSON if any(item is _NOT_JSON for item in converted.values()) else converted
    return _NOT_JSON


def _json_type_of_values(values: Collection[Any]) -> str | None:
    """The single JSON type shared by all *values*, if there is one."""
    names = {_json_type_name(value) for value in values}
    return names.pop() if len(names) == 1 else None


_SCALAR_TYPES = frozenset({"null", "boolean", "integer", "number", "string"})


def _json_type_name(value: Any) -> str | None:
    """The JSON type of a scalar (None for anything a Literal or enum value may not be)."""
    name = json_type_name(value)
    return name if name in _SCALAR_TYPES else None


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    json_type = _json_type_of_values(values)
    return {"type": json_type, "enum": values} if json_type else {"enum": values}


class _Builder:
    """One schema generation; remembers the classes being expanded to reject recursive ones."""

    def __init__(self) -> None:
        self._expanding: list[type] = []

    def schema(self, hint: Any) -> dict[str, Any]:
        if hint is Any or hint is object:
            return {}
        origin = typing.get_origin(hint)
        if origin is Annotated:
            return self._annotated(hint)
        if origin is Required or origin is NotRequired:
            return self.schema(typing.get_args(hint)[0])
        if isinstance(hint, typing.NewType):
            return self.schema(hint.__supertype__)
        for simple, schema in _SIMPLE_SCHEMAS:
            if hint is simple:
                return dict(schema)
        if origin is Literal:
            return self._literal(hint)
        if origin is Union or isinstance(hint, types.UnionType):
            return {"anyOf": [self.schema(arm) for arm in typing.get_args(hint)]}
        if _is_enum_class(hint):
            return self._enum(hint)
        if _is_attrs_class(hint):
            return self._attrs_class(hint)
        if typing.is_typeddict(hint):
            return self._typed_dict(hint)
        return self._container(hint, origin or hint)

    def _annotated(self, hint: Any) -> dict[str, Any]:
        schema = self.schema(typing.get_args(hint)[0])
        # Only plain strings are descriptions; other metadata belongs to other tools.
        descriptions = [meta for meta in hint.__metadata__ if isinstance(meta, str)]
        if descriptions:
            schema["description"] = descriptions[-1]
        return schema

    def _literal(self, hint: Any) -> dict[str, Any]:
        values = list(typing.get_args(hint))
        for value in values:
            if _json_type_name(value) is None:
                raise SchemaError(f"unsupported literal value {value!r} in {hint!r}")
        return _enum_schema(values)

    def _enum(self, cls: type[enum.Enum]) -> dict[str, Any]:
        values = [_to_json(member.value) for member in cls]
        if any(value is _NOT_JSON for value in values):
            raise SchemaError(f"enum {cls.__qualname__} has values that are not JSON")
        return _enum_schema(values)

    def _container(self, hint: Any, origin: Any) -> dict[str, Any]:
        args = typing.get_args(hint)
        if origin in _ARRAY_ORIGINS:
            return self._array(args[0] if args else Any)
        if origin in _SET_ORIGINS:
            return {**self._array(args[0] if args else Any), "uniqueItems": True}
        if origin is tuple:
            return self._tuple(args)
        if origin in _MAPPING_ORIGINS:
            return self._mapping(hint, args)
        raise SchemaError(
            f"unsupported type {_type_name(hint)}; use JSON-like types, Literal, an Enum, "
            "an attrs class or a TypedDict"
        )

    def _array(self, item_hint: Any) -> dict[str, Any]:
        items = self.schema(item_hint)
        return {"type": "array", "items": items} if items else {"type": "array"}

    def _tuple(self, args: tuple[Any, ...]) -> dict[str, Any]:
        if not args:
            return {"type": "array"}
        if len(args) == 2 and args[1] is Ellipsis:
            return self._array(args[0])
        prefix = [self.schema(arg) for arg in args]
        return {
            "type": "array",
            "prefixItems": prefix,
            "minItems": len(prefix),
            "maxItems": len(prefix),
        }

    def _mapping(self, hint: Any, args: tuple[Any, ...]) -> dict[str, Any]:
        if not args:
            return {"type": "object"}
        key, value = args
        if _strip_annotated(key) not in (str, Any):
            raise SchemaError(f"unsupported type {_type_name(hint)}: JSON object keys are strings")
        values = self.schema(value)
        return {"type": "object", "additionalProperties": values} if values else {"type": "object"}

    @contextlib.contextmanager
    def _expanding_class(self, cls: type) -> Generator[None]:
        # Classes are inlined (no $defs), so a self-referencing class would expand forever.
        if cls in self._expanding:
            chain = " -> ".join(c.__qualname__ for c in [*self._expanding, cls])
            raise SchemaError(f"recursive type {cls.__qualname__} is not supported ({chain})")
        self._expanding.append(cls)
        try:
            yield
        finally:
            self._expanding.pop()

    def _attrs_class(self, cls: type) -> dict[str, Any]:
        with self._expanding_class(cls):
            hints = _class_hints(cls)
            properties: dict[str, Any] = {}
            required: list[str] = []
            for field in attrs.fields(cls):
                if not field.init:
                    continue
                hint = hints.get(field.name, field.type if field.type is not None else Any)
                prop = self._field(cls, field.name, hint)
                if field.default is attrs.NOTHING:
                    required.append(field.name)
                else:
                    _add_field_default(prop, field.default)
                properties[field.name] = prop
            return _object_schema(properties, required)

    def _typed_dict(self, cls: type) -> dict[str, Any]:
        with self._expanding_class(cls):
            required_keys: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
            properties: dict[str, Any] = {}
            required: list[str] = []
            for key, hint in _class_hints(cls).items():
                properties[key] = self._field(cls, key, hint)
                qualifier = _required_qualifier(hint)
                if qualifier is Required or (qualifier is None and key in required_keys):
                    required.append(key)
            return _object_schema(properties, required)

    def _field(self, cls: type, name: str, hint: Any) -> dict[str, Any]:
        try:
            return self.schema(hint)
        except SchemaError as exc:
            raise SchemaError(f"field {cls.__qualname__}.{name}: {exc}") from exc


def _class_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except (NameError, TypeError, SyntaxError) as exc:
        raise SchemaError(f"cannot resolve the type hints of {cls.__qualname__}: {exc}") from exc


def _required_qualifier(hint: Any) -> Any:
    """``Required``/``NotRequired`` wrapping *hint* (possibly inside Annotated), else None.

    Checked directly because ``__required_keys__`` ignores the qualifiers when the
    TypedDict's annotations are strings (``from __future__ import annotations``).
    """
    while True:
        origin = typing.get_origin(hint)
        if origin is Required or origin is NotRequired:
            return origin
        if origin is not Annotated:
            return None
        hint = typing.get_args(hint)[0]


def _add_field_default(schema: dict[str, Any], default: Any) -> None:
    if isinstance(default, _FACTORY_TYPE):
        factory: Any = default
        # Only call factories known to be side-effect free; others just make the field optional.
        if not factory.takes_self and factory.factory in (list, dict, tuple):
            _add_default(schema, factory.factory())
        return
    _add_default(schema, default)


def _object_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema
