"""Encryption at rest of a record's `auth` (tokens, PKCE verifier...): AES-256-GCM through the server's KeyRing
(trio_mcp/_runtime/sealing.py: the first key encrypts, every key decrypts, so keys rotate).

The associated data names the record (user_id, session_id): a blob copied into another record does not open.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeAlias, cast

from ..._runtime.sealing import KeyRing, KeyRingError
from ..._stores._base import dump_json
from ._base import ClientAuthUnreadable, ClientRegistryConfigError

KEY_ENV = "TRIO_MCP_CLIENT_STORE_KEY"
Keys: TypeAlias = "str | Sequence[str] | None"  # one comma-separated string or a list of base64 keys


def _bound_to(user_id: str, session_id: str) -> bytes:
    # JSON: unambiguous whatever the ids contain.
    return dump_json(["trio-mcp client auth", user_id, session_id]).encode()


class AuthSealer:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    @classmethod
    def from_keys(cls, keys: Keys, *, source: str = KEY_ENV) -> AuthSealer | None:
        """None when no key is given (auth is then stored in clear); ClientRegistryConfigError naming `source`
        for a key that is not 32 bytes of base64."""
        if keys is None:
            return None
        texts = [k for k in (keys.split(",") if isinstance(keys, str) else keys) if k.strip()]
        if not texts:
            return None
        try:
            return cls(KeyRing.from_strings(texts))
        except KeyRingError as exc:
            raise ClientRegistryConfigError(f"{source}: {exc}") from None

    def seal(self, auth: dict[str, Any], user_id: str, session_id: str) -> str:
        return self._ring.seal(dump_json(auth).encode(), _bound_to(user_id, session_id))

    def open(self, token: str, user_id: str, session_id: str) -> dict[str, Any]:
        payload = self._ring.unseal(token, _bound_to(user_id, session_id))
        if payload is None:
            raise unreadable(
                user_id,
                session_id,
                f"does not decrypt with the keys in {KEY_ENV} (written with another key, or copied from "
                "another record); put the key it was written with back in the ring",
            )
        return cast(dict[str, Any], json.loads(payload))


def unreadable(user_id: str, session_id: str, why: str) -> ClientAuthUnreadable:
    return ClientAuthUnreadable(
        f"the auth state of client session {session_id!r} of user {user_id!r} {why}",
        user_id=user_id,
        session_id=session_id,
    )
