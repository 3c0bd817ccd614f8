"""The 2026-07-28 era (SEP-2575, "stateless MCP") on the same endpoint: which requests belong to it, the checks
a request must pass and their order, the era's method table, and what every result carries (sans I/O).

Spec sections quoted as M§ are the 2026-07-28 revision's: basic (M§Messages, M§_meta, M§Error Codes) and
transports/streamable-http (M§Request Metadata, M§Server Validation, M§Value Encoding).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import attrs

from .errors import INVALID_PARAMS, METHOD_NOT_FOUND, RESOURCE_NOT_FOUND
from .versions import SUPPORTED_VERSIONS

MODERN_VERSION = "2026-07-28"
MODERN_VERSIONS: tuple[str, ...] = (MODERN_VERSION,)
#: every version this server speaks, both eras (server/discover's `supportedVersions`)
ALL_VERSIONS: tuple[str, ...] = (*MODERN_VERSIONS, *SUPPORTED_VERSIONS)

META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
REQUIRED_META = (META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES)

# M§Error Codes: the sub-range the specification reserves.
HEADER_MISMATCH = -32020
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022

#: the era's methods (multi-round-trip requests are not served yet)
MODERN_METHODS = frozenset(
    {
        "server/discover",
        "subscriptions/listen",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "prompts/list",
        "prompts/get",
        "completion/complete",
    }
)
#: results that carry caching hints (SEP-2549: `ttlMs`, `cacheScope`)
CACHEABLE = frozenset(
    {
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
    }
)
# M§Standard Request Headers: Mcp-Name mirrors params.name or params.uri.
NAME_FIELD: Mapping[str, str] = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
CACHE_SCOPES = ("public", "private")
_SENTINEL_PREFIX, _SENTINEL_SUFFIX = "=?base64?", "?="


@attrs.frozen
class ModernHeaders:
    """The request headers the era's checks read (values stripped of surrounding whitespace)."""

    protocol_version: str | None = None
    method: str | None = None
    name: str | None = None


@attrs.frozen
class Refusal:
    """A request refused before it runs: the HTTP status and the JSON-RPC error to answer with."""

    status: int
    code: int
    message: str
    data: Any = None


@attrs.frozen
class ModernRequest:
    """A request that passed the era's checks: what its `_meta` says about the client."""

    version: str
    capabilities: Mapping[str, Any]
    client_info: Mapping[str, Any] | None
    log_level: str | None


def is_modern(params: object, header_version: str | None) -> bool:
    """Whether a request is of the 2026-07-28 era: its `_meta` carries the era's fields (whatever version they
    name: an unknown one is then refused with the era's -32022), or the header names a version of the era. Any
    other request keeps the session rules (initialize, Mcp-Session-Id), including the handshake era's 400 for a
    header version it does not know."""
    meta = _meta(params)
    if meta is not None and (META_PROTOCOL_VERSION in meta or META_CLIENT_CAPABILITIES in meta):
        return True
    return header_version in MODERN_VERSIONS


def check(method: str, params: object, headers: ModernHeaders) -> ModernRequest | Refusal:
    """The era's checks, in the order the spec's validation implies: `_meta` (-32602), the version header
    against `_meta` (-32020), the version (-32022), `Mcp-Method` and `Mcp-Name` (-32020), the method (404)."""
    meta = _meta(params)
    missing = [key for key in REQUIRED_META if meta is None or key not in meta]
    if meta is None or missing:
        what = "no _meta" if meta is None else f"_meta lacks {', '.join(missing)}"
        return Refusal(
            400,
            INVALID_PARAMS,
            f"Invalid params: {what}; a 2026-07-28 request carries {META_PROTOCOL_VERSION} and "
            f"{META_CLIENT_CAPABILITIES} in params._meta",
        )
    version = meta[META_PROTOCOL_VERSION]
    capabilities = meta[META_CLIENT_CAPABILITIES]
    if not isinstance(version, str) or not isinstance(capabilities, dict):
        return Refusal(
            400,
            INVALID_PARAMS,
            f"Invalid params: _meta {META_PROTOCOL_VERSION} must be a string and "
            f"{META_CLIENT_CAPABILITIES} an object",
        )
    if headers.protocol_version != version:
        return Refusal(
            400,
            HEADER_MISMATCH,
            f"Header mismatch: MCP-Protocol-Version {headers.protocol_version!r} does not match "
            f"_meta {META_PROTOCOL_VERSION} {version!r}",
        )
    if version not in MODERN_VERSIONS:
        return Refusal(
            400,
            UNSUPPORTED_PROTOCOL_VERSION,
            f"Unsupported protocol version {version!r}: this server supports {', '.join(ALL_VERSIONS)} "
            f"(the 2026-07-28 form for {', '.join(MODERN_VERSIONS)}; initialize for the others)",
            {"supported": list(ALL_VERSIONS), "requested": version},
        )
    refusal = _check_mirrored(method, params, headers)
    if refusal is not None:
        return refusal
    if method not in MODERN_METHODS:
        return Refusal(404, METHOD_NOT_FOUND, _not_found(method))
    info = meta.get(META_CLIENT_INFO)
    level = meta.get(META_LOG_LEVEL)
    return ModernRequest(
        version=version,
        capabilities=capabilities,  # pyright: ignore[reportUnknownArgumentType]
        client_info=info if isinstance(info, dict) else None,  # pyright: ignore[reportUnknownArgumentType]
        log_level=level if isinstance(level, str) else None,
    )


