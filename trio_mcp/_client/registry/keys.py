"""The client registry's Redis key layout under one prefix (default ``mcp-client:``, apart from the servers'
``mcp:``), in one place (docs/architecture.md §7). Its heads differ from every head of the servers' RedisKeys,
so even under one shared prefix neither side's keys or SCAN patterns (``clear``) ever match the other's.

User and session ids are percent-encoded in keys and members (``quote(..., safe="")``), so neither holds a
``:`` and ``{user}:{session}`` splits one way only, whatever the ids contain.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

DEFAULT_PREFIX = "mcp-client:"


def encode_id(text: str) -> str:
    return quote(text, safe="")


class ClientRegistryKeys:
    __slots__ = ("index", "prefix", "session_head", "user_head")

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self.index = f"{prefix}records"  # ZSET: member(user, sid) -> deadline
        self.session_head = f"{prefix}record:"  # STRING: the record's text, PX to its deadline
        self.user_head = f"{prefix}by-user:"  # ZSET: encoded sid -> deadline; expires with its last member

    def member(self, user_id: str, session_id: str) -> str:
        return f"{encode_id(user_id)}:{encode_id(session_id)}"

    def session(self, user_id: str, session_id: str) -> str:
        return self.session_head + self.member(user_id, session_id)

    def user(self, user_id: str) -> str:
        return self.user_head + encode_id(user_id)

    @staticmethod
    def parse_member(member: str) -> tuple[str, str]:
        user, _, session = member.partition(":")
        return unquote(user), unquote(session)

    def __repr__(self) -> str:
        return f"ClientRegistryKeys({self.prefix!r})"
