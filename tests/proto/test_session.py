"""ProtocolSession: the sans-IO lifecycle state machine (plain sync tests, no trio)."""

from __future__ import annotations

from typing import Any

import pytest

from trio_mcp._proto import types as t
from trio_mcp._proto.errors import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    LocalProtocolError,
    RemoteProtocolError,
)
from trio_mcp._proto.jsonrpc import ErrorObject, ErrorResponse, Notification, Request, Response
from trio_mcp._proto.methods import METHODS, Direction
from trio_mcp._proto.session import (
    CLOSED,
    INITIALIZE_SENT,
    INITIALIZING,
    NEW,
    READY,
    STATES,
    TRANSITIONS,
    ErrorReceived,
    NotificationReceived,
    ProtocolSession,
    RequestReceived,
    ResponseReceived,
    Role,
    State,
    Transition,
    elicitation_modes,
)
from trio_mcp._proto.versions import LATEST_VERSION, SUPPORTED_VERSIONS

SERVER_INFO = t.Implementation(name="srv", version="1.0")
CLIENT_INFO = t.Implementation(name="cli", version="2.0")
SERVER_CAPS = t.ServerCapabilities(tools=t.ToolsCapability(list_changed=True), logging={})


def init_params(version: str = LATEST_VERSION, capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "protocolVersion": version,
        "capabilities": capabilities if capabilities is not None else {},
        "clientInfo": {"name": "cli", "version": "2.0"},
    }


def initialized_server(
    capabilities: dict[str, Any] | None = None, version: str = LATEST_VERSION, **kwargs: Any
) -> ProtocolSession:
    """A server session taken through the whole handshake to READY."""
    session = ProtocolSession(Role.SERVER, **kwargs)
    event = session.receive(Request(id=0, method="initialize", params=init_params(version, capabilities)))
    assert isinstance(event, RequestReceived)
    session.accept_initialize(event.params, SERVER_CAPS, SERVER_INFO)
    session.receive(Notification(method="notifications/initialized"))
    assert session.state is READY
    return session


def initialize_result(version: str = LATEST_VERSION) -> dict[str, Any]:
    return {
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": True}, "logging": {}},
        "serverInfo": {"name": "srv", "version": "1.0"},
    }


def initialized_client() -> ProtocolSession:
    session = ProtocolSession(Role.CLIENT)
    request = session.send_request(
        "initialize",
        t.InitializeRequestParams(
            protocol_version=LATEST_VERSION, capabilities=t.ClientCapabilities(), client_info=CLIENT_INFO
        ),
    )
    session.receive(Response(id=request.id, result=initialize_result()))
    session.send_notification("notifications/initialized")
    assert session.state is READY
    return session


def remote_error(session: ProtocolSession, message: Any) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        session.receive(message)
    return info.value


# --- the transition table ---------------------------------------------------------------------------------


def _key_id(key: tuple[Role, State, Transition]) -> str:
    role, state, transition = key
    return f"{role.value}-{state.name}-{transition.name}"


ALL_KEYS = [(role, state, tr) for role in Role for state in STATES.values() for tr in Transition]
MISSING_KEYS = [key for key in ALL_KEYS if key not in TRANSITIONS]


def test_table_shape() -> None:
    assert set(STATES) == {"NEW", "INITIALIZE_SENT", "INITIALIZING", "READY", "CLOSED"}
    assert [repr(s) for s in (NEW, INITIALIZE_SENT, INITIALIZING, READY, CLOSED)] == list(STATES)
    # 7 lifecycle edges, 5 restore edges (server only), the 2026-07-28 client's start without a handshake,
    # plus CLOSE from each of the 5 states for each of the 2 roles; 10 transitions in all.
    assert len(TRANSITIONS) == 7 + 5 + 1 + 5 * 2
    assert len(MISSING_KEYS) == len(ALL_KEYS) - len(TRANSITIONS) == 2 * 5 * 10 - 23
    assert all(target in STATES.values() for target in TRANSITIONS.values())


@pytest.mark.parametrize("key", list(TRANSITIONS), ids=_key_id)
def test_every_table_entry_moves_to_its_target(key: tuple[Role, State, Transition]) -> None:
    role, state, transition = key
    session = ProtocolSession(role, state=state)
    session._transition(transition)
    assert session.state is TRANSITIONS[key]


@pytest.mark.parametrize("key", MISSING_KEYS, ids=_key_id)
def test_every_missing_pair_is_a_local_protocol_error(key: tuple[Role, State, Transition]) -> None:
    role, state, transition = key
    session = ProtocolSession(role, state=state)
    with pytest.raises(LocalProtocolError) as info:
        session._transition(transition)
    assert info.value.message == f"cannot {transition.value} in state {state.name} as {role.value}"
    assert session.state is state


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("state", list(STATES.values()), ids=repr)
def test_close_from_every_state(role: Role, state: State) -> None:
    session = ProtocolSession(role, state=state)
    session.close()
    assert session.state is CLOSED


