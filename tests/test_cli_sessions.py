"""`trio-mcp sessions ...` (trio_mcp/_cli_sessions.py) on the test Redis and on a file store: every command
through `_cli.main` in this process (an interpreter start per command would cost a second each), and exit
codes, stderr and a revoke reaching a running server with `python -m trio_mcp` in real processes."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs
import pytest
import trio
from _rawhttp import initialize, start_app
from _redis_server import free_port

from examples.everything import server
from trio_mcp import _cli
from trio_mcp._stores.kit import full_record
from trio_mcp.stores import (
    ExpiryPolicy,
    FileSessionStore,
    RedisSessionStore,
    SessionRecord,
    SessionStore,
)

REPO = Path(__file__).resolve().parents[1]
WAIT = 20.0
POLICY = ExpiryPolicy(idle_timeout=3600, pending_timeout=60)
ENV_TWINS = ("TRIO_MCP_STORE", "TRIO_MCP_STORE_FILE", "REDIS_URL", "TRIO_MCP_REDIS_PREFIX")


@attrs.frozen
class Ran:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


class InProcess:
    """`trio-mcp sessions ARGS` through `_cli.main` in this process (no interpreter start per command); the
    environment twins it sets are put back after the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        for name in ENV_TWINS:
            monkeypatch.setenv(name, "")  # recorded as unset, so the value `main` sets goes at teardown
            monkeypatch.delenv(name)

    def __call__(self, *args: str) -> Ran:
        try:
            code = _cli.main(["sessions", *args])
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        out, err = self._capsys.readouterr()
        return Ran(code, out, err)


Cli = Callable[..., Ran]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return InProcess(monkeypatch, capsys)


async def cli(*args: str, env: Mapping[str, str] | None = None) -> Ran:
    """The command in a real process (`python -m trio_mcp sessions ...`): exit codes, what reaches stderr."""
    with trio.fail_after(WAIT):
        done = await trio.run_process(
            [sys.executable, "-m", "trio_mcp", "sessions", *args],
            cwd=REPO,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env={**os.environ, **(env or {})},
        )
    return Ran(done.returncode, done.stdout.decode(), done.stderr.decode())


def records() -> list[SessionRecord]:
    """Alice's older and newer session, and bob's (over WebSocket, with an OAuth client id)."""
    old = attrs.evolve(full_record("alice-old"), created_at=1_700_000_000.0, client_id=None, transport="http")
    new = attrs.evolve(full_record("alice-new"), created_at=1_700_000_500.0, status="pending")
    bob = attrs.evolve(full_record("bob-1", principal="bob"), created_at=1_700_000_100.0)
    return [old, new, bob]


async def seed(store: SessionStore, *extra: tuple[SessionRecord, float]) -> None:
    async with store:
        for record in records():
            await store.set(record, ttl=600)
        for record, ttl in extra:
            await store.set(record, ttl=ttl)


