"""trio_mcp: Trio-native Model Context Protocol servers and clients whose sessions survive many instances.

The client half (httpx, trio-websocket, PyJWT, OAuth) is imported on first use of one of its names (PEP 562
`__getattr__`), so a server process never loads it (docs/architecture.md §1).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._proto.errors import LocalProtocolError as LocalProtocolError
from ._proto.errors import McpError as McpError
from ._proto.errors import RemoteProtocolError as RemoteProtocolError
from ._runtime.context import Context as Context
from ._runtime.context import ElicitationResult as ElicitationResult
from ._runtime.outbound import BackChannelUnavailable as BackChannelUnavailable
from ._server.content import Audio as Audio
from ._server.content import Image as Image
from ._server.schema import SchemaError as SchemaError
from ._server.server import Server as Server
from ._server.tools import RegistrationError as RegistrationError
from ._transport.admin import SessionAdmin as SessionAdmin
from ._transport.serve import serve as serve
from ._version import __version__ as __version__

if TYPE_CHECKING:
    from ._client.elicitation import accept_with_defaults as accept_with_defaults
    from ._client.elicitation import schema_defaults as schema_defaults
    from ._client.errors import TransportError as TransportError
    from ._client.open import connect_client as connect_client
    from ._client.open import open_client as open_client
    from ._client.session import ClientSession as ClientSession
    from ._client.stdio import open_stdio_client as open_stdio_client

# The client's public names and the private module each lives in.
_CLIENT = {
    "accept_with_defaults": "._client.elicitation",
    "schema_defaults": "._client.elicitation",
    "TransportError": "._client.errors",
    "connect_client": "._client.open",
    "open_client": "._client.open",
    "ClientSession": "._client.session",
    "open_stdio_client": "._client.stdio",
}


def __getattr__(name: str) -> Any:
    module = _CLIENT.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next access is a plain global
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_CLIENT})


__all__ = [
    "Audio",
    "BackChannelUnavailable",
    "ClientSession",
    "Context",
    "ElicitationResult",
    "Image",
    "LocalProtocolError",
    "McpError",
    "RegistrationError",
    "RemoteProtocolError",
    "SchemaError",
    "Server",
    "SessionAdmin",
    "TransportError",
    "accept_with_defaults",
    "connect_client",
    "open_client",
    "open_stdio_client",
    "schema_defaults",
    "serve",
]
