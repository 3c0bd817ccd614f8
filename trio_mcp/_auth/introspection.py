"""IntrospectionVerifier: asks the authorization server about each token (RFC 7662 OAuth 2.0 Token Introspection).

For opaque tokens, or when revocation must be seen sooner than a JWT's expiry. Answers are cached (keyed by the
token's SHA-256, never the token) so a busy client costs one request per token lifetime, not one per request.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote_plus

import attrs
import trio

from .fetch import FetchFailed, fetch_json, redact_url
from .jwt import MAX_TOKEN_CHARS, quoted
from .tokens import AccessToken, InvalidToken, VerifierUnavailable, audience_of, scopes_of

#: an introspection answer is a small JSON object; anything larger is not one
MAX_RESPONSE_BYTES = 512 * 1024
INACTIVE = "the token is not active (revoked, expired or unknown to the issuer)"


@attrs.define
class _Flight:
    """One introspection request that concurrent verifies of the same token wait for."""

    done: trio.Event = attrs.field(factory=trio.Event)
    outcome: AccessToken | InvalidToken | VerifierUnavailable | None = None


@attrs.define
class _Cache:
    """A bounded LRU of answers, each valid until its own deadline: an AccessToken or a refusal's message."""

    size: int
    entries: OrderedDict[bytes, tuple[float, AccessToken | str]] = attrs.field(
        factory=OrderedDict[bytes, tuple[float, AccessToken | str]]
    )

    def get(self, key: bytes, now: float) -> AccessToken | str | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        until, answer = entry
        if now >= until:
            del self.entries[key]
            return None
        self.entries.move_to_end(key)
        return answer

    def put(self, key: bytes, answer: AccessToken | str, until: float, now: float) -> None:
        if self.size <= 0 or until <= now:
            return
        self.entries[key] = (until, answer)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


class IntrospectionVerifier:
    """Verifies tokens with the authorization server's introspection endpoint `url` (RFC 7662 §2).

    `client_id` + `client_secret`: this resource server's credentials, sent as HTTP Basic (client_secret_basic,
    RFC 6749 §2.3.1); `client_id` alone is sent in the form (a public client). `issuer`: when given, an answer's
    `iss` (if any) must equal it, and it is the issuer of answers without one.

    Caching: an active answer is reused until the token's `exp`, at most `max_ttl` seconds (an answer without
    `exp` is kept `max_ttl` seconds), so `max_ttl` bounds how long a revoked token is still accepted. A refusal
    is reused for `negative_ttl` seconds; "unavailable" is never cached. At most `cache_size` answers (LRU).
    Concurrent verifies of one token share one request. `clock`: Unix time, for the cache deadlines.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        issuer: str | None = None,
        cache_size: int = 10_000,
        negative_ttl: float = 5.0,
        max_ttl: float = 3600.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if client_secret is not None and client_id is None:
            raise ValueError("IntrospectionVerifier: client_secret= needs client_id=")
        self.url = url
        self.client_id = client_id
        self.issuer = issuer
        self.negative_ttl = negative_ttl
        self.max_ttl = max_ttl
        self.timeout = timeout
        self._clock = clock
        self._authorization: str | None = None
        if client_id is not None and client_secret is not None:
            # RFC 6749 §2.3.1: both are form-urlencoded before they are joined and base64-encoded.
            pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
            self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        self._cache = _Cache(cache_size)
        self._flights: dict[bytes, _Flight] = {}

    def __repr__(self) -> str:
        return f"IntrospectionVerifier({redact_url(self.url)!r})"

    async def verify(self, token: str) -> AccessToken:
        if not token:
            raise InvalidToken("the token is empty")
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("the token is too large")
        key = hashlib.sha256(token.encode()).digest()
        while True:
            cached = self._cache.get(key, self._clock())
            if isinstance(cached, AccessToken):
                return cached
            if cached is not None:
                raise InvalidToken(cached)
            flight = self._flights.get(key)
            if flight is None:
                break
            await flight.done.wait()
            outcome = flight.outcome
            if isinstance(outcome, AccessToken):
                return outcome
            if outcome is not None:  # a fresh exception per waiter, with the leader's message
                raise type(outcome)(*outcome.args)
            # the leader was cancelled: look again, and maybe lead
        flight = self._flights[key] = _Flight()
        try:
            accepted = flight.outcome = await self._answer(token, key)
        except (InvalidToken, VerifierUnavailable) as exc:
            flight.outcome = exc
            raise
        finally:
            del self._flights[key]
            flight.done.set()
        return accepted

    async def _answer(self, token: str, key: bytes) -> AccessToken:
        response = await self._introspect(token)
        now = self._clock()
        try:
            accepted = self._accept(response)
        except InvalidToken as exc:
            self._cache.put(key, str(exc), now + self.negative_ttl, now)
            raise
        until = now + self.max_ttl
        if accepted.expires_at is not None:
            until = min(until, accepted.expires_at)
        self._cache.put(key, accepted, until, now)
        return accepted

    async def _introspect(self, token: str) -> dict[str, Any]:
        """The endpoint's JSON object for `token` (RFC 7662 §2.1 request, §2.2 response)."""
        shown = redact_url(self.url)
        form = {"token": token, "token_type_hint": "access_token"}
        headers = {"accept": "application/json"}
        if self._authorization is not None:
            headers["authorization"] = self._authorization
        elif self.client_id is not None:
            form["client_id"] = self.client_id
        try:
            answer = await fetch_json(
                "POST",
                self.url,
                what="the introspection endpoint",
                limit=MAX_RESPONSE_BYTES,
                timeout=self.timeout,
                headers=headers,
                form=form,
            )
        except FetchFailed as exc:
            raise VerifierUnavailable(str(exc)) from None
        if not isinstance(answer, dict):
            raise VerifierUnavailable(f"the introspection endpoint {shown} did not answer a JSON object")
        return cast(dict[str, Any], answer)

    def _accept(self, answer: dict[str, Any]) -> AccessToken:
        if answer.get("active") is not True:  # RFC 7662 §2.2: nothing else may be said of an inactive token
            raise InvalidToken(INACTIVE)
        iss = answer.get("iss")
        if self.issuer is not None and iss is not None and iss != self.issuer:
            raise InvalidToken(f"the token was issued by {quoted(str(iss))}, not {quoted(self.issuer)}")
        sub = answer.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("the token names no subject (sub)")
        client_id = answer.get("client_id")
        return AccessToken(
            subject=sub,
            issuer=iss if isinstance(iss, str) else self.issuer,
            client_id=client_id if isinstance(client_id, str) else None,
            scopes=scopes_of(answer.get("scope")) | scopes_of(answer.get("scp")),
            expires_at=_numeric_date(answer.get("exp")),
            audience=audience_of(answer.get("aud")),
            claims=answer,
        )


def _numeric_date(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
