"""RedisSessionStore: session records in Redis (coredis 6.9), so any instance can serve any session.

Key layout (``prefix`` defaults to ``mcp:``):

=================================  ======  =========================================================
``{prefix}session:{sid}``          STRING  the record as cattrs JSON; TTL = the record's TTL (SET PX)
``{prefix}sessions``               ZSET    sid -> expiry time (epoch seconds); ``count`` is
                                           ``ZCOUNT (now +inf``, swept with ``ZREMRANGEBYSCORE``; no TTL
                                           (``cleanup_expired`` sweeps it and every user zset, found by SCAN)
``{prefix}user:{p}:sessions``      ZSET    the same for principal ``p``; expires with its last member
``{prefix}corrupt:{sid}``          STRING  an unreadable record moved aside (kept one day)
=================================  ======  =========================================================

Every multi-key change is atomic: ``set`` is one MULTI/EXEC pipeline; ``delete`` and ``touch`` are Lua scripts
(atomic, one round trip) because they need what the record says (its principal, its status) and a separate
read would race with a concurrent ``set`` on another instance. Iteration uses ZSCAN/SCAN, never KEYS.

``touch(ids)`` is ONE script call for the whole heartbeat batch. For each id still present it refreshes the
key's TTL for the record's status (pending -> ``pending_timeout``, active -> ``idle_timeout``), the zset scores,
and ``last_accessed_at`` -- without a read-modify-write from Python: records are written with
``lastAccessedAt`` as their first member, which the script rewrites in place; nothing else of the record is
touched, so a concurrent ``set`` can never be overwritten with stale data. Missing ids are ignored (a touch
never resurrects a deleted session).

Expiry times in the zsets come from the injectable ``clock`` (the instance's wall clock); key TTLs are kept
by Redis. Multi-key scripts compute the user zset key inside the script, so this store targets a single
Redis (or a Redis-compatible server, 7.0+), not Redis Cluster.

Lifetime: like coredis itself, the store must be opened in the task that will close it -- ``async with
store:`` (the ASGI lifespan does that) or ``await store.open()`` ... ``await store.aclose()``. Opening
does not connect: the app starts while Redis is down, every operation then fails fast with
:class:`StoreUnavailable` (bounded timeouts) and succeeds again once Redis is back, with the same store.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncGenerator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from .._lifetime import Lifetime
from .._redis import DEFAULT_TIMEOUT, RedisConnection, milliseconds
from .._redis_keys import RedisKeys
from ._base import (
    Clock,
    ExpiryPolicy,
    SessionRecord,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
    _converter,
    dump_json,
    record_from_obj,
    wall_clock,
)

if TYPE_CHECKING:
    import coredis

log = logging.getLogger("trio_mcp.stores.redis")

CORRUPT_KEEP_SECONDS = 86_400
_SCAN_COUNT = 500
_DELETE_BATCH = 500
MGET_CHUNK = 500  # session records per MGET in get_many

# KEYS[1] = the session index, KEYS[2..] = session keys.
# ARGV: 1 now (JSON number), 2/3 pending/active TTL ms, 4/5 pending/active expiry score,
#       6/7 pending/active expiry epoch ms, 8 session key head, 9/10 user zset key head/tail.
_TOUCH_LUA = """
local head_len = string.len(ARGV[8])
local touched = 0
for i = 2, #KEYS do
  local key = KEYS[i]
  local raw = redis.call('GET', key)
  if raw then
    local ok, rec = pcall(cjson.decode, raw)
    if ok and type(rec) == 'table' then
      local k = 0
      if rec['status'] == 'active' then k = 1 end
      local ttl_ms, score, expiry_ms = ARGV[2 + k], ARGV[4 + k], ARGV[6 + k]
      local sid = string.sub(key, head_len + 1)
      local s, e = string.find(raw, '^{"lastAccessedAt":[-+.%deE]+')
      if s then
        redis.call('SET', key, '{"lastAccessedAt":' .. ARGV[1] .. string.sub(raw, e + 1), 'PX', ttl_ms)
      else
        redis.call('PEXPIRE', key, ttl_ms)
      end
      redis.call('ZADD', KEYS[1], score, sid)
      local principal = rec['principal']
      if type(principal) == 'string' then
        local user_key = ARGV[9] .. principal .. ARGV[10]
        redis.call('ZADD', user_key, score, sid)
        redis.call('PEXPIREAT', user_key, expiry_ms, 'NX')
        redis.call('PEXPIREAT', user_key, expiry_ms, 'GT')
      end
      touched = touched + 1
    end
  end