def test_server_lifecycle_through_public_api() -> None:
    session = ProtocolSession(Role.SERVER)
    assert session.state is NEW
    event = session.receive(Request(id=1, method="initialize", params=init_params()))
    # (S, NEW, RECV_INITIALIZE) -> NEW: the server stays NEW until it has answered.
    assert session.state is NEW
    assert isinstance(event, RequestReceived)
    assert event.params == t.InitializeRequestParams(
        protocol_version=LATEST_VERSION, capabilities=t.ClientCapabilities(), client_info=CLIENT_INFO
    )
    session.accept_initialize(event.params, SERVER_CAPS, SERVER_INFO)
    assert session.state is INITIALIZING
    notification = session.receive(Notification(method="notifications/initialized"))
    assert notification == NotificationReceived(
        method="notifications/initialized", params=t.NotificationParams()
    )
    assert session.state is READY
    # (S, READY, RECV_INITIALIZED) -> READY: a repeated `initialized` is harmless.
    session.receive(Notification(method="notifications/initialized"))
    assert session.state is READY
    session.close()
    assert session.state is CLOSED


def test_client_lifecycle_through_public_api() -> None:
    session = ProtocolSession(Role.CLIENT)
    params = t.InitializeRequestParams(
        protocol_version="2025-06-18",
        capabilities=t.ClientCapabilities(roots=t.RootsCapability(list_changed=True)),
        client_info=CLIENT_INFO,
    )
    request = session.send_request("initialize", params)
    assert session.state is INITIALIZE_SENT
    assert request == Request(
        id=1,
        method="initialize",
        params={
            "protocolVersion": "2025-06-18",
            "capabilities": {"roots": {"listChanged": True}},
            "clientInfo": {"name": "cli", "version": "2.0"},
        },
    )
    event = session.receive(Response(id=1, result=initialize_result("2025-06-18")))
    assert session.state is INITIALIZING
    assert event == ResponseReceived(
        id=1,
        method="initialize",
        result=t.InitializeResult(
            protocol_version="2025-06-18", capabilities=SERVER_CAPS, server_info=SERVER_INFO
        ),
    )
    assert session.protocol_version == "2025-06-18"
    assert session.server_capabilities == SERVER_CAPS
    assert session.server_info == SERVER_INFO
    assert session.send_notification("notifications/initialized") == Notification(
        method="notifications/initialized", params=None
    )
    assert session.state is READY
    # Ordinary traffic now flows.
    assert session.send_request("tools/list", t.PaginatedRequestParams()) == Request(
        id=2, method="tools/list", params={}
    )


def test_client_cannot_send_initialized_before_the_result() -> None:
    session = ProtocolSession(Role.CLIENT)
    with pytest.raises(
        LocalProtocolError, match="cannot send notifications/initialized in state NEW as client"
    ):
        session.send_notification("notifications/initialized")
    session.send_request("initialize", init_params())
    with pytest.raises(
        LocalProtocolError, match="cannot send notifications/initialized in state INITIALIZE_SENT as client"
    ):
        session.send_notification("notifications/initialized")
    assert session.state is INITIALIZE_SENT


def test_client_cannot_send_initialize_twice() -> None:
    session = initialized_client()
    with pytest.raises(LocalProtocolError, match="cannot send initialize in state READY as client"):
        session.send_request("initialize", init_params())
    assert session.state is READY


def test_server_cannot_send_initialize_or_accept_twice() -> None:
    session = initialized_server()
    with pytest.raises(LocalProtocolError, match="a server does not send initialize"):
        session.send_request("initialize", init_params())
    params = t.InitializeRequestParams(
        protocol_version=LATEST_VERSION, capabilities=t.ClientCapabilities(), client_info=CLIENT_INFO
    )
    with pytest.raises(LocalProtocolError, match="cannot send InitializeResult in state READY as server"):
        session.accept_initialize(params, SERVER_CAPS, SERVER_INFO)
    assert session.state is READY


def test_accept_initialize_without_receiving_it_first_is_allowed_only_in_new() -> None:
    # The table only knows states: accept_initialize is legal from NEW, nowhere else.
    params = t.InitializeRequestParams(
        protocol_version=LATEST_VERSION, capabilities=t.ClientCapabilities(), client_info=CLIENT_INFO
    )
    client = ProtocolSession(Role.CLIENT)
    with pytest.raises(LocalProtocolError, match="cannot send InitializeResult in state NEW as client"):
        client.accept_initialize(params, SERVER_CAPS, SERVER_INFO)


def test_server_initialized_before_initialize_is_remote_error() -> None:
    session = ProtocolSession(Role.SERVER)
    err = remote_error(session, Notification(method="notifications/initialized"))
    assert err.code == INVALID_REQUEST
    assert err.message == "Invalid Request: notifications/initialized before the initialize request"
    assert session.state is NEW


def test_closed_session_refuses_everything() -> None:
    session = initialized_server()
    session.send_request("ping", None)
    session.close()
    assert not session.expects_response(1)
    for message in (
        Request(id=5, method="ping"),
        Notification(method="notifications/cancelled", params={"requestId": 1}),
        Response(id=1, result={}),
    ):
        err = remote_error(session, message)
        assert (err.code, err.message) == (INVALID_REQUEST, "the session is closed")
    with pytest.raises(LocalProtocolError, match=r"cannot send tools/list before initialization finished"):
        ProtocolSession(Role.CLIENT, state=CLOSED).send_request("tools/list", None)


