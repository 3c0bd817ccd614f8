"""OAuth 2.1 for MCP servers (docs/architecture.md §10): the token verifier protocol and the shipped verifiers.

`server.asgi_app(auth=JWTVerifier(issuer, jwks_url), auth_issuer=issuer)`, or the knobs `auth_issuer` with
`auth_jwks_url` or `auth_introspection_url`; `DevelopmentIssuer` mints tokens for local development only.
"""

from ._auth.dev_issuer import DevelopmentIssuer as DevelopmentIssuer
from ._auth.introspection import IntrospectionVerifier as IntrospectionVerifier
from ._auth.jwt import JWTVerifier as JWTVerifier
from ._auth.tokens import AccessToken as AccessToken
from ._auth.tokens import InvalidToken as InvalidToken
from ._auth.tokens import TokenVerifier as TokenVerifier
from ._auth.tokens import VerifierUnavailable as VerifierUnavailable

__all__ = [
    "AccessToken",
    "DevelopmentIssuer",
    "IntrospectionVerifier",
    "InvalidToken",
    "JWTVerifier",
    "TokenVerifier",
    "VerifierUnavailable",
]
