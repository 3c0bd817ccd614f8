"""FileSessionStore after `kill -9`: during the debounce window and in the middle of a write.

A child process opens a store on a file in tmp_path, writes one complete version of its records (flush), then
changes them and is SIGKILLed: before the debounced write starts, while a slow write (fsync held back, as on a
slow disk) has its temporary file open, or at any moment of a loop of large writes. Afterwards the file is one
complete version (it parses, and a new store loads it without moving it aside as corrupt), the lock is free (a
new store opens the same path), and no temporary file of the killed write is left behind for good.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from trio_mcp.stores import FileSessionStore

RECORDS = 20
WAIT = 30

CHILD = textwrap.dedent(
    """
    import os, sys, time
    import trio
    from trio_mcp.stores import FileSessionStore, SessionRecord

    path, mode, records, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    def version(n):
        # Every record of a version carries its number (principal) and a large payload (subscriptions).
        return [
            SessionRecord(
                session_id=f"s{i}", principal=f"v{n}", status="active",
                subscriptions=[f"test://v{n}/{i}/" + "x" * size],
            )
            for i in range(records)
        ]

    def say(line):
        print(line, flush=True)

    async def main():
        debounce = 3600.0 if mode == "debounce" else 0.0
        async with FileSessionStore(path, debounce=debounce) as store:
            for record in version(1):
                await store.set(record)
            await store.flush()
            say("v1 written")
            if mode == "debounce":
                for record in version(2):
                    await store.set(record)  # dirty; the writer now waits out the (long) debounce
                say("v2 pending")
            elif mode == "slow-write":
                real_fsync = os.fsync
                def slow_fsync(fd):
                    time.sleep(3600)  # a disk that never finishes: the temporary file stays open
                    real_fsync(fd)
                os.fsync = slow_fsync
                for record in version(2):
                    await store.set(record)
                say("v2 writing")
            else:  # "loop": one complete version after another, as fast as the disk takes them
                n = 2
                while True:
                    for record in version(n):
                        await store.set(record)
                    await store.flush()
                    n += 1
            await trio.sleep_forever()

    trio.run(main)
    """
)


class Child:
    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.buffer = b""

    async def expect(self, line: str) -> None:
        assert self.process.stdout is not None
        with trio.fail_after(WAIT):
            while (line + "\n").encode() not in self.buffer:
                chunk = await self.process.stdout.receive_some(4096)
                assert chunk, f"the child ended before printing {line!r}: {self.buffer!r}"
                self.buffer += chunk

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        with trio.fail_after(WAIT):
            code = await self.process.wait()
        assert code == -signal.SIGKILL, code


@asynccontextmanager
async def start_child(tmp_path: Path, path: Path, mode: str, size: int) -> AsyncIterator[Child]:
    """The child writing `path`; killed on the way out if the test did not kill it."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    process = await trio.lowlevel.open_process(
        [sys.executable, str(script), str(path), mode, str(RECORDS), str(size)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    try:
        yield Child(process)
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True), trio.move_on_after(WAIT):
                await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()


def temporary_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(".tmp"))


def versions_in_file(path: Path) -> set[str]:
    """The file parses as a whole session file; the versions its records carry (one, if it is not torn)."""
    data = json.loads(path.read_bytes())
    sessions = data["sessions"]
    assert sorted(sessions) == sorted(f"s{i}" for i in range(RECORDS)), sorted(sessions)
    return {entry["record"]["principal"] for entry in sessions.values()}


async def reopen(path: Path) -> set[str]:
    """A new store opens the same path (the lock is free) and loads every record, moving nothing aside."""
    with trio.fail_after(WAIT):
        async with FileSessionStore(path) as store:
            records = [await store.get(f"s{i}") for i in range(RECORDS)]
    assert all(r is not None for r in records), records
    assert not [p for p in path.parent.iterdir() if ".corrupt-" in p.name], list(path.parent.iterdir())
    return {r.principal or "" for r in records if r is not None}


async def test_a_kill_during_the_debounce_leaves_the_previous_version_and_a_free_lock(tmp_path: Path) -> None:
    """Killed with changes pending (not yet written): the file is the last complete version, whole, no
    temporary file was made, and a new store opens the path and loads that version."""
    path = tmp_path / "sessions.json"
    async with start_child(tmp_path, path, "debounce", 1_000) as child:
        await child.expect("v1 written")
        await child.expect("v2 pending")
        await child.kill()
    assert versions_in_file(path) == {"v1"}
    assert temporary_files(tmp_path) == []
    assert await reopen(path) == {"v1"}


async def test_a_kill_while_a_write_has_its_temporary_file_open_leaves_the_previous_version(
    tmp_path: Path,
) -> None:
    """Killed mid-write (the temporary file written, its fsync not done, nothing replaced yet): the session
    file is still the previous complete version and a new store opens the path and loads it."""
    path = tmp_path / "sessions.json"
    async with start_child(tmp_path, path, "slow-write", 50_000) as child:
        await child.expect("v2 writing")
        with trio.fail_after(WAIT):
            while not temporary_files(tmp_path):
                await trio.sleep(0.005)
        await child.kill()
    assert versions_in_file(path) == {"v1"}
    assert await reopen(path) == {"v1"}


async def test_a_kill_at_any_moment_of_large_writes_leaves_one_complete_version(tmp_path: Path) -> None:
    """Large versions written back to back, killed as soon as a temporary file is seen: the file holds one
    whole version (every record of the same one), never a mix or a truncated file."""
    path = tmp_path / "sessions.json"
    async with start_child(tmp_path, path, "loop", 100_000) as child:
        await child.expect("v1 written")
        with trio.fail_after(WAIT):
            while not temporary_files(tmp_path):
                await trio.lowlevel.checkpoint()
        await child.kill()
    (version,) = versions_in_file(path)
    assert await reopen(path) == {version}


async def test_a_later_open_removes_the_temporary_file_a_killed_write_left(tmp_path: Path) -> None:
    """A write killed before its os.replace leaves `.<name>.<random>.tmp` (as large as the session file) in
    the directory. The store only ever writes new temporary names, so unless opening the store (which holds
    the lock: no writer can own that file) removes leftovers, every crash leaks one for good."""
    path = tmp_path / "sessions.json"
    async with start_child(tmp_path, path, "slow-write", 50_000) as child:
        await child.expect("v2 writing")
        with trio.fail_after(WAIT):
            while not (left := temporary_files(tmp_path)):
                await trio.sleep(0.005)
        await child.kill()
    assert [p.name.startswith(f".{path.name}.") for p in left] == [True]
    with trio.fail_after(WAIT):
        async with FileSessionStore(path) as store:
            assert await store.get("s0") is not None
            assert temporary_files(tmp_path) == [], "the killed write's temporary file is still there (open)"
            record = await store.get("s1")
            assert record is not None
            await store.set(record)
            await store.flush()
    assert temporary_files(tmp_path) == [], "the killed write's temporary file is still there (after a write)"
