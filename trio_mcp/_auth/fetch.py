"""One bounded HTTP fetch of a JSON document for the verifiers (a JWKS, an introspection answer), on trio.

Each fetch has a deadline and a size limit, and every failure is one `FetchFailed` whose message names the
endpoint without credentials; the verifier decides what it means (VerifierUnavailable, a stale key set kept).
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio


class FetchFailed(Exception):
    """The document could not be had; the message says why and names the endpoint (redacted)."""


async def fetch_json(
    method: str,
    url: str,
    *,
    what: str,
    limit: int,
    timeout: float,
    headers: Mapping[str, str],
    form: Mapping[str, str] | None = None,
    follow_redirects: bool = False,
) -> Any:
    """The JSON of a 200 answer to `method url` (with the `form` body), read up to `limit` bytes within
    `timeout`; `what` names the endpoint in messages ("the issuer's key set at")."""
    shown = f"{what} {redact_url(url)}"
    try:
        with trio.fail_after(timeout):
            async with (
                httpx.AsyncClient(
                    timeout=timeout, verify=tls_context(), follow_redirects=follow_redirects
                ) as client,
                client.stream(method, url, data=form, headers=dict(headers)) as response,
            ):
                if response.status_code != 200:
                    raise FetchFailed(f"{shown} answered HTTP {response.status_code}")
                body = await read_limited(response, limit)
    except trio.TooSlowError:
        raise FetchFailed(f"{shown} gave no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{shown} could not be reached ({type(exc).__name__})") from None
    if body is None:
        raise FetchFailed(f"{shown} is larger than {limit // 1024} KiB")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        raise FetchFailed(f"{shown} is not JSON") from None


def redact_url(url: str) -> str:
    """The URL for a message or a log: no user info, no query, no fragment (they may hold credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once (loading the CA bundle per request would block the loop)."""
    return httpx.create_ssl_context()


async def read_limited(response: httpx.Response, limit: int) -> bytes | None:
    """The (decoded) body, or None when it is longer than `limit` bytes; stops reading there."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            elif not response.is_closed:
                # Not `break`: httpx's nested generators would be left half-run (a ResourceWarning each).
                # Closed, the stream's next read fails, and the failure unwinds every one of them.
                await response.aclose()
    except (httpx.HTTPError, httpx.StreamError):
        if size <= limit:
            raise
    return b"".join(chunks) if size <= limit else None
