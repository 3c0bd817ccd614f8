"""The 2026-07-28 era's sans-I/O rules (trio_mcp/_proto/modern.py): which requests belong to it, the checks a
request must pass and their order, and what every result carries."""

from __future__ import annotations

from typing import Any

import pytest

from trio_mcp._proto.errors import INVALID_PARAMS, METHOD_NOT_FOUND
from trio_mcp._proto.modern import (
    HEADER_MISMATCH,
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_LOG_LEVEL,
    META_PROTOCOL_VERSION,
    MODERN_VERSION,
    UNSUPPORTED_PROTOCOL_VERSION,
    ModernHeaders,
    ModernRequest,
    Refusal,
    check,
    complete_result,
    decode_header_value,
    encode_header_value,
    is_modern,
)

Json = dict[str, Any]

SIMPLE_TEXT_B64 = "=?base64?dGVzdF9zaW1wbGVfdGV4dA==?="  # "test_simple_text"


def meta(
    version: Any = MODERN_VERSION,
    capabilities: Any = None,
    *,
    with_capabilities: bool = True,
    extra: Json | None = None,
) -> Json:
    m: Json = {}
    if version is not None:
        m[META_PROTOCOL_VERSION] = version
    if with_capabilities:
        m[META_CLIENT_CAPABILITIES] = {} if capabilities is None else capabilities
    m.update(extra or {})
    return m


def params(m: Json | None = None, /, **fields: Any) -> Json:
    p: Json = dict(fields)
    p["_meta"] = meta() if m is None else m
    return p


def headers(
    method: str | None, *, version: str | None = MODERN_VERSION, name: str | None = None
) -> ModernHeaders:
    return ModernHeaders(protocol_version=version, method=method, name=name)


def refused(verdict: ModernRequest | Refusal, status: int, code: int, *phrases: str) -> Refusal:
    assert isinstance(verdict, Refusal), verdict
    assert (verdict.status, verdict.code) == (status, code), verdict
    for phrase in phrases:
        assert phrase.lower() in verdict.message.lower(), (phrase, verdict.message)
    return verdict


def accepted(verdict: ModernRequest | Refusal) -> ModernRequest:
    assert isinstance(verdict, ModernRequest), verdict
    return verdict


# -- the checks, one by one --


def test_a_request_passing_every_check_is_accepted_with_what_its_meta_says() -> None:
    request = accepted(check("tools/list", params(), headers("tools/list")))
    assert request.version == MODERN_VERSION
    assert request.capabilities == {}
    assert request.client_info is None
    assert request.log_level is None


def test_no_params_at_all_is_invalid_params() -> None:
    refused(check("tools/list", None, headers("tools/list")), 400, INVALID_PARAMS, "no _meta")


def test_params_without_meta_is_invalid_params() -> None:
    refused(check("tools/list", {}, headers("tools/list")), 400, INVALID_PARAMS, "no _meta")


def test_meta_that_is_not_an_object_is_invalid_params() -> None:
    refused(check("tools/list", {"_meta": "x"}, headers("tools/list")), 400, INVALID_PARAMS, "no _meta")


def test_meta_without_the_protocol_version_is_invalid_params() -> None:
    verdict = check("tools/list", params(meta(None)), headers("tools/list"))
    refused(verdict, 400, INVALID_PARAMS, META_PROTOCOL_VERSION)


def test_meta_without_the_client_capabilities_is_invalid_params() -> None:
    verdict = check("tools/list", params(meta(with_capabilities=False)), headers("tools/list"))
    refused(verdict, 400, INVALID_PARAMS, META_CLIENT_CAPABILITIES)


def test_meta_without_either_names_both() -> None:
    verdict = check("tools/list", params({}), headers("tools/list"))
    refused(verdict, 400, INVALID_PARAMS, META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES)


@pytest.mark.parametrize(
    "bad",
    [meta(20260728), meta(capabilities=[]), meta(capabilities="sampling")],
    ids=["version", "caps", "str"],
)
def test_meta_values_of_the_wrong_type_are_invalid_params(bad: Json) -> None:
    refused(check("tools/list", params(bad), headers("tools/list")), 400, INVALID_PARAMS, "must be")


