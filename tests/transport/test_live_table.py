"""LiveTable (trio_mcp/_transport/live_table.py): one live copy per session while it has users, a closed copy
replaced by a fresh one, and `close` ending a copy's requests, stream and protocol."""

from __future__ import annotations

import attrs
import pytest
import trio

from trio_mcp._proto.session import CLOSED, READY
from trio_mcp._runtime.state import ServerSession
from trio_mcp._transport.live_table import LiveTable, StandaloneStream


def new_session(session_id: str = "s") -> ServerSession:
    return ServerSession.new(session_id, id_prefix="t-", reply_timeout=1.0)


@attrs.define(eq=False)
class Maker:
    """A `make` for LiveTable.enter that keeps every session it made."""

    session_id: str = "s"
    made: list[ServerSession] = attrs.field(factory=list[ServerSession])

    def __call__(self) -> ServerSession:
        self.made.append(new_session(self.session_id))
        return self.made[-1]


def test_concurrent_users_share_one_copy() -> None:
    table, make = LiveTable(), Maker()
    first = table.enter("s", make)
    second = table.enter("s", make)
    assert second is first
    assert first.users == 2
    assert [first.session] == make.made
    assert table.live == {"s": first}


def test_a_closed_copy_still_unwinding_is_replaced_by_a_new_one() -> None:
    table, make = LiveTable(), Maker()
    old = table.enter("s", make)
    old.session.protocol.close()
    new = table.enter("s", make)
    assert new is not old
    assert new.session is make.made[1]
    assert (old.users, new.users) == (1, 1)
    assert table.live["s"] is new


def test_enter_new_makes_the_given_session_the_copy_others_enter() -> None:
    table, make = LiveTable(), Maker()
    session = new_session()
    live = table.enter_new("s", session)
    assert live.session is session
    assert table.enter("s", make) is live
    assert live.users == 2
    assert make.made == []


def test_the_copy_goes_only_when_its_last_user_leaves() -> None:
    table, make = LiveTable(), Maker()
    live = table.enter("s", make)
    table.enter("s", make)
    table.leave(live)
    assert table.live["s"] is live
    table.leave(live)
    assert "s" not in table.live


def test_leaving_a_replaced_copy_keeps_the_newer_one() -> None:
    table, make = LiveTable(), Maker()
    old = table.enter("s", make)
    old.session.protocol.close()
    new = table.enter("s", make)
    table.leave(old)
    assert table.live["s"] is new
    table.leave(new)
    assert "s" not in table.live


@pytest.mark.parametrize("ended", [True, False])
async def test_close_cancels_requests_and_stream_and_closes_the_protocol(ended: bool) -> None:
    table = LiveTable()
    live = table.enter("s", Maker())
    requests = [trio.CancelScope(), trio.CancelScope()]
    live.session.in_flight.update({1: requests[0], "r-2": requests[1]})
    stream = StandaloneStream(scope=trio.CancelScope(), token="tok", session_ended=not ended)
    live.standalone = stream
    table.close("s", ended=ended)
    assert [scope.cancel_called for scope in requests] == [True, True]
    assert stream.scope.cancel_called
    assert stream.session_ended is ended
    assert live.session.protocol.state is CLOSED


def test_close_of_a_copy_without_stream_or_requests_closes_its_protocol() -> None:
    table = LiveTable()
    live = table.enter("s", Maker())
    table.close("s", ended=True)
    assert live.session.protocol.state is CLOSED


async def test_close_of_an_unknown_session_changes_nothing() -> None:
    table = LiveTable()
    live = table.enter("s", Maker())
    live.session.protocol.restore(active=True, protocol_version="2025-06-18")
    request = trio.CancelScope()
    live.session.in_flight[1] = request
    table.close("other", ended=True)
    assert live.session.protocol.state is READY
    assert not request.cancel_called
    assert table.live == {"s": live}


def _stream() -> StandaloneStream:
    return StandaloneStream(scope=trio.CancelScope(), token="mine")


def test_a_stream_taken_elsewhere_by_a_newer_hold_ends_this_one() -> None:
    stream = _stream()
    stream.held(5)
    stream.taken_elsewhere(6)
    assert stream.superseded
    assert stream.scope.cancel_called


def test_a_stream_taken_elsewhere_by_an_older_hold_stays() -> None:
    """The older stream's instance ends its own when this one's announcement reaches it."""
    stream = _stream()
    stream.held(5)
    stream.taken_elsewhere(4)
    assert not stream.superseded


@pytest.mark.parametrize(("ours", "theirs"), [(0, 4), (5, 0), (0, 0)])
def test_an_unknown_order_on_either_side_lets_the_announcement_win(ours: int, theirs: int) -> None:
    """0 is an order that could not be recorded (or an older version's announcement): the last announcement
    wins, as it did before holds had orders."""
    stream = _stream()
    stream.held(ours)
    stream.taken_elsewhere(theirs)
    assert stream.superseded


def test_an_older_hold_announced_while_this_one_subscribes_is_decided_once_held() -> None:
    stream = _stream()
    stream.taken_elsewhere(4)
    assert not stream.superseded  # its order is not known yet
    stream.held(5)
    assert not stream.superseded


def test_a_newer_hold_announced_while_this_one_subscribes_ends_it_once_held() -> None:
    stream = _stream()
    stream.taken_elsewhere(7)
    stream.taken_elsewhere(4)
    stream.held(5)
    assert stream.superseded


def test_an_unknown_hold_announced_while_this_one_subscribes_ends_it_at_once() -> None:
    stream = _stream()
    stream.taken_elsewhere(0)
    assert stream.superseded
