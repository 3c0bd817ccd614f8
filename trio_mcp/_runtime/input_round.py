"""Multi-round-trip requests of 2026-07-28 (SEP-2322, basic/patterns/mrtr): how a handler asks the client for
input when the era has no server-to-client requests (docs/architecture.md §9).

The handler runs again from the top on every round, with every answer so far. An ask whose answer is here
returns it; an ask without one is recorded and ends the run (`InputRequired`), and the request's result becomes
`resultType: "input_required"` with the recorded `inputRequests` and a sealed `requestState` carrying the
answers this run used. The client retries the request (a new id) with `inputResponses` and that state, on any
instance: nothing is kept on the server between rounds, so there is nothing to lose or route.

The state is sealed by the app's key ring (sealing.py), bound to the method, its target, a digest of its
arguments, the principal and the audience, and expires (MRTR §Server Requirements 4-5: integrity, principal,
TTL, originating request).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._proto.errors import INVALID_PARAMS, McpError
from .._proto.modern import INPUT_REQUIRED
from .sealing import KeyRing

log = logging.getLogger("trio_mcp")

DEFAULT_REQUEST_STATE_TTL = 600.0
INVALID_STATE = "Invalid or expired requestState"


class InputRequired(BaseException):
    """Ends a handler's run when an ask has no answer yet. A BaseException, like trio.Cancelled, so a handler's
    `except Exception` does not swallow it; the dispatcher turns it into the input_required result."""


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def ask_key(method: str, params: Mapping[str, Any], seen: int) -> str:
    """The key of an ask the handler did not name: from what it asks (so the same ask has the same key on
    every round, in whatever order concurrent asks run) and how many identical asks came before it."""
    digest = hashlib.sha256(_canonical([method, params, seen])).hexdigest()[:12]
    return f"{method.split('/')[0]}-{digest}"


@attrs.define(kw_only=True, eq=False)
class RequestStates:
    """Seals and opens the `requestState` of this app's requests. `audience` names this server in every
    state, so another server sharing the keys does not accept it."""

    ring: KeyRing
    audience: str
    ttl: float = DEFAULT_REQUEST_STATE_TTL
    clock: Callable[[], float] = time.time
    #: the ring is a key made for this process (no `request_state_keys`): said once, at the first seal
    ephemeral: bool = False

    def open_round(self, method: str, params: Mapping[str, Any], principal: str | None) -> InputRound:
        """The round a (re)tried request is in: its sealed answers and the client's new ones. McpError
        -32602 for a state that does not open here or has expired, and for malformed inputResponses."""
        binding = _Binding(self, method, params, principal)
        answers: dict[str, Any] = {}
        state = params.get("requestState")
        resumed = False
        if state is not None:
            if not isinstance(state, str):
                raise McpError(INVALID_PARAMS, f"{INVALID_STATE}: requestState must be a string")
            answers = self._open(state, binding.value())
            resumed = True
        offered = params.get("inputResponses", {})
        if not isinstance(offered, dict):
            raise McpError(
                INVALID_PARAMS,
                "Invalid params: inputResponses must be an object mapping each input request's key to the "
                "client's result for it",
            )
        # Answers sealed in an earlier round stand; the client's new ones fill in the rest.
        merged: dict[str, Any] = {**offered, **answers}  # pyright: ignore[reportUnknownArgumentType]
        return InputRound(self, binding, merged, resumed=resumed)

    def seal(self, binding: bytes, answers: Mapping[str, Any]) -> str:
        if self.ephemeral:
            self.ephemeral = False
            log.warning(
                "requestState is sealed with a key made for this process: a retry that reaches another "
                "instance, or comes after a restart, is refused; set TRIO_MCP_REQUEST_STATE_KEYS"
            )
        payload = {"exp": self.clock() + self.ttl, "answers": answers}
        return self.ring.seal(_canonical(payload), binding)

    def _open(self, state: str, binding: bytes) -> dict[str, Any]:
        opened = self.ring.unseal(state, binding)
        payload: dict[str, Any] = {}
        if opened is not None:
            try:
                loaded = json.loads(opened)  # sealed by us: a dict, unless a key leaked
            except ValueError:
                loaded = None
            payload = loaded if isinstance(loaded, dict) else {}  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(payload.get("answers"), dict):
            log.info("refused a requestState: altered, for another request or principal, or an unknown key")
            raise McpError(
                INVALID_PARAMS,
                f"{INVALID_STATE}: it does not verify (altered, sealed for another request or principal, or "
                "with a key this server no longer has); start the request again without it",
            )
        expires = payload.get("exp")
        if not isinstance(expires, int | float) or expires < self.clock():
            raise McpError(
                INVALID_PARAMS,
                f"{INVALID_STATE}: it expired (valid {self.ttl:g} s); start the request again without it",
            )
        return payload["answers"]  # pyright: ignore[reportUnknownVariableType]


@attrs.define(eq=False)
class _Binding:
    """What a state is bound to (the associated data of its seal), computed only when a state is opened or
    sealed: a call that never asks pays nothing for it."""

    states: RequestStates
    method: str
    params: Mapping[str, Any]
    principal: str | None
    _value: bytes | None = None

    def value(self) -> bytes:
        if self._value is None:
            params = self.params
            target = params.get("uri") if self.method == "resources/read" else params.get("name")
            arguments = hashlib.sha256(_canonical(params.get("arguments"))).hexdigest()
            bound = {"m": self.method, "t": target, "args": arguments, "p": self.principal}
            self._value = _canonical({**bound, "aud": self.states.audience})
        return self._value


@attrs.define(eq=False)
class InputRound:
    """One run of a handler in a multi-round-trip request: the answers it may use and the asks it made."""

    states: RequestStates
    binding: _Binding
    offered: dict[str, Any]
    #: a valid requestState came with the request (this is a later round)
    resumed: bool = False
    used: dict[str, Any] = attrs.field(factory=dict[str, Any])
    asked: dict[str, dict[str, Any]] = attrs.field(factory=dict[str, dict[str, Any]])
    _seen: dict[str, int] = attrs.field(factory=dict[str, int])

    def key_for(self, method: str, params: Mapping[str, Any]) -> str:
        digest = _canonical([method, params]).decode()
        seen = self._seen.get(digest, 0)
        self._seen[digest] = seen + 1
        return ask_key(method, params, seen)

    def answer(self, key: str) -> Any | None:
        """The client's raw result for `key`, or None when it has not answered it yet."""
        if key not in self.offered:
            return None
        self.used[key] = self.offered[key]
        return self.offered[key]

    def ask(self, key: str, method: str, params: dict[str, Any]) -> None:
        self.asked[key] = {"method": method, "params": params}

    def result(self) -> dict[str, Any]:
        """The InputRequiredResult (MRTR §InputRequiredResult): what is still asked, and the sealed answers
        so far (always a state, so a later round can tell it is one)."""
        return {
            "resultType": INPUT_REQUIRED,
            "inputRequests": dict(self.asked),
            "requestState": self.states.seal(self.binding.value(), self.used),
        }


def only_input_required(exc: BaseException) -> bool:
    """The run ended because asks lack answers (one InputRequired, or a group of them from a nursery whose
    tasks asked side by side)."""
    if isinstance(exc, InputRequired):
        return True
    if isinstance(exc, BaseExceptionGroup):
        group: BaseExceptionGroup[BaseException] = exc  # pyright: ignore[reportUnknownVariableType]
        return group.split(InputRequired)[1] is None
    return False
