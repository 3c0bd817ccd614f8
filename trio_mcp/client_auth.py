"""OAuth 2.1 for the MCP client (MCP 2025-11-25 basic/authorization; docs/architecture.md §7 OAuth).

    auth = OAuthClient(redirect_uri=..., redirect_handler=..., callback_handler=...)
    async with open_client(url, auth=auth) as client: ...

`OAuthClient` is an `httpx.Auth` (it also authorizes WebSocket upgrades); its tokens, registration and any
authorization in progress live in a `TokenStorage` (`MemoryTokenStorage`, or `JSONTokenStorage` over the one
dict of `OAuthState.to_json()`). Without a callback handler it raises `AuthorizationRequired`, and
`complete_authorization` finishes the flow from the application's own redirect handler.
"""

from ._client.oauth.authorize import AuthorizationResponse as AuthorizationResponse
from ._client.oauth.authorize import complete_authorization as complete_authorization
from ._client.oauth.credentials import ClientCredentials as ClientCredentials
from ._client.oauth.errors import AccessRefused as AccessRefused
from ._client.oauth.errors import AuthorizationFailed as AuthorizationFailed
from ._client.oauth.errors import AuthorizationRequired as AuthorizationRequired
from ._client.oauth.errors import DiscoveryError as DiscoveryError
from ._client.oauth.errors import InsufficientScope as InsufficientScope
from ._client.oauth.errors import OAuthError as OAuthError
from ._client.oauth.errors import RegistrationError as RegistrationError
from ._client.oauth.errors import TokenError as TokenError
from ._client.oauth.flow import CallbackHandler as CallbackHandler
from ._client.oauth.flow import OAuthClient as OAuthClient
from ._client.oauth.flow import RedirectHandler as RedirectHandler
from ._client.oauth.loopback import LoopbackRedirect as LoopbackRedirect
from ._client.oauth.loopback import loopback_redirect as loopback_redirect
from ._client.oauth.state import ClientInfo as ClientInfo
from ._client.oauth.state import OAuthState as OAuthState
from ._client.oauth.state import PendingAuthorization as PendingAuthorization
from ._client.oauth.state import Tokens as Tokens
from ._client.oauth.storage import JSONTokenStorage as JSONTokenStorage
from ._client.oauth.storage import MemoryTokenStorage as MemoryTokenStorage
from ._client.oauth.storage import TokenStorage as TokenStorage

__all__ = [
    "AccessRefused",
    "AuthorizationFailed",
    "AuthorizationRequired",
    "AuthorizationResponse",
    "CallbackHandler",
    "ClientCredentials",
    "ClientInfo",
    "DiscoveryError",
    "InsufficientScope",
    "JSONTokenStorage",
    "LoopbackRedirect",
    "MemoryTokenStorage",
    "OAuthClient",
    "OAuthError",
    "OAuthState",
    "PendingAuthorization",
    "RedirectHandler",
    "RegistrationError",
    "TokenError",
    "TokenStorage",
    "Tokens",
    "complete_authorization",
    "loopback_redirect",
]
