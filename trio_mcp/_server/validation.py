"""A small JSON Schema (2020-12) validator and the binding of validated arguments to Python values.

The validator covers what :mod:`.schema` emits plus the keywords common in
hand-written tool schemas. Its messages are meant to be read by a model that
has to fix its call, so they say plainly what was expected and what arrived.
Pure: no trio, no I/O.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import functools
import inspect
import json
import re
import types
import typing
import urllib.parse
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Annotated, Any, Final, Literal, NotRequired, Required, TypeGuard, Union, cast

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, ClassValidationError
from cattrs.gen import make_dict_structure_fn
from cattrs.v import format_exception

from .._proto.jsonrpc import json_type_name
from .schema import resolve_hints

__all__ = ["ArgumentBinder", "ValidationIssue", "bind_arguments", "compile_validator", "validate"]

MAX_ISSUES: Final = 20


@attrs.frozen
class ValidationIssue:
    """One reason an instance does not match its schema."""

    path: str  # e.g. "arguments.items[2].name"
    message: str  # e.g. 'expected integer, got string "3"'

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def validate(
    instance: Any, schema: Mapping[str, Any] | bool, *, root: str = "arguments"
) -> list[ValidationIssue]:
    """Check *instance* against *schema*; returns at most ``MAX_ISSUES`` issues, empty when valid."""
    validator = _Validator(schema, active_refs=set())
    try:
        validator.check(instance, schema, root)
    except RecursionError:
        validator.add(root, "value is nested too deeply to validate")
    return validator.issues


Check = Callable[[Any], "list[ValidationIssue]"]


def _is_str(value: Any) -> bool:
    return type(value) is str


def _is_integer(value: Any) -> bool:
    return type(value) is int or (type(value) is float and value.is_integer())


def _is_plain_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _is_bool(value: Any) -> bool:
    return type(value) is bool


_SIMPLE_TYPES: Final[dict[str, Callable[[Any], bool]]] = {
    "string": _is_str,
    "integer": _is_integer,
    "number": _is_plain_number,
    "boolean": _is_bool,
}
_SIMPLE_OBJECT_KEYS: Final = frozenset(
    {"type", "properties", "required", "additionalProperties", "description", "title"}
)
_SIMPLE_PROPERTY_KEYS: Final = frozenset({"type", "description", "title", "default"})


def compile_validator(schema: Mapping[str, Any], *, root: str = "arguments") -> Check:
    """`validate` bound to one schema, with a fast path for the flat schemas most tools have.

    A flat object of string/integer/number/boolean properties is checked with a few type tests; anything
    else, and any instance the fast path rejects, goes through the full validator (which explains why).
    """
    fast = _flat_object_check(schema)

    def check(instance: Any) -> list[ValidationIssue]:
        if fast is not None and fast(instance):
            return []
        return validate(instance, schema, root=root)

    return check


def _flat_object_check(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    if schema.get("type") != "object" or not set(schema) <= _SIMPLE_OBJECT_KEYS:
        return None
    closed = schema.get("additionalProperties", True)
    if closed not in (True, False):
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        return None
    tests: dict[str, Callable[[Any], bool]] = {}
    for name, prop in cast(dict[str, Any], properties).items():
        if not isinstance(prop, dict) or not set(cast(dict[str, Any], prop)) <= _SIMPLE_PROPERTY_KEYS:
            return None
        kind = cast(dict[str, Any], prop).get("type")
        test = _SIMPLE_TYPES.get(kind) if isinstance(kind, str) else None
        if test is None:
            return None
        tests[name] = test
    needed = tuple(cast(list[Any], required))

    def fast(instance: Any) -> bool:
        if type(instance) is not dict:
            return False
        for name in needed:
            if name not in instance:
                return False
        for name, value in cast(dict[str, Any], instance).items():
            test = tests.get(name)
            if test is None:
                if closed is False:
                    return False
            elif not test(value):
                return False
        return True

    return fast


# ---------------------------------------------------------------------------
# Describing values in messages


def _json_type(value: Any) -> str:
    return json_type_name(value)


def _show(value: Any, limit: int = 60) -> str:
    """Short JSON rendering of *value* for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(value: Any) -> str:
    """``string "3"``, ``integer 3``, ``null``, ``array``: what arrived, for "got ..." phrases."""
    kind = _json_type(value)
    if value is None or kind in ("array", "object"):
        return kind
    return f"{kind} {_show(value)}"


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") else f"{count} {noun}s"