def test_a_version_header_other_than_the_meta_version_is_a_header_mismatch() -> None:
    verdict = check("tools/list", params(), headers("tools/list", version="2025-11-25"))
    refused(verdict, 400, HEADER_MISMATCH, "MCP-Protocol-Version")


def test_no_version_header_with_a_meta_version_is_a_header_mismatch() -> None:
    verdict = check("tools/list", params(), headers("tools/list", version=None))
    refused(verdict, 400, HEADER_MISMATCH, "MCP-Protocol-Version")


def test_an_unsupported_version_in_both_places_is_unsupported_with_the_supported_list() -> None:
    verdict = check("tools/list", params(meta("v999.0.0")), headers("tools/list", version="v999.0.0"))
    refusal = refused(verdict, 400, UNSUPPORTED_PROTOCOL_VERSION, "v999.0.0")
    assert isinstance(refusal.data, dict)
    data: Json = refusal.data  # pyright: ignore[reportUnknownVariableType]
    assert data["requested"] == "v999.0.0"
    assert {"2026-07-28", "2025-11-25"} <= set(data["supported"])


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"])
def test_a_handshake_era_version_in_meta_is_unsupported_in_this_form(version: str) -> None:
    verdict = check("tools/list", params(meta(version)), headers("tools/list", version=version))
    refusal = refused(verdict, 400, UNSUPPORTED_PROTOCOL_VERSION)
    assert refusal.data["requested"] == version


def test_a_missing_mcp_method_header_is_a_header_mismatch() -> None:
    refused(check("tools/list", params(), headers(None)), 400, HEADER_MISMATCH, "Mcp-Method", "missing")


def test_a_different_mcp_method_header_is_a_header_mismatch() -> None:
    refused(check("tools/list", params(), headers("prompts/list")), 400, HEADER_MISMATCH, "Mcp-Method")


def test_the_mcp_method_header_is_case_sensitive() -> None:
    refused(check("tools/list", params(), headers("TOOLS/LIST")), 400, HEADER_MISMATCH, "Mcp-Method")


@pytest.mark.parametrize(
    "method",
    ["initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe", "x/y"],
)
def test_methods_the_era_does_not_have_are_not_found(method: str) -> None:
    verdict = check(method, params(uri="test://static-text"), headers(method))
    refused(verdict, 404, METHOD_NOT_FOUND, method)


@pytest.mark.parametrize(
    "method",
    [
        "server/discover",
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "prompts/list",
        "completion/complete",
    ],
)
def test_the_era_s_methods_without_a_name_pass(method: str) -> None:
    accepted(check(method, params(), headers(method)))


# -- the order of the checks --


def test_a_missing_meta_version_is_reported_before_the_header_mismatch() -> None:
    verdict = check("tools/list", params(meta(None)), headers("tools/list", version="2026-07-28"))
    refused(verdict, 400, INVALID_PARAMS)


def test_the_header_mismatch_is_reported_before_the_unsupported_version() -> None:
    verdict = check("tools/list", params(meta("v999.0.0")), headers("tools/list", version="2026-07-28"))
    refused(verdict, 400, HEADER_MISMATCH)


def test_the_unsupported_version_is_reported_before_the_mcp_method_header() -> None:
    verdict = check("tools/list", params(meta("v999.0.0")), headers(None, version="v999.0.0"))
    refused(verdict, 400, UNSUPPORTED_PROTOCOL_VERSION)


def test_the_mcp_method_header_is_checked_before_the_method_table() -> None:
    refused(check("initialize", params(), headers(None)), 400, HEADER_MISMATCH)
    refused(check("ping", params(), headers("tools/list")), 400, HEADER_MISMATCH)