def check_reading(cli: Cli, flags: list[str]) -> None:
    listed = cli("list", *flags)
    assert listed.code == 0, listed
    header, *rows = listed.lines
    assert header.split() == [
        "ID",
        "PRINCIPAL",
        "CLIENT",
        "ID",
        "STATUS",
        "TRANSPORT",
        "CREATED",
        "LAST",
        "ACCESS",
        "CLIENT",
    ]
    assert [row.split()[0] for row in rows] == ["alice-new", "bob-1", "alice-old"]  # newest first
    assert rows[0].split()[:5] == ["alice-new", "alice", "kit-oauth-client", "pending", "websocket"]
    assert rows[2].split()[:5] == ["alice-old", "alice", "-", "active", "http"]
    assert "2023-11-14T22:13:20Z" in rows[2]  # created_at 1_700_000_000
    assert rows[2].endswith("kit-client 1.2.3")

    alice = cli("list", "--principal", "alice", *flags)
    assert [row.split()[0] for row in alice.lines[1:]] == ["alice-new", "alice-old"]
    nobody = cli("list", "--principal", "nobody", *flags)
    assert (nobody.code, len(nobody.lines)) == (0, 1)  # the header alone

    as_json = cli("list", "--json", *flags)
    assert as_json.code == 0, as_json
    objects = [json.loads(line) for line in as_json.lines]
    assert [o["sessionId"] for o in objects] == ["alice-new", "bob-1", "alice-old"]
    assert (objects[1]["principal"], objects[1]["clientId"], objects[1]["transport"]) == (
        "bob",
        "kit-oauth-client",
        "websocket",
    )
    assert objects[1]["clientInfo"]["name"] == "kit-client"

    shown = cli("show", "bob-1", *flags)
    assert shown.code == 0, shown
    fields = {line[:13].strip(): line[13:].strip() for line in shown.lines}
    assert fields["principal"] == "bob"
    assert fields["client id"] == "kit-oauth-client"
    assert fields["transport"] == "websocket"
    assert fields["status"] == "active"
    assert fields["client"] == "kit-client 1.2.3"
    assert fields["created"] == "2023-11-14T22:15:00Z"
    shown_json = cli("show", "bob-1", "--json", *flags)
    assert json.loads(shown_json.out)["sessionId"] == "bob-1"

    unknown = cli("show", "nope", *flags)
    assert unknown.code == 1
    assert unknown.out == ""
    assert unknown.err.strip() == "trio-mcp: no session 'nope' (unknown, expired or revoked)"

    counted = cli("count", *flags)
    assert (counted.code, counted.out) == (0, "3\n")


def check_cleanup(cli: Cli, flags: list[str], expired: int) -> None:
    """First of all: any other command sweeps expired sessions (a count on Redis, a file's load)."""
    cleaned = cli("cleanup", *flags)
    assert (cleaned.code, cleaned.out) == (0, f"removed {expired} expired sessions\n"), cleaned
    again = cli("cleanup", *flags)
    assert again.out == "removed 0 expired sessions\n"


def check_revoking(cli: Cli, flags: list[str]) -> None:
    revoked = cli("revoke", "bob-1", "nope", *flags)
    assert revoked.code == 1  # an id it did not know
    assert revoked.out == "revoked 1 session\n"
    assert "no session 'nope'" in revoked.err
    assert (cli("show", "bob-1", *flags)).code == 1

    everywhere = cli("revoke", "--principal", "alice", *flags)
    assert (everywhere.code, everywhere.out) == (0, "revoked 2 sessions of principal 'alice'\n"), everywhere
    assert (cli("count", *flags)).out == "0\n"


# -- Redis --


@pytest.mark.redis
def test_every_command_on_redis(run: Cli, redis_url: str) -> None:
    prefix = f"cli-{secrets.token_hex(4)}:"
    store = RedisSessionStore.from_url(redis_url, prefix=prefix, policy=POLICY)
    short = [(SessionRecord(session_id=f"short-{n}", principal="alice"), 0.3) for n in range(2)]
    trio.run(seed, store, *short)
    time.sleep(0.5)
    flags = ["--store", "redis", "--redis-url", redis_url, "--redis-prefix", prefix]
    check_cleanup(run, flags, expired=2)
    check_reading(run, flags)
    check_revoking(run, flags)


