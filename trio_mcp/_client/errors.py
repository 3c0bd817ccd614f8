"""The client's errors: one plain exception each, never an exception group from its tasks."""

from __future__ import annotations

import httpx

from .._proto.errors import INTERNAL_ERROR, SESSION_NOT_FOUND, McpError


class TransportError(ConnectionError):
    """The server could not be reached (for `reconnect_timeout`), or a stream to it broke for good.

    A JSON-RPC error the server answered is an `McpError` instead (with `http_status` when HTTP said it).
    """


def http_error(response: httpx.Response) -> McpError:
    """An HTTP error answer (its body read) as the McpError it carries, or one that says what HTTP said."""
    try:
        body = response.json()
        error = body["error"]
        if isinstance(error, str):  # an OAuth resource server's refusal (RFC 6750 §3): its challenge as data
            code, message = (
                INTERNAL_ERROR,
                f"{error}: {body.get('error_description') or response.reason_phrase}",
            )
            data = {"error": error, "www_authenticate": response.headers.get("www-authenticate")}
        else:
            code, message, data = int(error["code"]), str(error["message"]), error.get("data")
    except Exception:
        code, message, data = INTERNAL_ERROR, response.text[:200] or response.reason_phrase, None
    if response.status_code == 404:
        code = SESSION_NOT_FOUND
    return McpError(code, f"HTTP {response.status_code}: {message}", data, http_status=response.status_code)