# --- initialize and version negotiation ---------------------------------------------------------------------


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_supported_version_is_echoed(version: str) -> None:
    session = ProtocolSession(Role.SERVER)
    event = session.receive(Request(id=1, method="initialize", params=init_params(version)))
    result = session.accept_initialize(event.params, SERVER_CAPS, SERVER_INFO, instructions="be nice")
    assert result == t.InitializeResult(
        protocol_version=version, capabilities=SERVER_CAPS, server_info=SERVER_INFO, instructions="be nice"
    )
    assert session.protocol_version == version
    assert session.client_info == CLIENT_INFO
    assert session.client_capabilities == t.ClientCapabilities()
    assert session.server_capabilities == SERVER_CAPS
    assert session.server_info == SERVER_INFO


@pytest.mark.parametrize("version", ["2024-11-05", "2099-01-01", "not-a-version", ""])
def test_unknown_version_answered_with_latest(version: str) -> None:
    session = ProtocolSession(Role.SERVER)
    event = session.receive(Request(id=1, method="initialize", params=init_params(version)))
    result = session.accept_initialize(event.params, SERVER_CAPS, SERVER_INFO)
    assert result.protocol_version == "2025-11-25" == LATEST_VERSION
    assert session.protocol_version == "2025-11-25"
    assert result.instructions is None


def test_initialize_result_unstructures_to_wire_shape() -> None:
    session = ProtocolSession(Role.SERVER)
    event = session.receive(Request(id=1, method="initialize", params=init_params()))
    result = session.accept_initialize(event.params, SERVER_CAPS, SERVER_INFO, instructions="hi")
    assert session.send_result(1, result) == Response(
        id=1,
        result={
            "protocolVersion": "2025-11-25",
            "capabilities": {"logging": {}, "tools": {"listChanged": True}},
            "serverInfo": {"name": "srv", "version": "1.0"},
            "instructions": "hi",
        },
    )


def test_initialize_with_capabilities_is_typed() -> None:
    caps = {"sampling": {"tools": {}}, "elicitation": {"form": {}, "url": {}}, "roots": {"listChanged": True}}
    session = initialized_server(caps)
    assert session.client_capabilities == t.ClientCapabilities(
        sampling=t.SamplingCapability(tools={}),
        elicitation=t.ElicitationCapability(form={}, url={}),
        roots=t.RootsCapability(list_changed=True),
    )


@pytest.mark.parametrize(
    "method",
    ["tools/list", "tools/call", "resources/read", "logging/setLevel", "prompts/list", "completion/complete"],
)
def test_request_before_initialize_is_invalid_request(method: str) -> None:
    session = ProtocolSession(Role.SERVER)
    err = remote_error(session, Request(id=3, method=method, params={}))
    assert err.code == INVALID_REQUEST == -32600
    assert err.message == (
        f"Invalid Request: {method} received before initialization finished "
        "(L§Initialization: only ping is allowed before initialize)"
    )
    assert session.state is NEW


def test_ping_allowed_before_initialize() -> None:
    session = ProtocolSession(Role.SERVER)
    assert session.receive(Request(id=1, method="ping")) == RequestReceived(
        id=1, method="ping", params=t.RequestParams()
    )
    assert session.send_result(1, t.EmptyResult()) == Response(id=1, result={})
    assert session.state is NEW


def test_requests_between_initialize_result_and_initialized_are_served() -> None:
    # Over HTTP the `initialized` notification and the next request may race: INITIALIZING serves requests.
    session = ProtocolSession(Role.SERVER)
    event = session.receive(Request(id=1, method="initialize", params=init_params()))
    session.accept_initialize(event.params, SERVER_CAPS, SERVER_INFO)
    assert session.state is INITIALIZING
    event = session.receive(Request(id=2, method="tools/list", params={}))
    assert event == RequestReceived(id=2, method="tools/list", params=t.PaginatedRequestParams())


def test_notification_before_initialize() -> None:
    session = ProtocolSession(Role.SERVER)
    err = remote_error(session, Notification(method="notifications/roots/list_changed"))
    assert err.code == INVALID_REQUEST
    assert err.message == (
        "Invalid Request: notifications/roots/list_changed received before initialization finished"
    )
    # Cancellation and progress are allowed early.
    assert session.receive(
        Notification(method="notifications/cancelled", params={"requestId": 1, "reason": "x"})
    ) == NotificationReceived(
        method="notifications/cancelled", params=t.CancelledNotificationParams(request_id=1, reason="x")
    )


def test_second_initialize_rejected() -> None:
    session = ProtocolSession(Role.SERVER)
    event = session.receive(Request(id=1, method="initialize", params=init_params()))
    session.accept_initialize(event.params, SERVER_CAPS, SERVER_INFO)
    expected = "Invalid Request: initialize may be sent only once, as the first request of a session"
    for state in (INITIALIZING, READY):
        if state is READY:
            session.receive(Notification(method="notifications/initialized"))
        err = remote_error(session, Request(id=2, method="initialize", params=init_params("2025-03-26")))
        assert (err.code, err.message) == (INVALID_REQUEST, expected)
        assert session.state is state
        assert session.protocol_version == LATEST_VERSION


# --- method and params checks -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["foo/bar", "tools/delete", "", "notifications/initialized"])
def test_unknown_request_method(method: str) -> None:
    session = initialized_server()
    err = remote_error(session, Request(id=9, method=method))
    assert (err.code, err.message) == (METHOD_NOT_FOUND, f"Method not found: {method}")


