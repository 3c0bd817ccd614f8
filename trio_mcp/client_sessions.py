"""A client app's MCP sessions per user (connections, OAuth state), kept across its restarts and instances.

    async with open_client_registry() as registry:   # TRIO_MCP_CLIENT_STORE=memory|file|redis
        record = await registry.create(ClientSessionRecord(
            session_id=registry.generate_session_id(), user_id=user, server_id="weather",
            transport="http", server_url="https://weather.example.com/mcp"))
        await registry.update(user, record.session_id, status="active", mcp_session_id=sid)

or let `open_client(url, registry=registry, user_id=user, server_id="weather", auth=OAuthClient(...))` keep
the record: it resumes the stored session, follows a new one, keeps the OAuth tokens in the record, and
leaves the session open for the next process; `complete_authorization(registry, user, session_id, code=...,
state=...)` finishes an authorization that raised `AuthorizationRequired`.

See docs/architecture.md §7 and the README's "The client".
"""

from ._client.options import Resume as Resume
from ._client.registered import complete_authorization as complete_authorization
from ._client.registry._base import DEFAULT_DORMANT_AGE as DEFAULT_DORMANT_AGE
from ._client.registry._base import DEFAULT_PENDING_TTL as DEFAULT_PENDING_TTL
from ._client.registry._base import ClientAuthUnreadable as ClientAuthUnreadable
from ._client.registry._base import ClientRegistryConfigError as ClientRegistryConfigError
from ._client.registry._base import ClientRegistryError as ClientRegistryError
from ._client.registry._base import ClientRegistryUnavailable as ClientRegistryUnavailable
from ._client.registry._base import ClientSessionExists as ClientSessionExists
from ._client.registry._base import ClientSessionExpiry as ClientSessionExpiry
from ._client.registry._base import ClientSessionNotFound as ClientSessionNotFound
from ._client.registry._base import ClientSessionRecord as ClientSessionRecord
from ._client.registry._base import ClientSessionRegistry as ClientSessionRegistry
from ._client.registry._base import ClientSessionStatus as ClientSessionStatus
from ._client.registry._base import ClientTransport as ClientTransport
from ._client.registry.config import client_registry_from_config as client_registry_from_config
from ._client.registry.config import open_client_registry as open_client_registry
from ._client.registry.file import FileClientRegistry as FileClientRegistry
from ._client.registry.memory import MemoryClientRegistry as MemoryClientRegistry
from ._client.registry.redis import RedisClientRegistry as RedisClientRegistry

__all__ = [
    "DEFAULT_DORMANT_AGE",
    "DEFAULT_PENDING_TTL",
    "ClientAuthUnreadable",
    "ClientRegistryConfigError",
    "ClientRegistryError",
    "ClientRegistryUnavailable",
    "ClientSessionExists",
    "ClientSessionExpiry",
    "ClientSessionNotFound",
    "ClientSessionRecord",
    "ClientSessionRegistry",
    "ClientSessionStatus",
    "ClientTransport",
    "FileClientRegistry",
    "MemoryClientRegistry",
    "RedisClientRegistry",
    "Resume",
    "client_registry_from_config",
    "complete_authorization",
    "open_client_registry",
]
