"""Round-trip our wire types against JSON written by hand from the MCP 2025-11-25 schema.

The examples live in ``spec_examples.py`` next to this file; they are plain dicts typed in from
``schema/2025-11-25/schema.ts`` and the spec pages, never produced by trio_mcp itself.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from trio_mcp._proto.converter import make_converter, structure_params, structure_result
from trio_mcp._proto.errors import RemoteProtocolError
from trio_mcp._proto.methods import METHODS


def _load_examples() -> Any:
    # Loaded by path so the test works under any pytest import mode without an __init__.py.
    path = Path(__file__).with_name("spec_examples.py")
    spec = importlib.util.spec_from_file_location("_trio_mcp_spec_examples", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_examples = _load_examples()
PARAMS: dict[str, list[dict[str, Any]]] = _examples.PARAMS
RESULTS: dict[str, list[dict[str, Any]]] = _examples.RESULTS
INVALID: list[tuple[str, str, dict[str, Any], str]] = _examples.INVALID

INVALID_PARAMS = -32602

# The non-task methods of MCP 2025-11-25 (schema.ts ClientRequest/ServerRequest/*Notification unions).
SPEC_REQUESTS = frozenset(
    {
        # client -> server
        "ping",
        "initialize",
        "server/discover",  # 2026-07-28 (SEP-2575)
        "completion/complete",
        "logging/setLevel",
        "prompts/get",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "tools/call",
        "tools/list",
        # server -> client (ping is shared)
        "sampling/createMessage",
        "roots/list",
        "elicitation/create",
    }
)
SPEC_NOTIFICATIONS = frozenset(
    {
        "notifications/cancelled",
        "notifications/progress",
        "notifications/initialized",
        "notifications/roots/list_changed",
        "notifications/message",
        "notifications/resources/updated",
        "notifications/resources/list_changed",
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/elicitation/complete",
    }
)


def _is_task_method(method: str) -> bool:
    return method.startswith("tasks/") or method == "notifications/tasks/status"


def _cases(table: dict[str, list[dict[str, Any]]]) -> list[Any]:
    return [
        pytest.param(method, example, id=f"{method}#{index}")
        for method, examples in table.items()
        for index, example in enumerate(examples)
    ]


def _json_equal(actual: Any, expected: Any, path: str = "$") -> None:
    """Assert JSON equality, but stricter than ``==``: bools are not numbers, and the value must be JSON.

    ints and floats compare by value (``50`` and ``50.0`` are the same JSON number).
    """

    def kind(value: Any) -> str:
        return f"{value!r} ({type(value).__name__})"

    if isinstance(expected, str):
        assert isinstance(actual, str), f"{path}: expected {expected!r}, got {kind(actual)}"
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"
    elif isinstance(expected, bool) or expected is None:
        assert type(actual) is type(expected), f"{path}: expected {kind(expected)}, got {kind(actual)}"
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"
    elif isinstance(expected, (int, float)):
        assert isinstance(actual, (int, float)), f"{path}: expected number {expected!r}, got {kind(actual)}"
        assert not isinstance(actual, bool), f"{path}: expected number {expected!r}, got {kind(actual)}"
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {kind(actual)}"
        assert len(actual) == len(expected), f"{path}: expected {len(expected)} items, got {actual!r}"
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _json_equal(a, e, f"{path}[{index}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {kind(actual)}"
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        assert not missing, f"{path}: missing keys {missing}; got {actual!r}"
        assert not extra, f"{path}: unexpected keys {extra}; got {actual!r}"
        for key in expected:
            _json_equal(actual[key], expected[key], f"{path}.{key}")
    else:  # pragma: no cover - the example file only holds JSON values
        raise AssertionError(f"{path}: example holds a non-JSON value {expected!r}")


def _assert_roundtrip(actual: Any, expected: dict[str, Any]) -> None:
    # Must be serialisable as-is (no attrs instances, sets, enums that json cannot encode, ...).
    text = json.dumps(actual, allow_nan=False)
    _json_equal(actual, expected)
    _json_equal(json.loads(text), expected)


@pytest.fixture(scope="module")
def conv() -> Any:
    return make_converter()


# ---------------------------------------------------------------------------------------------------
# (1) round trips
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "example"), _cases(PARAMS))
def test_params_roundtrip(conv: Any, method: str, example: dict[str, Any]) -> None:
    original = copy.deepcopy(example)
    value = conv.structure(example, METHODS[method].params_type)
    assert example == original, "structuring mutated its input"
    _assert_roundtrip(conv.unstructure(value), original)


@pytest.mark.parametrize(("method", "example"), _cases(RESULTS))
def test_result_roundtrip(conv: Any, method: str, example: dict[str, Any]) -> None:
    result_type = METHODS[method].result_type
    assert result_type is not None, f"{method} is a request but has no result type"
    original = copy.deepcopy(example)
    value = conv.structure(example, result_type)
    assert example == original, "structuring mutated its input"
    _assert_roundtrip(conv.unstructure(value), original)


@pytest.mark.parametrize(("method", "example"), _cases(PARAMS))
def test_structure_params_accepts_spec_example(conv: Any, method: str, example: dict[str, Any]) -> None:
    """The checked entry point the runtime uses must accept everything the schema allows."""
    value = structure_params(conv, method, copy.deepcopy(example))
    _assert_roundtrip(conv.unstructure(value), example)


@pytest.mark.parametrize(("method", "example"), _cases(RESULTS))
def test_structure_result_accepts_spec_example(conv: Any, method: str, example: dict[str, Any]) -> None:
    value = structure_result(conv, method, copy.deepcopy(example))
    _assert_roundtrip(conv.unstructure(value), example)


# ---------------------------------------------------------------------------------------------------
# (2) coverage
# ---------------------------------------------------------------------------------------------------


def test_examples_cover_the_spec() -> None:
    """Self-check of spec_examples.py against the schema's method list."""
    assert set(PARAMS) == SPEC_REQUESTS | SPEC_NOTIFICATIONS
    assert set(RESULTS) == SPEC_REQUESTS
    for table in (PARAMS, RESULTS):
        for method, examples in table.items():
            assert 1 <= len(examples) <= 4, method
            assert all(isinstance(example, dict) for example in examples), method


