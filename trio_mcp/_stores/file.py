"""FileSessionStore: every record in one JSON file, for a single process that must survive restarts.

Lifetime (structured: the store never leaves a task behind)::

    async with FileSessionStore("sessions.json") as store:    # or: await store.open() ... await store.aclose()
        ...

Entering takes the lock file, loads the file and opens the store's own nursery with ONE writer task; leaving
cancels that task, writes what is still pending and releases the lock (one ``_lifetime`` context, see
trio_mcp/_lifetime.py; the ASGI lifespan enters it first and leaves it last). ``open()``/``aclose()`` enter and
leave the same context: they must run in the same task and nest with other nurseries/cancel scopes. Using the
store before opening or after closing raises RuntimeError.

Writes are debounced: a change marks the store dirty and wakes the writer, which waits ``debounce`` seconds
(0.1 by default) so a burst of changes costs one write, then snapshots the records and writes them
atomically (a temporary file in the same directory, fsync, ``os.replace``, fsync of the directory) in a
worker thread. ``flush()`` writes now. A failing write is logged and retried; it never kills the writer.

Expiry uses the injectable wall ``clock``: ``set`` gives the record a deadline of ``clock() + ttl`` (the
policy's TTL for its status unless ``ttl`` is given); ``touch`` sets ``last_accessed_at = clock()`` and a new
deadline from the policy. Expired records are dropped when read and when the file is loaded; so is any entry
last written or touched longer than ``idle_timeout`` ago.

One writer per file: ``<path>.lock`` is held with ``fcntl.flock`` (non-blocking) while the store is open; a
second store on the same path, in this process or another, fails with a StoreError naming the file and the
holder's pid. A file that is not valid JSON or not in this format is moved aside to
``<path>.corrupt-<UTC timestamp>`` with a warning naming both paths, and the store starts empty; single
unreadable records are skipped after copying the whole file aside the same way. Nothing is ever emptied in
place.
"""

from __future__ import annotations

import errno
import glob
import json
import logging
import os
import shutil
from collections.abc import AsyncGenerator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import attrs
import trio

from .._lifetime import Lifetime
from ._base import (
    Clock,
    ExpiryPolicy,
    SessionRecord,
    StoreCorrupt,
    StoreError,
    _converter,
    activate_read,
    dump_json,
    get_each,
    record_from_obj,
    wall_clock,
)
from ._files import corrupt_path, set_aside, try_lock, unlock, write_atomically

log = logging.getLogger("trio_mcp.stores.file")

FILE_FORMAT = "trio_mcp.sessions"
FILE_VERSION = 1
_RETRY_AFTER_ERROR = 1.0


@attrs.frozen(kw_only=True)
class FileStoreStatistics:
    path: str
    records: int
    writes: int
    write_errors: int
    dirty: bool


@attrs.define(eq=False)
class _Entry:
    record: SessionRecord
    obj: dict[str, Any]  # the record unstructured; replaced, never mutated (snapshots share it with a thread)
    deadline: float
    stamp: float  # clock() of the last set/touch


