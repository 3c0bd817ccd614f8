"""trio_mcp: Trio-native Model Context Protocol servers and clients whose sessions survive many instances."""

from ._client.elicitation import accept_with_defaults as accept_with_defaults
from ._client.elicitation import schema_defaults as schema_defaults
from ._client.errors import TransportError as TransportError
from ._client.open import connect_client as connect_client
from ._client.open import open_client as open_client
from ._client.session import ClientSession as ClientSession
from ._client.stdio import open_stdio_client as open_stdio_client
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