def test_examples_match_method_table() -> None:
    for method in PARAMS:
        assert method in METHODS, f"{method} has examples but is missing from METHODS"
    for method in RESULTS:
        assert method in METHODS, f"{method} has result examples but is missing from METHODS"
        assert METHODS[method].result_type is not None, f"{method} is a request but has no result_type"
    for method in SPEC_NOTIFICATIONS:
        assert METHODS[method].result_type is None, f"{method} is a notification but has a result_type"
    for method, spec in METHODS.items():
        if _is_task_method(method):
            continue
        assert method in PARAMS, f"{method} is in METHODS but has no params example"
        if spec.result_type is not None:
            assert method in RESULTS, f"{method} is a request in METHODS but has no result example"


# ---------------------------------------------------------------------------------------------------
# (3) unknown keys are tolerated on input and not echoed
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "example"), _cases(PARAMS))
def test_params_tolerate_unknown_keys(conv: Any, method: str, example: dict[str, Any]) -> None:
    with_extra = {**copy.deepcopy(example), "x-extra": 1}
    value = conv.structure(with_extra, METHODS[method].params_type)
    _assert_roundtrip(conv.unstructure(value), example)


@pytest.mark.parametrize(("method", "example"), _cases(PARAMS))
def test_structure_params_tolerates_unknown_keys(conv: Any, method: str, example: dict[str, Any]) -> None:
    value = structure_params(conv, method, {**copy.deepcopy(example), "x-extra": 1})
    _assert_roundtrip(conv.unstructure(value), example)


@pytest.mark.parametrize(("method", "example"), _cases(RESULTS))
def test_results_tolerate_unknown_keys(conv: Any, method: str, example: dict[str, Any]) -> None:
    # Result is open (`[key: string]: unknown`): the extra key may be dropped or kept, but never fail.
    result_type = METHODS[method].result_type
    with_extra = {**copy.deepcopy(example), "x-extra": 1}
    out = conv.unstructure(conv.structure(with_extra, result_type))
    json.dumps(out, allow_nan=False)
    if "x-extra" in out:
        _json_equal(out, with_extra)
    else:
        _json_equal(out, example)


# ---------------------------------------------------------------------------------------------------
# (4) wrong field types are rejected with -32602 naming the field
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "kind", "payload", "fragment"),
    [
        pytest.param(method, kind, payload, fragment, id=f"{method}-{kind}-{fragment.split('|')[0]}")
        for method, kind, payload, fragment in INVALID
    ],
)
def test_invalid_payload_rejected(
    conv: Any, method: str, kind: str, payload: dict[str, Any], fragment: str
) -> None:
    assert kind in ("params", "result")
    structure = structure_params if kind == "params" else structure_result
    with pytest.raises(RemoteProtocolError) as excinfo:
        structure(conv, method, copy.deepcopy(payload))
    error = excinfo.value
    assert error.code == INVALID_PARAMS, f"code {error.code}, message {error.message!r}"
    alternatives = fragment.split("|")
    assert any(alt in error.message for alt in alternatives), (
        f"message {error.message!r} names none of {alternatives}"
    )
