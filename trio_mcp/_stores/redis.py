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

Every multi-key change is atomic: ``set`` is one MULTI/EXEC pipeline; ``create``, ``activate``, ``delete``,
``end`` and ``touch`` are Lua scripts (atomic, one round trip) because they need what the record says (its
principal, its status) or the index (the cap), and a separate read would race with a concurrent ``set`` on
another instance. Iteration uses ZSCAN/SCAN, never KEYS.

A session's life is one round trip per step: ``create`` (initialize: the cap checked and the whole pending
record written), ``activate`` (``notifications/initialized``: the principal checked, the record turned active
in place, TTL and indexes refreshed, the record returned) and ``end`` (DELETE: the principal checked, the
record and its index entries removed, and -- handed in by the transport, see ``_redis_lifecycle.py`` -- the
session's event-store keys deleted and the stream manager's ``SessionDeleted`` message published on its
control channel, so every instance closes its copy). The event keys and the channel are whatever the other
backends name; the script only needs them on the same Redis.

``touch(ids)`` is ONE script call for the whole heartbeat batch. For each id still present it refreshes the
key's TTL for the record's status (pending -> ``pending_timeout``, active -> ``idle_timeout``), the zset scores,
and ``last_accessed_at`` -- without a read-modify-write from Python: records are written with
``lastAccessedAt`` as their first member and ``status`` as their second, which the touch and activate scripts
rewrite in place (one anchored pattern: no key of a nested object can match it); nothing else of the record is
touched, so a concurrent ``set`` can never be overwritten with stale data. A record of an older version
(``status`` elsewhere) is activated in two steps. Missing ids are ignored (a touch
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

import attrs

from .._lifetime import Lifetime
from .._redis import DEFAULT_TIMEOUT, RedisConnection, Scripts, milliseconds
from .._redis_keys import RedisKeys
from .._redis_lifecycle import Caller, EndOutcome, Publication, SessionEventKeys
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

# `notifications/initialized`: the record turned active and refreshed as a touch does, in one step, for the
# caller's principal only. KEYS[1] = the session index, KEYS[2] = the session key.
# ARGV: 1 sid, 2 '1' with a principal / '0' without, 3 the principal, 4 now (JSON number), 5 active TTL ms,
#       6 active expiry score, 7 active expiry epoch ms, 8/9 user zset key head/tail.
# Returns nil (no record), {0} (another principal's: nothing written), {1, text} (active, as now stored) or
# {2, text} (nothing written: a record this script cannot rewrite in place -- unreadable, or written by an older
# version without `status` second -- for the caller to handle).
_ACTIVATE_LUA = """
local raw = redis.call('GET', KEYS[2])
if not raw then return false end
local ok, rec = pcall(cjson.decode, raw)
if not ok or type(rec) ~= 'table' then return {2, raw} end
local owner = rec['principal']
if type(owner) == 'string' and (ARGV[2] == '0' or owner ~= ARGV[3]) then return {0} end
local head = '{"lastAccessedAt":' .. ARGV[4]
local text
local _, e = string.find(raw, '^{"lastAccessedAt":[-+.%deE]+,"status":"pending"')
if e then
  text = head .. ',"status":"active"' .. string.sub(raw, e + 1)
elseif rec['status'] == 'active' then
  _, e = string.find(raw, '^{"lastAccessedAt":[-+.%deE]+')
  if not e then return {2, raw} end
  text = head .. string.sub(raw, e + 1)
else
  return {2, raw}
end
redis.call('SET', KEYS[2], text, 'PX', ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[6], ARGV[1])
if type(owner) == 'string' then
  local user_key = ARGV[8] .. owner .. ARGV[9]
  redis.call('ZADD', user_key, ARGV[6], ARGV[1])
  redis.call('PEXPIREAT', user_key, ARGV[7], 'NX')
  redis.call('PEXPIREAT', user_key, ARGV[7], 'GT')
end
return {1, text}
"""

# A session's whole end (DELETE, revoke) in one step: the caller's principal checked, the record and its index
# entries gone, the session's event logs gone, and the control message published (every instance closes its
# live copy). KEYS[1] = the session index, KEYS[2] = the session key, KEYS[3]/KEYS[4] (optional) = the
# session's SET of event logs and its parked LIST. ARGV: 1 sid, 2/3 user zset key head/tail, 4 'admin' (no
# check) | 'anonymous' (a caller without principal) | 'principal', 5 the caller's principal, 6 the channel to
# publish on ('' none), 7 the message, 8 the head a logged stream id completes into its log's key.
# Returns 1 removed, 0 absent, -1 another principal's, -2 unreadable (for a caller: nothing done, the caller
# reads it the usual way). Only an admin's end of an absent record still deletes the logs and publishes.
_END_LUA = """
local admin = ARGV[4] == 'admin'
local raw = redis.call('GET', KEYS[2])
local owner = nil
if raw then
  local ok, rec = pcall(cjson.decode, raw)
  if ok and type(rec) == 'table' then
    if type(rec['principal']) == 'string' then owner = rec['principal'] end
  elseif not admin then
    return -2
  end
  if owner and not admin and (ARGV[4] == 'anonymous' or owner ~= ARGV[5]) then return -1 end
end
redis.call('ZREM', KEYS[1], ARGV[1])
if not raw and not admin then return 0 end
if owner then redis.call('ZREM', ARGV[2] .. owner .. ARGV[3], ARGV[1]) end
if raw then redis.call('DEL', KEYS[2]) end
if KEYS[3] then
  local logs = redis.call('SMEMBERS', KEYS[3])
  for i = 1, #logs do redis.call('DEL', ARGV[8] .. logs[i]) end
  redis.call('DEL', KEYS[3], KEYS[4])
end
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
if raw then return 1 end
return 0
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


_END_OUTCOMES: dict[int, EndOutcome] = {1: "removed", 0: "absent", -1: "refused"}


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def dump_record(record: SessionRecord) -> str:
    """The record's cattrs JSON with ``lastAccessedAt`` first and ``status`` second: the touch and activate
    scripts rewrite both in place, found by one anchored pattern (no key of a nested object can match it)."""
    obj: dict[str, Any] = _converter.unstructure(record)
    ordered: dict[str, Any] = {
        "lastAccessedAt": obj.pop("lastAccessedAt", record.last_accessed_at),
        "status": obj.pop("status", record.status),
    }
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
        self._scripts = Scripts(
            connection,
            {
                "touch": _TOUCH_LUA,
                "delete": _DELETE_LUA,
                "create": _CREATE_LUA,
                "activate": _ACTIVATE_LUA,
                "end": _END_LUA,
            },
        )

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

    @property
    def connection(self) -> RedisConnection:
        """The Redis this store talks to (SessionAdmin checks the other backends share it, see `end`)."""
        return self._conn

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
        script = self._scripts["delete"]
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
        script = self._scripts["touch"]
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
        script = self._scripts["create"]
        return bool(await self._conn.run("create", lambda r: script(keys=keys, args=args)))

    async def activate(self, session_id: str, principal: str | None) -> SessionRecord | None:
        now = self._clock()
        lifetime = self.policy.idle_timeout
        expiry = now + lifetime
        keys = [self.layout.index, self.layout.session(session_id)]
        args: list[str | int | float] = [
            session_id,
            "0" if principal is None else "1",
            principal or "",
            json.dumps(now),
            milliseconds(lifetime),
            repr(expiry),
            math.ceil(expiry * 1000),
            self.layout.user_head,
            self.layout.user_tail,
        ]
        script = self._scripts["activate"]
        reply = await self._conn.run("activate", lambda r: script(keys=keys, args=args))
        if reply is None or int(reply[0]) == 0:
            return None
        try:
            record = load_record(str(reply[1]))
        except StoreCorrupt as exc:
            await self._quarantine(session_id, str(exc))
            return None
        if int(reply[0]) == 2:  # an older version's layout: activated the two-step way (rare, and brief)
            record = attrs.evolve(record, status="active", last_accessed_at=now)
            await self.set(record)
        return record

    async def end(
        self,
        session_id: str,
        *,
        caller: Caller | None,
        announce: Publication | None = None,
        events: SessionEventKeys | None = None,
    ) -> EndOutcome:
        """End the session in one round trip (one script): the record and its index entries, the event keys
        `events` names, and the PUBLISH of `announce` -- unless `caller` may not (another principal's record:
        "refused", nothing done). `caller` None: an admin, who ends any session, and whose end of an absent
        record still removes the logs and publishes (every stream of the id closes). A record the script
        cannot read is judged by `get` (which moves it aside) and then ended the usual way."""
        if caller is None:
            mode, principal = "admin", ""
        elif caller.principal is None:
            mode, principal = "anonymous", ""
        else:
            mode, principal = "principal", caller.principal
        keys = [self.layout.index, self.layout.session(session_id)]
        if events is not None:
            keys += [events.logs, events.parked]
        args: list[str | int | float] = [
            session_id,
            self.layout.user_head,
            self.layout.user_tail,
            mode,
            principal,
            announce.channel if announce is not None else "",
            announce.message if announce is not None else "",
            events.log_head if events is not None else "",
        ]
        script = self._scripts["end"]
        outcome = int(await self._conn.run("end", lambda r: script(keys=keys, args=args)))
        if outcome == -2:
            await self.get(session_id)  # unreadable: moved aside, so for the caller the session is unknown
            return "absent"
        return _END_OUTCOMES[outcome]

    # -- internals --

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
