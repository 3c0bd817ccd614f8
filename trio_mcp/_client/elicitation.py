"""Answering an elicitation with the defaults its schema gives (SEP-1034: every primitive schema may carry a
`default`)."""

from __future__ import annotations

from .._proto import types as t


def schema_defaults(params: t.ElicitRequestParams) -> dict[str, t.ElicitContentValue]:
    """The `default` of every field of a form elicitation that has one (none for a URL elicitation)."""
    if not isinstance(params, t.ElicitRequestFormParams):
        return {}
    content: dict[str, t.ElicitContentValue] = {}
    for name, schema in params.requested_schema.properties.items():
        value = schema.default
        if value is None:
            continue
        if isinstance(schema, t.NumberSchema) and schema.type == "integer" and isinstance(value, float):
            value = int(value) if value.is_integer() else value
        content[name] = value
    return content


async def accept_with_defaults(params: t.ElicitRequestParams) -> t.ElicitResult:
    """An elicitation callback that accepts with the schema's defaults:
    `open_client(url, elicitation_callback=accept_with_defaults)`."""
    return t.ElicitResult(action="accept", content=schema_defaults(params))
