"""RedisClientRegistry: the records in Redis (coredis, through trio_mcp/_redis.py), shared by every instance.

Key layout (ClientRegistryKeys; ``{u}``, ``{s}``: percent-encoded user and session ids):

================================  ======  ===========================================================
``{p}record:{u}:{s}``             STRING  the record's JSON; PX to its deadline (none for an infinite one)
``{p}by-user:{u}``                ZSET    ``{s}`` -> deadline (epoch s); expires with its longest-lived member
``{p}records``                    ZSET    ``{u}:{s}`` -> deadline: ``list_all_ids`` (ZSCAN) and cleanup
================================  ======  ===========================================================

Every write is one Lua script (atomic, one round trip): insert-if-absent or compare-and-swap of the record's
text, with both zsets. Deadlines are the engine's (the record's status and updated_at, the instance's wall
clock); key TTLs reclaim the records, and ``cleanup_expired`` the zset members left behind (``create`` also
sweeps ``{p}records``, so it stays bounded without it). Iteration uses ZSCAN/SCAN, never KEYS. Scripts build
keys from the prefix, so this targets a single Redis 7+ (or Valkey), not Redis Cluster.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ..._redis import DEFAULT_TIMEOUT, RedisConnection, Scripts, milliseconds
from ..._stores._base import Clock, wall_clock
from ..._stores.redis import _glob_escape
from ._base import DEFAULT_DORMANT_AGE, DEFAULT_PENDING_TTL, ClientRegistryError, ClientRegistryUnavailable
from .engine import RegistryEngine
from .keys import DEFAULT_PREFIX, ClientRegistryKeys, encode_id
from .sealing import Keys

if TYPE_CHECKING:
    import coredis

_SCAN_COUNT = 500
_CLEANUP_BATCH = 500

# KEYS: 1 record, 2 user zset, 3 index. ARGV: 1 'insert' | 'swap', 2 the text expected (swap), 3 the new
# text, 4 PX ms ('0': no expiry), 5 deadline score, 6 encoded sid, 7 index member, 8 now (insert sweeps the
# index).
_WRITE_LUA = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == 'insert' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if ARGV[4] == '0' then
  redis.call('SET', KEYS[1], ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2]
if top == 'inf' or top == '+inf' then
  redis.call('PERSIST', KEYS[2])
else
  redis.call('PEXPIREAT', KEYS[2], string.format('%d', math.ceil(tonumber(top) * 1000)))
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[7])
if ARGV[1] == 'insert' then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[8])
end
return 1
"""

# KEYS: 1 record, 2 user zset, 3 index. ARGV: 1 encoded sid, 2 index member. Returns the removed text.
_REMOVE_LUA = """
local raw = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[2])
return raw
"""