class _Lock:
    """An exclusive, non-blocking lock on ``<path>.lock`` (flock; msvcrt.locking on Windows)."""

    def __init__(self, data_path: Path) -> None:
        self.data_path = data_path
        self.path = data_path.with_name(data_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(
                f"cannot create the lock file {self.path} of session file {self.data_path}: {exc}"
            ) from exc
        try:
            try_lock(fd)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, errno.EDEADLK):
                os.close(fd)
                raise StoreError(f"cannot lock {self.path} (session file {self.data_path}): {exc}") from exc
            holder = self._holder(fd)
            os.close(fd)
            who = "another process"
            if holder == os.getpid():
                who = f"another FileSessionStore in this process (pid {holder})"
            elif holder is not None:
                who = f"another process (pid {holder})"
            raise StoreError(
                f"session file {self.data_path} is in use: {who} holds its lock file {self.path}. Only one "
                "process may use a FileSessionStore file at a time; use RedisSessionStore to share sessions "
                "between processes"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            unlock(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _holder(fd: int) -> int | None:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            return int(os.read(fd, 32).decode().strip())
        except (OSError, ValueError):
            return None


class FileSessionStore(Lifetime):
    """Session records in one JSON file (see the module docstring for lifetime, writes, expiry, locking)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        policy: ExpiryPolicy | None = None,
        clock: Clock = wall_clock,
        debounce: float = 0.1,
    ) -> None:
        if debounce < 0:
            raise ValueError(f"debounce must be >= 0 seconds, got {debounce!r}")
        self.policy: ExpiryPolicy = policy if policy is not None else ExpiryPolicy()
        self.path = Path(path).absolute()
        self.debounce = debounce
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = _Lock(self.path)
        self._state: str = "new"  # new -> open -> closed (-> open again)
        self._dirty = False
        self._dirty_event = trio.Event()
        self._write_lock = trio.Lock()
        self._writes = 0
        self._write_errors = 0
        self._dropped_at_load = 0  # expired records the load dropped, not yet counted by cleanup_expired

    def __repr__(self) -> str:
        return f"<FileSessionStore {str(self.path)!r} {self._state}>"

    # -- lifetime --

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        """Lock and load the file, run the writer task; on exit stop it, write pending changes, unlock."""
        if self._state not in ("new", "closed"):
            raise RuntimeError(f"{self!r} is already open")
        await trio.to_thread.run_sync(self._lock.acquire)
        try:
            self._entries = {}
            self._dropped_at_load = 0
            self._dirty = False
            self._dirty_event = trio.Event()
            self._state = "loading"
            await trio.to_thread.run_sync(self._remove_stale_temporaries)
            await self._load()
        except BaseException:
            self._state = "closed"
            self._entries = {}
            self._lock.release()
            raise
        try:
            try:
                async with trio.open_nursery() as nursery:
                    self._state = "open"
                    nursery.start_soon(self._writer)
                    try:
                        yield
                    finally:
                        self._state = "closing"
                        nursery.cancel_scope.cancel()
            finally:
                # Also when the host's scope is cancelled (Ctrl-C, a cancelled serve()): the pending changes
                # are written all the same, once the writer is gone.
                with trio.CancelScope(shield=True):
                    await self._write_or_raise()
        finally:
            self._state = "closed"
            self._lock.release()

    async def flush(self) -> None:
        """Write pending changes now (waits for a write already in progress)."""
        self._require_open()
        await self._write_or_raise()

    def statistics(self) -> FileStoreStatistics:
        return FileStoreStatistics(
            path=str(self.path),
            records=len(self._entries),
            writes=self._writes,
            write_errors=self._write_errors,
            dirty=self._dirty,
        )

    # -- SessionStore --

    async def get(self, session_id: str) -> SessionRecord | None:
        entry = self._live(session_id)
        if entry is None:
            return None
        return attrs.evolve(entry.record, subscriptions=list(entry.record.subscriptions))

    async def get_many(self, session_ids: Iterable[str]) -> dict[str, SessionRecord]:
        return await get_each(self.get, session_ids)  # in-process: no round trip to save

    async def set(self, record: SessionRecord, *, ttl: float | None = None) -> None:
        self._require_open()
        now = self._clock()
        lifetime = self.policy.ttl_for(record) if ttl is None else ttl
        stored = attrs.evolve(record, subscriptions=list(record.subscriptions))
        obj: dict[str, Any] = _converter.unstructure(stored)
        self._entries[record.session_id] = _Entry(stored, obj, now + lifetime, now)
        self._mark_dirty()

    async def delete(self, session_id: str) -> bool:
        self._require_open()
        existed = self._live(session_id) is not None
        if self._entries.pop(session_id, None) is not None:
            self._mark_dirty()
        return existed

    async def has(self, session_id: str) -> bool:
        return self._live(session_id) is not None

    async def keys(self) -> AsyncGenerator[str]:
        self._sweep()
        for sid in list(self._entries):
            yield sid

    async def touch(self, session_ids: Iterable[str]) -> None:
        self._require_open()
        now = self._clock()
        changed = False
        for sid in session_ids:
            entry = self._live(sid)
            if entry is None:
                continue
            entry.record.last_accessed_at = now
            entry.obj = {**entry.obj, "lastAccessedAt": now}
            entry.deadline = now + self.policy.ttl_for(entry.record)
            entry.stamp = now
            changed = True
        if changed:
            self._mark_dirty()

    async def clear(self) -> None:
        self._require_open()
        if self._entries:
            self._entries.clear()
            self._mark_dirty()

    async def list_for_user(self, principal: str) -> list[str]:
        self._sweep()
        return [sid for sid, e in self._entries.items() if e.record.principal == principal]

    async def count(self) -> int:
        self._sweep()
        return len(self._entries)

    async def cleanup_expired(self) -> int:
        # Loading already dropped what had expired in the file: those are removed (from the file, at the next
        # write) by this store too, so the first cleanup counts them; a CLI run would otherwise always say 0.
        removed, self._dropped_at_load = self._sweep() + self._dropped_at_load, 0
        return removed

    async def activate(self, session_id: str, principal: str | None) -> SessionRecord | None:
        # One process owns the file, and there is no checkpoint between the read and the write: atomic.
        return await activate_read(self, session_id, principal, self._clock())

    async def create(self, record: SessionRecord, *, max_sessions: int) -> bool:
        # One process owns the file (its lock), and there is no checkpoint between the count and the write.
        self._sweep()
        if len(self._entries) >= max_sessions:
            return False
        await self.set(record)
        return True

    # -- internals: expiry --

    def _require_open(self) -> None:
        if self._state != "open":
            state = "not open" if self._state == "new" else "closed"
            raise RuntimeError(
                f"{self!r} is {state}: use `async with store:` or `await store.open()` before using it"
            )

    def _expired(self, entry: _Entry, now: float) -> bool:
        return entry.deadline <= now

    def _live(self, session_id: str) -> _Entry | None:
        self._require_open()
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        if self._expired(entry, self._clock()):
            del self._entries[session_id]
            self._mark_dirty()
            return None
        return entry

    def _sweep(self) -> int:
        self._require_open()
        now = self._clock()
        dead = [sid for sid, e in self._entries.items() if self._expired(e, now)]
        for sid in dead:
            del self._entries[sid]
        if dead:
            self._mark_dirty()
        return len(dead)

    # -- internals: loading --

    def _read(self) -> dict[str, Any] | None:
        """Read and parse the file (worker thread); a corrupt file is moved aside and None returned."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read session file {self.path}: {exc}") from exc
        try:
            return self._parse(raw)
        except StoreCorrupt as exc:
            set_aside(self.path, "session file", exc, log)
            return None

    def _remove_stale_temporaries(self) -> None:
        """A process killed mid-write leaves its temporary file (never the session file: os.replace is atomic).
        Only the lock holder writes, and we hold the lock: any such file is a leftover."""
        for leftover in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp"):
            try:
                leftover.unlink()
            except OSError as exc:
                log.warning("could not remove the leftover temporary file %s: %s", leftover, exc)
            else:
                log.info("removed %s, left by a write that did not finish", leftover)

    def _copy_aside(self, bad: list[str]) -> None:
        aside = corrupt_path(self.path)
        shutil.copy2(self.path, aside)
        shown = ", ".join(repr(sid) for sid in bad[:5]) + (" ..." if len(bad) > 5 else "")
        log.warning(
            "session file %s has %d unreadable record(s) (%s); copied the file to %s and skipped them",
            self.path,
            len(bad),
            shown,
            aside,
        )

    async def _load(self) -> None:
        sessions = await trio.to_thread.run_sync(self._read)
        if sessions is None:
            return
        now = self._clock()
        bad: list[str] = []
        dropped = 0
        for sid, item in sessions.items():
            try:
                entry = self._entry_from(sid, item)
            except Exception as exc:  # StoreCorrupt, cattrs validation errors...
                log.debug("unreadable record %r in %s: %s", sid, self.path, exc)
                bad.append(sid)
                continue
            if self._expired(entry, now) or entry.stamp + self.policy.idle_timeout <= now:
                dropped += 1
                continue
            self._entries[sid] = entry
        self._dropped_at_load = dropped
        if bad:
            await trio.to_thread.run_sync(self._copy_aside, bad)
        if bad or dropped:
            self._mark_dirty()

    def _parse(self, raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise StoreCorrupt(f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise StoreCorrupt(f"expected a JSON object, found {type(data).__name__}")
        top = cast(dict[str, Any], data)
        fmt, version, sessions = top.get("format"), top.get("version"), top.get("sessions")
        if fmt != FILE_FORMAT:
            raise StoreCorrupt(f"not a trio_mcp session file (format is {fmt!r}, expected {FILE_FORMAT!r})")
        if version != FILE_VERSION:
            raise StoreCorrupt(
                f"unsupported session file version {version!r} (this trio_mcp reads {FILE_VERSION})"
            )
        if not isinstance(sessions, dict):
            raise StoreCorrupt('"sessions" is not an object')
        return sessions  # pyright: ignore[reportUnknownVariableType]

    def _entry_from(self, sid: str, item: Any) -> _Entry:
        if not isinstance(item, dict):
            raise StoreCorrupt("an entry is not an object")
        fields = cast(dict[str, Any], item)
        obj, deadline, stamp = fields.get("record"), fields.get("deadline"), fields.get("stamp")
        record = record_from_obj(obj)
        if record.session_id != sid:
            raise StoreCorrupt(f"entry {sid!r} holds the record of {record.session_id!r}")
        if not isinstance(stamp, int | float) or isinstance(stamp, bool):
            stamp = record.last_accessed_at
        if not isinstance(deadline, int | float) or isinstance(deadline, bool):
            deadline = float(stamp) + self.policy.ttl_for(record)
        return _Entry(record, _converter.unstructure(record), float(deadline), float(stamp))

    # -- internals: writing --

    def _mark_dirty(self) -> None:
        self._dirty = True
        self._dirty_event.set()

    def _snapshot(self) -> dict[str, Any]:
        # Shallow: every entry's obj is replaced on change, never mutated, so the thread can serialise it.
        return {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "sessions": {
                sid: {"deadline": e.deadline, "stamp": e.stamp, "record": e.obj}
                for sid, e in self._entries.items()
            },
        }

    async def _write_now(self) -> None:
        async with self._write_lock:
            if not self._dirty:
                return
            self._dirty = False
            self._dirty_event = trio.Event()
            snapshot = self._snapshot()
            try:
                await trio.to_thread.run_sync(self._write_snapshot, snapshot)
            except BaseException:
                self._write_errors += 1
                self._mark_dirty()
                raise
            self._writes += 1

    async def _write_or_raise(self) -> None:
        try:
            await self._write_now()
        except OSError as exc:
            raise StoreError(f"could not write session file {self.path}: {exc}") from exc

    def _write_snapshot(self, snapshot: dict[str, Any]) -> None:
        data = dump_json(snapshot).encode()
        write_atomically(self.path, data)

    async def _writer(self) -> None:
        while True:
            await self._dirty_event.wait()
            await trio.sleep(self.debounce)
            try:
                await self._write_now()
            except Exception:  # never let a write failure cancel the host's scope
                log.exception("could not write session file %s; retrying", self.path)
                await trio.sleep(max(_RETRY_AFTER_ERROR, self.debounce))
