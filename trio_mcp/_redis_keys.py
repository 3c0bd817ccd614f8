"""The Redis key layout under one prefix: every key and channel name the Redis backends use, in one place.

The table is in docs/architecture.md §6. The heads are also handed to the Lua scripts (which build keys from
ids) and used to tell a stream channel from the other channels.
"""

from __future__ import annotations


class RedisKeys:
    __slots__ = (
        "alive_head",
        "control",
        "corrupt_head",
        "events_head",
        "holder_head",
        "index",
        "instance_head",
        "prefix",
        "route_head",
        "session_head",
        "stream_head",
        "taken_head",
        "user_head",
        "user_tail",
    )

    def __init__(self, prefix: str = "mcp:") -> None:
        self.prefix = prefix
        # the session store
        self.index = f"{prefix}sessions"  # ZSET: sid -> expiry
        self.session_head = f"{prefix}session:"
        self.user_head = f"{prefix}user:"
        self.user_tail = ":sessions"
        self.corrupt_head = f"{prefix}corrupt:"
        # the stream manager
        self.stream_head = f"{prefix}stream:"
        self.control = f"{prefix}control"
        self.instance_head = f"{prefix}instance:"
        self.alive_head = f"{prefix}alive:"
        self.holder_head = f"{prefix}holder:"
        self.taken_head = f"{prefix}taken:"
        self.route_head = f"{prefix}route:"
        # the event store: the session id in braces is a hash tag, so a Redis Cluster keeps a session's logs
        # on one slot
        self.events_head = f"{prefix}events:"

    def session(self, session_id: str) -> str:
        return self.session_head + session_id

    def user(self, principal: str) -> str:
        return f"{self.user_head}{principal}{self.user_tail}"

    def corrupt(self, session_id: str) -> str:
        return self.corrupt_head + session_id

    def stream(self, session_id: str) -> str:
        return self.stream_head + session_id

    def instance(self, instance_id: str) -> str:
        return self.instance_head + instance_id

    def alive(self, instance_id: str) -> str:
        return self.alive_head + instance_id

    def holder(self, session_id: str) -> str:
        return self.holder_head + session_id

    def taken(self, session_id: str) -> str:
        return self.taken_head + session_id

    def route(self, session_id: str, request_id: str | int) -> str:
        # str(): our own server-to-client ids are strings ("<instance>-<n>"); the waiting instance matches the
        # exact id (and its type) when it delivers the reply, so 1 vs "1" can at worst mis-forward, never mis-deliver.
        return f"{self.route_head}{session_id}:{request_id}"

    def event_log(self, session_id: str, stream_id: str) -> str:
        """A Redis Stream: one SSE stream's events (entry ids `0-<seq>`)."""
        return f"{self.events_head}{{{session_id}}}:{stream_id}"

    def parked(self, session_id: str) -> str:
        """A LIST: messages for the session's standalone stream sent while no instance held it."""
        return f"{self.events_head}{{{session_id}}}:parked"

    def event_logs(self, session_id: str) -> str:
        """A SET: the ids of the session's logged streams (so its logs go with it on DELETE)."""
        return f"{self.events_head}{{{session_id}}}"

    def __repr__(self) -> str:
        return f"RedisKeys({self.prefix!r})"
