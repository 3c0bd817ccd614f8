"""The requestState key ring (trio_mcp/_runtime/sealing.py) and the rounds it seals (input_round.py)."""

from __future__ import annotations

import base64

import pytest

from trio_mcp._proto.errors import McpError
from trio_mcp._runtime.input_round import InputRequired, RequestStates, ask_key, only_input_required
from trio_mcp._runtime.sealing import KeyRing, KeyRingError, new_key


def ring(*keys: str) -> KeyRing:
    return KeyRing.from_strings(list(keys))


def test_the_first_key_seals_and_every_key_opens() -> None:
    old, new = new_key(), new_key()
    sealed_before = ring(old).seal(b"payload", b"request-1")
    rotating = ring(new, old)
    assert rotating.unseal(sealed_before, b"request-1") == b"payload"
    sealed_now = rotating.seal(b"payload", b"request-1")
    assert ring(new).unseal(sealed_now, b"request-1") == b"payload"
    assert ring(old).unseal(sealed_now, b"request-1") is None  # sealed with a key it never had
    assert ring(new).unseal(sealed_before, b"request-1") is None  # the old key is retired


def test_a_token_opens_only_for_what_it_was_bound_to() -> None:
    keys = ring(new_key())
    sealed = keys.seal(b"payload", b"request-1")
    assert keys.unseal(sealed, b"request-2") is None


@pytest.mark.parametrize("position", [3, 10, 20, -1])
def test_any_altered_byte_is_refused(position: int) -> None:
    keys = ring(new_key())
    sealed = keys.seal(b"payload", b"bound")
    raw = bytearray(base64.urlsafe_b64decode(sealed[3:] + "=" * (-len(sealed[3:]) % 4)))
    raw[position] ^= 1
    altered = "v1." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert keys.unseal(altered, b"bound") is None


@pytest.mark.parametrize("token", ["", "v1.", "v1.%%%", "v2.AAAA", "v1." + "A" * 20, "not a token"])
def test_garbage_is_refused_not_raised(token: str) -> None:
    assert ring(new_key()).unseal(token, b"bound") is None


def test_two_seals_of_one_payload_differ() -> None:
    keys = ring(new_key())
    assert keys.seal(b"p", b"b") != keys.seal(b"p", b"b")  # a fresh nonce each time


@pytest.mark.parametrize("key", ["short", base64.b64encode(b"x" * 16).decode(), "!" * 43])
def test_a_key_that_is_not_32_bytes_is_refused_with_how_to_make_one(key: str) -> None:
    with pytest.raises(KeyRingError, match=r"key 2 of the ring is not 32 bytes.*secrets.token_urlsafe\(32\)"):
        ring(new_key(), key)


def test_standard_base64_keys_are_accepted_too() -> None:
    key = base64.b64encode(b"\xfb" * 32).decode()  # '+' and '/' and padding
    keys = ring(key)
    assert keys.unseal(keys.seal(b"p", b"b"), b"b") == b"p"


def test_an_empty_ring_is_refused() -> None:
    with pytest.raises(KeyRingError):
        KeyRing([])


def test_a_raw_key_of_the_wrong_length_is_refused_when_the_ring_is_made() -> None:
    # Not at the first seal, which is when the cipher is built (cryptography is imported on first use).
    with pytest.raises(KeyRingError, match="key 2 of the ring is not 32 bytes"):
        KeyRing([b"k" * 32, b"k" * 16])


def states(clock: float = 1000.0) -> RequestStates:
    return RequestStates(ring=ring(new_key()), audience="server-a", ttl=600, clock=lambda: clock)