def test_the_mcp_name_header_is_checked_before_the_method_table() -> None:
    # resources/subscribe has no Mcp-Name rule: it goes straight to the table.
    refused(
        check("resources/subscribe", params(uri="a"), headers("resources/subscribe")), 404, METHOD_NOT_FOUND
    )


# -- Mcp-Name --


@pytest.mark.parametrize(
    ("method", "field", "value"),
    [
        ("tools/call", "name", "test_simple_text"),
        ("prompts/get", "name", "test_simple_prompt"),
        ("resources/read", "uri", "test://static-text"),
    ],
)
def test_mcp_name_mirrors_the_name_or_uri(method: str, field: str, value: str) -> None:
    p = params(**{field: value})
    accepted(check(method, p, headers(method, name=value)))
    refused(check(method, p, headers(method)), 400, HEADER_MISMATCH, "Mcp-Name", "missing")
    refused(check(method, p, headers(method, name=value + "x")), 400, HEADER_MISMATCH, "does not match")


def test_mcp_name_compares_exactly() -> None:
    p = params(name="test_simple_text")
    refused(check("tools/call", p, headers("tools/call", name="TEST_SIMPLE_TEXT")), 400, HEADER_MISMATCH)


def test_mcp_name_may_be_base64_encoded() -> None:
    p = params(name="test_simple_text")
    accepted(check("tools/call", p, headers("tools/call", name=SIMPLE_TEXT_B64)))


def test_a_base64_mcp_name_of_another_value_is_a_mismatch() -> None:
    p = params(name="test_simple_prompt")
    verdict = check("tools/call", p, headers("tools/call", name=SIMPLE_TEXT_B64))
    refused(verdict, 400, HEADER_MISMATCH, "test_simple_text", "test_simple_prompt")


@pytest.mark.parametrize(
    "raw",
    [
        "=?base64?dGVzdF9zaW1wbGVfdGV4dA?=",  # padding missing
        "=?base64?dGVzdF9zaW1wbGVfdGV4dA=?=",  # padding short
        "=?base64?dGVz*F9zaW1wbGVfdGV4dA==?=",  # not a Base64 character
        "=?base64?dGVzdF9zaW1w bGVfdGV4dA==?=",  # whitespace inside
        "=?base64?dGVzdF9zaW1wbGVfdGV4dA-_?=",  # the URL-safe alphabet
        "=?base64?/w==?=",  # valid Base64, not UTF-8
    ],
)
def test_invalid_base64_in_mcp_name_is_refused(raw: str) -> None:
    assert decode_header_value(raw) is None
    verdict = check("tools/call", params(name="test_simple_text"), headers("tools/call", name=raw))
    refused(verdict, 400, HEADER_MISMATCH, "base64")


@pytest.mark.parametrize(
    "raw",
    [
        "=?base64?dGVzdF9zaW1wbGVfdGV4dA==",  # no closing ?=
        "?base64?dGVzdF9zaW1wbGVfdGV4dA==?=",  # no leading =
        "=?BASE64?dGVzdF9zaW1wbGVfdGV4dA==?=",  # the marker is lower case
        "dGVzdF9zaW1wbGVfdGV4dA==",
    ],
)
def test_a_value_without_the_full_wrapper_is_literal(raw: str) -> None:
    assert decode_header_value(raw) == raw
    # so it names itself: a mismatch with the decoded name ...
    verdict = check("tools/call", params(name="test_simple_text"), headers("tools/call", name=raw))
    refused(verdict, 400, HEADER_MISMATCH, "does not match")
    # ... and a match with a body value spelled the same way.
    accepted(check("tools/call", params(name=raw), headers("tools/call", name=raw)))


def test_decode_header_value_edges() -> None:
    assert decode_header_value("plain") == "plain"
    assert decode_header_value("=?base64??=") == ""
    assert decode_header_value("=?base64?=") == "=?base64?="  # too short to be a wrapper
    assert decode_header_value("=?base64?w6k=?=") == "é"


