"""The MCP 2025-11-25 data classes (attrs, snake_case attributes; camelCase on the wire)."""

from ._proto.types import LOGGING_LEVELS as LOGGING_LEVELS
from ._proto.types import Annotations as Annotations
from ._proto.types import AudioContent as AudioContent
from ._proto.types import BlobResourceContents as BlobResourceContents
from ._proto.types import BooleanSchema as BooleanSchema
from ._proto.types import CallToolRequestParams as CallToolRequestParams
from ._proto.types import CallToolResult as CallToolResult
from ._proto.types import CancelledNotificationParams as CancelledNotificationParams
from ._proto.types import ClientCapabilities as ClientCapabilities
from ._proto.types import CompleteRequestParams as CompleteRequestParams
from ._proto.types import CompleteResult as CompleteResult
from ._proto.types import Completion as Completion
from ._proto.types import CompletionArgument as CompletionArgument
from ._proto.types import CompletionContext as CompletionContext
from ._proto.types import CompletionReference as CompletionReference
from ._proto.types import ContentBlock as ContentBlock
from ._proto.types import CreateMessageRequestParams as CreateMessageRequestParams
from ._proto.types import CreateMessageResult as CreateMessageResult
from ._proto.types import Cursor as Cursor
from ._proto.types import ElicitationCapability as ElicitationCapability
from ._proto.types import ElicitationCompleteNotificationParams as ElicitationCompleteNotificationParams
from ._proto.types import ElicitContentValue as ElicitContentValue
from ._proto.types import ElicitRequestedSchema as ElicitRequestedSchema
from ._proto.types import ElicitRequestFormParams as ElicitRequestFormParams
from ._proto.types import ElicitRequestParams as ElicitRequestParams
from ._proto.types import ElicitRequestURLParams as ElicitRequestURLParams
from ._proto.types import ElicitResult as ElicitResult
from ._proto.types import EmbeddedResource as EmbeddedResource
from ._proto.types import EmptyResult as EmptyResult
from ._proto.types import EnumOption as EnumOption
from ._proto.types import GetPromptRequestParams as GetPromptRequestParams
from ._proto.types import GetPromptResult as GetPromptResult
from ._proto.types import Icon as Icon
from ._proto.types import ImageContent as ImageContent
from ._proto.types import Implementation as Implementation
from ._proto.types import InitializeRequestParams as InitializeRequestParams
from ._proto.types import InitializeResult as InitializeResult
from ._proto.types import JsonObject as JsonObject
from ._proto.types import LegacyTitledEnumSchema as LegacyTitledEnumSchema
from ._proto.types import ListPromptsResult as ListPromptsResult
from ._proto.types import ListResourcesResult as ListResourcesResult
from ._proto.types import ListResourceTemplatesResult as ListResourceTemplatesResult
from ._proto.types import ListRootsResult as ListRootsResult
from ._proto.types import ListToolsResult as ListToolsResult
from ._proto.types import LoggingLevel as LoggingLevel
from ._proto.types import LoggingMessageNotificationParams as LoggingMessageNotificationParams
from ._proto.types import Meta as Meta
from ._proto.types import ModelHint as ModelHint
from ._proto.types import ModelPreferences as ModelPreferences
from ._proto.types import NotificationParams as NotificationParams
from ._proto.types import NumberSchema as NumberSchema
from ._proto.types import PaginatedRequestParams as PaginatedRequestParams
from ._proto.types import PrimitiveSchemaDefinition as PrimitiveSchemaDefinition
from ._proto.types import ProgressNotificationParams as ProgressNotificationParams
from ._proto.types import ProgressToken as ProgressToken
from ._proto.types import Prompt as Prompt
from ._proto.types import PromptArgument as PromptArgument
from ._proto.types import PromptMessage as PromptMessage
from ._proto.types import PromptReference as PromptReference
from ._proto.types import PromptsCapability as PromptsCapability
from ._proto.types import ReadResourceRequestParams as ReadResourceRequestParams
from ._proto.types import ReadResourceResult as ReadResourceResult
from ._proto.types import RequestIdType as RequestIdType
from ._proto.types import RequestParams as RequestParams
from ._proto.types import Resource as Resource
from ._proto.types import ResourceContents as ResourceContents
from ._proto.types import ResourceLink as ResourceLink
from ._proto.types import ResourcesCapability as ResourcesCapability
from ._proto.types import ResourceTemplate as ResourceTemplate
from ._proto.types import ResourceTemplateReference as ResourceTemplateReference
from ._proto.types import ResourceUpdatedNotificationParams as ResourceUpdatedNotificationParams
from ._proto.types import Role as Role
from ._proto.types import Root as Root
from ._proto.types import RootsCapability as RootsCapability
from ._proto.types import SamplingCapability as SamplingCapability
from ._proto.types import SamplingContent as SamplingContent
from ._proto.types import SamplingMessage as SamplingMessage
from ._proto.types import ServerCapabilities as ServerCapabilities
from ._proto.types import SetLevelRequestParams as SetLevelRequestParams
from ._proto.types import StringSchema as StringSchema
from ._proto.types import SubscribeRequestParams as SubscribeRequestParams
from ._proto.types import TaskMetadata as TaskMetadata
from ._proto.types import TextContent as TextContent
from ._proto.types import TextResourceContents as TextResourceContents
from ._proto.types import TitledEnumItems as TitledEnumItems
from ._proto.types import TitledMultiSelectEnumSchema as TitledMultiSelectEnumSchema
from ._proto.types import TitledSingleSelectEnumSchema as TitledSingleSelectEnumSchema
from ._proto.types import Tool as Tool
from ._proto.types import ToolAnnotations as ToolAnnotations
from ._proto.types import ToolChoice as ToolChoice
from ._proto.types import ToolExecution as ToolExecution
from ._proto.types import ToolResultContent as ToolResultContent
from ._proto.types import ToolsCapability as ToolsCapability
from ._proto.types import ToolUseContent as ToolUseContent
from ._proto.types import UnsubscribeRequestParams as UnsubscribeRequestParams
from ._proto.types import UntitledEnumItems as UntitledEnumItems
from ._proto.types import UntitledMultiSelectEnumSchema as UntitledMultiSelectEnumSchema
from ._proto.types import UntitledSingleSelectEnumSchema as UntitledSingleSelectEnumSchema

