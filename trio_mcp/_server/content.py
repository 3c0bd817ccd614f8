"""Turn what a handler returns into MCP content blocks."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import attrs

from .._proto import types as t
from .._proto.converter import default_converter

CONTENT_TYPES = (t.TextContent, t.ImageContent, t.AudioContent, t.ResourceLink, t.EmbeddedResource)


@attrs.frozen
class Image:
    """Raw image bytes a tool returns; sent base64-encoded as `image` content."""

    data: bytes
    mime_type: str = "image/png"


@attrs.frozen
class Audio:
    """Raw audio bytes a tool returns; sent base64-encoded as `audio` content."""

    data: bytes
    mime_type: str = "audio/wav"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def to_json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def bytes_content(data: bytes, mime_type: str | None, uri: str) -> t.ContentBlock:
    mime = mime_type or "application/octet-stream"
    if mime.startswith("image/"):
        return t.ImageContent(data=b64(data), mime_type=mime)
    if mime.startswith("audio/"):
        return t.AudioContent(data=b64(data), mime_type=mime)
    return t.EmbeddedResource(resource=t.BlobResourceContents(uri=uri, blob=b64(data), mime_type=mime))


def to_content(value: Any, *, mime_type: str | None = None, uri: str = "data:") -> list[t.ContentBlock]:
    """str -> text; bytes -> image/audio/blob by mime type; content objects as they are; lists flattened."""
    if value is None:
        return []
    if isinstance(value, CONTENT_TYPES):
        return [value]
    if isinstance(value, str):
        return [t.TextContent(text=value)]
    if isinstance(value, Image):
        return [t.ImageContent(data=b64(value.data), mime_type=value.mime_type)]
    if isinstance(value, Audio):
        return [t.AudioContent(data=b64(value.data), mime_type=value.mime_type)]
    if isinstance(value, bytes | bytearray):
        return [bytes_content(bytes(value), mime_type, uri)]
    if isinstance(value, t.TextResourceContents | t.BlobResourceContents):
        return [t.EmbeddedResource(resource=value)]
    if isinstance(value, list | tuple):
        blocks: list[t.ContentBlock] = []
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            blocks.extend(to_content(item, mime_type=mime_type, uri=uri))
        return blocks
    return [t.TextContent(text=to_json_text(to_jsonable(value)))]


def to_jsonable(value: Any) -> Any:
    """attrs instances, TypedDicts, dicts and scalars as plain JSON values."""
    cls: type[Any] = value.__class__
    if attrs.has(cls):
        return default_converter().unstructure(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value
