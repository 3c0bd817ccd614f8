"""Soak test: minutes of steady mixed MCP load on a three-instance cluster; fails on request errors or RSS growth.

    python scripts/soak.py [--duration 180] [--workers 16] [--sessions 8] [--sample-every 10] [--logs DIR]
                           [--port PORT] [--seed 1]

(`nox -s soak` installs what it needs and runs this; options after `--`.) Everything is on 127.0.0.1.

The cluster is scripts/cluster.py's: Redis (AOF, `appendfsync always`), three `python -m trio_mcp serve
examples.cluster:app` processes on the Redis store and streams, and HAProxy round-robin per request (no
stickiness), so consecutive requests of one session land on different instances. Every request goes through
HAProxy's URL, protocol 2025-11-25, from one httpx client (a bounded connection pool) under trio.

The load, closed-loop (each worker sends its next request when the previous one is answered, so the
concurrency is bounded and no backlog builds up), `--workers` in all (16 by default), every loop ending at the
deadline (requests in flight then finish; the long-lived sessions are DELETEd after it):

* long-lived sessions (`--sessions`, 8): one worker each, repeating a weighted mix of tools/list, tools/call
  test_simple_text and test_tool_with_logging (three log notifications on the POST's SSE stream),
  resources/read (static and templated), prompts/get, completion/complete, ping, and tools/call count_slowly
  (5 steps at 20 ms: the answer is an SSE stream with 5 progress notifications, then {"count": 5});
* session churn (half the remaining workers): initialize -> notifications/initialized (202) -> 1 to 3 quick
  calls -> DELETE (200), over and over;
* stateless requests (the other half): tools/list with no session id and `Accept: application/json`;
* besides the workers, half the long-lived sessions hold a standalone GET stream (reopened every ~20 s), and
  one more session calls trigger_tools_list_changed every 5 s, which broadcasts notifications/tools/list_changed
  to every session on every instance. Per GET window, the triggers sent after it opened and answered at least
  a second before it closed must arrive; fewer is printed as a lower bound of lost notifications
  (informational: a notification carries no id, so a loss cannot be pinned on one trigger).

Every request checks its answer: the HTTP status (200; 202 for the notification; 200 for DELETE), that the
JSON-RPC response with the request's id is a result (not an error), and its content (the fixture's texts, the
tool names of the first tools/list, the progress and log notifications of count_slowly and
test_tool_with_logging). Anything else, a transport error or a timeout (15 s) is a request error (kind and
message; the first few are printed). A GET stream's latency is the time to its 200; an error while it is held
counts as an error of that kind.

Sampling: from the start of the load, every `--sample-every` seconds (10), VmRSS of each instance's serving
process (/proc/PID/status; `trio_mcp serve` runs one process per instance), the last sample at the deadline.

Pass/fail (exit 1 on any failure, 0 when clean):

* any request error fails;
* an instance (or HAProxy or Redis) that exits during the run fails (checked every second; it stops the load);
* SIGINT or SIGTERM fails: the first ends the load as the deadline would and prints the table, the second
  cancels it; the cluster is stopped in every case (the instances drain a few seconds on SIGTERM);
* RSS growth over 20 % fails: baseline = the MAX of the instance's samples in the first 60 s (the warm-up, in
  which caches and pools fill, is not counted as growth), final = the MEDIAN of its last three samples (one
  sample caught mid-garbage-collection neither fails nor hides a leak that persists), growth = final /
  baseline - 1. With --duration 60 or less the two windows overlap and the check says little.

The final table: RSS samples per instance (MiB) over time with baseline, final and growth; per operation kind
the count, errors, p50 and p99 latency of the successful ones; the overall request rate; the GET streams'
notification counts; Redis' memory and key count before and after; warnings in the instances' logs.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import httpx
import trio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import cluster  # noqa: E402

HOST = "127.0.0.1"
INSTANCES = 3
PROTOCOL = "2025-11-25"
ACCEPT_BOTH = "application/json, text/event-stream"
PREFIX = "soak:"

BASELINE_WINDOW = 60.0  # seconds from the start of the load whose samples make the baseline
FINAL_SAMPLES = 3  # the final RSS is the median of this many last samples
GROWTH_LIMIT = 0.20

REQUEST_TIMEOUT = 15.0  # per request (count_slowly takes 0.1 s; anything near this is a hang)
# A GET stream is silent between notifications; the app sends a keep-alive comment every 15 s.
GET_READ_TIMEOUT = 45.0
GET_HOLD = (15.0, 25.0)  # seconds a GET stream is held before it is closed and reopened (uniform)
TRIGGER_EVERY = 5.0
DELIVERY_GRACE = 1.0  # seconds a broadcast may take from the trigger's answer to a GET stream
COUNT_STEPS, COUNT_INTERVAL_MS = 5, 20
ERROR_PAUSE = 0.2  # a worker whose request failed waits this long: a broken cluster is not hammered
WATCH_EVERY = 1.0  # seconds between checks that every process of the cluster runs
FINISH_GRACE = 30.0  # seconds after the deadline for in-flight requests; then the load is cancelled
SHOWN_ERRORS = 10
GET_KIND = "GET stream (latency: to the 200)"

SIMPLE_TEXT = "This is a simple text response for testing."
LOGGING_TEXT = "Tool with logging executed successfully"
LOGGING_MESSAGES = ["Tool execution started", "Tool processing data", "Tool execution completed"]
STATIC_TEXT = "This is the content of the static text resource."
TRIGGER_TEXT = "tools/list_changed sent"
COMPLETIONS = {"te": ["testValue1", "testAlpha"], "p": ["paris", "prague"]}  # arg1 prefixes (everything.py)


class Failure(Exception):
    """A request whose answer is wrong: status, JSON-RPC error, missing response or content."""


class SessionGone(Failure):
    """404 on a session the script still holds: the session must be opened again."""


# Whatever a request may raise that is its failure, not the script's: recorded, and the worker goes on.
REQUEST_FAILURES = (Failure, httpx.HTTPError, httpx.StreamError, ValueError, KeyError, TypeError)


# -- statistics --


@dataclass
class Kind:
    count: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list[float])  # seconds, successful requests only


@dataclass
class Stats:
    kinds: dict[str, Kind] = field(default_factory=dict[str, Kind])
    first_errors: list[str] = field(default_factory=list[str])
    started: float = 0.0

    def kind(self, name: str) -> Kind:
        return self.kinds.setdefault(name, Kind())

    def timed(self, name: str) -> Timed:
        return Timed(self, name)

    def error(self, name: str, message: str) -> None:
        self.kind(name).errors += 1
        if len(self.first_errors) < SHOWN_ERRORS:
            self.first_errors.append(f"t={time.monotonic() - self.started:6.1f}s {name}: {message}")

    @property
    def requests(self) -> int:
        return sum(k.count for k in self.kinds.values())

    @property
    def errors(self) -> int:
        return sum(k.errors for k in self.kinds.values())


class Timed:
    """`with stats.timed(kind) as t:` one request: counted, its latency kept; a request failure is recorded
    and suppressed (`t.ok` False, `t.exc` says what), anything else (cancellation) passes."""

    def __init__(self, stats: Stats, name: str) -> None:
        self.stats, self.name = stats, name
        self.ok = False
        self.exc: BaseException | None = None
        self._start = 0.0

    def __enter__(self) -> Timed:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        elapsed = time.perf_counter() - self._start
        if exc is None:
            entry = self.stats.kind(self.name)
            entry.count += 1
            entry.latencies.append(elapsed)
            self.ok = True
            return False
        if not isinstance(exc, REQUEST_FAILURES):
            return False
        self.stats.kind(self.name).count += 1
        self.stats.error(self.name, describe(exc))
        self.exc = exc
        return True


def describe(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    return text if isinstance(exc, Failure) else f"{type(exc).__name__}: {text}"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (values need not be sorted)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


# -- SSE --


@dataclass
class Event:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """The text/event-stream grammar, one line at a time: fields id/data/event/retry, `:` comments, a blank
    line ends an event (an event without data lines is only an id or retry and dispatches nothing)."""

    def __init__(self) -> None:
        self.last_id: str | None = None
        self.retry: int | None = None
        self._data: list[str] = []
        self._event = ""

    def feed(self, line: str) -> Event | None:
        if not line:
            data, self._data = self._data, []
            name, self._event = self._event or "message", ""
            return Event("\n".join(data), name, self.last_id, self.retry) if data else None
        if line.startswith(":"):
            return None  # a comment: the app's keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value)
        return None


SSE_LINE_END = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> tuple[list[str], str]:
    """The complete lines of `text` (SSE ends a line with CRLF, LF or CR, nothing else: str.splitlines would
    also split at U+2028 inside JSON) and the unfinished rest. A CR at the very end stays in the rest: it may
    be the first half of a CRLF split between two chunks."""
    held = "\r" if text.endswith("\r") else ""
    lines = SSE_LINE_END.split(text[: len(text) - len(held)])
    return lines[:-1], lines[-1] + held


def sse_messages(text: str) -> list[Any]:
    """The JSON-RPC messages of a complete SSE body (an unterminated last event is dropped, as the spec says)."""
    parser = SSEParser()
    events = (parser.feed(line) for line in split_lines(text)[0])
    return [json.loads(event.data) for event in events if event is not None and event.data]


# -- the client --


class Client:
    """JSON-RPC over the MCP endpoint: one httpx client, every response checked."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http, self.url = http, url
        self.ids = itertools.count(1)
        self.tool_names: frozenset[str] = frozenset()

    @staticmethod
    def headers(session_id: str | None, accept: str = ACCEPT_BOTH) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": accept}
        if session_id is not None:
            headers["mcp-session-id"] = session_id
            headers["mcp-protocol-version"] = PROTOCOL
        return headers

    async def post(self, message: dict[str, Any], session_id: str | None, accept: str) -> httpx.Response:
        body = json.dumps(message, separators=(",", ":"))
        return await self.http.post(self.url, content=body, headers=self.headers(session_id, accept))

    async def request(
        self, session_id: str | None, method: str, params: dict[str, Any], accept: str = ACCEPT_BOTH
    ) -> tuple[dict[str, Any], list[dict[str, Any]], httpx.Response]:
        """The result of one request, the notifications that came with it (SSE), and the response."""
        id = next(self.ids)
        response = await self.post(
            {"jsonrpc": "2.0", "id": id, "method": method, "params": params}, session_id, accept
        )
        if response.status_code == 404 and session_id is not None:
            raise SessionGone(f"{method}: 404 for session {session_id}: {response.text[:200]}")
        if response.status_code != 200:
            raise Failure(f"{method}: HTTP {response.status_code}: {response.text[:200]}")
        messages = decode(response)
        answers = [m for m in messages if m.get("id") == id and ("result" in m or "error" in m)]
        others = [m for m in messages if m not in answers]
        unexpected = [m for m in others if "method" not in m or "id" in m]
        if len(answers) != 1 or unexpected:
            raise Failure(
                f"{method}: {len(answers)} answers to id {id}, unexpected messages {unexpected!r:.200}"
            )
        answer = answers[0]
        if "error" in answer:
            raise Failure(f"{method}: JSON-RPC error {answer['error']!r:.200}")
        result: object = answer["result"]
        if not isinstance(result, dict):
            raise Failure(f"{method}: result is not an object: {result!r:.200}")
        return cast(dict[str, Any], result), others, response

    async def initialize(self) -> str:
        result, _, response = await self.request(
            None,
            "initialize",
            {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "soak", "version": "1"}},
        )
        session_id = response.headers.get("mcp-session-id")
        if not session_id:
            raise Failure("initialize: no Mcp-Session-Id in the answer")
        if result.get("protocolVersion") != PROTOCOL:
            raise Failure(f"initialize: protocolVersion {result.get('protocolVersion')!r}")
        return session_id

    async def initialized(self, session_id: str) -> None:
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        response = await self.post(note, session_id, ACCEPT_BOTH)
        if response.status_code != 202:
            raise Failure(f"notifications/initialized: HTTP {response.status_code}: {response.text[:200]}")

    async def delete(self, session_id: str) -> None:
        response = await self.http.delete(self.url, headers=self.headers(session_id))
        if response.status_code != 200:
            raise Failure(f"DELETE: HTTP {response.status_code}: {response.text[:200]}")

    async def call_tool(
        self, session_id: str, name: str, arguments: dict[str, Any], meta: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if meta is not None:
            params["_meta"] = meta
        result, notes, _ = await self.request(session_id, "tools/call", params)
        if result.get("isError"):
            raise Failure(f"tools/call {name}: isError: {result.get('content')!r:.200}")
        return result, notes


def decode(response: httpx.Response) -> list[dict[str, Any]]:
    kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind == "application/json":
        data: Any = response.json()
        messages: list[Any] = cast(list[Any], data) if isinstance(data, list) else [data]
    elif kind == "text/event-stream":
        messages = sse_messages(response.text)
    else:
        raise Failure(f"HTTP {response.status_code} with content-type {kind!r}")
    if not all(isinstance(m, dict) for m in messages):
        raise Failure(f"not JSON-RPC messages: {messages!r:.200}")
    return messages


def text_of(result: dict[str, Any]) -> str:
    return str(result["content"][0]["text"])


def log_messages(notes: list[dict[str, Any]]) -> list[str]:
    """The texts of the notifications/message (log) notifications that came with an answer."""
    return [str(n["params"]["data"]) for n in notes if n["method"] == "notifications/message"]


def expect(what: str, got: object, wanted: object) -> None:
    if got != wanted:
        raise Failure(f"{what}: got {got!r:.200}, expected {wanted!r:.200}")


# -- operations: one request each, raising Failure on a wrong answer --

Op = Callable[[Client, str | None, random.Random], Awaitable[None]]


async def tools_list(client: Client, session_id: str | None, rng: random.Random) -> None:
    accept = ACCEPT_BOTH if session_id is not None else "application/json"
    result, _, response = await client.request(session_id, "tools/list", {}, accept)
    if session_id is None:
        kind = response.headers.get("content-type", "").partition(";")[0]
        expect("stateless content-type", kind, "application/json")
    expect("tools/list names", frozenset(t["name"] for t in result["tools"]), client.tool_names)


async def simple_text(client: Client, session_id: str | None, rng: random.Random) -> None:
    assert session_id is not None
    result, _ = await client.call_tool(session_id, "test_simple_text", {})
    expect("test_simple_text", text_of(result), SIMPLE_TEXT)


async def with_logging(client: Client, session_id: str | None, rng: random.Random) -> None:
    assert session_id is not None
    result, notes = await client.call_tool(session_id, "test_tool_with_logging", {})
    expect("test_tool_with_logging", text_of(result), LOGGING_TEXT)
    expect("test_tool_with_logging log messages", log_messages(notes), LOGGING_MESSAGES)


async def read_static(client: Client, session_id: str | None, rng: random.Random) -> None:
    result, _, _ = await client.request(session_id, "resources/read", {"uri": "test://static-text"})
    expect("test://static-text", result["contents"][0]["text"], STATIC_TEXT)


async def read_template(client: Client, session_id: str | None, rng: random.Random) -> None:
    id = str(rng.randrange(1_000_000))
    uri = f"test://template/{id}/data"
    result, _, _ = await client.request(session_id, "resources/read", {"uri": uri})
    expect(uri, json.loads(result["contents"][0]["text"])["id"], id)


async def get_prompt(client: Client, session_id: str | None, rng: random.Random) -> None:
    a, b = f"a{rng.randrange(1000)}", f"b{rng.randrange(1000)}"
    params = {"name": "test_prompt_with_arguments", "arguments": {"arg1": a, "arg2": b}}
    result, _, _ = await client.request(session_id, "prompts/get", params)
    wanted = f"Prompt with arguments: arg1='{a}', arg2='{b}'"
    expect("prompts/get", result["messages"][0]["content"]["text"], wanted)


async def complete(client: Client, session_id: str | None, rng: random.Random) -> None:
    prefix = rng.choice(sorted(COMPLETIONS))
    params = {
        "ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
        "argument": {"name": "arg1", "value": prefix},
    }
    result, _, _ = await client.request(session_id, "completion/complete", params)
    expect(f"completion of {prefix!r}", result["completion"]["values"], COMPLETIONS[prefix])


async def ping(client: Client, session_id: str | None, rng: random.Random) -> None:
    result, _, _ = await client.request(session_id, "ping", {})
    expect("ping", result, {})


async def count_slowly(client: Client, session_id: str | None, rng: random.Random) -> None:
    """The SSE answer: COUNT_STEPS progress notifications for our token, in order, then {"count": n}."""
    assert session_id is not None
    token = f"soak-{next(client.ids)}"
    result, notes = await client.call_tool(
        session_id,
        "count_slowly",
        {"n": COUNT_STEPS, "interval_ms": COUNT_INTERVAL_MS},
        {"progressToken": token},
    )
    expect("count_slowly result", result.get("structuredContent"), {"count": COUNT_STEPS})
    progress = [n["params"] for n in notes if n["method"] == "notifications/progress"]
    expect("count_slowly progress tokens", {p["progressToken"] for p in progress}, {token})
    expect("count_slowly progress", [p["progress"] for p in progress], list(range(1, COUNT_STEPS + 1)))
    counted = [f"count {step} of {COUNT_STEPS}" for step in range(1, COUNT_STEPS + 1)]
    expect("count_slowly log messages", log_messages(notes), counted)


# name, operation, weight in a long-lived session's mix
LONG_MIX: list[tuple[str, Op, int]] = [
    ("tools/list", tools_list, 3),
    ("tools/call test_simple_text", simple_text, 4),
    ("tools/call test_tool_with_logging", with_logging, 1),
    ("resources/read static", read_static, 3),
    ("resources/read template", read_template, 2),
    ("prompts/get", get_prompt, 2),
    ("completion/complete", complete, 1),
    ("ping", ping, 3),
    ("tools/call count_slowly (SSE)", count_slowly, 2),
]
CHURN_MIX = [entry for entry in LONG_MIX if entry[1] not in (count_slowly, with_logging)]  # quick ones


def pick(mix: list[tuple[str, Op, int]], rng: random.Random) -> tuple[str, Op]:
    name, op, _ = rng.choices(mix, weights=[w for _, _, w in mix])[0]
    return name, op


# -- the load --


@dataclass
class Window:
    """One standalone GET stream: from its 200 to its close, and the list_changed notifications it got."""

    opened: float
    closed: float = 0.0
    received: int = 0


@dataclass
class Listening:
    windows: list[Window] = field(default_factory=list[Window])
    triggers: list[tuple[float, float]] = field(default_factory=list[tuple[float, float]])  # sent, answered
    early_ends: int = 0  # GET streams the server ended before we closed them
    other: Counter[str] = field(default_factory=Counter[str])  # other messages on GET streams


@dataclass
class LongSession:
    index: int
    session_id: str | None = None
    ready: trio.Event = field(default_factory=trio.Event)


class Load:
    def __init__(self, client: Client, stats: Stats, deadline: float, seed: int) -> None:
        self.client, self.stats, self.deadline, self.seed = client, stats, deadline, seed
        self.listening = Listening()
        self.stopping = trio.Event()
        self.deaths: list[str] = []  # processes of the cluster that exited during the load
        self._holds: set[trio.CancelScope] = set()  # the GET streams being held

    def running(self) -> bool:
        return trio.current_time() < self.deadline

    def stop(self) -> None:
        """End the load now, as at the deadline: requests in flight finish, GET streams close."""
        self.deadline = min(self.deadline, trio.current_time())
        self.stopping.set()
        for scope in self._holds:
            scope.cancel()

    async def nap(self, seconds: float) -> None:
        """Sleep `seconds`, but not past the deadline or a stop."""
        with trio.move_on_at(min(trio.current_time() + seconds, self.deadline)):
            await self.stopping.wait()

    async def pause_after(self, timed: Timed) -> None:
        if not timed.ok:
            await trio.sleep(ERROR_PAUSE)

    async def open_session(self) -> str | None:
        session_id: str | None = None
        with self.stats.timed("initialize"):
            session_id = await self.client.initialize()
        if session_id is None:
            await trio.sleep(ERROR_PAUSE)
            return None
        with self.stats.timed("notifications/initialized") as t:
            await self.client.initialized(session_id)
        await self.pause_after(t)
        return session_id

    async def delete(self, session_id: str) -> None:
        with self.stats.timed("DELETE") as t:
            await self.client.delete(session_id)
        await self.pause_after(t)

    async def run_op(self, name: str, op: Op, session_id: str | None, rng: random.Random) -> Timed:
        with self.stats.timed(name) as t:
            await op(self.client, session_id, rng)
        await self.pause_after(t)
        return t

    async def churn(self, worker: int) -> None:
        """Short sessions, one after another: initialize, initialized, a few calls, DELETE."""
        rng = random.Random(f"{self.seed}-churn-{worker}")
        while self.running():
            session_id = await self.open_session()
            if session_id is None:
                continue
            for _ in range(rng.randint(1, 3)):
                await self.run_op(*pick(CHURN_MIX, rng), session_id, rng)
            await self.delete(session_id)

    async def stateless(self, worker: int) -> None:
        rng = random.Random(f"{self.seed}-stateless-{worker}")
        while self.running():
            await self.run_op("tools/list (stateless)", tools_list, None, rng)

    async def long_lived(self, session: LongSession) -> None:
        """One session for the whole run, repeating the mix (opened again should it be lost: an error)."""
        rng = random.Random(f"{self.seed}-long-{session.index}")
        while self.running():
            if session.session_id is None:
                session.session_id = await self.open_session()
                if session.session_id is None:
                    continue
                session.ready.set()
            t = await self.run_op(*pick(LONG_MIX, rng), session.session_id, rng)
            if isinstance(t.exc, SessionGone):
                session.session_id = None

    async def trigger(self, session: LongSession) -> None:
        """Every TRIGGER_EVERY s, tools/list_changed to every session; the last one early enough to arrive."""
        while self.running():
            if session.session_id is None:
                session.session_id = await self.open_session()
            await self.nap(TRIGGER_EVERY)
            if trio.current_time() > self.deadline - 2 * DELIVERY_GRACE or session.session_id is None:
                continue
            sent = trio.current_time()
            with self.stats.timed("tools/call trigger_tools_list_changed") as t:
                result, _ = await self.client.call_tool(session.session_id, "trigger_tools_list_changed", {})
                expect("trigger_tools_list_changed", text_of(result), TRIGGER_TEXT)
            if t.ok:
                self.listening.triggers.append((sent, trio.current_time()))
            elif isinstance(t.exc, SessionGone):
                session.session_id = None

    async def listen(self, session: LongSession) -> None:
        """Hold the session's standalone GET stream for GET_HOLD seconds, then reopen it, until the deadline."""
        rng = random.Random(f"{self.seed}-listen-{session.index}")
        with trio.move_on_at(self.deadline):
            await session.ready.wait()
        while self.running():
            if session.session_id is None:
                await trio.sleep(ERROR_PAUSE)
                continue
            hold_until = min(self.deadline, trio.current_time() + rng.uniform(*GET_HOLD))
            await self.hold_get(session.session_id, hold_until)

    async def hold_get(self, session_id: str, until: float) -> None:
        """One GET stream until `until`. Its latency is the time to the 200; a failure while it is held (a
        transport error, a message that is no JSON) is an error of the same kind."""
        headers = {
            "accept": "text/event-stream",
            "mcp-session-id": session_id,
            "mcp-protocol-version": PROTOCOL,
        }
        timeout = httpx.Timeout(REQUEST_TIMEOUT, read=GET_READ_TIMEOUT)
        response: httpx.Response | None = None
        async with contextlib.AsyncExitStack() as stack:
            with self.stats.timed(GET_KIND):
                stream = self.client.http.stream("GET", self.client.url, headers=headers, timeout=timeout)
                response = await stack.enter_async_context(stream)
                if response.status_code != 200:
                    await response.aread()
                    raise Failure(f"GET: HTTP {response.status_code}: {response.text[:200]}")
            if response is None or response.status_code != 200:
                await trio.sleep(ERROR_PAUSE)
                return
            try:
                await self.read_get(response, until)
            except REQUEST_FAILURES as exc:
                self.stats.error(GET_KIND, f"while held: {describe(exc)}")
                await trio.sleep(ERROR_PAUSE)

    async def read_get(self, response: httpx.Response, until: float) -> None:
        window = Window(opened=trio.current_time())
        self.listening.windows.append(window)
        parser, rest = SSEParser(), ""
        scope = trio.CancelScope(deadline=until)
        self._holds.add(scope)
        try:
            with scope:
                async for text in response.aiter_text():
                    lines, rest = split_lines(rest + text)
                    for line in lines:
                        event = parser.feed(line)
                        if event is not None and event.data:  # not the priming event (an id, no data)
                            self.count_notification(window, event)
            if not scope.cancelled_caught:
                self.listening.early_ends += 1  # the server ended it (its retry: says reconnect)
        finally:
            self._holds.discard(scope)
            window.closed = trio.current_time()

    def count_notification(self, window: Window, event: Event) -> None:
        message: Any = json.loads(event.data)
        method: object = cast(dict[str, Any], message).get("method") if isinstance(message, dict) else None
        if method == "notifications/tools/list_changed":
            window.received += 1
        else:
            self.listening.other[method if isinstance(method, str) else event.data[:60]] += 1


async def run_load(load: Load, stats: Stats, args: argparse.Namespace) -> None:
    """All workers until the deadline (in-flight requests then finish), then DELETE of the long-lived sessions."""
    sessions = [LongSession(i) for i in range(args.sessions)]
    trigger_session = LongSession(-1)
    rest = args.workers - args.sessions
    print(
        f"load: {args.sessions} long-lived sessions, {(rest + 1) // 2} churn and {rest // 2} stateless workers; "
        f"{args.sessions // 2} GET streams, a trigger every {TRIGGER_EVERY:g} s",
        flush=True,
    )
    # Every loop ends at the deadline; this only bounds a request that hangs past its timeouts.
    with trio.move_on_at(load.deadline + FINISH_GRACE) as hard:
        async with trio.open_nursery() as nursery:
            for session in sessions:
                nursery.start_soon(load.long_lived, session)
            for session in sessions[: args.sessions // 2]:
                nursery.start_soon(load.listen, session)
            nursery.start_soon(load.trigger, trigger_session)
            for worker in range((rest + 1) // 2):
                nursery.start_soon(load.churn, worker)
            for worker in range(rest // 2):
                nursery.start_soon(load.stateless, worker)
    if hard.cancelled_caught:
        stats.error("load", f"workers still busy {FINISH_GRACE:g} s after the deadline: cancelled")
    for session in [*sessions, trigger_session]:
        if session.session_id is not None:
            await load.delete(session.session_id)


# -- RSS sampling --


def rss_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(found[1]) / 1024 if found else None


@dataclass
class Samples:
    times: list[float] = field(default_factory=list[float])  # seconds since the start of the load
    rss: dict[str, list[float | None]] = field(default_factory=dict[str, list[float | None]])


async def sample(
    instances: list[cluster.Child], samples: Samples, stats: Stats, args: argparse.Namespace
) -> None:
    """Every --sample-every s from the start to the deadline: each instance's RSS, and a progress line."""
    start = trio.current_time()
    for step in itertools.count():
        at = step * args.sample_every
        if at > args.duration + 1e-6:
            return
        await trio.sleep_until(start + at)
        samples.times.append(at)
        for child in instances:
            samples.rss.setdefault(child.name, []).append(rss_mib(child.pid))
        rss = "  ".join(f"{_mib(samples.rss[c.name][-1]):>6}" for c in instances)
        print(
            f"  t={at:5.0f}s  requests {stats.requests:7d}  errors {stats.errors:4d}  RSS MiB {rss}",
            flush=True,
        )


async def watch(watched: list[cluster.Child], load: Load) -> None:
    """Every second: a process of the cluster that exited is a failure, and stops the load (what follows
    would only measure the broken cluster)."""
    while True:
        dead = [child for child in watched if not child.running()]
        if dead:
            for child in dead:
                load.deaths.append(
                    f"{child.name} (pid {child.pid}) exited with status {child.proc.returncode}"
                )
                print(f"  {load.deaths[-1]}: stopping the load", flush=True)
            load.stop()
            return
        await trio.sleep(WATCH_EVERY)


@dataclass
class Growth:
    name: str
    baseline: float
    final: float

    @property
    def growth(self) -> float:
        return self.final / self.baseline - 1


def growth_of(name: str, samples: Samples) -> Growth | None:
    """baseline = max of the samples in the first BASELINE_WINDOW s; final = median of the last
    FINAL_SAMPLES samples. None when an instance has no usable samples (it died: reported elsewhere)."""
    values = samples.rss.get(name, [])
    first = [v for t, v in zip(samples.times, values, strict=True) if t <= BASELINE_WINDOW and v is not None]
    last = [v for v in values[-FINAL_SAMPLES:] if v is not None]
    if not first or not last:
        return None
    return Growth(name, max(first), statistics.median(last))


# -- report --


def print_rss(instances: list[cluster.Child], samples: Samples, deaths: list[str]) -> list[str]:
    """The RSS table; returns the failures (growth over the limit, exits)."""
    failures: list[str] = []
    names = [child.name for child in instances]
    print("\nRSS (MiB) of each instance's serving process:")
    print("  t (s)  " + "".join(f"{name:>12}" for name in names))
    for i, at in enumerate(samples.times):
        cells = "".join(f"{_mib(samples.rss[name][i]):>12}" for name in names)
        print(f"  {at:5.0f}  {cells}")
    rule = (
        f"baseline = max of samples at t <= {BASELINE_WINDOW:g} s; final = median of the last {FINAL_SAMPLES}"
    )
    print(f"\n  {'instance':<12}{'pid':>8}{'baseline':>10}{'final':>10}{'growth':>9}   ({rule})")
    for child in instances:
        g = growth_of(child.name, samples)
        if g is None:
            print(f"  {child.name:<12}{child.pid:>8}  no samples")
            continue
        verdict = "FAIL" if g.growth > GROWTH_LIMIT else "ok"
        if not child.running():
            verdict = "exited (growth not judged)"
        print(
            f"  {child.name:<12}{child.pid:>8}{g.baseline:>10.1f}{g.final:>10.1f}{g.growth:>+8.1%}  {verdict}"
        )
        if g.growth > GROWTH_LIMIT:
            failures.append(f"{child.name} RSS grew {g.growth:+.1%} (limit {GROWTH_LIMIT:.0%})")
    return [*deaths, *failures]


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_requests(stats: Stats, elapsed: float) -> None:
    print(f"\n  {'operation':<40}{'count':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for name, kind in sorted(stats.kinds.items()):
        p50 = f"{statistics.median(kind.latencies) * 1000:.1f}" if kind.latencies else "-"
        p99 = f"{percentile(kind.latencies, 0.99) * 1000:.1f}" if kind.latencies else "-"
        print(f"  {name:<40}{kind.count:>9}{kind.errors:>8}{p50:>9}{p99:>9}")
    rate = stats.requests / elapsed if elapsed > 0 else 0.0
    print(f"  {'total':<40}{stats.requests:>9}{stats.errors:>8}   {rate:.1f} requests/s over {elapsed:.1f} s")
    if stats.first_errors:
        print(f"\nfirst {len(stats.first_errors)} request errors:")
        for line in stats.first_errors:
            print(f"  {line}")


def print_listening(listening: Listening) -> None:
    """Informational: list_changed notifications on the GET streams, against the triggers that fell inside."""
    expected = possible = received = lost = 0
    for w in listening.windows:
        inside = sum(1 for s, d in listening.triggers if s >= w.opened and d + DELIVERY_GRACE <= w.closed)
        overlapping = sum(1 for s, d in listening.triggers if d >= w.opened and s <= w.closed)
        expected, possible, received = expected + inside, possible + overlapping, received + w.received
        lost += max(0, inside - w.received)
    print(
        f"\nGET streams (informational): {len(listening.windows)} opened, {listening.early_ends} ended by the "
        f"server; {len(listening.triggers)} triggers; notifications/tools/list_changed received {received}, "
        f"expected {expected} (fully inside a window), possible {possible}; lost at least {lost}"
    )
    if listening.other:
        print(f"  other messages on GET streams: {dict(listening.other)}")


def print_haproxy_spread(logs: Path) -> None:
    try:
        text = (logs / "haproxy.log").read_text(errors="replace")
    except OSError:
        return
    spread = Counter(re.findall(r" instances/(\S+) ", text))
    print(f"requests per instance (haproxy.log): {dict(sorted(spread.items()))}")


def redis_info(port: int) -> str:
    """Used memory and key count: informational (sessions deleted at the end should leave few keys)."""
    try:
        info = cluster.raw_command(port, "INFO", "memory")
        keys = cluster.raw_command(port, "DBSIZE")
    except (OSError, cluster.RedisServerError) as exc:
        return f"unavailable ({exc})"
    found = re.search(rb"used_memory_human:(\S+)", info if isinstance(info, bytes) else b"")
    return f"used_memory {found[1].decode() if found else '?'}, {keys} keys"


def log_warnings(instances: list[cluster.Child]) -> list[str]:
    """Lines of the instances' output that look like trouble (tracebacks, errors, warnings)."""
    pattern = re.compile(r"Traceback|ERROR|WARNING|CRITICAL|Exception")
    found: list[str] = []
    for child in instances:
        with contextlib.suppress(OSError):
            for line in child.log.read_text(errors="replace").splitlines():
                if pattern.search(line):
                    found.append(f"{child.name}: {line[:200]}")
    return found


# -- cluster --


def ensure_haproxy() -> str:
    binary = cluster.find_haproxy()
    if binary is not None:
        return binary
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    print("haproxy is missing: installing it with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["update", "-qq"], ["install", "-y", "-qq", "haproxy"]):
        subprocess.run([*apt, *command], env=env, check=True)
    binary = cluster.find_haproxy()
    if binary is None:
        raise cluster.ClusterError("apt-get installed haproxy, but there is no haproxy binary")
    return binary


@dataclass
class Cluster:
    logs: Path
    port: int
    redis: list[cluster.Child] = field(default_factory=list[cluster.Child])
    instances: list[cluster.Child] = field(default_factory=list[cluster.Child])
    balancer: list[cluster.Child] = field(default_factory=list[cluster.Child])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/mcp"

    def start(self) -> None:
        binary = ensure_haproxy()
        if not cluster._port_free(self.port):
            raise cluster.ClusterError(f"{HOST}:{self.port} is in use: pick another --port")
        deadline = time.monotonic() + cluster.START_TIMEOUT
        redis_port = cluster.free_port()
        self.redis.append(cluster.start_redis(redis_port, self.logs))
        cluster.wait_redis(self.redis[0], deadline)
        for index in range(1, INSTANCES + 1):
            self.instances.append(cluster.start_instance(index, redis_port, PREFIX, self.logs))
        for child in self.instances:
            cluster.wait_http(child, child.port, deadline, child.name)
        self.balancer.append(cluster.start_haproxy(binary, self.port, self.instances, self.logs))
        for _ in self.instances:  # one round of the round-robin: every instance answers through HAProxy
            cluster.wait_http(self.balancer[0], self.port, deadline, "haproxy")
        for child in [*self.redis, *self.instances, *self.balancer]:
            print(f"  {child.name:<26} pid {child.pid:<8} {HOST}:{child.port}", flush=True)

    def stop(self) -> None:
        cluster.stop_all([self.balancer, self.instances, self.redis])


# -- main --


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load (default 180)")
    parser.add_argument("--workers", type=int, default=16, help="concurrent request loops (default 16)")
    parser.add_argument("--sessions", type=int, default=8, help="long-lived sessions among the workers (8)")
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds between RSS samples (10)")
    parser.add_argument("--logs", type=Path, help="directory for logs, configs and Redis data (default: new)")
    parser.add_argument("--port", type=int, default=0, help="HAProxy's port (default: a free one)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the workers' random choices (1)")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.sample_every <= 0:
        parser.error("--duration and --sample-every must be positive")
    if not 1 <= args.sessions <= args.workers - 2:
        parser.error("--sessions must be at least 1 and leave two workers (churn, stateless)")
    return args


async def soak(
    nodes: Cluster, args: argparse.Namespace, stats: Stats, samples: Samples
) -> tuple[Load, float, bool]:
    """The load and the sampler; returns the load, its duration and whether a signal cut it short."""
    pool = args.workers + args.sessions // 2 + 4  # workers, GET streams, trigger, and a margin
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    interrupted = False
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT) as http:
        client = Client(http, nodes.url)
        # The tool names every tools/list must return: those of the first one (not counted in the stats).
        first, _, _ = await client.request(None, "tools/list", {}, "application/json")
        client.tool_names = frozenset(t["name"] for t in first["tools"])
        stats.started = time.monotonic()
        load = Load(client, stats, trio.current_time() + args.duration, args.seed)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                watched = [*nodes.redis, *nodes.instances, *nodes.balancer]

                async def loader() -> None:
                    await run_load(load, stats, args)
                    nursery.cancel_scope.cancel()  # the sampler too

                async def stopper() -> None:
                    # The first signal ends the load as the deadline would (sessions deleted, a table); the
                    # second cancels everything at once.
                    nonlocal interrupted
                    async for signum in signals:
                        print(f"{signal.Signals(signum).name}: stopping the load", flush=True)
                        if interrupted:
                            nursery.cancel_scope.cancel()
                        interrupted = True
                        load.stop()

                nursery.start_soon(loader)
                nursery.start_soon(stopper)
                nursery.start_soon(sample, nodes.instances, samples, stats, args)
                nursery.start_soon(watch, watched, load)
    return load, time.monotonic() - stats.started, interrupted


def report(nodes: Cluster, stats: Stats, samples: Samples, load: Load, elapsed: float) -> list[str]:
    failures = print_rss(nodes.instances, samples, load.deaths)
    print_requests(stats, elapsed)
    print_listening(load.listening)
    print_haproxy_spread(nodes.logs)
    if stats.errors:
        failures.insert(0, f"{stats.errors} request errors")
    return failures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs = (args.logs or Path(tempfile.mkdtemp(prefix="trio-mcp-soak-"))).resolve()
    logs.mkdir(parents=True, exist_ok=True)
    nodes = Cluster(logs, args.port or cluster.free_port())
    print(f"soak: {args.duration:g} s, {args.workers} workers, logs in {logs}", flush=True)

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # outside trio (startup): SIGTERM stops like Ctrl-C; trio handles its own

    signal.signal(signal.SIGTERM, terminate)
    stats, samples = Stats(), Samples()
    failures: list[str] = []
    try:
        nodes.start()
        print(f"load on {nodes.url}; Redis {redis_info(nodes.redis[0].port)}", flush=True)
        load, elapsed, interrupted = trio.run(soak, nodes, args, stats, samples)
        failures = report(nodes, stats, samples, load, elapsed)
        print(f"Redis after the run: {redis_info(nodes.redis[0].port)}")
        if interrupted:
            failures.append("interrupted")
    except cluster.ClusterError as exc:
        failures.append(f"cluster: {exc}")
    except REQUEST_FAILURES as exc:  # the first tools/list, before the load
        failures.append(f"the cluster does not answer through HAProxy: {describe(exc)}")
    except KeyboardInterrupt:
        failures.append("interrupted")
    finally:
        # Nothing interrupts the stop (the instances drain, up to a few seconds each).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping the cluster...", flush=True)
        nodes.stop()
    warnings = log_warnings(nodes.instances)
    if warnings:
        print(f"\n{len(warnings)} suspicious lines in the instances' output (first 10; see {logs}):")
        for line in warnings[:10]:
            print(f"  {line}")
    print(f"\nsoak: {'FAIL: ' + '; '.join(failures) if failures else 'PASS'}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
