"""THE method table: every MCP method we speak (2025-11-25, and server/discover of 2026-07-28), its types,
direction and lifecycle rule; which of them each era serves is the era's business (modern.py)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from . import types as t


class Direction(enum.Enum):
    CLIENT_TO_SERVER = "client->server"
    SERVER_TO_CLIENT = "server->client"
    BOTH = "both"

    def sent_by_client(self) -> bool:
        return self is not Direction.SERVER_TO_CLIENT

    def sent_by_server(self) -> bool:
        return self is not Direction.CLIENT_TO_SERVER


@attrs.frozen(kw_only=True)
class MethodSpec:
    method: str
    params_type: type[Any]
    # None for notifications.
    result_type: type[Any] | None
    direction: Direction
    # L§Initialization: before initialization the client sends only ping, the server only ping and logging.
    before_initialized: bool = False

    @property
    def is_notification(self) -> bool:
        return self.result_type is None


C2S, S2C, BOTH = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT, Direction.BOTH


def _request(
    method: str, params: type, result: type, direction: Direction, *, early: bool = False
) -> MethodSpec:
    return MethodSpec(
        method=method, params_type=params, result_type=result, direction=direction, before_initialized=early
    )


def _notification(method: str, params: type, direction: Direction, *, early: bool = False) -> MethodSpec:
    return MethodSpec(
        method=method, params_type=params, result_type=None, direction=direction, before_initialized=early
    )


_ALL = (
    _request("initialize", t.InitializeRequestParams, t.InitializeResult, C2S, early=True),
    _request("ping", t.RequestParams, t.EmptyResult, BOTH, early=True),
    # 2026-07-28 (SEP-2575): served only in that era's form (modern.py), which has no handshake.
    _request("server/discover", t.RequestParams, t.DiscoverResult, C2S, early=True),
    _request("tools/list", t.PaginatedRequestParams, t.ListToolsResult, C2S),
    _request("tools/call", t.CallToolRequestParams, t.CallToolResult, C2S),
    _request("resources/list", t.PaginatedRequestParams, t.ListResourcesResult, C2S),
    _request("resources/templates/list", t.PaginatedRequestParams, t.ListResourceTemplatesResult, C2S),
    _request("resources/read", t.ReadResourceRequestParams, t.ReadResourceResult, C2S),
    _request("resources/subscribe", t.SubscribeRequestParams, t.EmptyResult, C2S),
    _request("resources/unsubscribe", t.UnsubscribeRequestParams, t.EmptyResult, C2S),
    _request("prompts/list", t.PaginatedRequestParams, t.ListPromptsResult, C2S),
    _request("prompts/get", t.GetPromptRequestParams, t.GetPromptResult, C2S),
    _request("completion/complete", t.CompleteRequestParams, t.CompleteResult, C2S),
    _request("logging/setLevel", t.SetLevelRequestParams, t.EmptyResult, C2S),
    _request("sampling/createMessage", t.CreateMessageRequestParams, t.CreateMessageResult, S2C),
    _request("elicitation/create", t.ElicitRequestParams, t.ElicitResult, S2C),  # pyright: ignore[reportArgumentType]
    _request("roots/list", t.RequestParams, t.ListRootsResult, S2C),
    _notification("notifications/initialized", t.NotificationParams, C2S, early=True),
    _notification("notifications/cancelled", t.CancelledNotificationParams, BOTH, early=True),
    _notification("notifications/progress", t.ProgressNotificationParams, BOTH, early=True),
    _notification("notifications/roots/list_changed", t.NotificationParams, C2S),
    _notification("notifications/message", t.LoggingMessageNotificationParams, S2C, early=True),
    _notification("notifications/resources/updated", t.ResourceUpdatedNotificationParams, S2C),
    _notification("notifications/resources/list_changed", t.NotificationParams, S2C),
    _notification("notifications/tools/list_changed", t.NotificationParams, S2C),
    _notification("notifications/prompts/list_changed", t.NotificationParams, S2C),
    _notification("notifications/elicitation/complete", t.ElicitationCompleteNotificationParams, S2C),
)

METHODS: Mapping[str, MethodSpec] = {spec.method: spec for spec in _ALL}