@pytest.mark.parametrize("method", ["foo/bar", "notifications/initialized"])
def test_unknown_request_method_before_initialize_is_method_not_found(method: str) -> None:
    err = remote_error(ProtocolSession(Role.SERVER), Request(id=9, method=method))
    assert err.code == METHOD_NOT_FOUND == -32601


SERVER_TO_CLIENT_REQUESTS = sorted(
    m
    for m, spec in METHODS.items()
    if spec.direction is Direction.SERVER_TO_CLIENT and not spec.is_notification
)
CLIENT_TO_SERVER_REQUESTS = sorted(
    m
    for m, spec in METHODS.items()
    if spec.direction is Direction.CLIENT_TO_SERVER and not spec.is_notification
)


def test_method_directions_known() -> None:
    assert SERVER_TO_CLIENT_REQUESTS == ["elicitation/create", "roots/list", "sampling/createMessage"]
    assert "initialize" in CLIENT_TO_SERVER_REQUESTS
    assert "tools/call" in CLIENT_TO_SERVER_REQUESTS


@pytest.mark.parametrize("method", SERVER_TO_CLIENT_REQUESTS)
def test_server_to_client_method_sent_by_client(method: str) -> None:
    session = initialized_server()
    params = {"messages": [], "maxTokens": 5} if method == "sampling/createMessage" else {}
    err = remote_error(session, Request(id=4, method=method, params=params))
    assert (err.code, err.message) == (METHOD_NOT_FOUND, f"Method not found: {method}")


@pytest.mark.parametrize("method", CLIENT_TO_SERVER_REQUESTS)
def test_client_to_server_method_sent_by_server(method: str) -> None:
    session = initialized_client()
    err = remote_error(session, Request(id=4, method=method, params={}))
    assert (err.code, err.message) == (METHOD_NOT_FOUND, f"Method not found: {method}")


@pytest.mark.parametrize("method", SERVER_TO_CLIENT_REQUESTS)
def test_client_does_not_send_server_methods(method: str) -> None:
    session = initialized_client()
    with pytest.raises(LocalProtocolError, match=f"^a client does not send {method}$"):
        session.send_request(method, {})


@pytest.mark.parametrize("method", CLIENT_TO_SERVER_REQUESTS)
def test_server_does_not_send_client_methods(method: str) -> None:
    session = initialized_server()
    with pytest.raises(LocalProtocolError, match=f"^a server does not send {method}$"):
        session.send_request(method, {})


def test_send_request_refuses_notification_and_unknown_methods() -> None:
    session = initialized_server()
    for method in ("notifications/progress", "nope"):
        with pytest.raises(LocalProtocolError, match=f"{method} is not a request method"):
            session.send_request(method, {})
    for method in ("ping", "nope"):
        with pytest.raises(LocalProtocolError, match=f"{method} is not a notification method"):
            session.send_notification(method)


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("tools/call", {"name": 5}, "Invalid params: params.name: expected a string, got 5"),
        ("tools/call", {"arguments": {}}, "Invalid params: params.name: required field missing"),
        (
            "tools/call",
            {"name": "x", "arguments": [1]},
            "Invalid params: params.arguments: expected an object, got [1]",
        ),
        ("resources/read", {}, "Invalid params: params.uri: required field missing"),
        (
            "prompts/get",
            {"name": "p", "arguments": {"a": 1}},
            "Invalid params: params.arguments['a']: expected a string, got 1",
        ),
        ("logging/setLevel", {"level": "verbose"}, "Invalid params: params.level: verbose not in literal"),
        ("tools/list", {"cursor": 3}, "Invalid params: params.cursor: expected a string, got 3"),
    ],
)
def test_invalid_params_names_the_field(method: str, params: dict[str, Any], message: str) -> None:
    session = initialized_server()
    err = remote_error(session, Request(id=1, method=method, params=params))
    assert err.code == INVALID_PARAMS == -32602
    assert err.message.startswith(message)