# KEYS: 1 user zset. ARGV: 1 now, 2 the user's record key head ('{p}record:{u}:'). The live records' texts.
_READ_USER_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local raw = redis.call('GET', ARGV[2] .. sid)
  if raw then out[#out + 1] = raw end
end
return out
"""

# KEYS: 1 index. ARGV: 1 now, 2 record key head, 3 user zset head, 4 batch size. Removes up to a batch of
# expired records (the score is updated by every write in the same script, so a live record is never hit).
_CLEANUP_LUA = """
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
for _, member in ipairs(members) do
  redis.call('DEL', ARGV[2] .. member)
  local sep = string.find(member, ':', 1, true)
  if sep then
    redis.call('ZREM', ARGV[3] .. string.sub(member, 1, sep - 1), string.sub(member, sep + 1))
  end
  redis.call('ZREM', KEYS[1], member)
end
return #members
"""


def _score(deadline: float) -> str:
    return "+inf" if math.isinf(deadline) else repr(deadline)


class RedisClientRegistry(RegistryEngine):
    """Records in Redis. Construct with :meth:`from_url`; open with ``async with`` or ``open()``."""

    def __init__(
        self,
        connection: RedisConnection,
        *,
        prefix: str = DEFAULT_PREFIX,
        pending_ttl: float = DEFAULT_PENDING_TTL,
        dormant_age: float = DEFAULT_DORMANT_AGE,
        keys: Keys = None,
        clock: Clock = wall_clock,
    ) -> None:
        super().__init__(pending_ttl=pending_ttl, dormant_age=dormant_age, keys=keys, clock=clock)
        self.prefix = prefix
        self.layout = ClientRegistryKeys(prefix)
        self._conn = connection
        self._scripts = Scripts(
            connection,
            {
                "write": _WRITE_LUA,
                "remove": _REMOVE_LUA,
                "read_user": _READ_USER_LUA,
                "cleanup": _CLEANUP_LUA,
            },
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        pending_ttl: float = DEFAULT_PENDING_TTL,
        dormant_age: float = DEFAULT_DORMANT_AGE,
        keys: Keys = None,
        clock: Clock = wall_clock,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> RedisClientRegistry:
        """A registry on ``url`` (``redis://[user:password@]host:port/db``, ``rediss://``, ``unix://``).
        Nothing connects until the first operation; each fails with ClientRegistryUnavailable after at most
        twice ``timeout`` while Redis cannot be reached."""
        connection = RedisConnection(
            url,
            timeout=timeout,
            unavailable=ClientRegistryUnavailable,
            error=ClientRegistryError,
            owner="RedisClientRegistry",
        )
        return cls(
            connection,
            prefix=prefix,
            pending_ttl=pending_ttl,
            dormant_age=dormant_age,
            keys=keys,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"<RedisClientRegistry {self._conn.display_url} prefix={self.prefix!r}>"

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        async with self._conn:
            yield

    # -- the primitives --

    async def _read(self, user_id: str, session_id: str) -> str | None:
        key = self.layout.session(user_id, session_id)
        return await self._conn.run("get", lambda r: r.get(key))

    async def _read_user(self, user_id: str, now: float) -> list[str]:
        script = self._scripts["read_user"]
        keys = [self.layout.user(user_id)]
        args = [repr(now), f"{self.layout.session_head}{encode_id(user_id)}:"]
        texts = await self._conn.run("list", lambda r: script(keys=keys, args=args))
        return [str(text) for text in texts]

    async def _insert(self, user_id: str, session_id: str, text: str, deadline: float) -> bool:
        return await self._write("insert", user_id, session_id, "", text, deadline)

    async def _swap(self, user_id: str, session_id: str, old: str, new: str, deadline: float) -> bool:
        return await self._write("swap", user_id, session_id, old, new, deadline)

    async def _remove(self, user_id: str, session_id: str) -> str | None:
        script = self._scripts["remove"]
        keys = self._record_keys(user_id, session_id)
        args = [encode_id(session_id), self.layout.member(user_id, session_id)]
        return await self._conn.run("delete", lambda r: script(keys=keys, args=args))

    async def _all_ids(self, now: float) -> list[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        cursor = 0
        while True:
            cursor, members = await self._conn.run(
                "list_all_ids",
                lambda r, c=cursor: r.zscan(self.layout.index, cursor=c, count=_SCAN_COUNT),
            )
            found.update(self.layout.parse_member(str(m.member)) for m in members if m.score > now)
            if cursor == 0:
                return list(found)

    async def _clear(self) -> None:
        for head in (self.layout.session_head, self.layout.user_head):
            pattern = _glob_escape(head) + "*"
            await self._each_key(pattern, None, self._delete_keys)
        await self._conn.run("clear_all", lambda r: r.delete([self.layout.index]))

    async def _cleanup(self, now: float) -> int:
        script = self._scripts["cleanup"]
        keys = [self.layout.index]
        args = [repr(now), self.layout.session_head, self.layout.user_head, _CLEANUP_BATCH]
        removed = 0
        while True:
            batch = int(await self._conn.run("cleanup_expired", lambda r: script(keys=keys, args=args)))
            removed += batch
            if batch < _CLEANUP_BATCH:
                break

        # Members the index sweep of `create` already dropped may still be in user zsets.
        async def sweep(found: list[str]) -> None:
            async def operation(client: coredis.Redis[str]) -> None:
                async with client.pipeline(transaction=False) as pipe:
                    for key in found:
                        pipe.zremrangebyscore(key, float("-inf"), now)

            await self._conn.run("cleanup_expired", operation)

        await self._each_key(_glob_escape(self.layout.user_head) + "*", "zset", sweep)
        return removed

    # -- internals --

    def _record_keys(self, user_id: str, session_id: str) -> list[str]:
        return [self.layout.session(user_id, session_id), self.layout.user(user_id), self.layout.index]

    async def _write(
        self, mode: str, user_id: str, session_id: str, old: str, new: str, deadline: float
    ) -> bool:
        now = self._clock()
        px = "0" if math.isinf(deadline) else str(milliseconds(deadline - now))
        script = self._scripts["write"]
        keys = self._record_keys(user_id, session_id)
        args = [
            mode,
            old,
            new,
            px,
            _score(deadline),
            encode_id(session_id),
            self.layout.member(user_id, session_id),
            repr(now),
        ]
        return bool(await self._conn.run(mode, lambda r: script(keys=keys, args=args)))

    async def _each_key(
        self, pattern: str, type_: str | None, handle: Callable[[list[str]], Awaitable[None]]
    ) -> None:
        cursor = 0
        while True:
            cursor, found = await self._conn.run(
                "scan",
                lambda r, c=cursor: r.scan(cursor=c, match=pattern, count=_SCAN_COUNT, type_=type_),
            )
            if found:
                await handle(list(found))
            if cursor == 0:
                return

    async def _delete_keys(self, keys: list[str]) -> None:
        await self._conn.run("clear_all", lambda r: r.delete(keys))