def _check_mirrored(method: str, params: object, headers: ModernHeaders) -> Refusal | None:
    # M§Server Validation: the headers that mirror the body must be there and agree with it.
    if headers.method is None:
        return Refusal(
            400, HEADER_MISMATCH, f"Header mismatch: the Mcp-Method header is missing (send {method!r})"
        )
    if headers.method != method:
        return Refusal(
            400,
            HEADER_MISMATCH,
            f"Header mismatch: Mcp-Method header value {headers.method!r} does not match body value {method!r}",
        )
    field = NAME_FIELD.get(method)
    if field is None:
        return None
    value = params.get(field) if isinstance(params, dict) else None  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
    if value is None:
        return None  # the parameter check reports the missing name
    if headers.name is None:
        return Refusal(
            400,
            HEADER_MISMATCH,
            f"Header mismatch: the Mcp-Name header is missing (send the {field} {value!r})",
        )
    decoded = decode_header_value(headers.name)
    if decoded is None:
        return Refusal(400, HEADER_MISMATCH, "Header mismatch: Mcp-Name is not valid =?base64?...?= encoding")
    if decoded != value:
        return Refusal(
            400,
            HEADER_MISMATCH,
            f"Header mismatch: Mcp-Name header value {decoded!r} does not match body value {value!r}",
        )
    return None


def decode_header_value(raw: str) -> str | None:
    """M§Value Encoding: `=?base64?{value}?=` is strict standard Base64 of UTF-8; anything else is literal.
    None: a sentinel whose content does not decode."""
    if not (raw.startswith(_SENTINEL_PREFIX) and raw.endswith(_SENTINEL_SUFFIX)) or len(raw) < len(
        _SENTINEL_PREFIX
    ) + len(_SENTINEL_SUFFIX):
        return raw
    encoded = raw[len(_SENTINEL_PREFIX) : -len(_SENTINEL_SUFFIX)]
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def encode_header_value(value: str) -> str:
    """M§Value Encoding: a value that is not plain header-safe ASCII (or looks like the sentinel) is sent as
    `=?base64?{Base64 of UTF-8}?=`."""
    safe = (
        value == value.strip()
        and all(ch == "\t" or 0x20 <= ord(ch) <= 0x7E for ch in value)
        and not (value.startswith(_SENTINEL_PREFIX) and value.endswith(_SENTINEL_SUFFIX))
    )
    if safe:
        return value
    return _SENTINEL_PREFIX + base64.b64encode(value.encode("utf-8")).decode("ascii") + _SENTINEL_SUFFIX


def request_meta(
    capabilities: Mapping[str, Any], client_info: Mapping[str, Any] | None, log_level: str | None
) -> dict[str, Any]:
    """What a 2026-07-28 client puts in every request's `_meta` (M§_meta)."""
    meta: dict[str, Any] = {
        META_PROTOCOL_VERSION: MODERN_VERSION,
        META_CLIENT_CAPABILITIES: dict(capabilities),
    }
    if client_info is not None:
        meta[META_CLIENT_INFO] = dict(client_info)
    if log_level is not None:
        meta[META_LOG_LEVEL] = log_level
    return meta


def mirrored_headers(method: str, params: object) -> dict[str, str]:
    """M§Standard Request Headers a 2026-07-28 client sends: Mcp-Method, and Mcp-Name where the method has one."""
    headers = {"mcp-method": method}
    field = NAME_FIELD.get(method)
    value = params.get(field) if field is not None and isinstance(params, dict) else None  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
    if isinstance(value, str):
        headers["mcp-name"] = encode_header_value(value)
    return headers


#: MRTR §Supported Requests: the only requests an input_required result (SEP-2322) may answer.
INPUT_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
INPUT_REQUIRED = "input_required"


def complete_result(method: str, result: dict[str, Any], ttl_ms: int, cache_scope: str) -> dict[str, Any]:
    """M§Messages: every result says its `resultType`; the cacheable ones carry SEP-2549's hints (not an
    input_required one: it is an answer for this round alone)."""
    result.setdefault("resultType", "complete")
    if method in CACHEABLE and result["resultType"] == "complete":
        result.setdefault("ttlMs", ttl_ms)
        result.setdefault("cacheScope", cache_scope)
    return result


# M§Error Codes: codes of earlier versions this one MUST NOT emit, and what replaced them.
_RETIRED_CODES: Mapping[int, int] = {RESOURCE_NOT_FOUND: INVALID_PARAMS}


def current_code(code: int) -> int:
    """The 2026-07-28 code for an error a handler raised in the older terms (-32002 resource not found is
    -32602 now)."""
    return _RETIRED_CODES.get(code, code)


def _not_found(method: str) -> str:
    if method in ("initialize", "notifications/initialized"):
        return f"Method not found: {method} (2026-07-28 has no handshake; every request carries its _meta)"
    if method in ("ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"):
        return f"Method not found: {method} does not exist in 2026-07-28"
    return f"Method not found: this server does not offer {method} in 2026-07-28"


def _meta(params: object) -> dict[str, Any] | None:
    if not isinstance(params, dict):
        return None
    meta = params.get("_meta")  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
    return meta if isinstance(meta, dict) else None  # pyright: ignore[reportUnknownVariableType]