@pytest.mark.parametrize("value", ["test_simple_text", "é", " lead", "=?base64?x?=", "a\nb", ""])
def test_encode_header_value_round_trips(value: str) -> None:
    encoded = encode_header_value(value)
    assert all(0x20 <= ord(ch) <= 0x7E for ch in encoded)
    assert decode_header_value(encoded) == value


def test_a_plain_header_safe_value_is_sent_as_is() -> None:
    assert encode_header_value("test_simple_text") == "test_simple_text"
    assert encode_header_value("é").startswith("=?base64?")


def test_a_call_without_a_name_is_left_to_the_parameter_check() -> None:
    # no name in the body: nothing to mirror, and the tools/call parameter check reports it later
    accepted(check("tools/call", params(), headers("tools/call")))


def test_mcp_name_is_ignored_for_methods_without_one() -> None:
    accepted(check("tools/list", params(), headers("tools/list", name="whatever")))


# -- what _meta says --


def test_client_info_is_optional_and_taken_when_given() -> None:
    assert accepted(check("tools/list", params(), headers("tools/list"))).client_info is None
    info = {"name": "c", "version": "1"}
    with_info = params(meta(extra={META_CLIENT_INFO: info}))
    assert accepted(check("tools/list", with_info, headers("tools/list"))).client_info == info
    odd = params(meta(extra={META_CLIENT_INFO: "c/1"}))
    assert accepted(check("tools/list", odd, headers("tools/list"))).client_info is None


def test_the_log_level_and_capabilities_come_from_meta() -> None:
    m = meta(capabilities={"sampling": {}}, extra={META_LOG_LEVEL: "info"})
    request = accepted(check("tools/list", params(m), headers("tools/list")))
    assert request.log_level == "info"
    assert request.capabilities == {"sampling": {}}
    m = meta(extra={META_LOG_LEVEL: 3})
    assert accepted(check("tools/list", params(m), headers("tools/list"))).log_level is None


# -- is_modern --


@pytest.mark.parametrize(
    ("p", "header", "expected"),
    [
        (None, None, False),
        ({}, None, False),
        ([1, 2], None, False),
        ({"name": "x"}, "2025-11-25", False),
        ({"_meta": {}}, "2025-06-18", False),
        ({"_meta": {"progressToken": 1}}, "2025-03-26", False),
        (None, "2024-11-05", False),
        ({"_meta": "2026-07-28"}, None, False),
        ({"_meta": {META_PROTOCOL_VERSION: MODERN_VERSION}}, None, True),
        ({"_meta": {META_PROTOCOL_VERSION: MODERN_VERSION}}, "2025-11-25", True),
        ({"_meta": {META_PROTOCOL_VERSION: "v999"}}, "v999", True),
        ({"_meta": {META_CLIENT_CAPABILITIES: {}}}, None, True),
        (None, MODERN_VERSION, True),
        ({"name": "x"}, MODERN_VERSION, True),
        # a header version of neither era, without _meta: the handshake era's rules (and its 400)
        (None, "v999", False),
        ({}, "2099-01-01", False),
    ],
)
def test_is_modern(p: object, header: str | None, expected: bool) -> None:
    assert is_modern(p, header) is expected


# -- complete_result --


@pytest.mark.parametrize(
    "method",
    [
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
    ],
)
def test_cacheable_results_get_the_caching_hints(method: str) -> None:
    result = complete_result(method, {"x": 1}, 60000, "public")
    assert result == {"x": 1, "resultType": "complete", "ttlMs": 60000, "cacheScope": "public"}


@pytest.mark.parametrize("method", ["tools/call", "prompts/get", "completion/complete"])
def test_other_results_get_only_the_result_type(method: str) -> None:
    result = complete_result(method, {"x": 1}, 60000, "public")
    assert result == {"x": 1, "resultType": "complete"}


def test_complete_result_does_not_overwrite() -> None:
    given: Json = {"resultType": "incomplete", "ttlMs": 5, "cacheScope": "private"}
    result = complete_result("tools/list", given, 60000, "public")
    assert result is given
    assert result == {"resultType": "incomplete", "ttlMs": 5, "cacheScope": "private"}