def test_invalid_initialize_params_use_wire_names() -> None:
    session = ProtocolSession(Role.SERVER)
    err = remote_error(
        session,
        Request(
            id=1,
            method="initialize",
            params={"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "a"}},
        ),
    )
    assert (err.code, err.message) == (
        INVALID_PARAMS,
        "Invalid params: params.clientInfo.version: required field missing",
    )
    # A refused initialize leaves the session where it was, so a corrected one may follow.
    assert session.state is NEW
    session.receive(Request(id=2, method="initialize", params=init_params()))


def test_invalid_notification_params() -> None:
    session = initialized_server()
    err = remote_error(session, Notification(method="notifications/progress", params={"progress": 1}))
    assert (err.code, err.message) == (
        INVALID_PARAMS,
        "Invalid params: params.progressToken: required field missing",
    )


def test_unknown_notification_keeps_raw_params() -> None:
    session = initialized_server()
    assert session.receive(Notification(method="vendor/thing", params={"a": 1})) == NotificationReceived(
        method="vendor/thing", params={"a": 1}
    )
    # A request method sent as a notification is not a notification we know: ignored, never answered.
    assert session.receive(Notification(method="tools/list")) == NotificationReceived(
        method="tools/list", params=None
    )


def test_known_params_structured_and_progress_token() -> None:
    session = initialized_server()
    event = session.receive(
        Request(
            id="r1",
            method="tools/call",
            params={"name": "echo", "arguments": {"x": 1}, "_meta": {"progressToken": 7}, "extraKey": True},
        )
    )
    assert event == RequestReceived(
        id="r1",
        method="tools/call",
        params=t.CallToolRequestParams(name="echo", arguments={"x": 1}, meta={"progressToken": 7}),
    )
    assert event.progress_token == 7
    plain = session.receive(Request(id=2, method="tools/call", params={"name": "echo"}))
    assert plain.progress_token is None
    string_token = session.receive(
        Request(id=3, method="tools/list", params={"_meta": {"progressToken": "tok"}})
    )
    assert string_token.progress_token == "tok"


# --- ids and the pending table ------------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", [0, 7, -3, 2**53, "abc", "", "7"])
def test_string_and_int_request_ids_preserved(request_id: str | int) -> None:
    session = initialized_server()
    event = session.receive(Request(id=request_id, method="ping"))
    assert event.id == request_id
    assert type(event.id) is type(request_id)
    assert session.send_result(request_id, t.EmptyResult()) == Response(id=request_id, result={})


def test_pending_table_response_consumes() -> None:
    session = initialized_server({"roots": {}})
    first = session.send_request("ping", None)
    second = session.send_request("roots/list", t.RequestParams())
    assert (first.id, second.id) == (1, 2)
    assert first == Request(id=1, method="ping", params={})
    assert session.expects_response(1)
    assert session.expects_response(2)
    # Out of order replies are matched by id and typed by the method sent.
    event = session.receive(Response(id=2, result={"roots": [{"uri": "file:///r", "name": "r"}]}))
    assert event == ResponseReceived(
        id=2, method="roots/list", result=t.ListRootsResult(roots=[t.Root(uri="file:///r", name="r")])
    )
    assert not session.expects_response(2)
    assert session.expects_response(1)
    assert session.receive(Response(id=1, result={})) == ResponseReceived(
        id=1, method="ping", result=t.EmptyResult()
    )
    assert not session.expects_response(1)
    # A duplicate reply is refused: nothing awaits it any more.
    err = remote_error(session, Response(id=1, result={}))
    assert (err.code, err.message) == (
        INVALID_REQUEST,
        "Invalid Request: a response to request id 1, which is not awaiting one",
    )


def test_pending_table_error_consumes() -> None:
    session = initialized_server()
    request = session.send_request("ping", None)
    error = ErrorObject(code=-1, message="no", data={"why": "because"})
    assert session.receive(ErrorResponse(id=request.id, error=error)) == ErrorReceived(
        id=1, method="ping", error=error
    )
    assert not session.expects_response(1)
    err = remote_error(session, ErrorResponse(id=1, error=error))
    assert (err.code, err.message) == (
        INVALID_REQUEST,
        "Invalid Request: an error response to request id 1, which is not awaiting one",
    )


def test_error_response_without_id() -> None:
    session = initialized_server()
    session.send_request("ping", None)
    error = ErrorObject(code=-32700, message="Parse error")
    assert session.receive(ErrorResponse(id=None, error=error)) == ErrorReceived(
        id=None, method=None, error=error
    )
    # The pending request is untouched.
    assert session.expects_response(1)


def test_bad_result_is_invalid_params_and_consumes() -> None:
    session = initialized_server({"roots": {}})
    request = session.send_request("roots/list", None)
    err = remote_error(session, Response(id=request.id, result={"roots": "nope"}))
    assert err.code == INVALID_PARAMS
    assert err.message.startswith("Invalid result: result.roots")
    assert not session.expects_response(request.id)


@pytest.mark.parametrize("reply_id", [99, "1", "abc"])
def test_response_to_unknown_id(reply_id: str | int) -> None:
    session = initialized_server()
    session.send_request("ping", None)  # id 1 (an int): "1" is a different id
    err = remote_error(session, Response(id=reply_id, result={}))
    assert (err.code, err.message) == (
        INVALID_REQUEST,
        f"Invalid Request: a response to request id {reply_id!r}, which is not awaiting one",
    )
    err = remote_error(session, ErrorResponse(id=reply_id, error=ErrorObject(code=1, message="x")))
    assert err.code == INVALID_REQUEST
    assert session.expects_response(1)


def test_forget_request() -> None:
    session = initialized_server()
    request = session.send_request("ping", None)
    session.forget_request(request.id)
    assert not session.expects_response(request.id)
    err = remote_error(session, Response(id=request.id, result={}))
    assert err.code == INVALID_REQUEST
    session.forget_request(12345)  # unknown ids are fine


def test_close_clears_pending() -> None:
    session = initialized_server()
    session.send_request("ping", None)
    session.close()
    assert not session.expects_response(1)


def test_ids_never_reused() -> None:
    session = initialized_server()
    ids = [session.send_request("ping", None).id for _ in range(50)]
    for request_id in ids:
        session.receive(Response(id=request_id, result={}))
    ids.append(session.send_request("ping", None).id)
    assert ids == list(range(1, 52))


def test_id_prefix() -> None:
    session = initialized_server(id_prefix="inst-a:")
    first = session.send_request("ping", None)
    second = session.send_request("ping", None)
    assert (first.id, second.id) == ("inst-a:1", "inst-a:2")
    assert session.next_request_id() == "inst-a:3"
    assert not session.expects_response(1)
    assert session.expects_response("inst-a:1")
    err = remote_error(session, Response(id=1, result={}))
    assert err.code == INVALID_REQUEST
    assert session.receive(Response(id="inst-a:2", result={})).method == "ping"
    assert session.receive(Response(id="inst-a:1", result={})).method == "ping"


def test_two_sessions_with_different_prefixes_do_not_collide() -> None:
    a = initialized_server(id_prefix="a-")
    b = initialized_server(id_prefix="b-")
    assert {a.send_request("ping", None).id, b.send_request("ping", None).id} == {"a-1", "b-1"}


# --- batches ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "allowed"), [("2025-03-26", True), ("2025-06-18", False), ("2025-11-25", False)]
)
def test_batches_only_in_2025_03_26(version: str, allowed: bool) -> None:
    session = initialized_server(version=version)
    assert session.batches_allowed is allowed
    if allowed:
        session.check_batch()
    else:
        with pytest.raises(RemoteProtocolError) as info:
            session.check_batch()
        assert info.value.code == INVALID_REQUEST
        assert info.value.message == (
            f"Invalid Request: JSON-RPC batches are not allowed in protocol version {version}; "
            "batching was removed in 2025-06-18"
        )