def test_a_round_carries_what_the_handler_used_to_the_next() -> None:
    s = states()
    first = s.open_round("tools/call", {"name": "t", "arguments": {"a": 1}}, "ada")
    assert first.answer("k1") is None
    first.ask("k1", "roots/list", {})
    result = first.result()
    assert result["resultType"] == "input_required"
    assert result["inputRequests"] == {"k1": {"method": "roots/list", "params": {}}}
    retry = {
        "name": "t",
        "arguments": {"a": 1},
        "requestState": result["requestState"],
        "inputResponses": {"k1": {"roots": []}, "noise": {"x": 1}},
    }
    second = s.open_round("tools/call", retry, "ada")
    assert second.resumed
    assert second.answer("k1") == {"roots": []}
    sealed = second.result()["requestState"]
    third = s.open_round("tools/call", {"name": "t", "arguments": {"a": 1}, "requestState": sealed}, "ada")
    assert third.offered == {"k1": {"roots": []}}  # the used answer, not the noise


def test_a_sealed_answer_wins_over_one_the_client_sends_again() -> None:
    s = states()
    first = s.open_round("tools/call", {"name": "t", "inputResponses": {"k": {"v": 1}}}, None)
    assert first.answer("k") == {"v": 1}
    sealed = first.result()["requestState"]
    second = s.open_round(
        "tools/call", {"name": "t", "requestState": sealed, "inputResponses": {"k": {"v": 2}}}, None
    )
    assert second.answer("k") == {"v": 1}


@pytest.mark.parametrize(
    ("method", "params", "principal"),
    [
        ("tools/call", {"name": "other"}, "ada"),
        ("tools/call", {"name": "t", "arguments": {"a": 2}}, "ada"),
        ("tools/call", {"name": "t", "arguments": {"a": 1}}, "eve"),
        ("tools/call", {"name": "t", "arguments": {"a": 1}}, None),
        ("prompts/get", {"name": "t", "arguments": {"a": 1}}, "ada"),
    ],
)
def test_a_state_is_bound_to_its_request_and_principal(
    method: str, params: dict[str, object], principal: str | None
) -> None:
    s = states()
    sealed = s.open_round("tools/call", {"name": "t", "arguments": {"a": 1}}, "ada").result()["requestState"]
    with pytest.raises(McpError, match="Invalid or expired requestState: it does not verify"):
        s.open_round(method, {**params, "requestState": sealed}, principal)


def test_a_state_is_bound_to_its_audience() -> None:
    keys = ring(new_key())
    a = RequestStates(ring=keys, audience="server-a")
    b = RequestStates(ring=keys, audience="server-b")
    sealed = a.open_round("tools/call", {"name": "t"}, None).result()["requestState"]
    assert a.open_round("tools/call", {"name": "t", "requestState": sealed}, None).resumed
    with pytest.raises(McpError, match="does not verify"):
        b.open_round("tools/call", {"name": "t", "requestState": sealed}, None)


def test_a_state_expires_after_its_ttl() -> None:
    keys = ring(new_key())
    now = [1000.0]
    s = RequestStates(ring=keys, audience="a", ttl=600, clock=lambda: now[0])
    sealed = s.open_round("resources/read", {"uri": "x://y"}, None).result()["requestState"]
    now[0] += 599
    assert s.open_round("resources/read", {"uri": "x://y", "requestState": sealed}, None).resumed
    now[0] += 2
    with pytest.raises(McpError, match="it expired"):
        s.open_round("resources/read", {"uri": "x://y", "requestState": sealed}, None)


def test_keys_of_unnamed_asks_depend_on_what_is_asked_and_how_often() -> None:
    s = states()
    r = s.open_round("tools/call", {"name": "t"}, None)
    first, again, other = (
        r.key_for("roots/list", {}),
        r.key_for("roots/list", {}),
        r.key_for("roots/list", {"x": 1}),
    )
    assert len({first, again, other}) == 3
    assert first == ask_key("roots/list", {}, 0)
    assert first.startswith("roots-")
    r2 = s.open_round("tools/call", {"name": "t"}, None)
    assert r2.key_for("roots/list", {}) == first  # the same on the next round


def test_only_input_required_ends_a_round() -> None:
    assert only_input_required(InputRequired("k"))
    assert only_input_required(BaseExceptionGroup("g", [InputRequired("a"), InputRequired("b")]))
    assert not only_input_required(BaseExceptionGroup("g", [InputRequired("a"), ValueError()]))
    assert not only_input_required(ValueError())