end
return touched
"""

# The session cap, checked and taken in one step. KEYS[1] = the session index, KEYS[2] = the session key,
# KEYS[3] (optional) = the principal's zset. ARGV: 1 sid, 2 now, 3 max sessions, 4 record JSON, 5 TTL ms,
# 6 expiry score, 7 expiry epoch ms.
_CREATE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[6], ARGV[1])
if KEYS[3] then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
  redis.call('PEXPIREAT', KEYS[3], ARGV[7], 'NX')
  redis.call('PEXPIREAT', KEYS[3], ARGV[7], 'GT')
end
return 1
"""

# KEYS[1] = the session index, KEYS[2] = the session key; ARGV: 1 sid, 2/3 user zset key head/tail.
_DELETE_LUA = """
local raw = redis.call('GET', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
if not raw then return 0 end
local ok, rec = pcall(cjson.decode, raw)
if ok and type(rec) == 'table' and type(rec['principal']) == 'string' then
  redis.call('ZREM', ARGV[2] .. rec['principal'] .. ARGV[3], ARGV[1])
end
redis.call('DEL', KEYS[2])
return 1
"""


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def dump_record(record: SessionRecord) -> str:
    """The record's cattrs JSON with ``lastAccessedAt`` first (the touch script rewrites it in place)."""
    obj: dict[str, Any] = _converter.unstructure(record)
    ordered: dict[str, Any] = {"lastAccessedAt": obj.pop("lastAccessedAt", record.last_accessed_at)}
    ordered.update(obj)
    return dump_json(ordered)


def load_record(text: str) -> SessionRecord:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise StoreCorrupt(f"not valid JSON: {exc}") from None
    try:
        return record_from_obj(obj)
    except StoreCorrupt:
        raise
    except Exception as exc:
        raise StoreCorrupt(f"not a valid session record: {exc}") from None