def test_batch_refused_before_version_known() -> None:
    session = ProtocolSession(Role.SERVER)
    assert session.batches_allowed is False
    with pytest.raises(RemoteProtocolError, match="not allowed in protocol version None") as info:
        session.check_batch()
    assert info.value.code == INVALID_REQUEST


# --- capabilities for server->client requests -----------------------------------------------------------------

FORM = {"message": "name?", "requestedSchema": {"type": "object", "properties": {"n": {"type": "string"}}}}
URL = t.ElicitRequestURLParams(message="pay", elicitation_id="e1", url="https://example.com/pay")
URL_DICT = {"mode": "url", "message": "pay", "elicitationId": "e1", "url": "https://example.com/pay"}
TYPED_FORM = t.ElicitRequestFormParams(
    message="name?",
    requested_schema=t.ElicitRequestedSchema(properties={"n": t.StringSchema()}),
)


@pytest.mark.parametrize(
    ("elicitation", "modes"),
    [
        (None, set()),
        ({}, {"form"}),
        ({"form": {}}, {"form"}),
        ({"url": {}}, {"url"}),
        ({"form": {}, "url": {}}, {"form", "url"}),
    ],
)
def test_elicitation_capability_modes(elicitation: dict[str, Any] | None, modes: set[str]) -> None:
    caps: dict[str, Any] = {} if elicitation is None else {"elicitation": elicitation}
    session = initialized_server(caps)
    assert elicitation_modes(session.client_capabilities) == modes
    for mode, params in (("form", FORM), ("form", TYPED_FORM), ("url", URL), ("url", URL_DICT)):
        if mode in modes:
            request = session.send_request("elicitation/create", params)
            assert request.method == "elicitation/create"
            assert session.expects_response(request.id)
        else:
            with pytest.raises(LocalProtocolError) as info:
                session.send_request("elicitation/create", params)
            assert info.value.code == METHOD_NOT_FOUND
            assert (
                info.value.message == f"the client did not declare the elicitation capability for {mode} mode"
            )


def test_elicitation_modes_of_missing_capabilities() -> None:
    assert elicitation_modes(None) == frozenset()
    assert elicitation_modes(t.ClientCapabilities()) == frozenset()


def test_refused_request_is_not_pending_and_uses_no_id() -> None:
    session = initialized_server()
    with pytest.raises(LocalProtocolError):
        session.send_request("elicitation/create", FORM)
    assert not session.expects_response(1)
    assert session.send_request("ping", None).id == 1


def test_elicitation_not_in_2025_03_26_even_if_declared() -> None:
    session = initialized_server({"elicitation": {"form": {}}}, version="2025-03-26")
    with pytest.raises(
        LocalProtocolError, match="elicitation does not exist in protocol version 2025-03-26"
    ) as info:
        session.send_request("elicitation/create", FORM)
    assert info.value.code == METHOD_NOT_FOUND


def test_elicit_url_wire_shape() -> None:
    session = initialized_server({"elicitation": {"url": {}}})
    assert session.send_request("elicitation/create", URL) == Request(
        id=1,
        method="elicitation/create",
        params={"mode": "url", "message": "pay", "elicitationId": "e1", "url": "https://example.com/pay"},
    )


SAMPLE = t.CreateMessageRequestParams(
    messages=[t.SamplingMessage(role="user", content=t.TextContent(text="hi"))], max_tokens=10
)
TOOL = t.Tool(name="calc", input_schema={"type": "object"})
SAMPLE_WITH_TOOLS = t.CreateMessageRequestParams(
    messages=[t.SamplingMessage(role="user", content=t.TextContent(text="hi"))], max_tokens=10, tools=[TOOL]
)
SAMPLE_WITH_CHOICE = t.CreateMessageRequestParams(
    messages=[t.SamplingMessage(role="user", content=t.TextContent(text="hi"))],
    max_tokens=10,
    tool_choice=t.ToolChoice(mode="auto"),
)
SAMPLE_DICT_WITH_TOOLS = {
    "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
    "maxTokens": 10,
    "tools": [{"name": "calc", "inputSchema": {"type": "object"}}],
}


