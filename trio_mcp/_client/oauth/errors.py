"""The OAuth client's errors: one plain exception each, with a message that says what failed and where.

No message carries a token, a secret, a PKCE verifier or an authorization code.
"""

from __future__ import annotations

from collections.abc import Iterable


class OAuthError(Exception):
    """Authorization with the MCP server's authorization server failed; the message says which step."""


class DiscoveryError(OAuthError):
    """The protected resource or authorization server metadata could not be found, or did not check out
    (RFC 9728 §3.3 resource, RFC 8414 §3.3 issuer, PKCE support)."""


class RegistrationError(OAuthError):
    """The client could not be registered (RFC 7591), or its registration cannot be used."""


class TokenError(OAuthError):
    """The token endpoint refused a request (RFC 6749 §5.2); `error` is its error code when it gave one."""

    def __init__(self, message: str, *, error: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


class AuthorizationFailed(OAuthError):
    """The authorization response was refused: the user or the server denied it, or its `state` or `iss`
    did not match the request (RFC 6749 §10.12, RFC 9207 §2.4)."""


class AuthorizationRequired(OAuthError):
    """The user must authorize this client in a browser, and no callback handler was given to wait for it.

    Send the user to `authorization_url`; the redirect back carries `code` and `state` (and maybe `iss`), which
    `complete_authorization(storage, code=..., state=..., iss=...)` exchanges for tokens. The PKCE verifier
    and the state wait in the storage meanwhile.
    """

    def __init__(self, authorization_url: str, state: str) -> None:
        super().__init__(
            "the user must authorize this client: send them to the authorization URL, then pass the code and "
            "state of the redirect to complete_authorization()"
        )
        self.authorization_url = authorization_url
        self.state = state


class AccessRefused(OAuthError):
    """The MCP server still refused the request after the client got a token for it (HTTP `status`)."""

    def __init__(self, message: str, *, status: int, scopes: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.scopes = tuple(scopes)


class InsufficientScope(AccessRefused):
    """403 `insufficient_scope` after as many re-authorizations with more scopes as the client allows."""
