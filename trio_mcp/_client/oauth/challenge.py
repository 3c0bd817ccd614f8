"""The `Bearer` challenge of a refused request (sans-IO): RFC 6750 §3, with RFC 9728 §5.1 `resource_metadata`.

`WWW-Authenticate` may carry several challenges (`DPoP …, Bearer …`); this reads the Bearer one's auth-params
(RFC 9110 §11.2: `name=token` or `name="quoted string"`).
"""

from __future__ import annotations

import re

import attrs

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*(?:,|$)')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?:\s+|$|(?=,))")


@attrs.frozen
class BearerChallenge:
    #: RFC 6750 §3.1: None when the request carried no token; `invalid_token`, `insufficient_scope`, ...
    error: str | None = None
    description: str | None = None
    #: the scopes the server says the request needs (MCP §Scope Challenge Handling)
    scopes: tuple[str, ...] | None = None
    #: RFC 9728 §5.1: where the protected resource metadata is
    resource_metadata: str | None = None


def parse_www_authenticate(header: str | None) -> BearerChallenge:
    """The Bearer challenge's parameters; an empty challenge when there is none (or it cannot be read)."""
    if not header:
        return BearerChallenge()
    params = _bearer_params(header)
    if params is None:
        return BearerChallenge()
    scope = params.get("scope")
    return BearerChallenge(
        error=params.get("error") or None,
        description=params.get("error_description") or None,
        scopes=tuple(scope.split()) if scope is not None else None,
        resource_metadata=params.get("resource_metadata") or None,
    )


def _bearer_params(header: str) -> dict[str, str] | None:
    position, length = 0, len(header)
    while position < length:
        scheme = _SCHEME.match(header, position)
        if scheme is None:
            return None
        position = scheme.end()
        params: dict[str, str] = {}
        while position < length:
            param = _PARAM.match(header, position)
            if param is None:
                break
            name, quoted, token = param.group(1).lower(), param.group(2), param.group(3)
            params.setdefault(name, re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token)
            position = param.end()
        if scheme.group(1).lower() == "bearer":
            return params
        rest = header[position:].lstrip()
        position = length - len(rest)
        if rest.startswith(","):
            position += 1
        elif rest and not params:  # a token68 (`Basic abc==`): the next challenge starts after a comma
            comma = header.find(",", position)
            position = length if comma < 0 else comma + 1
    return None
