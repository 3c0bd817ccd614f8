"""FileClientRegistry: every record in one JSON file, shared by the processes of one host.

Unlike FileSessionStore (one process holds its file for its whole life), any number of processes and
registries may open the same file at once: app backends run several workers. Every operation takes
``<path>.lock`` (``flock``, polled without blocking a thread, for at most ``lock_timeout`` seconds, then
ClientRegistryUnavailable), re-reads the file when it changed since this registry last saw it (device, inode,
size, mtime and ctime), and a change is written before the lock is released: atomically (a temporary file in
the same directory, fsync, ``os.replace``, fsync of the directory, with FileSessionStore's helper), mode 0600
(the records hold tokens). So a change made by one process is seen by the next operation of every other.
Writes are not debounced: a client registry changes when users connect and tokens refresh, not per request.

A file that is not valid JSON or not in this format is moved aside to ``<path>.corrupt-<UTC timestamp>`` and
the registry starts empty; single unreadable records are skipped after copying the file aside the same way.
Records that expired are dropped whenever the file is written, and by ``cleanup_expired``. The file is local
to one host: for several hosts use RedisClientRegistry (an NFS ``flock`` is not to be trusted).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import logging
import os
import shutil
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import trio

from ..._stores._base import Clock, dump_json, wall_clock
from ..._stores._files import corrupt_path, set_aside, try_lock, unlock, write_atomically
from ._base import DEFAULT_DORMANT_AGE, DEFAULT_PENDING_TTL, ClientRegistryError, ClientRegistryUnavailable
from .codec import peek
from .engine import RegistryEngine
from .sealing import Keys
from .table import RecordTable

log = logging.getLogger("trio_mcp.client.registry.file")

T = TypeVar("T")
FILE_FORMAT = "trio_mcp.client_sessions"
FILE_VERSION = 1
DEFAULT_LOCK_TIMEOUT = 10.0
_Stamp = tuple[int, int, int, int, int]


class _Corrupt(Exception):
    pass


def _is_text(result: str | None) -> bool:
    return result is not None


def _always(result: object) -> bool:
    return True


def _stamp(st: os.stat_result) -> _Stamp:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _FileLock:
    """``<path>.lock``, opened for the registry's lifetime and locked for one operation at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def open(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ClientRegistryError(
                f"cannot open the client registry's lock file {self.path}: {exc}"
            ) from exc

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def try_acquire(self) -> bool:
        assert self._fd is not None
        try:
            try_lock(self._fd)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, errno.EDEADLK):
                return False
            raise
        return True

    def release(self) -> None:
        assert self._fd is not None
        unlock(self._fd)


