"""JSON-RPC 2.0 envelopes and their parsing from bytes.

Params and results stay plain dicts here: the method table (methods.py) says which MCP type each one is, and the
converter structures them only when a handler needs them. That keeps parsing one `json.loads` plus a few checks.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from typing import Any, TypeAlias, cast

import attrs

from .errors import INVALID_REQUEST, PARSE_ERROR, RemoteProtocolError

RequestId: TypeAlias = str | int
JSONRPC_VERSION = "2.0"


@attrs.frozen(kw_only=True, slots=True)
class Request:
    id: RequestId
    method: str
    params: dict[str, Any] | None = None


@attrs.frozen(kw_only=True, slots=True)
class Notification:
    method: str
    params: dict[str, Any] | None = None


@attrs.frozen(kw_only=True, slots=True)
class Response:
    id: RequestId
    result: dict[str, Any]


@attrs.frozen(kw_only=True, slots=True)
class ErrorObject:
    code: int
    message: str
    data: Any = None


@attrs.frozen(kw_only=True, slots=True)
class ErrorResponse:
    # JSON-RPC 2.0 §5: the id is null only when the request's id could not be read.
    id: RequestId | None
    error: ErrorObject


Message: TypeAlias = Request | Notification | Response | ErrorResponse


@attrs.frozen(kw_only=True, slots=True)
class InvalidMessage:
    """One element of a batch that is not a valid message; answered with an error, the rest still run."""

    id: RequestId | None
    error: RemoteProtocolError


@attrs.frozen(kw_only=True, slots=True)
class ParsedBody:
    messages: tuple[Message | InvalidMessage, ...]
    is_batch: bool


def is_request_id(value: object) -> bool:
    # MCP basic §Requests: ids are strings or integers, never null; bool is not an integer on the wire.
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


# An escaped UTF-16 surrogate (`\\ud800`..`\\udfff`): a valid pair decodes to one code point, a lone one
# survives json.loads as a lone surrogate, which has no UTF-8 form.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BOM = "\ufeff"


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise ValueError(f"the number {literal[:40]} is out of range (JSON numbers must be finite)")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(
        f"{name} is not JSON (RFC 8259 §6: numbers are finite; NaN and Infinity are not allowed)"
    )


# RFC 8259 §6 has no NaN or Infinity, and a number too large for a float (1e400) would become one: refused at
# the parse boundary, so nothing the server received can fail to be encoded again.
_decoder = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)


def loads(data: bytes | str) -> Any:
    """Decode one JSON text; the one parse boundary for every transport (HTTP bodies, stdio lines).

    RFC 8259 §8.1: JSON exchanged between systems MUST be UTF-8, and §8.2: a string with a lone surrogate
    has unpredictable behaviour. Both are refused here, so no text that cannot be encoded again ever enters
    the server (json.loads alone accepts the raw bytes ED A0 80 and the escape \\ud800).
    """
    raw_checked = isinstance(data, bytes | bytearray | memoryview)
    if raw_checked:
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(
                f"Parse error: the body is not valid UTF-8, which JSON text must be (byte "
                f"0x{bytes(data)[exc.start]:02x} at offset {exc.start}: {exc.reason})",
                code=PARSE_ERROR,
            ) from None
    else:
        text = data
    if text.startswith(_BOM):
        text = text[1:]  # RFC 8259 §8.1: a parser MAY ignore a byte order mark
    try:
        obj = _decoder.decode(text)
    except ValueError as exc:
        raise RemoteProtocolError(
            f"Parse error: the body is not valid JSON ({exc})", code=PARSE_ERROR
        ) from None
    except RecursionError:
        raise RemoteProtocolError("Parse error: the JSON is nested too deeply", code=PARSE_ERROR) from None
    # Strict UTF-8 decoding already refused raw surrogates in bytes; a str argument may still hold one, and an
    # escaped one needs a look at the decoded strings (a valid pair decodes to one code point).
    where = "a string" if not raw_checked and _SURROGATE.search(text) is not None else None
    if where is None and _SURROGATE_ESCAPE.search(text) is not None:
        where = _lone_surrogate_path(obj)
    if where is not None:
        raise RemoteProtocolError(
            f"Parse error: {where} contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), "
            "which is not valid Unicode text; send a valid surrogate pair or the character itself",
            code=PARSE_ERROR,
        )
    return obj


def _lone_surrogate_path(obj: Any) -> str | None:
    """Where the first string (key or value) holding a lone surrogate is, as `params.name`; None when none does."""
    stack: list[tuple[str, Any]] = [("the message", obj)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value) is not None:
                return path
        elif isinstance(value, dict):
            fields = cast(dict[str, Any], value)
            for key, item in fields.items():
                inner = key if path == "the message" else f"{path}.{key}"
                if _SURROGATE.search(key) is not None:
                    return f"a key of {path}"
                stack.append((inner, item))
        elif isinstance(value, list):
            items = cast(list[Any], value)
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(items))
    return None


def parse_body(data: bytes | str) -> ParsedBody:
    """Parse an HTTP body or a stdio line: one message, or a batch (whether batches are allowed is the session's call)."""
    obj = loads(data)
    if isinstance(obj, list):
        items: list[Any] = obj  # pyright: ignore[reportUnknownVariableType]
        if not items:
            raise RemoteProtocolError(
                "Invalid Request: an empty JSON array is not a valid batch", code=INVALID_REQUEST
            )
        return ParsedBody(messages=tuple(_parse_batch_item(item) for item in items), is_batch=True)
    return ParsedBody(messages=(message_from_obj(obj),), is_batch=False)


def _parse_batch_item(item: Any) -> Message | InvalidMessage:
    try:
        return message_from_obj(item)
    except RemoteProtocolError as exc:
        return InvalidMessage(id=recoverable_id(item), error=exc)


def recoverable_id(obj: Any) -> RequestId | None:
    """The id of a malformed message when it can still be read, so the error response can echo it."""
    if not isinstance(obj, dict):
        return None
    fields = cast(dict[str, Any], obj)
    value = fields.get("id")
    return value if is_request_id(value) else None


def _invalid(why: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"Invalid Request: {why}", code=INVALID_REQUEST)


def message_from_obj(obj: Any) -> Message:
    if not isinstance(obj, dict):
        raise _invalid(f"expected a JSON object, got {_json_type(obj)}")
    msg: dict[str, Any] = obj  # pyright: ignore[reportUnknownVariableType]
    if msg.get("jsonrpc") != JSONRPC_VERSION:
        raise _invalid('"jsonrpc" must be exactly "2.0"')
    method = msg.get("method")
    has_id = "id" in msg
    if method is not None:
        if not isinstance(method, str) or not method:
            raise _invalid('"method" must be a non-empty string')
        params = msg.get("params")
        if params is not None and not isinstance(params, dict):
            raise _invalid(f'"params" must be an object, got {_json_type(params)}')
        if not has_id:
            return Notification(method=method, params=params)  # pyright: ignore[reportUnknownArgumentType]
        rid = msg["id"]
        if not is_request_id(rid):
            raise _invalid(f'"id" must be a string or an integer, got {_json_type(rid)}')
        return Request(id=rid, method=method, params=params)  # pyright: ignore[reportUnknownArgumentType]
    if "result" in msg and "error" in msg:
        raise _invalid('a response carries either "result" or "error", not both')
    if "result" in msg:
        rid = msg.get("id")
        if not is_request_id(rid):
            raise _invalid(f'a response "id" must be a string or an integer, got {_json_type(rid)}')
        result = msg["result"]
        if not isinstance(result, dict):
            raise _invalid(f'"result" must be an object, got {_json_type(result)}')
        return Response(id=rid, result=result)  # pyright: ignore[reportUnknownArgumentType,reportArgumentType]
    if "error" in msg:
        rid = msg.get("id")
        if rid is not None and not is_request_id(rid):
            raise _invalid(
                f'an error response "id" must be a string, an integer or null, got {_json_type(rid)}'
            )
        return ErrorResponse(id=rid, error=_error_object(msg["error"]))  # pyright: ignore[reportArgumentType]
    raise _invalid('expected "method" (request or notification) or "result"/"error" (response)')


def _error_object(value: Any) -> ErrorObject:
    if not isinstance(value, dict):
        raise _invalid(f'"error" must be an object, got {_json_type(value)}')
    err: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
    code = err.get("code")
    message = err.get("message")
    if not isinstance(code, int) or isinstance(code, bool):
        raise _invalid('"error.code" must be an integer')
    if not isinstance(message, str):
        raise _invalid('"error.message" must be a string')
    return ErrorObject(code=code, message=message, data=err.get("data"))


def json_type_name(value: Any) -> str:
    """The JSON Schema type name of a decoded JSON value ("integer" for ints, never for bools)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


_ARTICLES = {"integer": "a number", "number": "a number", "array": "an array", "object": "an object"}


def _json_type(value: Any) -> str:
    name = json_type_name(value)
    return "null" if name == "null" else _ARTICLES.get(name, f"a {name}")


def message_to_obj(message: Message) -> dict[str, Any]:
    if isinstance(message, Request):
        out: dict[str, Any] = {"jsonrpc": JSONRPC_VERSION, "id": message.id, "method": message.method}
        if message.params is not None:
            out["params"] = message.params
        return out
    if isinstance(message, Notification):
        out = {"jsonrpc": JSONRPC_VERSION, "method": message.method}
        if message.params is not None:
            out["params"] = message.params
        return out
    if isinstance(message, Response):
        return {"jsonrpc": JSONRPC_VERSION, "id": message.id, "result": message.result}
    error: dict[str, Any] = {"code": message.error.code, "message": message.error.message}
    if message.error.data is not None:
        error["data"] = message.error.data
    return {"jsonrpc": JSONRPC_VERSION, "id": message.id, "error": error}


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_log = logging.getLogger("trio_mcp.proto")
_warned_surrogates = False


def valid_text(text: str) -> str:
    """`text` with every lone UTF-16 surrogate replaced by U+FFFD, so that it always has a UTF-8 form.

    Input with lone surrogates is refused by :func:`loads`, so one here was produced by the server's own code
    (a tool returning such a string, a principal hook): replacing it keeps the stream, the store file and the
    Redis payload writable. Logged once per process.
    """
    if _SURROGATE.search(text) is None:
        return text
    global _warned_surrogates
    if not _warned_surrogates:
        _warned_surrogates = True
        _log.warning(
            "replaced lone UTF-16 surrogates with U+FFFD in outgoing text (the server's own code produced text "
            "that is not valid Unicode); this is logged once"
        )
    return _SURROGATE.sub("\ufffd", text)


def utf8(text: str) -> bytes:
    """`text` as UTF-8, never an error (see :func:`valid_text`)."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return valid_text(text).encode()


_warned_non_finite = False


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON that never fails on data a handler made: lone surrogates become U+FFFD (valid_text),
    non-finite floats null (RFC 8259 §6 has no NaN or Infinity); either is logged once."""
    try:
        text = _encoder.encode(obj)
    except ValueError:  # a NaN or an infinity somewhere: only server code can have put it there
        global _warned_non_finite
        if not _warned_non_finite:
            _warned_non_finite = True
            _log.warning("replaced NaN/Infinity with null in outgoing JSON (not JSON numbers); logged once")
        text = _encoder.encode(_finite(obj))
    return utf8(text)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        fields = cast(dict[Any, Any], value)
        return {key: _finite(item) for key, item in fields.items()}
    if isinstance(value, list | tuple):
        items = cast(list[Any], value)
        return [_finite(item) for item in items]
    return value


def encode(message: Message | list[Message]) -> bytes:
    if isinstance(message, list):
        return dumps([message_to_obj(m) for m in message])
    return dumps(message_to_obj(message))


def error_response(request_id: RequestId | None, code: int, message: str, data: Any = None) -> ErrorResponse:
    return ErrorResponse(id=request_id, error=ErrorObject(code=code, message=message, data=data))
