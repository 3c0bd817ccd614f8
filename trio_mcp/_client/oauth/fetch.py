"""Bounded HTTP for the OAuth flow: every request has a deadline and a size limit, follows no redirect (RFC 9700
§4.11: a redirect must not carry credentials elsewhere), and fails as one OAuthError naming the endpoint
without credentials. The JSON body is read whatever the status, since OAuth errors come as JSON too."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import attrs
import httpx
import trio

from ..._auth.fetch import read_limited, redact_url, tls_context
from .errors import OAuthError

log = logging.getLogger("trio_mcp.client.oauth")

#: metadata documents, registration and token answers are small
DEFAULT_LIMIT = 256 * 1024
DEFAULT_TIMEOUT = 10.0


@attrs.frozen
class Answer:
    status: int
    #: the body as JSON; None when it is not JSON
    json: Any
    headers: httpx.Headers

    @property
    def object(self) -> dict[str, Any] | None:
        return self.json if isinstance(self.json, dict) else None  # pyright: ignore[reportUnknownVariableType]


@attrs.frozen
class Fetcher:
    """How the flow talks to metadata endpoints and the authorization server."""

    #: the application's client (its TLS settings, proxies); None: a fresh one per request
    http: httpx.AsyncClient | None = None
    timeout: float = DEFAULT_TIMEOUT
    limit: int = DEFAULT_LIMIT

    async def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        failure: type[OAuthError] = OAuthError,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Answer:
        """`method url` with a form or a JSON body; the answer whatever its status. `what` names the
        endpoint in messages ("the token endpoint")."""
        shown = f"{what} {redact_url(url)}"
        sent = {"accept": "application/json", **(headers or {})}
        log.debug("%s %s (%s)", method, redact_url(url), what)
        try:
            with trio.fail_after(self.timeout):
                if self.http is not None:
                    return await self._send(self.http, method, url, sent, form, body, shown, failure)
                async with httpx.AsyncClient(
                    timeout=self.timeout, verify=tls_context(), follow_redirects=False
                ) as client:
                    return await self._send(client, method, url, sent, form, body, shown, failure)
        except trio.TooSlowError:
            raise failure(f"{shown} gave no answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise failure(f"{shown} could not be reached ({type(exc).__name__})") from None

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        headers: dict[str, str],
        form: Mapping[str, str] | None,
        body: Any,
        shown: str,
        failure: type[OAuthError],
    ) -> Answer:
        request = client.build_request(
            method, url, headers=headers, data=dict(form) if form is not None else None, json=body
        )
        # Never the application's auth (this client may be the one the MCP requests use), no redirects.
        response = await client.send(request, stream=True, auth=None, follow_redirects=False)
        try:
            raw = await read_limited(response, self.limit)
        finally:
            await response.aclose()
        if raw is None:
            raise failure(f"{shown} answered more than {self.limit // 1024} KiB")
        try:
            parsed: Any = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            parsed = None
        return Answer(response.status_code, parsed, response.headers)
