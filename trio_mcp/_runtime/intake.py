"""One verdict per incoming message, for every transport (HTTP POST bodies, stdio lines, WebSocket frames).

`triage` sorts a parsed body into what to answer at once (invalid messages, refused requests), requests to run,
notifications to handle, client replies to route, and refused notifications. Transports only render the
verdict: JSON-RPC never answers a notification (JSON-RPC 2.0 §4.1), so HTTP refuses a bad single
notification with a 400 status and stdio logs it.
"""

from __future__ import annotations

import attrs

from .._proto.errors import RemoteProtocolError
from .._proto.jsonrpc import (
    ErrorResponse,
    InvalidMessage,
    Notification,
    ParsedBody,
    Response,
    error_response,
)
from .._proto.session import NotificationReceived, RequestReceived
from .dispatcher import Dispatcher
from .state import ServerSession


@attrs.frozen(kw_only=True)
class Intake:
    #: error responses to send now: invalid batch items, requests the protocol refused
    replies: tuple[ErrorResponse, ...] = ()
    #: accepted requests, in order (each to run in its own task, or inline for initialize)
    requests: tuple[RequestReceived, ...] = ()
    #: accepted notifications, in order
    notifications: tuple[NotificationReceived, ...] = ()
    #: the client's replies to server-to-client requests, to route to whoever waits for them
    responses: tuple[Response | ErrorResponse, ...] = ()
    #: notifications the protocol refused (nobody to answer: the transport decides how to say so)
    refused: tuple[RemoteProtocolError, ...] = ()


def triage(dispatcher: Dispatcher, session: ServerSession, parsed: ParsedBody) -> Intake:
    """Check every message of `parsed` against the session's protocol state (sans I/O: nothing runs yet)."""
    replies: list[ErrorResponse] = []
    requests: list[RequestReceived] = []
    notifications: list[NotificationReceived] = []
    responses: list[Response | ErrorResponse] = []
    refused: list[RemoteProtocolError] = []
    for message in parsed.messages:
        if isinstance(message, InvalidMessage):
            replies.append(error_response(message.id, message.error.code, message.error.message))
        elif isinstance(message, Response | ErrorResponse):
            responses.append(message)
        elif isinstance(message, Notification):
            try:
                event = dispatcher.receive(session, message)
            except RemoteProtocolError as exc:
                refused.append(exc)
                continue
            assert isinstance(event, NotificationReceived)
            notifications.append(event)
        else:
            event = dispatcher.receive(session, message)
            if isinstance(event, ErrorResponse):
                replies.append(event)
            else:
                assert isinstance(event, RequestReceived)
                requests.append(event)
    return Intake(
        replies=tuple(replies),
        requests=tuple(requests),
        notifications=tuple(notifications),
        responses=tuple(responses),
        refused=tuple(refused),
    )
