"""MCP 2025-11-25 messages as frozen attrs classes (schema.ts is the source; attribute names are snake_case).

The converter (converter.py) maps names to camelCase on the wire, `meta` to `_meta`, `schema_uri` to `$schema`,
drops `None` on output and tolerates unknown keys on input. Raw JSON Schema objects (tool input/output schemas)
stay dicts, so a user's schema is sent verbatim.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import attrs

ProgressToken: TypeAlias = str | int
RequestIdType: TypeAlias = str | int
Cursor: TypeAlias = str
Role: TypeAlias = Literal["user", "assistant"]
LoggingLevel: TypeAlias = Literal[
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"
]
Meta: TypeAlias = dict[str, Any]
JsonObject: TypeAlias = dict[str, Any]

# RFC 5424 severities, least to most severe (Srv/utilities/logging).
LOGGING_LEVELS: tuple[LoggingLevel, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)


# --- common --------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Icon:
    src: str
    mime_type: str | None = None
    sizes: list[str] | None = None
    theme: Literal["light", "dark"] | None = None


@attrs.frozen(kw_only=True)
class Implementation:
    name: str
    version: str
    title: str | None = None
    description: str | None = None
    website_url: str | None = None
    icons: list[Icon] | None = None


@attrs.frozen(kw_only=True)
class Annotations:
    audience: list[Role] | None = None
    priority: float | None = None
    last_modified: str | None = None


@attrs.frozen(kw_only=True)
class RequestParams:
    """Params of requests that carry nothing but `_meta` (ping, roots/list)."""

    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class NotificationParams:
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class EmptyResult:
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class InputRequiredResult:
    """2026-07-28 (SEP-2322): the server needs the client's answers to `input_requests` (key -> a request of
    elicitation/create, sampling/createMessage or roots/list) before it can finish; retry the request with
    them as `inputResponses`, and `request_state` echoed exactly."""

    input_requests: dict[str, Any] | None = None
    request_state: str | None = None
    result_type: str = "input_required"
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class PaginatedRequestParams:
    cursor: Cursor | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class TaskMetadata:
    ttl: int | None = None


# --- capabilities and initialization ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RootsCapability:
    list_changed: bool | None = None


@attrs.frozen(kw_only=True)
class SamplingCapability:
    context: JsonObject | None = None
    tools: JsonObject | None = None


@attrs.frozen(kw_only=True)
class ElicitationCapability:
    form: JsonObject | None = None
    url: JsonObject | None = None


@attrs.frozen(kw_only=True)
class ClientCapabilities:
    experimental: dict[str, JsonObject] | None = None
    roots: RootsCapability | None = None
    sampling: SamplingCapability | None = None
    elicitation: ElicitationCapability | None = None
    tasks: JsonObject | None = None


@attrs.frozen(kw_only=True)
class PromptsCapability:
    list_changed: bool | None = None


@attrs.frozen(kw_only=True)
class ResourcesCapability:
    subscribe: bool | None = None
    list_changed: bool | None = None


@attrs.frozen(kw_only=True)
class ToolsCapability:
    list_changed: bool | None = None


@attrs.frozen(kw_only=True)
class ServerCapabilities:
    experimental: dict[str, JsonObject] | None = None
    logging: JsonObject | None = None
    completions: JsonObject | None = None
    prompts: PromptsCapability | None = None
    resources: ResourcesCapability | None = None
    tools: ToolsCapability | None = None
    tasks: JsonObject | None = None


@attrs.frozen(kw_only=True)
class InitializeRequestParams:
    protocol_version: str
    capabilities: ClientCapabilities
    client_info: Implementation
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class InitializeResult:
    protocol_version: str
    capabilities: ServerCapabilities
    server_info: Implementation
    instructions: str | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class DiscoverResult:
    """`server/discover` (2026-07-28): what the server speaks and offers; who it is goes in `_meta`."""

    supported_versions: list[str]
    capabilities: ServerCapabilities
    instructions: str | None = None
    meta: Meta | None = None


# --- utilities ---------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ProgressNotificationParams:
    progress_token: ProgressToken
    progress: float
    total: float | None = None
    message: str | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class CancelledNotificationParams:
    request_id: RequestIdType | None = None
    reason: str | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class SetLevelRequestParams:
    level: LoggingLevel
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class LoggingMessageNotificationParams:
    level: LoggingLevel
    data: Any
    logger: str | None = None
    meta: Meta | None = None


# --- content -----------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TextResourceContents:
    uri: str
    text: str
    mime_type: str | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class BlobResourceContents:
    uri: str
    blob: str
    mime_type: str | None = None
    meta: Meta | None = None


ResourceContents: TypeAlias = TextResourceContents | BlobResourceContents


@attrs.frozen(kw_only=True)
class TextContent:
    type: Literal["text"] = "text"
    text: str
    annotations: Annotations | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ImageContent:
    type: Literal["image"] = "image"
    data: str
    mime_type: str
    annotations: Annotations | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class AudioContent:
    type: Literal["audio"] = "audio"
    data: str
    mime_type: str
    annotations: Annotations | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ResourceLink:
    type: Literal["resource_link"] = "resource_link"
    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    annotations: Annotations | None = None
    size: int | None = None
    icons: list[Icon] | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class EmbeddedResource:
    type: Literal["resource"] = "resource"
    resource: ResourceContents
    annotations: Annotations | None = None
    meta: Meta | None = None


ContentBlock: TypeAlias = TextContent | ImageContent | AudioContent | ResourceLink | EmbeddedResource


@attrs.frozen(kw_only=True)
class ToolUseContent:
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: JsonObject
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ToolResultContent:
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    content: list[ContentBlock]
    structured_content: JsonObject | None = None
    is_error: bool | None = None
    meta: Meta | None = None


SamplingContent: TypeAlias = TextContent | ImageContent | AudioContent | ToolUseContent | ToolResultContent


# --- resources ---------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Resource:
    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    annotations: Annotations | None = None
    size: int | None = None
    icons: list[Icon] | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ResourceTemplate:
    uri_template: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    annotations: Annotations | None = None
    icons: list[Icon] | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ListResourcesResult:
    resources: list[Resource]
    next_cursor: Cursor | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ListResourceTemplatesResult:
    resource_templates: list[ResourceTemplate]
    next_cursor: Cursor | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ReadResourceRequestParams:
    uri: str
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ReadResourceResult:
    contents: list[ResourceContents]
    meta: Meta | None = None
    #: 2026-07-28 caching hints (SEP-2549); unset, the server's `cache_ttl_ms`/`cache_scope` apply
    ttl_ms: int | None = None
    cache_scope: str | None = None


@attrs.frozen(kw_only=True)
class SubscribeRequestParams:
    uri: str
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class UnsubscribeRequestParams:
    uri: str
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ResourceUpdatedNotificationParams:
    uri: str
    meta: Meta | None = None


# --- prompts -----------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PromptArgument:
    name: str
    title: str | None = None
    description: str | None = None
    required: bool | None = None


@attrs.frozen(kw_only=True)
class Prompt:
    name: str
    title: str | None = None
    description: str | None = None
    arguments: list[PromptArgument] | None = None
    icons: list[Icon] | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ListPromptsResult:
    prompts: list[Prompt]
    next_cursor: Cursor | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class GetPromptRequestParams:
    name: str
    arguments: dict[str, str] | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class PromptMessage:
    role: Role
    content: ContentBlock


@attrs.frozen(kw_only=True)
class GetPromptResult:
    messages: list[PromptMessage]
    description: str | None = None
    meta: Meta | None = None


# --- tools -------------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ToolAnnotations:
    title: str | None = None
    read_only_hint: bool | None = None
    destructive_hint: bool | None = None
    idempotent_hint: bool | None = None
    open_world_hint: bool | None = None


@attrs.frozen(kw_only=True)
class ToolExecution:
    task_support: Literal["forbidden", "optional", "required"] | None = None


@attrs.frozen(kw_only=True)
class Tool:
    name: str
    input_schema: JsonObject
    title: str | None = None
    description: str | None = None
    output_schema: JsonObject | None = None
    annotations: ToolAnnotations | None = None
    execution: ToolExecution | None = None
    icons: list[Icon] | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ListToolsResult:
    tools: list[Tool]
    next_cursor: Cursor | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class CallToolRequestParams:
    name: str
    arguments: JsonObject | None = None
    task: TaskMetadata | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class CallToolResult:
    content: list[ContentBlock]
    structured_content: JsonObject | None = None
    is_error: bool | None = None
    meta: Meta | None = None


# --- completion --------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PromptReference:
    type: Literal["ref/prompt"] = "ref/prompt"
    name: str
    title: str | None = None


@attrs.frozen(kw_only=True)
class ResourceTemplateReference:
    type: Literal["ref/resource"] = "ref/resource"
    uri: str


CompletionReference: TypeAlias = PromptReference | ResourceTemplateReference


@attrs.frozen(kw_only=True)
class CompletionArgument:
    name: str
    value: str


@attrs.frozen(kw_only=True)
class CompletionContext:
    arguments: dict[str, str] | None = None


@attrs.frozen(kw_only=True)
class CompleteRequestParams:
    ref: CompletionReference
    argument: CompletionArgument
    context: CompletionContext | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class Completion:
    values: list[str]
    total: int | None = None
    has_more: bool | None = None


@attrs.frozen(kw_only=True)
class CompleteResult:
    completion: Completion
    meta: Meta | None = None


# --- sampling ----------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ModelHint:
    name: str | None = None


@attrs.frozen(kw_only=True)
class ModelPreferences:
    hints: list[ModelHint] | None = None
    cost_priority: float | None = None
    speed_priority: float | None = None
    intelligence_priority: float | None = None


@attrs.frozen(kw_only=True)
class SamplingMessage:
    role: Role
    content: SamplingContent | list[SamplingContent]
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ToolChoice:
    mode: Literal["auto", "required", "none"] | None = None


@attrs.frozen(kw_only=True)
class CreateMessageRequestParams:
    messages: list[SamplingMessage]
    max_tokens: int
    model_preferences: ModelPreferences | None = None
    system_prompt: str | None = None
    include_context: Literal["none", "thisServer", "allServers"] | None = None
    temperature: float | None = None
    stop_sequences: list[str] | None = None
    metadata: JsonObject | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    task: TaskMetadata | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class CreateMessageResult:
    role: Role
    content: SamplingContent | list[SamplingContent]
    model: str
    stop_reason: str | None = None
    meta: Meta | None = None


# --- roots -------------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Root:
    uri: str
    name: str | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ListRootsResult:
    roots: list[Root]
    meta: Meta | None = None


# --- elicitation -------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StringSchema:
    type: Literal["string"] = "string"
    title: str | None = None
    description: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    format: Literal["email", "uri", "date", "date-time"] | None = None
    default: str | None = None


@attrs.frozen(kw_only=True)
class NumberSchema:
    type: Literal["number", "integer"] = "number"
    title: str | None = None
    description: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: float | None = None


@attrs.frozen(kw_only=True)
class BooleanSchema:
    type: Literal["boolean"] = "boolean"
    title: str | None = None
    description: str | None = None
    default: bool | None = None


@attrs.frozen(kw_only=True)
class EnumOption:
    const: str
    title: str


@attrs.frozen(kw_only=True)
class UntitledSingleSelectEnumSchema:
    type: Literal["string"] = "string"
    enum: list[str]
    title: str | None = None
    description: str | None = None
    default: str | None = None


@attrs.frozen(kw_only=True)
class TitledSingleSelectEnumSchema:
    type: Literal["string"] = "string"
    one_of: list[EnumOption]
    title: str | None = None
    description: str | None = None
    default: str | None = None


@attrs.frozen(kw_only=True)
class LegacyTitledEnumSchema:
    type: Literal["string"] = "string"
    enum: list[str]
    enum_names: list[str]
    title: str | None = None
    description: str | None = None
    default: str | None = None


@attrs.frozen(kw_only=True)
class UntitledEnumItems:
    type: Literal["string"] = "string"
    enum: list[str]


@attrs.frozen(kw_only=True)
class TitledEnumItems:
    any_of: list[EnumOption]


@attrs.frozen(kw_only=True)
class UntitledMultiSelectEnumSchema:
    type: Literal["array"] = "array"
    items: UntitledEnumItems
    title: str | None = None
    description: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    default: list[str] | None = None


@attrs.frozen(kw_only=True)
class TitledMultiSelectEnumSchema:
    type: Literal["array"] = "array"
    items: TitledEnumItems
    title: str | None = None
    description: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    default: list[str] | None = None


PrimitiveSchemaDefinition: TypeAlias = (
    StringSchema
    | NumberSchema
    | BooleanSchema
    | UntitledSingleSelectEnumSchema
    | TitledSingleSelectEnumSchema
    | LegacyTitledEnumSchema
    | UntitledMultiSelectEnumSchema
    | TitledMultiSelectEnumSchema
)


@attrs.frozen(kw_only=True)
class ElicitRequestedSchema:
    type: Literal["object"] = "object"
    properties: dict[str, PrimitiveSchemaDefinition]
    required: list[str] | None = None
    schema_uri: str | None = None


@attrs.frozen(kw_only=True)
class ElicitRequestFormParams:
    message: str
    requested_schema: ElicitRequestedSchema
    mode: Literal["form"] | None = None
    task: TaskMetadata | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ElicitRequestURLParams:
    mode: Literal["url"] = "url"
    message: str
    elicitation_id: str
    url: str
    task: TaskMetadata | None = None
    meta: Meta | None = None


ElicitRequestParams: TypeAlias = ElicitRequestFormParams | ElicitRequestURLParams
ElicitContentValue: TypeAlias = str | int | float | bool | list[str]


@attrs.frozen(kw_only=True)
class ElicitResult:
    action: Literal["accept", "decline", "cancel"]
    content: dict[str, ElicitContentValue] | None = None
    meta: Meta | None = None


@attrs.frozen(kw_only=True)
class ElicitationCompleteNotificationParams:
    elicitation_id: str
    meta: Meta | None = None
