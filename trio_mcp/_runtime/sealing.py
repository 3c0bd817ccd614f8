"""A key ring that seals small payloads with AES-256-GCM (`cryptography`): the first key seals, every key
unseals, so keys rotate without refusing what an instance sealed a moment before (docs/architecture.md §9).

A sealed token is `v1.` + base64url(key id ‖ nonce ‖ ciphertext+tag). The key id (8 bytes of a hash of the key)
picks the key to try; the associated data binds the token to what the caller names (the request it belongs
to), so a token presented anywhere else does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256
_NONCE_BYTES = (
    12  # the GCM standard nonce; random per seal (2^-32 collision odds only after 2^32 seals per key)
)
_KEY_ID_BYTES = 8
_VERSION = "v1."


class KeyRingError(ValueError):
    """A key of the ring is not usable; the message says how to make one."""


def new_key() -> str:
    """A fresh key in the form `request_state_keys` takes (32 random bytes, base64url)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip("=")


def _decode_key(text: str) -> bytes:
    """The key's bytes (standard or URL-safe base64, padding optional); b"" when it is not base64 (the ring
    then refuses it for its length)."""
    raw = text.strip()
    try:
        return base64.urlsafe_b64decode(raw.replace("+", "-").replace("/", "_") + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        return b""


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"trio-mcp key id\x00" + key).digest()[:_KEY_ID_BYTES]


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


class KeyRing:
    """`cryptography` is imported at the first seal or unseal, not with the ring: most servers never seal
    (only a 2026-07-28 input round does), and the library is about 9 MiB of RSS (docs/architecture.md §1)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise KeyRingError("a key ring needs at least one key")
        for position, key in enumerate(keys, 1):
            if len(key) != KEY_BYTES:
                raise KeyRingError(
                    f"key {position} of the ring is not {KEY_BYTES} bytes (got {len(key)}; keys are given in "
                    'base64); make one with `python -c "import secrets; print(secrets.token_urlsafe(32))"`'
                )
        self._keys = tuple(keys)
        self._sealer_id = _key_id(keys[0])
        self._ciphers: dict[bytes, AESGCM] | None = None  # by key id; the first key's seals

    def _cipher(self, key_id: bytes) -> AESGCM | None:
        if self._ciphers is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._ciphers = {_key_id(key): AESGCM(key) for key in self._keys}
        return self._ciphers.get(key_id)

    @classmethod
    def from_strings(cls, keys: Sequence[str]) -> KeyRing:
        return cls([_decode_key(key) for key in keys])

    @classmethod
    def generated(cls) -> KeyRing:
        """One random key, known to this process only."""
        return cls([os.urandom(KEY_BYTES)])

    def seal(self, payload: bytes, bound_to: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealer = self._cipher(self._sealer_id)
        assert sealer is not None
        sealed = sealer.encrypt(nonce, payload, bound_to)
        token = base64.urlsafe_b64encode(self._sealer_id + nonce + sealed).decode().rstrip("=")
        return _VERSION + token

    def unseal(self, token: str, bound_to: bytes) -> bytes | None:
        """The payload, or None: not a token of ours, altered, bound to something else, or sealed with a key
        no longer in the ring (all look the same from outside, on purpose)."""
        if not token.startswith(_VERSION):
            return None
        raw = _b64decode(token[len(_VERSION) :])
        if raw is None or len(raw) < _KEY_ID_BYTES + _NONCE_BYTES + 16:
            return None
        opener = self._cipher(raw[:_KEY_ID_BYTES])
        if opener is None:
            return None
        from cryptography.exceptions import InvalidTag

        nonce = raw[_KEY_ID_BYTES : _KEY_ID_BYTES + _NONCE_BYTES]
        try:
            return opener.decrypt(nonce, raw[_KEY_ID_BYTES + _NONCE_BYTES :], bound_to)
        except InvalidTag:
            return None
