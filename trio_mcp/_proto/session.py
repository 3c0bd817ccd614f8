"""ProtocolSession: the MCP lifecycle and message rules as a sans-IO state machine (modelled on h11's Connection).

Values in, values out: `receive(message)` turns a parsed JSON-RPC message into an event (or raises
RemoteProtocolError carrying the JSON-RPC error to answer with); `send_*` builds outgoing messages and raises
LocalProtocolError when we would break the protocol. No I/O and no clock: the caller does both.
"""

from __future__ import annotations

import enum
import itertools
from typing import Any, Final

import attrs
import cattrs

from . import types as t
from .converter import default_converter, structure_as
from .errors import INVALID_REQUEST, METHOD_NOT_FOUND, LocalProtocolError, McpError, RemoteProtocolError
from .jsonrpc import ErrorObject, ErrorResponse, Message, Notification, Request, RequestId, Response
from .methods import METHODS, MethodSpec
from .modern import INPUT_METHODS, INPUT_REQUIRED, MISSING_REQUIRED_CLIENT_CAPABILITY, MODERN_VERSIONS
from .versions import allows_batches, has_elicitation, negotiate


class Role(enum.Enum):
    SERVER = "server"
    CLIENT = "client"


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


# States are sentinels (h11 style). The lifecycle (L§Initialization):
#   NEW --initialize--> INITIALIZING --notifications/initialized--> READY;   any --close--> CLOSED
NEW: Final = _Sentinel("NEW")
INITIALIZE_SENT: Final = _Sentinel("INITIALIZE_SENT")  # client only: waiting for the InitializeResult
INITIALIZING: Final = _Sentinel("INITIALIZING")  # initialize answered, `notifications/initialized` not yet
READY: Final = _Sentinel("READY")
CLOSED: Final = _Sentinel("CLOSED")
State = _Sentinel

STATES: dict[str, State] = {s.name: s for s in (NEW, INITIALIZE_SENT, INITIALIZING, READY, CLOSED)}


class Transition(enum.Enum):
    SEND_INITIALIZE = "send initialize"
    RECV_INITIALIZE = "receive initialize"
    SEND_INITIALIZE_RESULT = "send InitializeResult"
    RECV_INITIALIZE_RESULT = "receive InitializeResult"
    SEND_INITIALIZED = "send notifications/initialized"
    RECV_INITIALIZED = "receive notifications/initialized"
    # A server instance taking up a session another instance (or an earlier copy) started, from its record.
    RESTORE_PENDING = "restore a session awaiting notifications/initialized"
    RESTORE_ACTIVE = "restore an initialized session"
    # A 2026-07-28 client (SEP-2575): no handshake; every request carries what initialize used to say.
    START_STATELESS = "start without a handshake (2026-07-28)"
    CLOSE = "close"


S, C = Role.SERVER, Role.CLIENT
# Every lifecycle transition, in one table. A pair missing here is a protocol error.
TRANSITIONS: Final[dict[tuple[Role, State, Transition], State]] = {
    (S, NEW, Transition.RECV_INITIALIZE): NEW,  # the server stays NEW until it has answered
    (S, NEW, Transition.SEND_INITIALIZE_RESULT): INITIALIZING,
    (S, INITIALIZING, Transition.RECV_INITIALIZED): READY,
    (S, READY, Transition.RECV_INITIALIZED): READY,  # a repeated `initialized` is harmless
    (S, NEW, Transition.RESTORE_PENDING): INITIALIZING,
    (S, INITIALIZING, Transition.RESTORE_PENDING): INITIALIZING,
    (S, NEW, Transition.RESTORE_ACTIVE): READY,
    (S, INITIALIZING, Transition.RESTORE_ACTIVE): READY,  # `initialized` reached another instance
    (S, READY, Transition.RESTORE_ACTIVE): READY,
    (C, NEW, Transition.SEND_INITIALIZE): INITIALIZE_SENT,
    (C, INITIALIZE_SENT, Transition.RECV_INITIALIZE_RESULT): INITIALIZING,
    (C, INITIALIZING, Transition.SEND_INITIALIZED): READY,
    (C, NEW, Transition.START_STATELESS): READY,
    **{(role, state, Transition.CLOSE): CLOSED for role in Role for state in STATES.values()},
}

