"""JWTVerifier: checks a JWT access token (RFC 9068) against its issuer's JSON Web Key Set.

PyJWT checks the signature; the claims are checked here, against the injected clock, so that each refusal
names its rule. The rules follow RFC 8725 (JWT BCP): the verifier, never the token, chooses the algorithms
(§3.1), no `none`, no symmetric algorithms (a public key used as an HMAC secret, §2.1), and the key comes from
the configured key set only; the token's `jku`, `x5u` and `jwk` headers are ignored (§3.10).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import attrs
import jwt
import trio
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import get_default_algorithms
from jwt.utils import base64url_decode

from .fetch import FetchFailed, fetch_json, redact_url
from .tokens import AccessToken, InvalidToken, VerifierUnavailable, audience_of, normalize_resource, scopes_of

log = logging.getLogger("trio_mcp")

DEFAULT_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
MAX_JWKS_BYTES = 512 * 1024
MAX_KEYS = 100
#: far above any real access token; refused before any parsing
MAX_TOKEN_CHARS = 64 * 1024
#: RFC 7518 §3.3: RSA keys of 2048 bits or more
MIN_RSA_BITS = 2048

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
    "ES521": ec.SECP521R1,
    "ES256K": ec.SECP256K1,
}
# The PyJWK algorithm that builds a key of each type and curve (the JWK's own `alg` is compared separately).
_BUILDERS: dict[tuple[Any, Any], str] = {
    ("RSA", None): "RS256",
    ("EC", "P-256"): "ES256",
    ("EC", "P-384"): "ES384",
    ("EC", "P-521"): "ES512",
    ("EC", "secp256k1"): "ES256K",
    ("OKP", "Ed25519"): "EdDSA",
    ("OKP", "Ed448"): "EdDSA",
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@attrs.frozen
class _Key:
    kid: str | None
    #: the JWK's `alg`, when it names one (RFC 7517 §4.4): then the token's alg must be the same
    alg: str | None
    key: PublicKey


@attrs.frozen
class _KeySet:
    keys: tuple[_Key, ...]
    by_kid: Mapping[str, _Key]

    def find(self, kid: str | None) -> _Key | None:
        if kid is not None:
            return self.by_kid.get(kid)
        # A token without `kid` can only mean the issuer's one key (RFC 7515 §4.1.4 makes kid optional).
        return self.keys[0] if len(self.keys) == 1 else None


class _NoKeys(Exception):
    """A key set that holds no key this verifier can use (the message ends a sentence about the set)."""


class JWTVerifier:
    """Verifies JWT access tokens signed with the keys of one issuer.

    `jwks_url`: the issuer's JWKS endpoint (fetched with httpx, cached for `jwks_ttl` seconds, refetched when a
    token names an unknown `kid` (key rotation), at most once every `refresh_interval` seconds); or `jwks`: a
    static key set, e.g. a development issuer's. `audience`: when given, the token's `aud` must contain it
    (RFC 8707 canonical form); otherwise `aud` is reported, unchecked (the app's guard checks it).
    `leeway`: seconds of clock skew allowed on `exp`, `nbf` and `iat`. `clock`: Unix time, for token times and
    the key cache alike.
    """

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        *,
        jwks: Mapping[str, Any] | None = None,  # static key set, e.g. a development issuer's
        audience: str | None = None,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway: float = 30.0,
        jwks_ttl: float = 300.0,
        refresh_interval: float = 10.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer:
            raise ValueError("JWTVerifier needs the issuer identifier (the `iss` its tokens carry)")
        if (jwks_url is None) == (jwks is None):
            raise ValueError(
                "JWTVerifier needs exactly one of jwks_url= (the issuer's JWKS endpoint) and jwks= (a static key set)"
            )
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.audience = audience
        self.algorithms = _checked_algorithms(algorithms)
        self.leeway = leeway
        self.jwks_ttl = jwks_ttl
        self.refresh_interval = refresh_interval
        self.timeout = timeout
        self._clock = clock
        self._keys: _KeySet | None = None
        self._fetched_at = -math.inf  # when self._keys was fetched
        self._attempted_at = -math.inf  # when the last fetch started, successful or not
        self._forced_at = -math.inf  # when the last fetch for an unknown kid started
        self._generation = 0  # fetches completed: a task that waited for the lock sees that one ran
        self._last_error = ""
        self._lock = trio.Lock()
        if jwks is not None:
            try:
                self._keys = _key_set(jwks)
            except _NoKeys as exc:
                raise ValueError(f"jwks= {exc}") from None

    def __repr__(self) -> str:
        source = redact_url(self.jwks_url) if self.jwks_url else "static keys"
        return f"JWTVerifier({self.issuer!r}, {source})"

    async def verify(self, token: str) -> AccessToken:
        if not token:
            raise InvalidToken("the token is empty")
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("the token is too large")
        if token.count(".") != 2:  # JWS compact serialization (RFC 7515 §7.1); a JWE has five parts
            raise InvalidToken("the token is not a JWT")
        header = _header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or not alg:
            raise InvalidToken("the token's header names no alg")
        if alg not in self.algorithms:  # `none`, HS* and anything not configured (RFC 8725 §3.1)
            raise InvalidToken(f"alg {quoted(alg)} is not accepted")
        if "crit" in header:  # RFC 7515 §4.1.11: this verifier understands no extension
            raise InvalidToken(
                "the token names critical header extensions (crit) this server does not support"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token's key id (kid) is not a string")
        key = await self._key(kid)
        if key.alg is not None and key.alg != alg:
            raise InvalidToken(f"the token's alg {quoted(alg)} is not the alg of its key {quoted(kid)}")
        if not _fits(alg, key.key):
            raise InvalidToken(
                f"the token's alg {quoted(alg)} does not fit the type of its key {quoted(kid)}"
            )
        payload = _decode(token, key.key, alg)
        return self._accept(payload)

    # -- keys --

    async def _key(self, kid: str | None) -> _Key:
        seen = self._generation
        keys = await self._current()
        found = keys.find(kid)
        if found is None and kid is not None and self.jwks_url is not None and self._generation == seen:
            # An unknown kid in a set fetched before this token came: the issuer may have rotated its keys
            # (RFC 7517 §5: the set is replaced whole). A set fetched for this very token is not refetched.
            keys = await self._refresh(self._generation, forced=True)
            found = keys.find(kid)
        if found is not None:
            return found
        if kid is None:
            raise InvalidToken(
                "the token names no key id (kid) and the issuer's key set has more than one signing key"
            )
        raise InvalidToken(f"the token's key id {quoted(kid)} is not in the issuer's key set")

    async def _current(self) -> _KeySet:
        if self.jwks_url is None or (
            self._keys is not None and self._clock() - self._fetched_at < self.jwks_ttl
        ):
            assert self._keys is not None
            return self._keys
        return await self._refresh(self._generation)

    async def _refresh(self, seen: int, *, forced: bool = False) -> _KeySet:
        """Fetches the key set, once for all tasks waiting (single flight). `forced` (an unknown kid): at most
        once every refresh_interval, however recent the last scheduled fetch, so a rotation is picked up at
        once and garbage kids cannot make us hammer the issuer; else (first use, TTL, a failed fetch) at most
        every refresh_interval since the last attempt."""
        assert self.jwks_url is not None
        async with self._lock:
            now = self._clock()
            last = self._forced_at if forced else self._attempted_at
            if self._generation == seen and now - last >= self.refresh_interval:
                previous, self._attempted_at = self._attempted_at, now
                if forced:
                    self._forced_at = now
                try:
                    keys = await self._fetch(self.jwks_url)
                except FetchFailed as exc:
                    self._last_error = str(exc)
                    if self._keys is not None:
                        log.warning("%s; the cached keys stay in use", self._last_error)
                except BaseException:  # cancelled: no attempt was made, the next task may try at once
                    self._attempted_at = previous
                    raise
                else:
                    self._keys, self._fetched_at, self._last_error = keys, now, ""
                self._generation += 1
            if self._keys is None:
                raise VerifierUnavailable(self._last_error or "the issuer's key set is not fetched yet")
            return self._keys

    async def _fetch(self, url: str) -> _KeySet:
        try:
            document = await fetch_json(
                "GET",
                url,
                what="the issuer's key set at",
                limit=MAX_JWKS_BYTES,
                timeout=self.timeout,
                headers={"accept": "application/jwk-set+json, application/json"},
                follow_redirects=True,
            )
            return _key_set(document)
        except FetchFailed:
            raise
        except _NoKeys as exc:
            raise FetchFailed(f"the issuer's key set at {redact_url(url)} {exc}") from None

    # -- claims (RFC 7519 §4.1) --

    def _accept(self, payload: dict[str, Any]) -> AccessToken:
        now = self._clock()
        iss = payload.get("iss")
        if iss != self.issuer:  # exact comparison (RFC 9068 §4, RFC 8414 §3.3)
            if not isinstance(iss, str):
                raise InvalidToken("the token names no issuer (iss)")
            raise InvalidToken(f"the token was issued by {quoted(iss)}, not {quoted(self.issuer)}")
        exp = _numeric_date(payload, "exp")
        if exp is None:  # RFC 9068 §2.2: exp is required in an access token
            raise InvalidToken("the token has no expiry (exp)")
        if now >= exp + self.leeway:
            raise InvalidToken("the token has expired")
        nbf = _numeric_date(payload, "nbf")
        if nbf is not None and nbf > now + self.leeway:
            raise InvalidToken("the token is not valid yet (nbf)")
        iat = _numeric_date(payload, "iat")
        if iat is not None and iat > now + self.leeway:
            raise InvalidToken("the token was issued in the future (iat)")
        sub = payload.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("the token names no subject (sub)")
        audience = audience_of(payload.get("aud"))
        if self.audience is not None:
            wanted = normalize_resource(self.audience)
            if not any(normalize_resource(aud) == wanted for aud in audience):
                raise InvalidToken("the token is not for this resource")
        client_id = next(
            (v for v in (payload.get(n) for n in ("client_id", "azp", "cid")) if isinstance(v, str) and v),
            None,
        )
        return AccessToken(
            subject=sub,
            issuer=iss,
            client_id=client_id,
            scopes=scopes_of(payload.get("scope")) | scopes_of(payload.get("scp")),
            expires_at=exp,
            audience=audience,
            claims=payload,
        )


def _checked_algorithms(algorithms: Sequence[str]) -> frozenset[str]:
    if isinstance(algorithms, str):
        algorithms = (algorithms,)
    supported = get_default_algorithms()
    for alg in algorithms:
        if alg.upper().startswith("HS") or alg.lower() == "none":
            # RFC 8725 §2.1: an HMAC "verified" with a public key is a signature anyone can make.
            raise ValueError(f"JWTVerifier accepts asymmetric algorithms only, not {alg!r}")
        if alg not in supported:
            raise ValueError(f"JWTVerifier does not know the algorithm {alg!r}")
    if not algorithms:
        raise ValueError("JWTVerifier needs at least one algorithm")
    return frozenset(algorithms)


def _key_set(document: Any) -> _KeySet:
    """The usable signing keys of a JWK Set (RFC 7517 §5), the first MAX_KEYS; the first of a kid wins."""
    members = cast(Mapping[str, Any], document).get("keys") if isinstance(document, Mapping) else None
    if not isinstance(members, list):
        raise _NoKeys("is not a JWK set (no `keys` list)")
    keys: list[_Key] = []
    by_kid: dict[str, _Key] = {}
    for member in members:  # pyright: ignore[reportUnknownVariableType]
        key = _parse_key(member)
        if key is None:
            continue
        keys.append(key)
        if key.kid is not None:
            by_kid.setdefault(key.kid, key)
        if len(keys) == MAX_KEYS:
            break
    if not keys:
        raise _NoKeys("holds no usable signing key")
    return _KeySet(tuple(keys), by_kid)


def _parse_key(jwk: Any) -> _Key | None:
    if not isinstance(jwk, dict):
        return None
    data: dict[str, Any] = {str(k): v for k, v in jwk.items()}  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
    if data.get("use", "sig") != "sig":  # RFC 7517 §4.2: an encryption key signs nothing
        return None
    ops = data.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):  # RFC 7517 §4.3
        return None
    kty, kid, alg = data.get("kty"), data.get("kid"), data.get("alg")
    # No "oct": a shared secret in a public key set is the alg-confusion trap (RFC 8725 §2.1).
    builder = _BUILDERS.get((kty, None if kty == "RSA" else data.get("crv")))
    if builder is None or not isinstance(kid, str | None) or not isinstance(alg, str | None):
        return None
    public = {k: v for k, v in data.items() if k not in _PRIVATE_MEMBERS}
    try:
        key: Any = jwt.PyJWK(public, algorithm=builder).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return None
    if not isinstance(key, PublicKey):
        return None
    return _Key(kid, alg, key)


def _fits(alg: str, key: PublicKey) -> bool:
    if alg.startswith(("RS", "PS")):
        return isinstance(key, rsa.RSAPublicKey)
    if alg in _CURVES:
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, _CURVES[alg])
    return alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)


def _header(token: str) -> dict[str, Any]:
    """The JOSE header (RFC 7515 §4), unverified: it only picks the key; PyJWT parses it again, strictly."""
    try:
        header: Any = json.loads(base64url_decode(token.partition(".")[0]))
    except (ValueError, TypeError, RecursionError):
        raise InvalidToken("the token is not a JWT") from None
    if not isinstance(header, dict):
        raise InvalidToken("the token is not a JWT")
    return cast(dict[str, Any], header)


def _decode(token: str, key: PublicKey, alg: str) -> dict[str, Any]:
    """The payload, once the signature verifies; the claims are checked by the caller, on its clock."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[alg],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
                "require": [],
                "enforce_minimum_key_length": True,
            },
        )
    except jwt.InvalidSignatureError:
        raise InvalidToken("the token's signature does not verify") from None
    except jwt.DecodeError:
        raise InvalidToken("the token is not a JWT") from None
    except jwt.PyJWTError:
        raise InvalidToken("the token's signature does not verify") from None


def _numeric_date(payload: Mapping[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    # RFC 7519 §2 NumericDate; Python's json accepts NaN and Infinity, which are no dates.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken(f"the token's {name} is not a number")
    return float(value)


# -- helpers shared with the introspection verifier --


def quoted(value: str | None, limit: int = 80) -> str:
    """A value of the token, quoted for a message: printable ASCII, short (it goes into a response header)."""
    if value is None:
        return "(none)"
    text = "".join(c if " " <= c <= "~" and c not in "'\"\\" else "?" for c in value)
    return f"'{text[: limit - 3]}...'" if len(text) > limit else f"'{text}'"