class FileClientRegistry(RegistryEngine):
    """Records in one JSON file (see the module docstring for sharing, writes and corruption)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        pending_ttl: float = DEFAULT_PENDING_TTL,
        dormant_age: float = DEFAULT_DORMANT_AGE,
        keys: Keys = None,
        clock: Clock = wall_clock,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        super().__init__(pending_ttl=pending_ttl, dormant_age=dormant_age, keys=keys, clock=clock)
        if not lock_timeout > 0:
            raise ValueError(f"lock_timeout must be a positive number of seconds, got {lock_timeout!r}")
        self.path = Path(path).absolute()
        self.lock_timeout = lock_timeout
        self._lock = _FileLock(self.path.with_name(self.path.name + ".lock"))
        self._guard = trio.Lock()  # one operation of this registry at a time holds the file lock
        self._records = RecordTable()
        self._seen: _Stamp | None = None  # the file as last read or written here; None: read it again

    def __repr__(self) -> str:
        return f"<FileClientRegistry {str(self.path)!r}>"

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        await trio.to_thread.run_sync(self._lock.open)
        try:
            self._seen, self._records = None, RecordTable()
            async with self._locked():
                await trio.to_thread.run_sync(self._remove_stale_temporaries)
            yield
        finally:
            self._lock.close()

    # -- the primitives, each under the file lock --

    async def _read(self, user_id: str, session_id: str) -> str | None:
        return await self._run(lambda table: table.read(user_id, session_id))

    async def _read_user(self, user_id: str, now: float) -> list[str]:
        return await self._run(lambda table: table.read_user(user_id))

    async def _insert(self, user_id: str, session_id: str, text: str, deadline: float) -> bool:
        return await self._run(lambda table: table.insert(user_id, session_id, text, deadline), changed=bool)

    async def _swap(self, user_id: str, session_id: str, old: str, new: str, deadline: float) -> bool:
        return await self._run(
            lambda table: table.swap(user_id, session_id, old, new, deadline), changed=bool
        )

    async def _remove(self, user_id: str, session_id: str) -> str | None:
        return await self._run(lambda table: table.remove(user_id, session_id), changed=_is_text)

    async def _all_ids(self, now: float) -> list[tuple[str, str]]:
        return await self._run(lambda table: table.live_ids(now))

    async def _clear(self) -> None:
        await self._run(lambda table: table.clear(), changed=_always)

    async def _cleanup(self, now: float) -> int:
        return await self._run(lambda table: table.sweep(now), changed=bool)

    # -- internals --

    @asynccontextmanager
    async def _locked(self) -> AsyncGenerator[None]:
        async with self._guard:
            waited, delay = 0.0, 0.001
            while not self._lock.try_acquire():
                if waited >= self.lock_timeout:
                    raise ClientRegistryUnavailable(
                        f"client registry file {self.path} stayed locked by another process for "
                        f"{self.lock_timeout:g} s ({self._lock.path})"
                    )
                await trio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 0.05)
            try:
                yield
            finally:
                self._lock.release()

    async def _run(
        self, operation: Callable[[RecordTable], T], *, changed: Callable[[T], bool] | None = None
    ) -> T:
        """`operation` on the file's current records; when `changed(result)` says it changed them, the file is
        written before the lock is released."""
        if not self.is_open:
            raise RuntimeError(f"{self!r} is not open: use `async with registry:` or `await registry.open()`")
        async with self._locked():
            await trio.to_thread.run_sync(self._refresh)
            try:
                result = operation(self._records)
                if changed is not None and changed(result):
                    self._records.sweep(self._clock())  # expired records go with any write
                    await trio.to_thread.run_sync(self._write)
            except BaseException:
                self._seen = None  # memory may now differ from the file: read it again next time
                raise
            return result

    def _refresh(self) -> None:
        """Read the file again if another process (or registry) wrote it since we last did (worker thread)."""
        try:
            with open(self.path, "rb") as f:
                stamp = _stamp(os.fstat(f.fileno()))
                if stamp == self._seen:
                    return
                raw = f.read()
        except FileNotFoundError:
            self._records, self._seen = RecordTable(), None
            return
        except OSError as exc:
            raise ClientRegistryError(f"cannot read client registry file {self.path}: {exc}") from exc
        try:
            self._records = self._parse(raw)
        except _Corrupt as exc:
            set_aside(self.path, "client registry file", exc, log)
            self._records, self._seen = RecordTable(), None
            return
        self._seen = stamp

    def _parse(self, raw: bytes) -> RecordTable:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise _Corrupt(f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise _Corrupt(f"expected a JSON object, found {type(data).__name__}")
        top = cast(dict[str, Any], data)
        if top.get("format") != FILE_FORMAT:
            raise _Corrupt(f"not a trio_mcp client registry file (format is {top.get('format')!r})")
        if top.get("version") != FILE_VERSION:
            raise _Corrupt(f"unsupported version {top.get('version')!r} (this trio_mcp reads {FILE_VERSION})")
        records = top.get("records")
        if not isinstance(records, list):
            raise _Corrupt('"records" is not a list')
        table, bad = RecordTable(), 0
        for item in cast(list[Any], records):
            text = dump_json(item)
            stored = peek(text, f"in {self.path}")
            if stored is None:
                bad += 1
                continue
            table.insert(stored.user_id, stored.session_id, text, stored.deadline(self.expiry))
        if bad:
            aside = corrupt_path(self.path)
            shutil.copy2(self.path, aside)
            log.warning(
                "client registry file %s: copied it to %s before skipping %d record(s)", self.path, aside, bad
            )
        return table

    def _write(self) -> None:
        # The stored texts are JSON already: joined, not parsed and dumped again.
        texts = [entry.text for _, _, entry in self._records.entries()]
        head = dump_json({"format": FILE_FORMAT, "version": FILE_VERSION})[:-1]
        data = f'{head},"records":[{",".join(texts)}]}}'.encode()
        try:
            write_atomically(self.path, data)
            self._seen = _stamp(os.stat(self.path))  # we hold the lock: nobody wrote since
        except OSError as exc:
            raise ClientRegistryError(f"could not write client registry file {self.path}: {exc}") from exc

    def _remove_stale_temporaries(self) -> None:
        # A writer holds the lock while its temporary file exists, and we hold it: any such file is a leftover.
        for leftover in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()
                log.info("removed %s, left by a write that did not finish", leftover)
