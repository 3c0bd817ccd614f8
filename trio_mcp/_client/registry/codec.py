"""A record as the backends keep it: compact JSON text (cattrs, camelCase), `auth` sealed when a key is set.

Backends store and compare these texts without understanding them; `peek` reads the few fields expiry and
ownership need without decrypting anything. A record's JSON holds either `auth` (in clear: no key was
configured when it was written) or `sealedAuth` (an AuthSealer token).
"""

from __future__ import annotations

import json
import logging
from typing import Any, cast

import attrs

from ..._proto.converter import make_converter
from ..._stores._base import dump_json
from ._base import ClientSessionExpiry, ClientSessionRecord
from .sealing import KEY_ENV, AuthSealer, unreadable

log = logging.getLogger("trio_mcp.client.registry")

_converter = make_converter()
_SEALED = "sealedAuth"


@attrs.frozen
class Stored:
    """A stored record read without decrypting: its text (what compare-and-swap compares), the record with
    `auth` left out, and the auth as stored (a dict in clear, a sealed token, or None)."""

    text: str
    record: ClientSessionRecord  # auth=None
    auth: dict[str, Any] | str | None

    @property
    def user_id(self) -> str:
        return self.record.user_id

    @property
    def session_id(self) -> str:
        return self.record.session_id

    def deadline(self, expiry: ClientSessionExpiry) -> float:
        return expiry.deadline(self.record.status, self.record.updated_at)


def encode(record: ClientSessionRecord, sealer: AuthSealer | None) -> str:
    obj: dict[str, Any] = _converter.unstructure(record)
    auth = obj.pop("auth", None)
    if auth is not None:
        if sealer is None:
            obj["auth"] = auth
        else:
            obj[_SEALED] = sealer.seal(auth, record.user_id, record.session_id)
    return dump_json(obj)


def peek(text: str, where: str) -> Stored | None:
    """The stored record, or None (with a warning naming `where`) when it is not one this version reads."""
    try:
        obj = json.loads(text)
        if not isinstance(obj, dict):
            raise TypeError("not a JSON object")
        fields = dict(cast(dict[str, Any], obj))
        auth = fields.pop(_SEALED, None)
        if auth is None:
            auth = fields.pop("auth", None)
        else:
            fields.pop("auth", None)
        if auth is not None and not isinstance(auth, dict | str):
            raise TypeError(f"auth is a {type(auth).__name__}")
        # A record written by a newer version with fields we do not know still loads (extras are ignored).
        record = _converter.structure(fields, ClientSessionRecord)
    except Exception as exc:  # JSON, cattrs and type errors alike: the record is skipped, never deleted
        log.warning("ignoring the unreadable client session record %s: %s", where, exc)
        return None
    return Stored(text, record, cast("dict[str, Any] | str | None", auth))


def copy(record: ClientSessionRecord) -> ClientSessionRecord:
    """A deep copy (the registry never hands out objects it or its caller keeps)."""
    return _converter.structure(_converter.unstructure(record), ClientSessionRecord)


def decode(stored: Stored, sealer: AuthSealer | None) -> ClientSessionRecord:
    """The whole record, its auth decrypted (ClientAuthUnreadable when it does not open)."""
    auth = stored.auth
    if isinstance(auth, str):
        if sealer is None:
            raise unreadable(
                stored.user_id,
                stored.session_id,
                f"is encrypted, and {KEY_ENV} is not set: configure its key",
            )
        auth = sealer.open(auth, stored.user_id, stored.session_id)
    return attrs.evolve(stored.record, auth=auth)
