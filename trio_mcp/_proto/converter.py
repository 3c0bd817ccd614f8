"""One cattrs converter for the wire and the stores: camelCase names, `_meta`, tagged unions, strict primitives.

Two instances are kept: a fast one (no detailed validation) for the hot path, and a detailed one used only to
explain a failure, so a bad message costs more than a good one and never the other way round.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast, get_args

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from . import types as t
from .errors import INVALID_PARAMS, RemoteProtocolError

T = TypeVar("T")

# Attribute names that do not follow the plain snake_case -> camelCase rule.
_SPECIAL_NAMES = {"meta": "_meta", "schema_uri": "$schema"}


@functools.cache
def wire_name(attribute: str) -> str:
    special = _SPECIAL_NAMES.get(attribute)
    if special is not None:
        return special
    head, *rest = attribute.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _strict_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {_describe(value)}")


def _strict_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {_describe(value)}")


def _strict_float(value: Any, _: Any) -> float:
    # Kept as given (an int stays an int) so a round trip is byte-exact.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected a number, got {_describe(value)}")


def _strict_bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {_describe(value)}")


def _str_or_int(value: Any, _: Any) -> str | int:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(f"expected a string or an integer, got {_describe(value)}")


def _optional_str_or_int(value: Any, _: Any) -> str | int | None:
    return None if value is None else _str_or_int(value, None)


def _json_object(value: Any, _: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value  # pyright: ignore[reportUnknownVariableType]
    raise TypeError(f"expected an object, got {_describe(value)}")


def _elicit_value(value: Any, _: Any) -> t.ElicitContentValue:
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):  # pyright: ignore[reportUnknownVariableType]
        return value  # pyright: ignore[reportUnknownVariableType]
    raise TypeError(f"expected a string, number, boolean or list of strings, got {_describe(value)}")


def _identity(value: Any) -> Any:
    return value


def _tag_of(value: Any, key: str) -> Any:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {_describe(value)}")
    return value.get(key)  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]


def _by_tag(conv: cattrs.Converter, union: Any, key: str = "type") -> Callable[[Any, Any], Any]:
    """Structure a union whose members carry a distinct Literal `type` (content blocks, references)."""
    table: dict[str, type] = {}
    for member in get_args(union):
        tag: str = attrs.fields_dict(member)[key].default  # pyright: ignore[reportAssignmentType]
        table[tag] = member

    def structure(value: Any, _: Any) -> Any:
        tag = _tag_of(value, key)
        member = table.get(tag)
        if member is None:
            raise TypeError(f"unknown {key} {_describe(tag)}; expected one of {sorted(table)}")
        return conv.structure(value, member)  # pyright: ignore[reportUnknownVariableType]

    return structure


def _resource_contents(conv: cattrs.Converter) -> Callable[[Any, Any], t.ResourceContents]:
    def structure(value: Any, _: Any) -> t.ResourceContents:
        if isinstance(value, dict) and "blob" in value:
            return conv.structure(value, t.BlobResourceContents)
        if isinstance(value, dict) and "text" in value:
            return conv.structure(value, t.TextResourceContents)
        raise TypeError('resource contents need "text" or "blob"')

    return structure


def _primitive_schema(conv: cattrs.Converter) -> Callable[[Any, Any], t.PrimitiveSchemaDefinition]:
    """Elicitation field schemas are told apart by `type` and by which keys are present (schema.ts)."""

    def pick(value: dict[str, Any]) -> type:
        kind = value.get("type")
        if kind == "boolean":
            return t.BooleanSchema
        if kind in ("number", "integer"):
            return t.NumberSchema
        if kind == "array":
            items = value.get("items")
            return (
                t.TitledMultiSelectEnumSchema
                if isinstance(items, dict) and "anyOf" in items
                else t.UntitledMultiSelectEnumSchema
            )
        if kind == "string":
            if "oneOf" in value:
                return t.TitledSingleSelectEnumSchema
            if "enumNames" in value:
                return t.LegacyTitledEnumSchema
            if "enum" in value:
                return t.UntitledSingleSelectEnumSchema
            return t.StringSchema
        raise TypeError(f"unsupported elicitation field type {_describe(kind)}")

    def structure(value: Any, _: Any) -> t.PrimitiveSchemaDefinition:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {_describe(value)}")
        kind: type[Any] = pick(value)  # pyright: ignore[reportUnknownArgumentType]
        out: t.PrimitiveSchemaDefinition = conv.structure(value, kind)
        return out

    return structure


def _elicit_params(conv: cattrs.Converter) -> Callable[[Any, Any], t.ElicitRequestParams]:
    def structure(value: Any, _: Any) -> t.ElicitRequestParams:
        # Cli/elicitation: a missing mode means form mode.
        if _tag_of(value, "mode") == "url":
            return conv.structure(value, t.ElicitRequestURLParams)
        return conv.structure(value, t.ElicitRequestFormParams)

    return structure


def _sampling_content(conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    single = _by_tag(conv, t.SamplingContent)

    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, list):
            return [single(item, None) for item in value]  # pyright: ignore[reportUnknownVariableType]
        return single(value, None)

    return structure


def _equals(target: Any) -> Callable[[Any], bool]:
    return lambda candidate: candidate == target


def make_converter(*, detailed: bool = False) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=detailed)
    for primitive, hook in (
        (str, _strict_str),
        (int, _strict_int),
        (float, _strict_float),
        (bool, _strict_bool),
    ):
        conv.register_structure_hook(primitive, hook)
    for alias in (dict[str, Any], t.JsonObject):
        conv.register_structure_hook_func(_equals(alias), _json_object)
        conv.register_unstructure_hook_func(_equals(alias), _identity)
    conv.register_structure_hook_func(_equals(str | int), _str_or_int)
    conv.register_structure_hook_func(_equals(str | int | None), _optional_str_or_int)
    conv.register_structure_hook_func(_equals(t.ElicitContentValue), _elicit_value)
    conv.register_structure_hook_func(_equals(t.ContentBlock), _by_tag(conv, t.ContentBlock))
    conv.register_structure_hook_func(_equals(t.SamplingContent), _by_tag(conv, t.SamplingContent))
    conv.register_structure_hook_func(_equals(t.CompletionReference), _by_tag(conv, t.CompletionReference))
    conv.register_structure_hook_func(
        _equals(t.SamplingContent | list[t.SamplingContent]), _sampling_content(conv)
    )
    conv.register_structure_hook_func(_equals(t.ResourceContents), _resource_contents(conv))
    conv.register_structure_hook_func(_equals(t.PrimitiveSchemaDefinition), _primitive_schema(conv))
    conv.register_structure_hook_func(_equals(t.ElicitRequestParams), _elicit_params(conv))

    def structure_factory(cls: type) -> Any:
        renames = {
            a.name: override(rename=wire_name(a.name))
            for a in attrs.fields(cls)
            if wire_name(a.name) != a.name
        }
        generated: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, conv, **renames)  # pyright: ignore[reportArgumentType,reportUnknownVariableType]

        def structure(value: Any, target: Any) -> Any:
            # The generated code only tests `key in value`, which a string or a list would pass.
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {_describe(value)}")
            return generated(cast(dict[str, Any], value), target)  # pyright: ignore[reportUnknownVariableType]

        return structure

    def unstructure_factory(cls: type) -> Any:
        overrides = {
            a.name: override(rename=wire_name(a.name), omit_if_default=a.default is None)
            for a in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, **overrides)  # pyright: ignore[reportArgumentType,reportUnknownVariableType]

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


_fast = make_converter()
_detailed = make_converter(detailed=True)


def default_converter() -> cattrs.Converter:
    """The shared fast converter (safe to share: hooks are pure)."""
    return _fast


def explain(exc: BaseException, root: str) -> str:
    """A one-line account of a structuring failure, naming fields by their wire names."""
    if isinstance(exc, cattrs.BaseValidationError):
        lines = cattrs.transform_error(exc, path=root, format_exception=_format_leaf)
        return "; ".join(_wire_path(line) for line in lines[:5])
    return str(exc) or type(exc).__name__


def _format_leaf(exc: BaseException, _type: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unexpected keys {sorted(exc.extra_fields)}"
    return str(exc) or type(exc).__name__


def _wire_path(line: str) -> str:
    # transform_error says "message @ root.attr.attr[0]"; show the names the peer actually sent.
    message, sep, path = line.rpartition(" @ ")
    if not sep:
        return line
    segments = path.split(".")
    renamed = [segments[0], *(_wire_segment(s) for s in segments[1:])]
    return f"{'.'.join(renamed)}: {message}"


def _wire_segment(segment: str) -> str:
    name, bracket, rest = segment.partition("[")
    return wire_name(name) + bracket + rest


def structure_as(value: Any, cls: type[T], *, root: str, conv: cattrs.Converter | None = None) -> T:
    """Structure `value` as `cls`, raising RemoteProtocolError(-32602) that names the offending field."""
    try:
        return (conv or _fast).structure(value, cls)
    except Exception:
        pass
    try:
        result = _detailed.structure(value, cls)
    except Exception as exc:
        raise RemoteProtocolError(f"Invalid {root}: {explain(exc, root)}", code=INVALID_PARAMS) from None
    return result  # the detailed converter accepted what the fast one refused: trust the detailed one


def structure_params(conv: cattrs.Converter | None, method: str, params: Mapping[str, Any] | None) -> Any:
    from .methods import METHODS

    spec = METHODS.get(method)
    if spec is None:
        raise KeyError(method)
    return structure_as(params if params is not None else {}, spec.params_type, root="params", conv=conv)  # pyright: ignore[reportUnknownVariableType]


def structure_result(conv: cattrs.Converter | None, method: str, result: Mapping[str, Any]) -> Any:
    from .methods import METHODS

    spec = METHODS.get(method)
    if spec is None or spec.result_type is None:
        raise KeyError(method)
    return structure_as(result, spec.result_type, root="result", conv=conv)  # pyright: ignore[reportUnknownVariableType]


def unstructure(value: Any) -> Any:
    return _fast.unstructure(value)