def test_sampling_requires_capability() -> None:
    session = initialized_server()
    with pytest.raises(LocalProtocolError) as info:
        session.send_request("sampling/createMessage", SAMPLE)
    assert (info.value.code, info.value.message) == (
        METHOD_NOT_FOUND,
        "the client did not declare the sampling capability",
    )


def test_sampling_without_tools_capability() -> None:
    session = initialized_server({"sampling": {}})
    request = session.send_request("sampling/createMessage", SAMPLE)
    assert request.params == {
        "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
        "maxTokens": 10,
    }
    for params in (SAMPLE_WITH_TOOLS, SAMPLE_WITH_CHOICE, SAMPLE_DICT_WITH_TOOLS):
        with pytest.raises(LocalProtocolError) as info:
            session.send_request("sampling/createMessage", params)
        assert info.value.code == METHOD_NOT_FOUND
        assert info.value.message == (
            "the client did not declare sampling.tools, so a sampling request may not carry tools"
        )


def test_sampling_with_tools_capability() -> None:
    session = initialized_server({"sampling": {"tools": {}}})
    for params in (SAMPLE, SAMPLE_WITH_TOOLS, SAMPLE_WITH_CHOICE, SAMPLE_DICT_WITH_TOOLS):
        assert session.send_request("sampling/createMessage", params).method == "sampling/createMessage"
    event = session.receive(
        Response(id=2, result={"role": "assistant", "content": {"type": "text", "text": "4"}, "model": "m"})
    )
    assert event.result == t.CreateMessageResult(role="assistant", content=t.TextContent(text="4"), model="m")


def test_roots_requires_capability() -> None:
    with pytest.raises(LocalProtocolError) as info:
        initialized_server().send_request("roots/list", None)
    assert (info.value.code, info.value.message) == (
        METHOD_NOT_FOUND,
        "the client did not declare the roots capability",
    )
    assert initialized_server({"roots": {}}).send_request("roots/list", None) == Request(
        id=1, method="roots/list", params={}
    )


def test_server_ping_needs_no_capability() -> None:
    assert initialized_server().send_request("ping", None) == Request(id=1, method="ping", params={})


def test_server_request_before_initialize() -> None:
    session = ProtocolSession(Role.SERVER)
    with pytest.raises(
        LocalProtocolError, match=r"cannot send roots/list before initialization finished \(state NEW\)"
    ):
        session.send_request("roots/list", None)
    # ping and logging may go out early.
    assert session.send_request("ping", None).id == 1
    assert session.send_notification(
        "notifications/message", t.LoggingMessageNotificationParams(level="info", data="early")
    ) == Notification(method="notifications/message", params={"level": "info", "data": "early"})
    with pytest.raises(
        LocalProtocolError, match="cannot send notifications/tools/list_changed before initialization"
    ):
        session.send_notification("notifications/tools/list_changed")


@pytest.mark.parametrize(
    ("role", "method"),
    [
        (Role.SERVER, "notifications/initialized"),
        (Role.SERVER, "notifications/roots/list_changed"),
        (Role.CLIENT, "notifications/tools/list_changed"),
        (Role.CLIENT, "notifications/message"),
        (Role.CLIENT, "notifications/resources/updated"),
    ],
)
def test_notifications_of_the_other_direction_are_refused(role: Role, method: str) -> None:
    session = initialized_server() if role is Role.SERVER else initialized_client()
    with pytest.raises(LocalProtocolError, match=f"^a {role.value} does not send {method}$"):
        session.send_notification(method, {})
    assert session.state is READY


# --- logging -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", t.LOGGING_LEVELS)
def test_should_log_without_level_sends_everything(level: t.LoggingLevel) -> None:
    assert ProtocolSession(Role.SERVER).should_log(level) is True


@pytest.mark.parametrize("threshold", t.LOGGING_LEVELS)
def test_should_log_filters_below_threshold(threshold: t.LoggingLevel) -> None:
    session = initialized_server()
    event = session.receive(Request(id=1, method="logging/setLevel", params={"level": threshold}))
    assert event.params == t.SetLevelRequestParams(level=threshold)
    session.set_log_level(event.params.level)
    assert session.log_level == threshold
    cut = t.LOGGING_LEVELS.index(threshold)
    assert [level for level in t.LOGGING_LEVELS if session.should_log(level)] == list(t.LOGGING_LEVELS[cut:])


def test_should_log_warning() -> None:
    session = initialized_server()
    session.set_log_level("warning")
    assert {level: session.should_log(level) for level in t.LOGGING_LEVELS} == {
        "debug": False,
        "info": False,
        "notice": False,
        "warning": True,
        "error": True,
        "critical": True,
        "alert": True,
        "emergency": True,
    }


# --- the client side ---------------------------------------------------------------------------------------------