@pytest.mark.redis
async def test_revoke_ends_the_stream_a_running_server_holds(redis_url: str, nursery: trio.Nursery) -> None:
    prefix = f"cli-{secrets.token_hex(4)}:"
    target = await start_app(
        nursery, server.asgi_app(store="redis", redis_url=redis_url, redis_prefix=prefix)
    )
    session_id = await initialize(target)
    flags = ["--store", "redis", "--redis-url", redis_url, "--redis-prefix", prefix]
    async with await target.connect() as conn:
        headers = [
            ("accept", "text/event-stream"),
            ("mcp-session-id", session_id),
            ("mcp-protocol-version", "2025-11-25"),
        ]
        await conn.send("GET", "/mcp", headers, None)
        assert (await conn.read_head()).status == 200
        revoked = await cli("revoke", *flags, "--", session_id)  # `--`: an id may start with '-'
        assert (revoked.code, revoked.out) == (0, "revoked 1 session\n"), revoked
        with trio.fail_after(WAIT):
            events = await conn.read_events()  # the stream ends, without `retry:`
        assert all(event.retry is None for event in events), events
    response = await target.request(
        "POST",
        [
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            *headers[1:],
        ],
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    )
    assert response.status == 404


async def test_an_unreachable_redis_is_one_line_and_exit_1() -> None:
    ran = await cli("count", "--store", "redis", "--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    assert ran.code == 1, ran
    assert ran.err.startswith("trio-mcp: Redis at redis://127.0.0.1:"), ran.err
    assert "unavailable" in ran.err
    assert "Traceback" not in ran.err


# -- a file --


def test_every_command_on_a_file_store(run: Cli, tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    short = [(SessionRecord(session_id=f"short-{n}", principal="alice"), 0.3) for n in range(3)]
    trio.run(seed, FileSessionStore(path, policy=POLICY), *short)
    time.sleep(0.5)
    flags = ["--store", "file", "--store-file", str(path)]
    check_cleanup(run, flags, expired=3)  # its load dropped them; its cleanup says so
    check_reading(run, flags)
    check_revoking(run, flags)
    assert json.loads(path.read_text())["sessions"] == {}


async def test_the_environment_configures_it_as_it_does_serve(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    await seed(FileSessionStore(path, policy=POLICY))
    ran = await cli("count", env={"TRIO_MCP_STORE": "file", "TRIO_MCP_STORE_FILE": str(path)})
    assert (ran.code, ran.out) == (0, "3\n"), ran


def test_an_id_that_starts_with_a_dash_goes_after_double_dash(run: Cli, tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    dash = SessionRecord(session_id="-dash", status="active")
    trio.run(seed, FileSessionStore(path, policy=POLICY), (dash, 600.0))
    flags = ["--store", "file", "--store-file", str(path)]
    assert run("show", *flags, "-dash").code == 2  # taken for an option
    help_text = run("revoke", "--help").out
    assert "goes after `--`" in " ".join(help_text.split())
    assert run("show", *flags, "--", "-dash").code == 0
    revoked = run("revoke", *flags, "--", "-dash", "bob-1")
    assert (revoked.code, revoked.out) == (0, "revoked 2 sessions\n"), revoked


async def test_a_file_held_by_a_running_server_is_one_line_and_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    async with FileSessionStore(path, policy=POLICY):  # as a running server holds it
        ran = await cli("list", "--store", "file", "--store-file", str(path))
    assert ran.code == 1, ran
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1, ran.err
    assert lines[0].startswith(f"trio-mcp: session file {path} is in use"), lines


# -- refusals --


@pytest.mark.parametrize("flags", [[], ["--store", "memory"]], ids=["default", "explicit"])
async def test_the_memory_store_is_refused(flags: list[str]) -> None:
    ran = await cli("count", *flags)
    assert ran.code == 2, ran
    assert "the memory session store lives inside the server process" in ran.err
    assert "--store redis" in ran.err


@pytest.mark.parametrize(
    "args",
    [
        ["revoke"],  # neither ids nor --principal
        ["revoke", "sid", "--principal", "alice"],  # both
        ["frobnicate"],
        ["show"],
        ["count", "--store", "nope"],
        ["count", "--store", "file"],  # no file given
    ],
)
async def test_bad_usage_is_exit_2(args: list[str]) -> None:
    ran = await cli(*args)
    assert ran.code == 2, ran
    assert "Traceback" not in ran.err
    assert ran.err.strip(), ran
