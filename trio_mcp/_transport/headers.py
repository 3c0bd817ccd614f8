"""HTTP header logic for the Streamable HTTP transport, as pure functions over decoded ``str`` values.

Covers content negotiation (``Accept``, RFC 9110 §12.5.1), the DNS-rebinding defences the MCP
spec requires (``Origin`` and ``Host`` allowlists; MCP 2025-11-25 "Security Warning": servers
MUST validate ``Origin``) and the request ``Content-Type`` check.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Collection

import attrs

__all__ = [
    "AcceptDecision",
    "accept_decision",
    "host_allowed",
    "is_json_content_type",
    "loopback_host",
    "origin_allowed",
    "parse_accept",
]

# A list element or parameter, where quoted strings may contain the separator (RFC 9110 §5.6.4).
_LIST_ITEM = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')
_PARAM_ITEM = re.compile(r'(?:[^;"]|"(?:[^"\\]|\\.)*")+')
# RFC 9110 §5.6.2 token.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# RFC 9110 §12.4.2 qvalue, relaxed on the number of decimals and a missing leading zero.
_QVALUE = re.compile(r"(?:0?\.[0-9]*|0|1(?:\.0*)?)")


def parse_accept(value: str | None) -> list[tuple[str, float]]:
    """``Accept`` as ``(media_range, q)`` pairs in header order, media ranges lower-cased.

    Media-type parameters are dropped (they don't matter for the two types MCP negotiates).
    Malformed elements are skipped; a ``q`` that is not a valid qvalue counts as 0, i.e. "not
    acceptable", rather than letting garbage widen what the client accepts.
    """
    if not value:
        return []
    result: list[tuple[str, float]] = []
    for element in _LIST_ITEM.findall(value):
        params = _PARAM_ITEM.findall(element)
        if not params:
            continue
        media_range = params[0].strip().lower()
        if media_range == "*":
            media_range = "*/*"  # sent by some old clients (e.g. Java's URLConnection)
        type_, slash, subtype = media_range.partition("/")
        if not slash or not _TOKEN.fullmatch(type_) or not _TOKEN.fullmatch(subtype):
            continue
        if type_ == "*" and subtype != "*":
            continue  # "*/json" is not a media range (RFC 9110 §12.5.1)
        q = 1.0
        for param in params[1:]:
            name, eq, raw = param.partition("=")
            if eq and name.strip().lower() == "q":
                raw = raw.strip()
                q = float(raw) if _QVALUE.fullmatch(raw) and raw != "." else 0.0
                break
        result.append((media_range, q))
    return result


@attrs.frozen
class AcceptDecision:
    """Which of the two response bodies of the Streamable HTTP transport the client accepts."""

    json: bool
    sse: bool


_ALL_ACCEPTABLE = AcceptDecision(json=True, sse=True)


def _quality(ranges: list[tuple[str, float]], media_type: str) -> float:
    # RFC 9110 §12.5.1: "If more than one media range applies to a given type, the most specific
    # reference has precedence" -- so order never matters. Ties (the same range twice) take the max.
    type_ = media_type.partition("/")[0]
    best_specificity = -1
    best_q = 0.0
    for media_range, q in ranges:
        if media_range == media_type:
            specificity = 2
        elif media_range == type_ + "/*":
            specificity = 1
        elif media_range == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, best_q = specificity, q
        elif specificity == best_specificity:
            best_q = max(best_q, q)
    return best_q


def accept_decision(value: str | None) -> AcceptDecision:
    """Whether ``application/json`` and ``text/event-stream`` are acceptable (q > 0).

    RFC 9110 §12.5.1: "A request without any Accept header field implies that the user agent will
    accept any media type". An Accept with no usable media range (empty or garbage) expresses no
    preference either, and is treated the same way.
    """
    ranges = parse_accept(value)
    if not ranges:
        return _ALL_ACCEPTABLE
    return AcceptDecision(
        json=_quality(ranges, "application/json") > 0,
        sse=_quality(ranges, "text/event-stream") > 0,
    )


def is_json_content_type(value: str | None) -> bool:
    """``Content-Type`` is ``application/json``, with any parameters (``charset=utf-8``)."""
    if value is None:
        return False
    return value.partition(";")[0].strip().lower() == "application/json"


def loopback_host(host: str) -> bool:
    """``localhost``, any ``127.0.0.0/8`` address, or ``::1`` (bare or ``[::1]``); no port."""
    host = host.lower()
    if host == "localhost":
        return True
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# host = IP-literal / reg-name (RFC 3986 §3.2.2); what a Host header or an origin can carry.
_HOST = r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/?#@\[\]]+)"
# Ports are bounded to 5 digits: int() of a huge untrusted digit string raises, not just fails.
_HOST_HEADER = re.compile(_HOST + r"(?::(?P<port>[0-9]{0,5}))?")
# RFC 6454 §6.2 origin serialisation: scheme "://" host [ ":" port ], nothing else.
_ORIGIN = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://" + _HOST + r"(?::(?P<port>[0-9]{1,5}|\*))?")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _port(raw: str | None) -> int | None:
    """``None`` when absent (or empty, as RFC 3986 allows); -1 when out of range."""
    if not raw:
        return None
    port = int(raw)
    return port if port <= 65535 else -1


def _split_host(value: str, *, bare_ipv6: bool = False) -> tuple[str, int | None] | None:
    """``name[:port]`` of a Host header or allowlist entry -> (lower-cased name, port)."""
    match = _HOST_HEADER.fullmatch(value.strip())
    if match is None:
        if bare_ipv6 and value.count(":") > 1:
            # An allowlist may say "::1"; a Host header must bracket it (RFC 3986 §3.2.2).
            try:
                return f"[{ipaddress.IPv6Address(value.strip())}]", None
            except ValueError:
                return None
        return None
    port = _port(match["port"])
    if port == -1:
        return None
    return _normalise_host(match["host"]), port


def _normalise_host(host: str) -> str:
    host = host.lower()
    if host.startswith("["):
        # "[0:0::1]" and "[::1]" are the same address.
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1])}]"
        except ValueError:
            return host
    return host


@attrs.frozen
class _Origin:
    scheme: str
    host: str
    port: int | None  # explicit, else the scheme's default; None if it has none
    any_port: bool = False  # allowlist pattern "scheme://host:*"


def _parse_origin(value: str, *, pattern: bool = False) -> _Origin | None:
    match = _ORIGIN.fullmatch(value.strip())
    if match is None:
        return None
    scheme = match["scheme"].lower()
    host = _normalise_host(match["host"])
    if match["port"] == "*":
        return _Origin(scheme, host, None, any_port=True) if pattern else None
    port = _port(match["port"])
    if port == -1:
        return None
    if port is None:
        port = _DEFAULT_PORTS.get(scheme)
    return _Origin(scheme, host, port)


@functools.lru_cache(maxsize=256)
def _parse_origin_pattern(pattern: str) -> _Origin:
    origin = _parse_origin(pattern, pattern=True)
    if origin is None:
        raise ValueError(
            f"invalid allowed origin {pattern!r}: expected 'scheme://host[:port]', 'scheme://host:*' or '*'"
        )
    return origin


def origin_allowed(origin: str | None, allowed: Collection[str] | None, *, request_host: str | None) -> bool:
    """Whether a request carrying this ``Origin`` header may proceed.

    * No ``Origin``: allowed -- browsers send one on the cross-origin requests DNS rebinding
      relies on; other clients (CLIs, SDKs) don't send it at all.
    * ``null`` (sandboxed/opaque origins) and anything that isn't ``scheme://host[:port]``
      (RFC 6454 §6.2): refused.
    * ``allowed`` given: entries are exact origins (``http://127.0.0.1:8000``; default ports are
      implied), ``scheme://host:*`` for any port, or ``*`` for any origin.
    * ``allowed=None``: http(s) origins on a loopback host (:func:`loopback_host`), any port,
      plus same-origin requests (the origin's host and port equal ``request_host``, the ``Host``
      header). Same-origin alone doesn't stop DNS rebinding -- a rebound page *is* same-origin --
      that is :func:`host_allowed`'s job, so the transport must apply both checks.

    Host names compare exactly (lower-cased), so ``http://localhost.evil.example`` is not local.
    Raises ``ValueError`` for a malformed ``allowed`` entry (a configuration error).
    """
    if origin is None:
        return True
    parsed = _parse_origin(origin)
    if parsed is None:
        return False
    if allowed is None:
        if parsed.scheme in ("http", "https") and loopback_host(parsed.host):
            return True
        return request_host is not None and _same_origin(parsed, request_host)
    for entry in allowed:
        if entry == "*":
            return True
        pattern = _parse_origin_pattern(entry)
        if (
            pattern.scheme == parsed.scheme
            and pattern.host == parsed.host
            and (pattern.any_port or pattern.port == parsed.port)
        ):
            return True
    return False


def _same_origin(origin: _Origin, request_host: str) -> bool:
    host = _split_host(request_host)
    if host is None:
        return False
    name, port = host
    # A Host without a port means the request scheme's default -- for a same-origin request,
    # the origin's scheme.
    if port is None:
        port = _DEFAULT_PORTS.get(origin.scheme)
    return name == origin.host and port == origin.port


def host_allowed(host: str | None, allowed: Collection[str] | None) -> bool:
    """Whether the ``Host`` header (``name[:port]``, IPv6 bracketed) names this server.

    ``allowed`` entries: ``name`` (any port), ``name:port``, ``[v6]``/``[v6]:port`` (or a bare
    IPv6 address), or ``*`` (anything, even a missing or malformed Host). ``None`` means loopback
    names only -- the DNS-rebinding defence for a local server: a rebound request carries the
    attacker's host name. A missing Host (HTTP/1.1 requires one, RFC 9112 §3.2) only passes ``*``.
    Case-insensitive. Raises ``ValueError`` for a malformed ``allowed`` entry.
    """
    if allowed is not None and "*" in allowed:
        return True
    if not host:
        return False
    parsed = _split_host(host)
    if parsed is None:
        return False
    name, port = parsed
    if allowed is None:
        return loopback_host(name)
    for entry in allowed:
        candidate = _parse_host_pattern(entry)
        if candidate[0] == name and (candidate[1] is None or candidate[1] == port):
            return True
    return False


@functools.lru_cache(maxsize=256)
def _parse_host_pattern(entry: str) -> tuple[str, int | None]:
    if entry.endswith(":*"):
        entry = entry[:-2]  # "name:*" reads naturally next to origin patterns; same as "name"
    parsed = _split_host(entry, bare_ipv6=True)
    if parsed is None:
        raise ValueError(f"invalid allowed host {entry!r}: expected 'name', 'name:port' or '*'")
    return parsed
