"""FileClientRegistry specifics: shared by processes and registries at once, atomic writes, corruption."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_mcp._client.registry import file as file_module
from trio_mcp._client.registry.kit import KitClock, http_record
from trio_mcp.client_sessions import ClientRegistryError, ClientRegistryUnavailable, FileClientRegistry

REPO = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent(
    """
    import sys, trio
    from trio_mcp.client_sessions import ClientSessionRecord, FileClientRegistry

    async def main(path, user, count):
        async with FileClientRegistry(path) as registry:
            for n in range(count):
                await registry.create(ClientSessionRecord(
                    session_id=f"{user}-{n}", user_id=user, server_id="s", transport="http",
                    server_url="https://mcp.example.com/mcp"))
                if n % 5 == 0:
                    await registry.update("shared", "counter", server_name=f"{user}-{n}")
            print(len(await registry.list_all_ids()))

    trio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
    """
)


def stored(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["records"]


def copies_aside(directory: Path) -> list[Path]:
    return list(directory.glob("clients.json.corrupt-*"))


async def run_worker(path: Path, user: str, count: int) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = await trio.run_process(
        [sys.executable, "-c", WORKER, str(path), user, str(count)], capture_stdout=True, env=env
    )
    return result.stdout.decode().strip()


async def test_two_registries_on_one_file_see_each_others_changes(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    async with FileClientRegistry(path) as first, FileClientRegistry(path) as second:
        await first.create(http_record("a"))
        got = await second.get("alice", "a")
        assert got is not None
        await second.update("alice", "a", status="active")
        got = await first.get("alice", "a")
        assert got is not None
        assert got.status == "active"
        assert await first.delete("alice", "a")
        assert await second.list_ids("alice") == []


async def test_processes_share_the_file_without_losing_a_write(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    async with FileClientRegistry(path) as registry:
        await registry.create(http_record("counter", user_id="shared"))
        counts: list[str] = []

        async def worker(user: str) -> None:
            counts.append(await run_worker(path, user, 30))

        async with trio.open_nursery() as nursery:
            for user in ("p1", "p2", "p3"):
                nursery.start_soon(worker, user)
            for n in range(30):  # this process writes meanwhile too
                await registry.create(http_record(f"here-{n}", user_id="p0"))
        assert len(counts) == 3
        # Every process's every create is in the file: no write was lost to another's.
        ids = await registry.list_all_ids()
        assert len(ids) == 1 + 4 * 30
        for user in ("p0", "p1", "p2", "p3"):
            assert len(await registry.list_ids(user)) == 30
        counter = await registry.get("shared", "counter")
        assert counter is not None
        assert counter.server_name is not None
        assert counter.server_name.split("-")[0] in {"p1", "p2", "p3"}


async def test_a_lock_held_too_long_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    async with FileClientRegistry(path, lock_timeout=0.2) as registry:
        fd = os.open(f"{path}.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another process would hold it this way
            with pytest.raises(
                ClientRegistryUnavailable, match=r"stayed locked by another process for 0\.2 s"
            ):
                await registry.get("alice", "a")
            fcntl.flock(fd, fcntl.LOCK_UN)
            assert await registry.get("alice", "a") is None
        finally:
            os.close(fd)


async def test_the_file_is_private_and_expired_records_go_with_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    clock = KitClock()
    async with FileClientRegistry(path, pending_ttl=60, clock=clock) as registry:
        await registry.create(http_record("short"))
        clock.advance(61)
        assert [r["sessionId"] for r in stored(path)] == ["short"]  # invisible, not yet removed
        await registry.create(http_record("next"))
        assert [r["sessionId"] for r in stored(path)] == ["next"]
        clock.advance(61)
        assert await registry.cleanup_expired() == 1
        assert stored(path) == []
    assert path.stat().st_mode & 0o777 == 0o600  # tokens: private to the owner


async def test_a_failed_write_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "clients.json"
    async with FileClientRegistry(path) as registry:
        await registry.create(http_record("old"))
        before = path.read_bytes()

        def full_disk(target: Path, data: bytes) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(file_module, "write_atomically", full_disk)
        with pytest.raises(
            ClientRegistryError, match=r"could not write client registry file .*No space left"
        ):
            await registry.create(http_record("new"))
        assert path.read_bytes() == before
        assert await registry.get("alice", "new") is None  # not kept in memory either
        monkeypatch.undo()
        await registry.create(http_record("new"))
        assert sorted(await registry.list_ids("alice")) == ["new", "old"]


async def test_a_corrupt_file_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "clients.json"
    path.write_text("{not json")
    caplog.set_level(logging.WARNING, "trio_mcp.client.registry.file")
    async with FileClientRegistry(path) as registry:
        assert await registry.list_all_ids() == []
        await registry.create(http_record("fresh"))
    (aside,) = copies_aside(tmp_path)
    assert aside.read_text() == "{not json"
    assert "is corrupt" in caplog.text
    assert str(aside) in caplog.text
    assert [r["sessionId"] for r in stored(path)] == ["fresh"]


async def test_unreadable_records_are_skipped_after_a_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "clients.json"
    async with FileClientRegistry(path) as registry:
        await registry.create(http_record("good"))
    data = json.loads(path.read_text())
    newer = {**data["records"][0], "sessionId": "newer", "someFutureField": {"x": 1}}
    data["records"] += [{"sessionId": "broken"}, newer]
    path.write_text(json.dumps(data))
    caplog.set_level(logging.WARNING)
    async with FileClientRegistry(path) as registry:
        assert sorted(await registry.list_ids("alice")) == ["good", "newer"]  # unknown fields are ignored
    (aside,) = copies_aside(tmp_path)
    assert "broken" in aside.read_text()
    assert "skipping 1 record(s)" in caplog.text


async def test_leftover_temporaries_are_removed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    leftover = tmp_path / ".clients.json.abc123.tmp"
    leftover.write_text("half a write")
    async with FileClientRegistry(path):
        pass
    assert not leftover.exists()


async def test_using_a_closed_registry_is_an_error(tmp_path: Path) -> None:
    registry = FileClientRegistry(tmp_path / "clients.json")
    with pytest.raises(RuntimeError, match="is not open"):
        await registry.get("alice", "a")
    await registry.open()
    assert await registry.get("alice", "a") is None
    await registry.aclose()
    await registry.aclose()  # idempotent


async def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ClientRegistryError, match=r"cannot open the client registry's lock file .*nowhere"):
        async with FileClientRegistry(tmp_path / "nowhere" / "clients.json"):
            pass