__all__ = [
    "Annotations",
    "AudioContent",
    "BlobResourceContents",
    "BooleanSchema",
    "CallToolRequestParams",
    "CallToolResult",
    "CancelledNotificationParams",
    "ClientCapabilities",
    "CompleteRequestParams",
    "CompleteResult",
    "Completion",
    "CompletionArgument",
    "CompletionContext",
    "CompletionReference",
    "ContentBlock",
    "CreateMessageRequestParams",
    "CreateMessageResult",
    "Cursor",
    "ElicitContentValue",
    "ElicitRequestFormParams",
    "ElicitRequestParams",
    "ElicitRequestURLParams",
    "ElicitRequestedSchema",
    "ElicitResult",
    "ElicitationCapability",
    "ElicitationCompleteNotificationParams",
    "EmbeddedResource",
    "EmptyResult",
    "EnumOption",
    "GetPromptRequestParams",
    "GetPromptResult",
    "Icon",
    "ImageContent",
    "Implementation",
    "InitializeRequestParams",
    "InitializeResult",
    "JsonObject",
    "LOGGING_LEVELS",
    "LegacyTitledEnumSchema",
    "ListPromptsResult",
    "ListResourceTemplatesResult",
    "ListResourcesResult",
    "ListRootsResult",
    "ListToolsResult",
    "LoggingLevel",
    "LoggingMessageNotificationParams",
    "Meta",
    "ModelHint",
    "ModelPreferences",
    "NotificationParams",
    "NumberSchema",
    "PaginatedRequestParams",
    "PrimitiveSchemaDefinition",
    "ProgressNotificationParams",
    "ProgressToken",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "PromptReference",
    "PromptsCapability",
    "ReadResourceRequestParams",
    "ReadResourceResult",
    "RequestIdType",
    "RequestParams",
    "Resource",
    "ResourceContents",
    "ResourceLink",
    "ResourceTemplate",
    "ResourceTemplateReference",
    "ResourceUpdatedNotificationParams",
    "ResourcesCapability",
    "Role",
    "Root",
    "RootsCapability",
    "SamplingCapability",
    "SamplingContent",
    "SamplingMessage",
    "ServerCapabilities",
    "SetLevelRequestParams",
    "StringSchema",
    "SubscribeRequestParams",
    "TaskMetadata",
    "TextContent",
    "TextResourceContents",
    "TitledEnumItems",
    "TitledMultiSelectEnumSchema",
    "TitledSingleSelectEnumSchema",
    "Tool",
    "ToolAnnotations",
    "ToolChoice",
    "ToolExecution",
    "ToolResultContent",
    "ToolUseContent",
    "ToolsCapability",
    "UnsubscribeRequestParams",
    "UntitledEnumItems",
    "UntitledMultiSelectEnumSchema",
    "UntitledSingleSelectEnumSchema",
]