def test_client_early_traffic() -> None:
    session = ProtocolSession(Role.CLIENT)
    assert session.send_request("ping", None) == Request(id=1, method="ping", params={})
    with pytest.raises(
        LocalProtocolError, match=r"cannot send tools/list before initialization finished \(state NEW\)"
    ):
        session.send_request("tools/list", None)
    session.send_request("initialize", init_params())
    with pytest.raises(LocalProtocolError, match=r"\(state INITIALIZE_SENT\)"):
        session.send_request("tools/list", None)
    # A server ping before the InitializeResult is answered; other server requests are not.
    assert session.receive(Request(id="s1", method="ping")).method == "ping"
    err = remote_error(session, Request(id="s2", method="roots/list"))
    assert err.code == INVALID_REQUEST
    # The server may log before initialization.
    event = session.receive(
        Notification(method="notifications/message", params={"level": "info", "data": [1]})
    )
    assert event == NotificationReceived(
        method="notifications/message", params=t.LoggingMessageNotificationParams(level="info", data=[1])
    )


def test_client_initialize_error_leaves_state() -> None:
    session = ProtocolSession(Role.CLIENT)
    request = session.send_request("initialize", init_params())
    error = ErrorObject(code=-32602, message="Unsupported protocol version")
    assert session.receive(ErrorResponse(id=request.id, error=error)) == ErrorReceived(
        id=1, method="initialize", error=error
    )
    assert session.state is INITIALIZE_SENT
    assert session.protocol_version is None


def test_client_receives_server_requests() -> None:
    session = initialized_client()
    event = session.receive(
        Request(
            id="srv-1",
            method="sampling/createMessage",
            params={"messages": [{"role": "user", "content": {"type": "text", "text": "q"}}], "maxTokens": 3},
        )
    )
    assert event == RequestReceived(
        id="srv-1",
        method="sampling/createMessage",
        params=t.CreateMessageRequestParams(
            messages=[t.SamplingMessage(role="user", content=t.TextContent(text="q"))], max_tokens=3
        ),
    )
    event = session.receive(Request(id=2, method="elicitation/create", params=FORM))
    assert event.params == TYPED_FORM
    event = session.receive(Request(id=3, method="elicitation/create", params=URL_DICT))
    assert event.params == URL
    assert session.receive(Request(id=4, method="roots/list")) == RequestReceived(
        id=4, method="roots/list", params=t.RequestParams()
    )
    assert session.send_result(4, t.ListRootsResult(roots=[t.Root(uri="file:///x")])) == Response(
        id=4, result={"roots": [{"uri": "file:///x"}]}
    )
    err = remote_error(session, Request(id=5, method="elicitation/create", params={"message": "m"}))
    assert err.code == INVALID_PARAMS
    assert err.message == "Invalid params: params.requestedSchema: required field missing"


def test_client_receives_server_notifications() -> None:
    session = initialized_client()
    assert session.receive(
        Notification(method="notifications/resources/updated", params={"uri": "file:///a"})
    ) == NotificationReceived(
        method="notifications/resources/updated", params=t.ResourceUpdatedNotificationParams(uri="file:///a")
    )
    assert session.receive(Notification(method="notifications/tools/list_changed")) == NotificationReceived(
        method="notifications/tools/list_changed", params=t.NotificationParams()
    )
    # A client->server notification arriving at the client is not one it knows: passed on raw.
    assert session.receive(Notification(method="notifications/initialized")) == NotificationReceived(
        method="notifications/initialized", params=None
    )


def test_client_request_ids_and_cancel() -> None:
    session = initialized_client()  # initialize used id 1
    request = session.send_request("tools/call", t.CallToolRequestParams(name="slow"))
    assert request == Request(id=2, method="tools/call", params={"name": "slow"})
    cancel = session.send_notification(
        "notifications/cancelled", t.CancelledNotificationParams(request_id=2, reason="bored")
    )
    assert cancel == Notification(
        method="notifications/cancelled", params={"requestId": 2, "reason": "bored"}
    )
    session.forget_request(2)
    assert remote_error(session, Response(id=2, result={"content": []})).code == INVALID_REQUEST


def test_client_response_typed_by_method() -> None:
    session = initialized_client()
    request = session.send_request("tools/call", {"name": "x"})
    event = session.receive(
        Response(id=request.id, result={"content": [{"type": "text", "text": "ok"}], "isError": False})
    )
    assert event == ResponseReceived(
        id=request.id,
        method="tools/call",
        result=t.CallToolResult(content=[t.TextContent(text="ok")], is_error=False),
    )


def test_restore_takes_up_a_stored_session() -> None:
    pending = ProtocolSession(Role.SERVER)
    pending.restore(active=False, protocol_version="2025-06-18", log_level="debug")
    assert pending.state is INITIALIZING
    assert (pending.protocol_version, pending.log_level) == ("2025-06-18", "debug")
    pending.restore(active=True, protocol_version="2025-06-18")  # `initialized` reached another instance
    assert pending.state is READY
    # An active session never goes back to pending, whatever a stale record says.
    with pytest.raises(LocalProtocolError):
        pending.restore(active=False, protocol_version="2025-06-18")
    closed = ProtocolSession(Role.SERVER)
    closed.close()
    with pytest.raises(LocalProtocolError):
        closed.restore(active=True, protocol_version="2025-11-25")
    with pytest.raises(LocalProtocolError):
        ProtocolSession(Role.CLIENT).restore(active=True, protocol_version="2025-11-25")
