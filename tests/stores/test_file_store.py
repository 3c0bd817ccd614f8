"""FileSessionStore specifics: debounced atomic writes, flush on close, load-time expiry, lock, corruption."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from trio_mcp._stores import file as file_module
from trio_mcp._stores.kit import full_record
from trio_mcp.stores import ExpiryPolicy, FileSessionStore, SessionRecord, StoreError


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stored_ids(path: Path) -> set[str]:
    return set(json.loads(path.read_text())["sessions"])


def files_in(directory: Path, containing: str = "") -> list[Path]:
    return sorted(p for p in directory.iterdir() if containing in p.name)


async def live_ids(store: FileSessionStore) -> list[str]:
    found = store.keys()
    return sorted([sid async for sid in found])


async def wait_for_writes(store: FileSessionStore, n: int) -> None:
    with trio.fail_after(10):
        while store.statistics().writes < n:
            await trio.sleep(0.01)


async def test_a_burst_of_changes_costs_one_write(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    async with FileSessionStore(path, debounce=0.1) as store:
        for i in range(50):
            await store.set(SessionRecord(session_id=f"s{i}"))
        await store.touch([f"s{i}" for i in range(50)])
        await store.delete("s0")
        assert store.statistics().writes == 0  # nothing written synchronously
        await wait_for_writes(store, 1)
        await trio.sleep(0.3)
        stats = store.statistics()
        assert stats.writes == 1, stats
        assert not stats.dirty
        assert stored_ids(path) == {f"s{i}" for i in range(1, 50)}
    assert store.statistics().writes == 1  # nothing left for close to write


async def test_flush_writes_now_and_only_when_dirty(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    async with FileSessionStore(path, debounce=60) as store:
        await store.set(SessionRecord(session_id="a"))
        assert not path.exists()
        await store.flush()
        assert store.statistics().writes == 1
        assert stored_ids(path) == {"a"}
        await store.flush()
        assert store.statistics().writes == 1


async def test_pending_changes_are_written_on_close_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    record = full_record("persisted")
    async with FileSessionStore(path, debounce=60) as store:
        await store.set(record)
        await store.set(full_record("touched"))
        await store.touch(["touched"])
        touched_at = (await store.get("touched") or record).last_accessed_at
    assert stored_ids(path) == {"persisted", "touched"}
    assert path.stat().st_mode & 0o777 == 0o600  # records may name users: private to the owner

    async with FileSessionStore(path) as store:
        assert await store.get("persisted") == record
        again = await store.get("touched")
        assert again is not None
        assert again.last_accessed_at == touched_at


async def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sessions.json"
    async with FileSessionStore(path, debounce=60) as store:
        await store.set(SessionRecord(session_id="old"))
        await store.flush()
        before = path.read_bytes()

        real_replace = os.replace

        def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
            if str(src).endswith(".tmp"):
                raise OSError(28, "No space left on device")
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", failing_replace)
        await store.set(SessionRecord(session_id="new"))
        with pytest.raises(StoreError, match=r"could not write session file .*sessions\.json.*No space left"):
            await store.flush()
        assert path.read_bytes() == before  # the old file is intact
        assert [p.name for p in files_in(tmp_path)] == [
            "sessions.json",
            "sessions.json.lock",
        ]  # no temp left
        assert store.statistics().dirty  # still pending

        monkeypatch.setattr(os, "replace", real_replace)
        await store.flush()
        assert stored_ids(path) == {"old", "new"}


async def test_a_failing_background_write_is_logged_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.json"
    monkeypatch.setattr(file_module, "_RETRY_AFTER_ERROR", 0.05)
    real_write = file_module.write_atomically
    failures = 0

    def flaky_write(target: Path, data: bytes) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise OSError(5, "Input/output error")
        real_write(target, data)

    monkeypatch.setattr(file_module, "write_atomically", flaky_write)
    async with FileSessionStore(path, debounce=0.01) as store:
        await store.set(SessionRecord(session_id="a"))
        await wait_for_writes(store, 1)
        assert store.statistics().write_errors == 1
    assert stored_ids(path) == {"a"}
    assert any("could not write session file" in r.getMessage() for r in caplog.records)


async def test_expiry_follows_the_injected_wall_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    policy = ExpiryPolicy(idle_timeout=100, pending_timeout=10)
    async with FileSessionStore(tmp_path / "s.json", policy=policy, clock=clock) as store:
        await store.set(SessionRecord(session_id="pending"))
        await store.set(SessionRecord(session_id="active", status="active"))
        await store.set(SessionRecord(session_id="explicit", status="active"), ttl=5)
        clock.now += 5
        assert not await store.has("explicit")  # deadline <= now: expired
        clock.now += 4.9
        assert await store.has("pending")
        await store.touch(["pending"])  # a pending record gets the pending timeout again
        touched = await store.get("pending")
        assert touched is not None
        assert touched.last_accessed_at == clock.now
        clock.now += 9.9
        assert await store.has("pending")
        clock.now += 0.1
        assert not await store.has("pending")
        assert await store.count() == 1
        clock.now += 100
        assert await store.count() == 0


async def test_expired_and_idle_entries_are_dropped_on_load(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    clock = FakeClock()
    policy = ExpiryPolicy(idle_timeout=1000, pending_timeout=10)
    async with FileSessionStore(path, policy=policy, clock=clock, debounce=60) as store:
        await store.set(SessionRecord(session_id="pending"))
        await store.set(SessionRecord(session_id="active", status="active"))
        await store.set(SessionRecord(session_id="long", status="active"), ttl=10_000)
    assert stored_ids(path) == {"pending", "active", "long"}

    clock.now += 500
    async with FileSessionStore(path, policy=policy, clock=clock, debounce=60) as store:
        assert await live_ids(store) == ["active", "long"]
    assert stored_ids(path) == {"active", "long"}  # the dropped entry is gone from the file too

    clock.now += 600  # "long" still has a deadline, but nobody touched it for longer than idle_timeout
    async with FileSessionStore(path, policy=policy, clock=clock, debounce=60) as store:
        assert await live_ids(store) == []
    assert stored_ids(path) == set()


async def test_a_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    async with FileSessionStore(path) as store:
        await store.set(SessionRecord(session_id="a"))
        other = FileSessionStore(path)
        with pytest.raises(StoreError) as info:
            await other.open()
        message = str(info.value)
        assert str(path) in message
        assert "is in use" in message
        assert f"{path}.lock" in message
        assert f"another FileSessionStore in this process (pid {os.getpid()})" in message
        assert await store.has("a")  # the first store is unaffected
    async with other:  # free once the first one closed
        assert await other.has("a")


async def test_a_file_held_by_another_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    script = textwrap.dedent(
        """
        import sys, trio
        from trio_mcp.stores import FileSessionStore, StoreError

        async def main():
            try:
                async with FileSessionStore(sys.argv[1]):
                    print("opened")
            except StoreError as exc:
                print(f"refused: {exc}")

        trio.run(main)
        """
    )
    async with FileSessionStore(path):
        result = await trio.run_process([sys.executable, "-c", script, str(path)], capture_stdout=True)
        out = result.stdout.decode()
        assert out.startswith("refused: "), out
        assert f"session file {path} is in use: another process (pid {os.getpid()})" in out
    result = await trio.run_process([sys.executable, "-c", script, str(path)], capture_stdout=True)
    assert result.stdout.decode().strip() == "opened"


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"[]",
        b'{"format": "something-else", "version": 1, "sessions": {}}',
        b'{"format": "trio_mcp.sessions", "version": 99, "sessions": {}}',
        b'{"format": "trio_mcp.sessions", "version": 1, "sessions": []}',
    ],
    ids=["invalid-json", "empty", "a-list", "other-format", "future-version", "sessions-not-object"],
)
async def test_a_corrupt_file_is_moved_aside_and_the_store_starts_empty(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(content)
    caplog.set_level(logging.WARNING, logger="trio_mcp.stores.file")
    async with FileSessionStore(path) as store:
        assert await store.count() == 0
        await store.set(SessionRecord(session_id="fresh"))
    asides = files_in(tmp_path, "s.json.corrupt-")
    assert len(asides) == 1
    assert asides[0].read_bytes() == content  # kept verbatim, never emptied in place
    warning = next(r.getMessage() for r in caplog.records if "corrupt" in r.getMessage())
    assert str(path) in warning
    assert str(asides[0]) in warning
    assert "starting with no sessions" in warning
    assert stored_ids(path) == {"fresh"}


async def test_unreadable_records_are_skipped_after_copying_the_file_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.json"
    async with FileSessionStore(path, debounce=60) as store:
        await store.set(full_record("good"))
        await store.set(full_record("bad"))
    data = json.loads(path.read_text())
    data["sessions"]["bad"]["record"]["status"] = 42
    original = json.dumps(data).encode()
    path.write_bytes(original)
    async with FileSessionStore(path) as store:
        assert await store.get("good") == full_record("good")
        assert not await store.has("bad")
    asides = files_in(tmp_path, ".corrupt-")
    assert len(asides) == 1
    assert asides[0].read_bytes() == original
    warning = next(r.getMessage() for r in caplog.records if "unreadable" in r.getMessage())
    assert "'bad'" in warning
    assert str(asides[0]) in warning
    assert stored_ids(path) == {"good"}


async def test_use_before_open_and_after_close_is_a_clear_error(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path / "s.json")  # constructible synchronously, e.g. for asgi_app(store=...)
    with pytest.raises(RuntimeError, match=r"is not open: use `async with store:` or `await store.open\(\)`"):
        await store.get("a")
    await store.open()
    await store.set(SessionRecord(session_id="a"))
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="is closed"):
        await store.set(SessionRecord(session_id="b"))
    await store.open()  # reopening reloads the file
    assert await store.has("a")
    await store.aclose()


async def test_open_and_aclose_nest_around_an_app_nursery(tmp_path: Path) -> None:
    # The ASGI lifespan's pattern: open(), then the app nursery, then aclose() after the nursery has exited.
    store = FileSessionStore(tmp_path / "s.json", debounce=0.01)
    await store.open()
    try:
        async with trio.open_nursery() as nursery:
            for i in range(10):
                nursery.start_soon(store.set, SessionRecord(session_id=f"s{i}"))
        await wait_for_writes(store, 1)
    finally:
        await store.aclose()
    assert stored_ids(tmp_path / "s.json") == {f"s{i}" for i in range(10)}


async def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "s.json"
    with pytest.raises(StoreError, match=r"cannot create the lock file .*missing/s\.json\.lock"):
        await FileSessionStore(path).open()


async def test_a_record_with_a_lone_surrogate_never_stops_the_file_being_written(tmp_path: Path) -> None:
    # Input refuses lone surrogates, but a principal hook (or any server code) can still make one: the file must
    # stay writable, or every session created afterwards would be lost on restart.
    path = tmp_path / "sessions.json"
    async with FileSessionStore(path, debounce=0) as store:
        hostile = SessionRecord(session_id="hostile", principal="user-\ud800")
        await store.set(hostile)
        await store.flush()
        for i in range(5):
            await store.set(SessionRecord(session_id=f"after{i}"))
        await store.flush()
        assert store.statistics().write_errors == 0
    async with FileSessionStore(path) as store:
        assert await live_ids(store) == sorted(["hostile", *(f"after{i}" for i in range(5))])
        record = await store.get("hostile")
        assert record is not None
        assert record.principal == "user-\ufffd"


async def test_pending_changes_are_written_when_the_host_scope_is_cancelled(tmp_path: Path) -> None:
    # The ASGI lifespan's shape under a cancelled serve() or Ctrl-C: aclose() runs in a cancelled scope.
    path = tmp_path / "sessions.json"
    store = FileSessionStore(path, debounce=60)
    ready = trio.Event()

    async def host() -> None:
        await store.open()
        try:
            await store.set(SessionRecord(session_id="kept"))
            ready.set()
            await trio.sleep_forever()
        finally:
            await store.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(host)
        await ready.wait()
        nursery.cancel_scope.cancel()
    assert stored_ids(path) == {"kept"}