class RedisSessionStore(Lifetime):
    """Session records in Redis. Construct with :meth:`from_url`; open with ``async with`` or ``open()``."""

    def __init__(
        self,
        connection: RedisConnection,
        *,
        prefix: str = "mcp:",
        policy: ExpiryPolicy | None = None,
        clock: Clock = wall_clock,
    ) -> None:
        self.policy: ExpiryPolicy = policy if policy is not None else ExpiryPolicy()
        self.prefix = prefix
        self._conn = connection
        self._clock = clock
        self.layout = RedisKeys(prefix)
        self._scripts: dict[str, Any] = {}

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "mcp:",
        policy: ExpiryPolicy | None = None,
        clock: Clock = wall_clock,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> RedisSessionStore:
        """A store on ``url`` (``redis://[user:password@]host:port/db``, ``rediss://``, ``unix://``).

        ``timeout`` bounds connecting and each reply; an operation fails with StoreUnavailable after at most
        twice that. Nothing connects until the first operation.
        """
        connection = RedisConnection(
            url,
            timeout=timeout,
            unavailable=StoreUnavailable,
            error=StoreError,
            owner="RedisSessionStore",
        )
        return cls(connection, prefix=prefix, policy=policy, clock=clock)

    def __repr__(self) -> str:
        return f"<RedisSessionStore {self._conn.display_url} prefix={self.prefix!r}>"

    # -- lifetime (Lifetime): the Redis client; no connection until the first operation --

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        async with self._conn:
            yield

    # -- keys --

    # -- SessionStore --

    async def get(self, session_id: str) -> SessionRecord | None:
        key = self.layout.session(session_id)
        text = await self._conn.run("get", lambda r: r.get(key))
        if text is None:
            return None
        try:
            return load_record(text)
        except StoreCorrupt as exc:
            await self._quarantine(session_id, str(exc))
            return None

    async def get_many(self, session_ids: Iterable[str]) -> dict[str, SessionRecord]:
        ids = list(dict.fromkeys(session_ids))
        found: dict[str, SessionRecord] = {}
        # MGET in bounded chunks: one round trip per chunk, and no single reply of unbounded size.
        for start in range(0, len(ids), MGET_CHUNK):
            chunk = ids[start : start + MGET_CHUNK]
            keys = [self.layout.session(sid) for sid in chunk]
            texts = await self._conn.run("mget", lambda r, keys=keys: r.mget(keys))
            for sid, text in zip(chunk, texts, strict=True):
                if text is None:
                    continue
                try:
                    found[sid] = load_record(text)
                except StoreCorrupt as exc:
                    await self._quarantine(sid, str(exc))
        return found

    async def set(self, record: SessionRecord, *, ttl: float | None = None) -> None:
        lifetime = self.policy.ttl_for(record) if ttl is None else ttl
        if lifetime <= 0:
            await self.delete(record.session_id)
            return
        sid = record.session_id
        key = self.layout.session(sid)
        text = dump_record(record)
        expiry = self._clock() + lifetime
        principal = record.principal

        async def operation(client: coredis.Redis[str]) -> None:
            from coredis import PureToken

            async with client.pipeline(transaction=True) as pipe:
                pipe.set(key, text, px=milliseconds(lifetime))
                pipe.zadd(self.layout.index, {sid: expiry})
                if principal is not None:
                    user_key = self.layout.user(principal)
                    expiry_ms = math.ceil(expiry * 1000)
                    pipe.zadd(user_key, {sid: expiry})
                    # The user zset lives as long as its longest-lived member (NX: first TTL, GT: extend).
                    pipe.pexpireat(user_key, expiry_ms, condition=PureToken.NX)
                    pipe.pexpireat(user_key, expiry_ms, condition=PureToken.GT)

        await self._conn.run("set", operation)

    async def delete(self, session_id: str) -> bool:
        script = self._script("delete")
        keys = [self.layout.index, self.layout.session(session_id)]
        args = [session_id, self.layout.user_head, self.layout.user_tail]
        removed = await self._conn.run("delete", lambda r: script(keys=keys, args=args))
        return bool(removed)

    async def has(self, session_id: str) -> bool:
        key = self.layout.session(session_id)
        return bool(await self._conn.run("has", lambda r: r.exists([key])))

    async def keys(self) -> AsyncGenerator[str]:
        seen: set[str] = set()
        cursor = 0
        while True:
            now = self._clock()
            cursor, members = await self._zscan_page(cursor)
            for member in members:
                sid = str(member.member)
                if member.score > now and sid not in seen:
                    seen.add(sid)
                    yield sid
            if cursor == 0:
                return

    async def touch(self, session_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(session_ids))
        if not ids:
            return
        now = self._clock()
        pending, active = self.policy.pending_timeout, self.policy.idle_timeout
        script = self._script("touch")
        keys = [self.layout.index, *(self.layout.session(sid) for sid in ids)]
        args: list[str | int | float] = [
            json.dumps(now),
            milliseconds(pending),
            milliseconds(active),
            repr(now + pending),
            repr(now + active),
            math.ceil((now + pending) * 1000),
            math.ceil((now + active) * 1000),
            self.layout.session_head,
            self.layout.user_head,
            self.layout.user_tail,
        ]
        await self._conn.run("touch", lambda r: script(keys=keys, args=args))

    async def clear(self) -> None:
        """Remove this store's keys (sessions, index, user zsets, quarantined records) -- nothing else."""
        head = _glob_escape(self.prefix)
        for pattern in (f"{head}session:*", f"{head}user:*{self.layout.user_tail}", f"{head}corrupt:*"):
            await self._delete_matching(pattern)
        await self._conn.run("clear", lambda r: r.delete([self.layout.index]))

    async def list_for_user(self, principal: str) -> list[str]:
        user_key = self.layout.user(principal)
        now = self._clock()

        async def candidates(client: coredis.Redis[str]) -> tuple[str, ...]:
            from coredis import PureToken

            async with client.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(user_key, float("-inf"), now)
                pipe.zrange(user_key, f"({now!r}", "+inf", sortby=PureToken.BYSCORE)
            results = pipe.results
            assert results is not None
            return tuple(str(sid) for sid in results[1])

        sids = await self._conn.run("list_for_user", candidates)
        if not sids:
            return []
        # Check against the records themselves: the zset may lag behind (a record re-owned or damaged).
        texts = await self._conn.run(
            "list_for_user", lambda r: r.mget([self.layout.session(s) for s in sids])
        )
        owned: list[str] = []
        for sid, text in zip(sids, texts, strict=True):
            if text is None:
                continue
            try:
                record = load_record(text)
            except StoreCorrupt:
                continue
            if record.principal == principal:
                owned.append(sid)
        return owned

    async def count(self) -> int:
        now = self._clock()

        async def operation(client: coredis.Redis[str]) -> int:
            async with client.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(self.layout.index, float("-inf"), now)  # the sweep of expired ids
                pipe.zcount(self.layout.index, f"({now!r}", "+inf")
            results = pipe.results
            assert results is not None
            return int(results[1])

        return await self._conn.run("count", operation)

    async def cleanup_expired(self) -> int:
        # The records themselves expire by their key TTL; what stays behind are their ids in the zsets.
        now = self._clock()
        removed = await self._conn.run(
            "cleanup_expired", lambda r: r.zremrangebyscore(self.layout.index, float("-inf"), now)
        )
        pattern = f"{_glob_escape(self.prefix)}user:*{self.layout.user_tail}"
        cursor = 0
        while True:
            cursor, found = await self._scan_page(cursor, pattern, action="cleanup_expired", type_="zset")
            if found:
                await self._sweep_user_indexes(list(found), now)
            if cursor == 0:
                return int(removed)

    async def _sweep_user_indexes(self, keys: list[str], now: float) -> None:
        async def operation(client: coredis.Redis[str]) -> None:
            async with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zremrangebyscore(key, float("-inf"), now)

        await self._conn.run("cleanup_expired", operation)

    async def create(self, record: SessionRecord, *, max_sessions: int) -> bool:
        lifetime = self.policy.ttl_for(record)
        now = self._clock()
        expiry = now + lifetime
        keys = [self.layout.index, self.layout.session(record.session_id)]
        if record.principal is not None:
            keys.append(self.layout.user(record.principal))
        args: list[str | int | float] = [
            record.session_id,
            repr(now),
            max_sessions,
            dump_record(record),
            milliseconds(lifetime),
            repr(expiry),
            math.ceil(expiry * 1000),
        ]
        script = self._script("create")
        return bool(await self._conn.run("create", lambda r: script(keys=keys, args=args)))

    # -- internals --

    def _script(self, name: str) -> Any:
        if not self._scripts:
            client = self._conn.client()
            self._scripts = {
                "touch": client.register_script(_TOUCH_LUA),
                "delete": client.register_script(_DELETE_LUA),
                "create": client.register_script(_CREATE_LUA),
            }
        return self._scripts[name]

    async def _zscan_page(self, cursor: int) -> tuple[int, tuple[Any, ...]]:
        return await self._conn.run(
            "keys", lambda r: r.zscan(self.layout.index, cursor=cursor, count=_SCAN_COUNT)
        )

    async def _scan_page(
        self, cursor: int, pattern: str, *, action: str = "clear", type_: str | None = None
    ) -> tuple[int, tuple[str, ...]]:
        return await self._conn.run(
            action, lambda r: r.scan(cursor=cursor, match=pattern, count=_SCAN_COUNT, type_=type_)
        )

    async def _delete_keys(self, keys: list[str]) -> None:
        await self._conn.run("clear", lambda r: r.delete(keys))

    async def _delete_matching(self, pattern: str) -> None:
        cursor = 0
        while True:
            cursor, found = await self._scan_page(cursor, pattern)
            batch = list(found)
            for start in range(0, len(batch), _DELETE_BATCH):
                await self._delete_keys(batch[start : start + _DELETE_BATCH])
            if cursor == 0:
                return

    async def _quarantine(self, session_id: str, problem: str) -> None:
        """Move an unreadable record aside (never delete data silently) and forget the session."""
        key = self.layout.session(session_id)
        aside = self.layout.corrupt(session_id)

        async def operation(client: coredis.Redis[str]) -> None:
            async with client.pipeline(transaction=True, raise_on_error=False) as pipe:
                pipe.rename(key, aside)
                pipe.expire(aside, CORRUPT_KEEP_SECONDS)
                pipe.zrem(self.layout.index, [session_id])

        await self._conn.run("get", operation)
        log.warning(
            "session record %s in Redis at %s is unreadable (%s); moved it to %s and treating the session "
            "as unknown",
            key,
            self._conn.display_url,
            problem,
            aside,
        )
