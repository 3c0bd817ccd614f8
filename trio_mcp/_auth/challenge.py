"""The bearer challenges of a protected MCP server (sans-IO): what a 400/401/403 says and how it is written.

MCP 2025-11-25 basic/authorization §Protected Resource Metadata Discovery and §Scope Challenge Handling; RFC 6750
§3 (the `WWW-Authenticate: Bearer` parameters and error codes) and RFC 9728 §5.1 (`resource_metadata`). The
body is RFC 6750's JSON error object (`error`, `error_description`), the shape the official SDKs and the MCP
conformance suite's resource servers answer with.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import attrs

#: RFC 6750 §3.1 error codes
INVALID_REQUEST = "invalid_request"  # 400: a malformed request (a token in the query string)
INVALID_TOKEN = "invalid_token"  # 401: expired, revoked, malformed, for another resource
INSUFFICIENT_SCOPE = "insufficient_scope"  # 403: the token lacks a scope the request needs

_STATUS = {None: 401, INVALID_REQUEST: 400, INVALID_TOKEN: 401, INSUFFICIENT_SCOPE: 403}


@attrs.frozen
class Challenge:
    """A refusal: `error` None means no token was sent (RFC 6750 §3: then no error code is given)."""

    error: str | None
    description: str
    #: the scopes the request needs, all of them (the client asks for these, with what it holds)
    scopes: frozenset[str] = frozenset()

    @property
    def status(self) -> int:
        return _STATUS[self.error]

    def www_authenticate(self, resource_metadata: str) -> str:
        params = [f'resource_metadata="{_quoted(resource_metadata)}"']
        if self.scopes:
            params.append(f'scope="{_quoted(" ".join(sorted(self.scopes)))}"')
        if self.error is not None:
            params.append(f'error="{self.error}"')
            params.append(f'error_description="{_quoted(self.description)}"')
        return "Bearer " + ", ".join(params)

    def body(self) -> bytes:
        return json.dumps(
            {"error": self.error or INVALID_TOKEN, "error_description": self.description},
            separators=(",", ":"),
        ).encode()


def missing_token(scopes: Iterable[str]) -> Challenge:
    return Challenge(
        None,
        "Missing Authorization header: send `Authorization: Bearer <access token>`; the resource metadata "
        "names the authorization server to get one from",
        frozenset(scopes),
    )


def invalid_token(reason: str, scopes: Iterable[str]) -> Challenge:
    return Challenge(INVALID_TOKEN, reason, frozenset(scopes))


def insufficient_scope(required: Iterable[str], missing: Iterable[str]) -> Challenge:
    lacking = " ".join(sorted(missing))
    return Challenge(
        INSUFFICIENT_SCOPE,
        f"the token lacks the scope(s) {lacking}; ask the authorization server for every scope named here",
        frozenset(required),
    )


def _quoted(text: str) -> str:
    # RFC 9110 §5.6.4 quoted-string: escape the quote and the backslash; a header value has no line breaks.
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
    return text.encode("ascii", "replace").decode("ascii")  # header values are ASCII here