def _join_or(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _child(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


# ---------------------------------------------------------------------------
# JSON semantics that differ from Python's: true != 1, but 1 == 1.0


# TypeGuard rather than isinstance: it narrows without turning Any into partially-unknown types.
def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_array(value: Any) -> TypeGuard[Sequence[Any]]:
    return isinstance(value, list | tuple)


def _is_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if _is_array(a) and _is_array(b):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if _is_object(a) and _is_object(b):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _matches_type(value: Any, name: str) -> bool:
    match name:
        case "null":
            return value is None
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            # JSON does not distinguish 3 from 3.0; 2020-12 calls both integers.
            return _is_number(value) and (isinstance(value, int) or float(value).is_integer())
        case "number":
            return _is_number(value)
        case "string":
            return isinstance(value, str)
        case "array":
            return _is_array(value)
        case "object":
            return _is_object(value)
        case _:
            return False


def _declared_types(schema: Mapping[str, Any]) -> list[str] | None:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    return _strings(declared) if _is_array(declared) else None


def _strings(value: Any) -> list[str]:
    """The strings in a schema's list of names (``type``, ``required``); [] for anything else."""
    return [item for item in value if isinstance(item, str)] if _is_array(value) else []


def _is_multiple(value: float, factor: float) -> bool:
    if isinstance(value, int) and isinstance(factor, int):
        return value % factor == 0
    # Decimal of the shortest repr avoids 0.3 / 0.1 == 2.9999999999999996.
    try:
        return decimal.Decimal(repr(value)) % decimal.Decimal(repr(factor)) == 0
    except decimal.InvalidOperation:
        return True


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # a broken pattern is the schema's fault, not the caller's


# ---------------------------------------------------------------------------
# The validator


class _Validator:
    """One validation run; ``anyOf``/``oneOf`` branches get their own, sharing the ref guard."""

    def __init__(self, root_schema: Any, *, active_refs: set[tuple[str, int]]) -> None:
        self.root_schema = root_schema
        self.issues: list[ValidationIssue] = []
        # ($ref, id(instance)) pairs being expanded: seeing one again means a ref cycle
        # that consumes no input, e.g. {"$ref": "#"}.
        self._active_refs = active_refs

    def branch(self) -> _Validator:
        return _Validator(self.root_schema, active_refs=self._active_refs)

    @property
    def full(self) -> bool:
        return len(self.issues) >= MAX_ISSUES

    def add(self, path: str, message: str) -> None:
        if not self.full:
            self.issues.append(ValidationIssue(path, message))

    def is_valid(self, instance: Any, schema: Any, path: str) -> bool:
        sub = self.branch()
        sub.check(instance, schema, path)
        return not sub.issues

    def check(self, instance: Any, schema: Any, path: str) -> None:
        if schema is True or self.full:
            return
        if schema is False:
            self.add(path, "no value is allowed here")
            return
        if not _is_object(schema):
            return  # not a schema; ignore rather than blame the caller
        if "$ref" in schema:
            self._check_ref(instance, schema["$ref"], path)
        if not self._check_type(instance, schema, path):
            return  # the remaining keywords would only repeat the type mismatch
        self._check_values(instance, schema, path)
        if _is_number(instance):
            self._check_number(instance, schema, path)
        elif isinstance(instance, str):
            self._check_string(instance, schema, path)
        elif _is_array(instance):
            self._check_array(instance, schema, path)
        elif _is_object(instance):
            self._check_object(instance, schema, path)
        self._check_combinators(instance, schema, path)

    # -- $ref

    def _check_ref(self, instance: Any, ref: Any, path: str) -> None:
        target = self._resolve(ref)
        if target is None:
            self.add(path, f"the schema refers to {_show(ref)}, which cannot be resolved")
            return
        key = (str(ref), id(instance))
        if key in self._active_refs:
            return
        self._active_refs.add(key)
        try:
            self.check(instance, target, path)
        finally:
            self._active_refs.discard(key)

    def _resolve(self, ref: Any) -> Any:
        """Target of a local ``#...`` JSON-pointer reference, or None."""
        if not isinstance(ref, str) or not ref.startswith("#"):
            return None
        node: Any = self.root_schema
        pointer = urllib.parse.unquote(ref[1:])
        if not pointer:
            return node
        if not pointer.startswith("/"):
            return None  # a plain-name fragment ($anchor) is not supported
        for token in pointer[1:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            if _is_object(node):
                node = node.get(token)
            elif _is_array(node) and token.isdigit():
                node = node[int(token)] if int(token) < len(node) else None
            else:
                return None
            if node is None:
                return None
        return node

    # -- keywords for every type

    def _check_type(self, instance: Any, schema: Mapping[str, Any], path: str) -> bool:
        declared = _declared_types(schema)
        if declared is None or any(_matches_type(instance, t) for t in declared):
            return True
        self.add(path, f"expected {_join_or(declared) or 'no value'}, got {_describe(instance)}")
        return False

    def _check_values(self, instance: Any, schema: Mapping[str, Any], path: str) -> None:
        if "const" in schema and not _json_equal(instance, schema["const"]):
            self.add(path, f"expected {_show(schema['const'])}, got {_describe(instance)}")
        options = schema.get("enum")
        if _is_array(options) and not any(_json_equal(instance, option) for option in options):
            shown = ", ".join(_show(option, 30) for option in options[:10])
            if len(options) > 10:
                shown += ", …"
            self.add(path, f"expected one of {shown}, got {_describe(instance)}")

    # -- numbers and strings

    def _check_number(self, value: float, schema: Mapping[str, Any], path: str) -> None:
        bounds: list[tuple[str, str, Callable[[float, float], bool]]] = [
            ("minimum", ">=", lambda v, b: v >= b),
            ("maximum", "<=", lambda v, b: v <= b),
            ("exclusiveMinimum", ">", lambda v, b: v > b),
            ("exclusiveMaximum", "<", lambda v, b: v < b),
        ]
        for keyword, symbol, ok in bounds:
            bound = schema.get(keyword)
            if _is_number(bound) and not ok(value, bound):
                self.add(path, f"expected a number {symbol} {_show(bound)}, got {_show(value)}")
        factor = schema.get("multipleOf")
        if _is_number(factor) and factor > 0 and not _is_multiple(value, factor):
            self.add(path, f"expected a multiple of {_show(factor)}, got {_show(value)}")

    def _check_string(self, value: str, schema: Mapping[str, Any], path: str) -> None:
        min_length, max_length = schema.get("minLength"), schema.get("maxLength")
        if isinstance(min_length, int) and len(value) < min_length:
            self.add(path, f"expected at least {_plural(min_length, 'character')}, got {len(value)}")
        if isinstance(max_length, int) and len(value) > max_length:
            self.add(path, f"expected at most {_plural(max_length, 'character')}, got {len(value)}")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            compiled = _compile(pattern)
            if compiled is not None and compiled.search(value) is None:
                self.add(path, f"string {_show(value)} does not match the pattern {_show(pattern)}")

    # -- arrays

    def _check_array(self, items: Sequence[Any], schema: Mapping[str, Any], path: str) -> None:
        self._check_array_size(items, schema, path)
        prefix: Any = schema.get("prefixItems")
        rest: Any = schema.get("items")
        if _is_array(rest):  # draft 2019-09 and older spell prefixItems as a list "items"
            prefix, rest = rest, schema.get("additionalItems")
        prefix_schemas: Sequence[Any] = prefix if _is_array(prefix) else []
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]"
            if index < len(prefix_schemas):
                self.check(item, prefix_schemas[index], item_path)
            elif rest is False:
                allowed = _plural(len(prefix_schemas), "item")
                self.add(item_path, f"unexpected item; the array allows at most {allowed}")
            elif rest is not None:
                self.check(item, rest, item_path)
        if "contains" in schema and not any(self.is_valid(item, schema["contains"], path) for item in items):
            self.add(path, "no item matches the schema given by 'contains'")

    def _check_array_size(self, items: Sequence[Any], schema: Mapping[str, Any], path: str) -> None:
        min_items, max_items = schema.get("minItems"), schema.get("maxItems")
        if isinstance(min_items, int) and len(items) < min_items:
            self.add(path, f"expected at least {_plural(min_items, 'item')}, got {len(items)}")
        if isinstance(max_items, int) and len(items) > max_items:
            self.add(path, f"expected at most {_plural(max_items, 'item')}, got {len(items)}")
        if schema.get("uniqueItems") is True:
            for later, item in enumerate(items):
                first = next((i for i in range(later) if _json_equal(items[i], item)), None)
                if first is not None:
                    self.add(path, f"items must be unique, but items {first} and {later} are equal")
                    return

    # -- objects

    def _check_object(self, obj: Mapping[str, Any], schema: Mapping[str, Any], path: str) -> None:
        self._check_required(obj, schema, path)
        properties: Mapping[str, Any] = schema.get("properties") or {}
        for name, subschema in properties.items():
            if name in obj:
                self.check(obj[name], subschema, _child(path, name))
        patterns: Mapping[str, Any] = schema.get("patternProperties") or {}
        additional = schema.get("additionalProperties", True)
        for name, value in obj.items():
            matched = [s for p, s in patterns.items() if (rx := _compile(p)) and rx.search(name)]
            for subschema in matched:
                self.check(value, subschema, _child(path, name))
            if name in properties or matched:
                continue
            if additional is False:
                self.add(_child(path, name), _unexpected_property(properties))
            else:
                self.check(value, additional, _child(path, name))
        self._check_object_size(obj, schema, path)

    def _check_required(self, obj: Mapping[str, Any], schema: Mapping[str, Any], path: str) -> None:
        for name in _strings(schema.get("required")):
            if name not in obj:
                self.add(_child(path, name), "required property is missing")
        dependent: Mapping[str, Any] = schema.get("dependentRequired") or {}
        for trigger, names in dependent.items():
            if trigger in obj:
                for name in _strings(names):
                    if name not in obj:
                        message = f"required property is missing (required when {_show(trigger)} is given)"
                        self.add(_child(path, name), message)

    def _check_object_size(self, obj: Mapping[str, Any], schema: Mapping[str, Any], path: str) -> None:
        min_props, max_props = schema.get("minProperties"), schema.get("maxProperties")
        if isinstance(min_props, int) and len(obj) < min_props:
            self.add(path, f"expected at least {_plural(min_props, 'property')}, got {len(obj)}")
        if isinstance(max_props, int) and len(obj) > max_props:
            self.add(path, f"expected at most {_plural(max_props, 'property')}, got {len(obj)}")

    # -- combinators

    def _check_combinators(self, instance: Any, schema: Mapping[str, Any], path: str) -> None:
        for subschema in schema.get("allOf") or ():
            self.check(instance, subschema, path)
        if isinstance(schema.get("anyOf"), list):
            self._check_alternatives(instance, schema["anyOf"], path, "anyOf")
        if isinstance(schema.get("oneOf"), list):
            self._check_alternatives(instance, schema["oneOf"], path, "oneOf")
        if "not" in schema and self.is_valid(instance, schema["not"], path):
            self.add(path, "must not match the schema given by 'not'")
        if "if" in schema:
            branch = "then" if self.is_valid(instance, schema["if"], path) else "else"
            if branch in schema:
                self.check(instance, schema[branch], path)

    def _check_alternatives(self, instance: Any, options: list[Any], path: str, keyword: str) -> None:
        """``anyOf``/``oneOf``, reporting the failure of the alternative the caller most likely meant."""
        matching: list[int] = []
        wrong_type: list[str] = []  # declared types of alternatives rejected on type alone
        near_misses: list[list[ValidationIssue]] = []  # issues of alternatives of the right type
        for index, option in enumerate(options):
            target = self._follow_refs(option)
            declared = _declared_types(target) if _is_object(target) else None
            if declared is not None and not any(_matches_type(instance, t) for t in declared):
                wrong_type.extend(t for t in declared if t not in wrong_type)
                continue
            sub = self.branch()
            sub.check(instance, option, path)
            if sub.issues:
                near_misses.append(sub.issues)
            else:
                matching.append(index)
        if len(matching) > 1 and keyword == "oneOf":
            which = " and ".join(str(i) for i in matching[:2])
            self.add(path, f"matches more than one alternative of 'oneOf' (alternatives {which})")
        elif matching:
            return
        elif len(near_misses) == 1:
            for issue in near_misses[0]:
                self.add(issue.path, issue.message)
        elif near_misses:
            details = "; ".join(str(issues[0]) for issues in near_misses[:3])
            self.add(path, f"does not match any of the allowed alternatives ({details})")
        elif wrong_type:
            self.add(path, f"expected {_join_or(wrong_type)}, got {_describe(instance)}")
        else:
            self.add(path, "does not match any of the allowed alternatives")

    def _follow_refs(self, schema: Any) -> Any:
        seen: set[str] = set()
        while _is_object(schema) and isinstance(ref := schema.get("$ref"), str) and ref not in seen:
            seen.add(ref)
            if len(schema) > 1:
                break  # siblings of $ref apply too; the alternative is not just its target
            schema = self._resolve(ref)
        return schema


def _unexpected_property(properties: Mapping[str, Any]) -> str:
    if not properties:
        return "unexpected property; this object takes no properties"
    return f"unexpected property; allowed properties are {', '.join(properties)}"


# ---------------------------------------------------------------------------
# Binding validated JSON arguments to the Python values a function expects


class _BindError(ValueError):
    """A value does not fit its type hint; the message is already phrased for the caller."""


def bind_arguments(
    func: Callable[..., Any], arguments: Mapping[str, Any], *, skip: Collection[str] = ()
) -> dict[str, Any]:
    """Keyword arguments for *func*: JSON values converted to its hints (Enums, attrs classes, ...).

    Missing arguments are left out so Python defaults apply. Arguments *func*
    does not name are dropped unless it takes ``**kwargs``.
    """
    return ArgumentBinder(func, skip=skip)(arguments)


class ArgumentBinder:
    """`bind_arguments` with the signature work done once, at registration (it is on every tool call)."""

    __slots__ = ("_convert", "_named", "_reserved", "_takes_kwargs")

    def __init__(self, func: Callable[..., Any], *, skip: Collection[str] = ()) -> None:
        hints = resolve_hints(func)
        params = inspect.signature(func).parameters
        self._takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        self._named = frozenset(
            p.name for p in params.values() if p.name not in skip and p.kind not in variadic
        )
        # Names a client may never set through **kwargs: the function's own parameters and injected ones.
        self._reserved = frozenset(params) | frozenset(skip)
        # Only parameters whose hint needs a conversion pay for one; plain JSON types pass through.
        self._convert: dict[str, Any] = {
            name: hints[name] for name in self._named if name in hints and _needs_conversion(hints[name])
        }

    def __call__(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        bound: dict[str, Any] = {}
        for name, value in arguments.items():
            if name in self._named:
                hint = self._convert.get(name)
                if (
                    hint is None
                    or (hint is int and type(value) is int)
                    or (hint is float and type(value) is float)
                ):
                    bound[name] = value
                else:
                    bound[name] = _convert_argument(name, value, hint)
            elif self._takes_kwargs and name not in self._reserved:
                bound[name] = value
        return bound


_PASS_THROUGH: Final = (str, int, float, bool, type(None), Any, object)


def _needs_conversion(hint: Any) -> bool:
    """False for hints whose validated JSON value already is the Python value (str, int, list[str]...)."""
    hint = _strip_annotated_hint(hint)
    if hint in _PASS_THROUGH:
        # int still needs 3.0 -> 3 and float 3 -> 3.0; cheap enough to keep exact types.
        return hint in (int, float)
    origin = typing.get_origin(hint)
    if origin in (list, dict) or hint in (list, dict):
        return any(_needs_conversion(arg) for arg in typing.get_args(hint))
    return True


def _strip_annotated_hint(hint: Any) -> Any:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def _convert_argument(name: str, value: Any, hint: Any) -> Any:
    if hint is None:
        return value
    try:
        return _converter.structure(value, hint)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        problems = cattrs.transform_error(exc, path=name, format_exception=_format_bind_error)
        # Only nested problems need their location spelled out.
        problems = [problem.removesuffix(f" @ {name}") for problem in problems]
        raise ValueError(f"invalid value for argument {name!r}: {'; '.join(problems)}") from exc


def _format_bind_error(exc: BaseException, hint: type | None) -> str:
    return str(exc) if isinstance(exc, _BindError) else format_exception(exc, hint)


# Strict scalar hooks: the value has passed the schema, so a mismatch means the wrong union
# arm is being tried (cattrs's defaults would turn "3" into 3 or 3 into "3").


def _structure_str(value: Any, hint: Any) -> Any:
    # IntEnum/StrEnum/(str, Enum) reach these scalar hooks first (cattrs dispatches on the base class).
    if _is_enum_class(hint):
        return _structure_enum(value, hint)
    if not isinstance(value, str):
        raise _BindError(f"expected string, got {_describe(value)}")
    return value


def _structure_bool(value: Any, _: Any) -> bool:
    if not isinstance(value, bool):
        raise _BindError(f"expected boolean, got {_describe(value)}")
    return value


def _structure_int(value: Any, hint: Any) -> Any:
    if _is_enum_class(hint):
        return _structure_enum(value, hint)
    if not _matches_type(value, "integer"):
        raise _BindError(f"expected integer, got {_describe(value)}")
    return int(value)  # 3.0 passed validation as an integer


def _structure_float(value: Any, _: Any) -> float:
    if not _is_number(value):
        raise _BindError(f"expected number, got {_describe(value)}")
    return float(value)


def _parser(kind: str, parse: Callable[[str], Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, str):
            raise _BindError(f"expected a {kind} string, got {_describe(value)}")
        try:
            return parse(value)
        except ValueError:
            raise _BindError(f"expected a {kind} string, got {_show(value)}") from None

    return structure


def _structure_literal(value: Any, hint: Any) -> Any:
    options = typing.get_args(hint)
    if any(_json_equal(value, option) for option in options):
        return value
    raise _BindError(f"expected one of {', '.join(_show(o) for o in options)}, got {_describe(value)}")


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) is Union or isinstance(hint, types.UnionType)


def _structure_union(value: Any, hint: Any) -> Any:
    arms = typing.get_args(hint)
    if value is None and types.NoneType in arms:
        return None
    # An exact scalar match wins, so `float | int` keeps 3 an int and `int | bool` keeps true a bool.
    if type(value) in arms and type(value) in (str, int, float, bool):
        return value
    candidates = [arm for arm in arms if arm is not types.NoneType]
    if len(candidates) == 1:  # Optional[X]: let X's own, more precise, errors through
        return _converter.structure(value, candidates[0])
    for arm in candidates:
        try:
            return _converter.structure(value, arm)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError):
            continue
    names = [getattr(arm, "__qualname__", None) or repr(arm) for arm in arms]
    raise _BindError(f"expected {_join_or(names)}, got {_describe(value)}")


def _is_enum_class(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, enum.Enum)


def _structure_enum(value: Any, hint: type[enum.Enum]) -> enum.Enum:
    try:
        return hint(value)
    except ValueError:
        allowed = ", ".join(_show(member.value) for member in hint)
        raise _BindError(f"expected one of {allowed}, got {_describe(value)}") from None


def _structure_typed_dict(value: Any, hint: Any) -> dict[str, Any]:
    # cattrs's own TypedDict hook misreads NotRequired under `from __future__ import annotations`
    # on 3.11 (it trusts __required_keys__); requiredness was already checked by the schema.
    if not _is_object(value):
        raise _BindError(f"expected object, got {_describe(value)}")
    hints = typing.get_type_hints(hint, include_extras=True)
    result: dict[str, Any] = {}
    errors: list[Exception] = []
    for key, item in value.items():
        item_hint = _strip_qualifiers(hints.get(key, Any))
        try:
            result[key] = _converter.structure(item, item_hint)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
            exc.add_note(AttributeValidationNote(f"Structuring typeddict key {key!r}", key, item_hint))
            errors.append(exc)
    if errors:
        # The 3-argument constructor is defined by __new__, which the ExceptionGroup stubs hide.
        error_type: Any = ClassValidationError
        raise error_type(f"While structuring {hint.__qualname__}", errors, hint)
    return result


def _strip_qualifiers(hint: Any) -> Any:
    while typing.get_origin(hint) in (Annotated, Required, NotRequired):
        hint = typing.get_args(hint)[0]
    return hint


def _make_converter() -> cattrs.Converter:
    # Hints the converter does not know (e.g. a tool with a hand-written schema) pass values through.
    converter = cattrs.Converter(structure_fallback_factory=lambda _: lambda value, _hint: value)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(
        datetime.datetime, _parser("date-time", datetime.datetime.fromisoformat)
    )
    converter.register_structure_hook(datetime.date, _parser("date", datetime.date.fromisoformat))
    converter.register_structure_hook(datetime.time, _parser("time", datetime.time.fromisoformat))
    converter.register_structure_hook(uuid.UUID, _parser("UUID", uuid.UUID))
    converter.register_structure_hook_func(
        lambda hint: typing.get_origin(hint) is Literal, _structure_literal
    )
    converter.register_structure_hook_func(_is_union, _structure_union)
    converter.register_structure_hook_func(_is_enum_class, _structure_enum)
    converter.register_structure_hook_func(typing.is_typeddict, _structure_typed_dict)
    converter.register_structure_hook_factory(_is_attrs_class, functools.partial(_attrs_hook, converter))
    return converter


def _is_attrs_class(hint: Any) -> bool:
    return isinstance(hint, type) and attrs.has(hint)


def _attrs_hook(converter: cattrs.Converter, cls: Any) -> Callable[[Any, Any], Any]:
    structure = make_dict_structure_fn(cls, converter)

    def structure_object(value: Any, hint: Any) -> Any:
        # cattrs would report a non-object as a confusing TypeError from indexing it.
        if not _is_object(value):
            raise _BindError(f"expected object, got {_describe(value)}")
        return structure(value, hint)

    return structure_object


_converter: Final = _make_converter()