# States in which ordinary (not `before_initialized`) traffic may flow. The server serves requests once it has
# answered initialize: over HTTP the `initialized` notification and the next request may race.
_OPERATING: Final = frozenset({INITIALIZING, READY})


# --- events ------------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, slots=True)
class RequestReceived:
    id: RequestId
    method: str
    params: Any  # the method table's params type

    @property
    def progress_token(self) -> t.ProgressToken | None:
        meta = getattr(self.params, "meta", None)
        return meta.get("progressToken") if isinstance(meta, dict) else None  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]


@attrs.frozen(kw_only=True, slots=True)
class NotificationReceived:
    method: str
    params: Any  # the table's params type; the raw dict for a notification we do not know


@attrs.frozen(kw_only=True, slots=True)
class ResponseReceived:
    id: RequestId
    method: str
    result: Any  # the method table's result type


@attrs.frozen(kw_only=True, slots=True)
class ErrorReceived:
    id: RequestId | None
    method: str | None
    error: ErrorObject


Event = RequestReceived | NotificationReceived | ResponseReceived | ErrorReceived


# --- capability rules for what we send ----------------------------------------------------------------------------


def elicitation_modes(caps: t.ClientCapabilities | None) -> frozenset[str]:
    """Cli/elicitation: `elicitation: {}` means form only; otherwise the declared modes."""
    if caps is None or caps.elicitation is None:
        return frozenset()
    e = caps.elicitation
    if e.form is None and e.url is None:
        return frozenset({"form"})
    return frozenset(mode for mode, value in (("form", e.form), ("url", e.url)) if value is not None)


# Params may be typed or a raw wire dict (send_request accepts both): check both shapes.
def _carries_tools(params: Any) -> bool:
    if isinstance(params, t.CreateMessageRequestParams):
        return bool(params.tools or params.tool_choice)
    if isinstance(params, dict):
        raw: dict[str, Any] = params  # pyright: ignore[reportUnknownVariableType]
        return bool(raw.get("tools") or raw.get("toolChoice"))
    return False


def _is_url_elicitation(params: Any) -> bool:
    if isinstance(params, dict):
        raw: dict[str, Any] = params  # pyright: ignore[reportUnknownVariableType]
        return raw.get("mode") == "url"
    return isinstance(params, t.ElicitRequestURLParams)


def _missing_capability(
    version: str, what: str, required: dict[str, Any], legacy: str | None = None
) -> LocalProtocolError | McpError:
    # 2026-07-28 (M§Error Codes) names the error -32021 and says what was missing: the request's answer, not a
    # tool's failure (an McpError goes through handlers as the request's error). Before, a request the client
    # cannot take was refused as a method it does not have.
    if version in MODERN_VERSIONS:
        return McpError(
            MISSING_REQUIRED_CLIENT_CAPABILITY,
            f"Missing required client capability: this request needs {what}; declare it in _meta "
            "io.modelcontextprotocol/clientCapabilities",
            {"requiredCapabilities": required},
        )
    return LocalProtocolError(
        legacy or f"the client did not declare the {what} capability", code=METHOD_NOT_FOUND
    )


def _check_client_capability(
    version: str, caps: t.ClientCapabilities | None, method: str, params: Any
) -> None:
    # L§Operation: use only negotiated capabilities.
    if method == "sampling/createMessage":
        if caps is None or caps.sampling is None:
            raise _missing_capability(version, "sampling", {"sampling": {}})
        if _carries_tools(params) and caps.sampling.tools is None:
            raise LocalProtocolError(
                "the client did not declare sampling.tools, so a sampling request may not carry tools",
                code=METHOD_NOT_FOUND,
            )
    elif method == "elicitation/create":
        mode = "url" if _is_url_elicitation(params) else "form"
        if not has_elicitation(version):
            raise LocalProtocolError(
                f"elicitation does not exist in protocol version {version} (it arrived in 2025-06-18)",
                code=METHOD_NOT_FOUND,
            )
        if mode not in elicitation_modes(caps):
            raise _missing_capability(
                version,
                f"elicitation ({mode} mode)",
                {"elicitation": {mode: {}}},
                f"the client did not declare the elicitation capability for {mode} mode",
            )
    elif method == "roots/list" and (caps is None or caps.roots is None):
        raise _missing_capability(
            version, "roots", {"roots": {}}, "the client did not declare the roots capability"
        )


