"""Context: what a handler may do for the request it serves. Passed explicitly, never a ContextVar."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import attrs
import trio

from .._auth.tokens import AccessToken
from .._proto import types as t
from .._proto.errors import INVALID_PARAMS, McpError, RemoteProtocolError
from .._proto.jsonrpc import RequestId
from .elicitation import content_to_instance, requested_schema_for
from .input_round import InputRequired, InputRound
from .outbound import Outbound

if TYPE_CHECKING:
    from .state import ServerSession

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class ElicitationResult(Generic[T]):
    """The user's answer. `data` is the attrs instance when the schema was a class and the user accepted."""

    action: str
    content: dict[str, Any] | None = None
    data: T | None = None

    @property
    def accepted(self) -> bool:
        return self.action == "accept"


class Context:
    """Handed to every handler that declares it; valid for the duration of that request."""

    __slots__ = ("_inputs", "_outbound", "_session", "access_token", "method", "progress_token", "request_id")

    def __init__(
        self,
        session: ServerSession,
        outbound: Outbound,
        *,
        request_id: RequestId,
        method: str,
        progress_token: t.ProgressToken | None = None,
        inputs: InputRound | None = None,
        access_token: AccessToken | None = None,
    ) -> None:
        #: the verified OAuth token this request came with (None when the app has no `auth`): its subject,
        #: client id, scopes and every claim, for the handler's own rules (docs/architecture.md §10)
        self.access_token = access_token
        self._session = session
        self._outbound = outbound
        self.request_id = request_id
        self.method = method
        self.progress_token = progress_token
        self._inputs = inputs

    # -- identity --

    @property
    def session_id(self) -> str | None:
        """None for a stateless request."""
        return self._session.session_id

    @property
    def principal(self) -> str | None:
        return self._session.principal

    @property
    def protocol_version(self) -> str | None:
        return self._session.protocol.protocol_version

    @property
    def client_info(self) -> t.Implementation | None:
        return self._session.protocol.client_info

    @property
    def client_capabilities(self) -> t.ClientCapabilities | None:
        return self._session.protocol.client_capabilities

    @property
    def session(self) -> ServerSession:
        return self._session

    @property
    def resumed(self) -> bool:
        """This is a later round of a 2026-07-28 multi-round-trip request: it came with a requestState that
        this server sealed for this very request and principal, and that has not expired."""
        return self._inputs is not None and self._inputs.resumed

    # -- notifications on this request's stream --

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """U/progress: only when the client asked for it with `_meta.progressToken` (otherwise a no-op)."""
        if self.progress_token is None:
            return
        params = t.ProgressNotificationParams(
            progress_token=self.progress_token, progress=progress, total=total, message=message
        )
        await self._outbound.send(self._session.protocol.send_notification("notifications/progress", params))

    def close_stream(self, retry_ms: int | None = None) -> bool:
        """End this request's SSE stream now while the handler goes on (T§Resumability, SSE polling): the
        stream ends after an event id and `retry:` (`retry_ms`, default the app's `sse_retry_ms`), and the
        client resumes it with a GET and Last-Event-ID, on any instance, receiving everything sent meanwhile.
        False (nothing done) when the request has no SSE stream (JSON mode, stdio, stateless)."""
        return self._outbound.close_stream(retry_ms)

    async def log(self, level: t.LoggingLevel, data: Any, logger: str | None = None) -> None:
        """`notifications/message`, sent only at or above the level the client set with logging/setLevel."""
        if level not in t.LOGGING_LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {', '.join(t.LOGGING_LEVELS)}")
        if not self._session.protocol.should_log(level):
            return
        params = t.LoggingMessageNotificationParams(level=level, data=data, logger=logger)
        await self._outbound.send(self._session.protocol.send_notification("notifications/message", params))

    async def debug(self, data: Any, logger: str | None = None) -> None:
        await self.log("debug", data, logger)

    async def info(self, data: Any, logger: str | None = None) -> None:
        await self.log("info", data, logger)

    async def warning(self, data: Any, logger: str | None = None) -> None:
        await self.log("warning", data, logger)

    async def error(self, data: Any, logger: str | None = None) -> None:
        await self.log("error", data, logger)

    # -- requests to the client --

    @overload
    async def elicit(
        self, message: str, schema: type[T], *, timeout: float | None = None, key: str | None = None
    ) -> ElicitationResult[T]: ...

    @overload
    async def elicit(
        self, message: str, schema: dict[str, Any], *, timeout: float | None = None, key: str | None = None
    ) -> ElicitationResult[Any]: ...

    async def elicit(
        self,
        message: str,
        schema: type[T] | dict[str, Any],
        *,
        timeout: float | None = None,
        key: str | None = None,
    ) -> ElicitationResult[Any]:
        """Ask the user for structured input (form mode). Fails clearly if the client cannot elicit.

        `key`: the input request's key when the request is multi-round-trip (2026-07-28); by default one made
        from what is asked."""
        # Form mode, with `mode` left out: it means form, and clients older than 2025-11-25 do not know the key.
        # The schema stays a raw dict so a user's JSON Schema is sent exactly as written.
        params = {"message": message, "requestedSchema": requested_schema_for(schema)}
        result: t.ElicitResult = await self._ask("elicitation/create", params, timeout, key)
        data = None
        if result.action == "accept" and result.content is not None and not isinstance(schema, dict):
            try:
                data = content_to_instance(schema, result.content)
            except (TypeError, ValueError) as exc:
                raise McpError(
                    INVALID_PARAMS, f"the client's elicitation answer does not fit the form: {exc}"
                ) from exc
        return ElicitationResult(action=result.action, content=result.content, data=data)

    async def elicit_url(
        self,
        message: str,
        url: str,
        elicitation_id: str,
        *,
        timeout: float | None = None,
        key: str | None = None,
    ) -> t.ElicitResult:
        """URL-mode elicitation (2025-11-25) for what must not pass through the client (credentials, payments)."""
        params = t.ElicitRequestURLParams(message=message, url=url, elicitation_id=elicitation_id)
        return await self._ask("elicitation/create", params, timeout, key)

    async def sample(
        self,
        messages: str | Sequence[t.SamplingMessage | dict[str, Any]],
        max_tokens: int,
        *,
        system_prompt: str | None = None,
        temperature: float | None = None,
        stop_sequences: list[str] | None = None,
        model_preferences: t.ModelPreferences | None = None,
        include_context: Any = None,
        metadata: dict[str, Any] | None = None,
        tools: list[t.Tool] | None = None,
        tool_choice: t.ToolChoice | None = None,
        timeout: float | None = None,
        key: str | None = None,
    ) -> t.CreateMessageResult:
        """Ask the client's LLM for a message (sampling/createMessage). A str is one user text message."""
        if isinstance(messages, str):
            msgs = [t.SamplingMessage(role="user", content=t.TextContent(text=messages))]
        else:
            conv = self._session.protocol.converter
            msgs = [
                m if isinstance(m, t.SamplingMessage) else conv.structure(m, t.SamplingMessage)
                for m in messages
            ]
        params = t.CreateMessageRequestParams(
            messages=msgs,
            max_tokens=max_tokens,
            system_prompt=system_prompt,
            temperature=temperature,
            stop_sequences=stop_sequences,
            model_preferences=model_preferences,
            include_context=include_context,
            metadata=metadata,
            tools=tools,
            tool_choice=tool_choice,
        )
        return await self._ask("sampling/createMessage", params, timeout, key)

    async def list_roots(self, *, timeout: float | None = None, key: str | None = None) -> list[t.Root]:
        result: t.ListRootsResult = await self._ask("roots/list", t.RequestParams(), timeout, key)
        return result.roots

    async def _ask(self, method: str, params: Any, timeout: float | None, key: str | None) -> Any:
        """A request to the client: sent and awaited (2025 era), or, in a 2026-07-28 multi-round-trip
        request, this round's answer or an input request for the next (input_round.py)."""
        if self._inputs is None:
            return await self._session.peer.request(method, params, self._outbound, timeout=timeout)
        protocol = self._session.protocol
        wire = protocol.input_request(method, params)  # McpError -32021 when the client cannot take it
        key = key if key is not None else self._inputs.key_for(method, wire)
        answer = self._inputs.answer(key)
        if answer is not None:
            try:
                return protocol.input_response(method, key, answer)
            except RemoteProtocolError as exc:
                raise McpError(exc.code, exc.message, exc.data) from None
        self._inputs.ask(key, method, wire)
        # Let asks made side by side (tasks of one nursery) record theirs before this run ends, so one
        # round asks them all.
        await trio.lowlevel.checkpoint()
        raise InputRequired(key)