# --- the session ----------------------------------------------------------------------------------------------------


@attrs.define(eq=False)
class ProtocolSession:
    """One side of an MCP session. Rebuildable from stored fields, so any instance can continue a session."""

    role: Role
    state: State = NEW
    protocol_version: str | None = None
    client_capabilities: t.ClientCapabilities | None = None
    client_info: t.Implementation | None = None
    server_capabilities: t.ServerCapabilities | None = None
    server_info: t.Implementation | None = None
    log_level: t.LoggingLevel | None = None
    # Prefix for ids of requests we send, so ids stay unique when several instances send in one session.
    id_prefix: str = ""
    converter: cattrs.Converter = attrs.field(factory=default_converter)
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    # Our outstanding requests: id -> method, so a response can be typed and out-of-order replies caught.
    _pending: dict[RequestId, str] = attrs.field(factory=dict[RequestId, str])

    # -- lifecycle --

    def _transition(self, transition: Transition) -> None:
        new = TRANSITIONS.get((self.role, self.state, transition))
        if new is None:
            raise LocalProtocolError(
                f"cannot {transition.value} in state {self.state!r} as {self.role.value}"
            )
        self.state = new

    def close(self) -> None:
        self._transition(Transition.CLOSE)
        self._pending.clear()

    def restore(
        self,
        *,
        active: bool,
        protocol_version: str | None,
        client_capabilities: t.ClientCapabilities | None = None,
        client_info: t.Implementation | None = None,
        log_level: t.LoggingLevel | None = None,
    ) -> None:
        """Take up a session from what was stored of it (any instance serves any session): the negotiated
        version, the client's capabilities and log level, and whether `initialized` arrived. An active
        session never goes back to pending (the table has no such edge)."""
        self._transition(Transition.RESTORE_ACTIVE if active else Transition.RESTORE_PENDING)
        self.protocol_version = protocol_version
        self.client_capabilities = client_capabilities
        self.client_info = client_info
        self.log_level = log_level

    def resume(self, protocol_version: str) -> None:
        """A client taking up a session it initialized before (another process of the same app, from a client
        session registry): operating at once, in the version that session negotiated."""
        self._transition(Transition.START_STATELESS)
        self.protocol_version = protocol_version

    def start_stateless(self, protocol_version: str) -> None:
        """A client of the 2026-07-28 era: operating at once, with no initialize (SEP-2575)."""
        self._transition(Transition.START_STATELESS)
        self.protocol_version = protocol_version

    @property
    def batches_allowed(self) -> bool:
        return self.protocol_version is not None and allows_batches(self.protocol_version)

    # -- receiving --

    def receive(self, message: Message) -> Event:
        if self.state is CLOSED:
            raise RemoteProtocolError("the session is closed", code=INVALID_REQUEST)
        if isinstance(message, Request):
            return self._receive_request(message)
        if isinstance(message, Notification):
            return self._receive_notification(message)
        if isinstance(message, Response):
            return self._receive_response(message)
        return self._receive_error(message)

    def check_batch(self) -> None:
        """B§Batching exists only in 2025-03-26: a later session must refuse a JSON array."""
        if not self.batches_allowed:
            raise RemoteProtocolError(
                f"Invalid Request: JSON-RPC batches are not allowed in protocol version {self.protocol_version}; "
                "batching was removed in 2025-06-18",
                code=INVALID_REQUEST,
            )

    def _spec_for_incoming(self, method: str, *, request: bool) -> MethodSpec | None:
        spec = METHODS.get(method)
        if spec is None or spec.is_notification == request:
            return None
        sent_by_peer = (
            spec.direction.sent_by_client() if self.role is Role.SERVER else spec.direction.sent_by_server()
        )
        return spec if sent_by_peer else None

    def _receive_request(self, message: Request) -> RequestReceived:
        spec = self._spec_for_incoming(message.method, request=True)
        if spec is None:
            raise RemoteProtocolError(f"Method not found: {message.method}", code=METHOD_NOT_FOUND)
        if message.method == "initialize":
            if self.role is not Role.SERVER or self.state is not NEW:
                raise RemoteProtocolError(
                    "Invalid Request: initialize may be sent only once, as the first request of a session",
                    code=INVALID_REQUEST,
                )
        elif not spec.before_initialized and self.state not in _OPERATING:
            raise RemoteProtocolError(
                f"Invalid Request: {message.method} received before initialization finished "
                "(L§Initialization: only ping is allowed before initialize)",
                code=INVALID_REQUEST,
            )
        params: Any = structure_as(message.params or {}, spec.params_type, root="params", conv=self.converter)
        if message.method == "initialize":
            self._transition(Transition.RECV_INITIALIZE)
        return RequestReceived(id=message.id, method=message.method, params=params)

    def _receive_notification(self, message: Notification) -> NotificationReceived:
        spec = self._spec_for_incoming(message.method, request=False)
        if spec is None:
            # Unknown notifications are ignored (JSON-RPC never answers a notification); keep the raw params.
            return NotificationReceived(method=message.method, params=message.params)
        if not spec.before_initialized and self.state not in _OPERATING:
            raise RemoteProtocolError(
                f"Invalid Request: {message.method} received before initialization finished",
                code=INVALID_REQUEST,
            )
        params: Any = structure_as(message.params or {}, spec.params_type, root="params", conv=self.converter)
        if message.method == "notifications/initialized" and self.role is Role.SERVER:
            if self.state is NEW:
                raise RemoteProtocolError(
                    "Invalid Request: notifications/initialized before the initialize request",
                    code=INVALID_REQUEST,
                )
            self._transition(Transition.RECV_INITIALIZED)
        return NotificationReceived(method=message.method, params=params)

    def expects_response(self, request_id: RequestId) -> bool:
        return request_id in self._pending

    def _receive_response(self, message: Response) -> ResponseReceived:
        method = self._pending.pop(message.id, None)
        if method is None:
            raise RemoteProtocolError(
                f"Invalid Request: a response to request id {message.id!r}, which is not awaiting one",
                code=INVALID_REQUEST,
            )
        spec = METHODS[method]
        assert spec.result_type is not None
        result_type: type[Any] = spec.result_type
        if method in INPUT_METHODS and message.result.get("resultType") == INPUT_REQUIRED:
            result_type = t.InputRequiredResult  # SEP-2322: not the answer yet, what the server needs for it
        result: Any = structure_as(message.result, result_type, root="result", conv=self.converter)
        if method == "initialize":
            assert isinstance(result, t.InitializeResult)
            self.protocol_version = result.protocol_version
            self.server_capabilities = result.capabilities
            self.server_info = result.server_info
            self._transition(Transition.RECV_INITIALIZE_RESULT)
        return ResponseReceived(id=message.id, method=method, result=result)

    def _receive_error(self, message: ErrorResponse) -> ErrorReceived:
        method = self._pending.pop(message.id, None) if message.id is not None else None
        if message.id is not None and method is None:
            raise RemoteProtocolError(
                f"Invalid Request: an error response to request id {message.id!r}, which is not awaiting one",
                code=INVALID_REQUEST,
            )
        return ErrorReceived(id=message.id, method=method, error=message.error)

    # -- sending --

    def next_request_id(self) -> RequestId:
        n = next(self._ids)
        return f"{self.id_prefix}{n}" if self.id_prefix else n

    def send_request(self, method: str, params: Any) -> Request:
        spec = METHODS.get(method)
        if spec is None or spec.is_notification:
            raise LocalProtocolError(f"{method} is not a request method")
        ours = (
            spec.direction.sent_by_server() if self.role is Role.SERVER else spec.direction.sent_by_client()
        )
        if not ours:
            raise LocalProtocolError(f"a {self.role.value} does not send {method}")
        if method == "initialize":
            self._transition(Transition.SEND_INITIALIZE)
        elif not spec.before_initialized and self.state not in _OPERATING:
            raise LocalProtocolError(
                f"cannot send {method} before initialization finished (state {self.state!r})"
            )
        if self.role is Role.SERVER:
            _check_client_capability(self.protocol_version or "", self.client_capabilities, method, params)
        request_id = self.next_request_id()
        self._pending[request_id] = method
        return Request(id=request_id, method=method, params=self._dump(params))

    def input_request(self, method: str, params: Any) -> dict[str, Any]:
        """A server-to-client request as an entry of a 2026-07-28 `inputRequests` (MRTR): checked against the
        client's capabilities like a request, never sent on its own."""
        _check_client_capability(self.protocol_version or "", self.client_capabilities, method, params)
        return self._dump(params)

    def input_response(self, method: str, key: str, value: Any) -> Any:
        """The client's `inputResponses[key]` as the typed result of `method` (RemoteProtocolError -32602 naming
        the key when it is not one)."""
        spec = METHODS[method]
        assert spec.result_type is not None
        return structure_as(value, spec.result_type, root=f"inputResponses.{key}", conv=self.converter)

    def forget_request(self, request_id: RequestId) -> None:
        """Stop waiting for a reply (timeout or cancellation); a late reply is then refused by `receive`."""
        self._pending.pop(request_id, None)

    def send_notification(self, method: str, params: Any = None) -> Notification:
        spec = METHODS.get(method)
        if spec is None or not spec.is_notification:
            raise LocalProtocolError(f"{method} is not a notification method")
        ours = (
            spec.direction.sent_by_server() if self.role is Role.SERVER else spec.direction.sent_by_client()
        )
        if not ours:
            raise LocalProtocolError(f"a {self.role.value} does not send {method}")
        if not spec.before_initialized and self.state not in _OPERATING:
            raise LocalProtocolError(
                f"cannot send {method} before initialization finished (state {self.state!r})"
            )
        if method == "notifications/initialized" and self.role is Role.CLIENT:
            self._transition(Transition.SEND_INITIALIZED)
        return Notification(method=method, params=self._dump(params) if params is not None else None)

    def send_result(self, request_id: RequestId, result: Any) -> Response:
        return Response(id=request_id, result=self._dump(result))

    def accept_initialize(
        self,
        params: t.InitializeRequestParams,
        capabilities: t.ServerCapabilities,
        info: t.Implementation,
        instructions: str | None = None,
    ) -> t.InitializeResult:
        """Server side of L§Version Negotiation; call with the params of the `initialize` RequestReceived."""
        self.protocol_version = negotiate(params.protocol_version)
        self.client_capabilities = params.capabilities
        self.client_info = params.client_info
        self.server_capabilities = capabilities
        self.server_info = info
        self._transition(Transition.SEND_INITIALIZE_RESULT)
        return t.InitializeResult(
            protocol_version=self.protocol_version,
            capabilities=capabilities,
            server_info=info,
            instructions=instructions,
        )

    def _dump(self, params: Any) -> dict[str, Any]:
        if isinstance(params, dict):
            return params  # pyright: ignore[reportUnknownVariableType]
        if params is None:
            return {}
        out = self.converter.unstructure(params)
        assert isinstance(out, dict)
        return out  # pyright: ignore[reportUnknownVariableType]

    # -- logging (Srv/utilities/logging) --

    def set_log_level(self, level: t.LoggingLevel) -> None:
        self.log_level = level

    def should_log(self, level: t.LoggingLevel) -> bool:
        """Send `notifications/message` only at or above the level the client set (all when it set none; none
        in 2026-07-28, where a request that wants log messages says so in `_meta` logLevel)."""
        if self.log_level is None:
            return self.protocol_version not in MODERN_VERSIONS
        return t.LOGGING_LEVELS.index(level) >= t.LOGGING_LEVELS.index(self.log_level)
