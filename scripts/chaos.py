"""Faults on the local cluster of scripts/cluster.py while MCP sessions stream tool calls through HAProxy.

    python scripts/chaos.py [--sessions 6] [--steps 20] [--interval-ms 250] [--scenario NAME ...]
                            [--logs DIR] [--port PORT]

(`nox -s chaos` installs what it needs and runs this.) It starts, with scripts/cluster.py's functions and all
on 127.0.0.1: Redis (append-only file, `appendfsync always`, data in DIR/redis), 3 instances of
examples.cluster:app sharing it (`python -m trio_mcp serve`, one process each) and HAProxy in front
(round-robin per request, no stickiness, readiness check `GET /readyz`). It opens --sessions MCP sessions
through HAProxy, plus one probe session, with its own small client (httpx on trio; it parses SSE itself and
resumes broken streams with `Last-Event-ID`), and runs the scenarios in this order, each on new calls
(`--scenario NAME`, repeatable, picks some):

  kill     SIGKILL one instance (its whole process group), restart it on its port, wait for its /readyz 200;
  drain    SIGTERM one instance: it drains and must exit 0; restart it on its port, wait for its /readyz 200;
  rolling  every instance in turn: SIGTERM, exit 0, restart on its port, /readyz 200, one HAProxy check
           interval (so the balancer has it back), next;
  redis    SIGKILL Redis, 3 s later restart it on its port with the same data dir (the AOF brings the
           sessions back), wait until it answers.

During a scenario every session calls `count_slowly(n=--steps, interval_ms=--interval-ms)` with a progress
token, one call after the other, until the scenario's faults are over, so that every fault finds calls
mid-stream; the first fault comes 1.5 s after the first calls started. After the scenario every session must
still answer a `tools/list` (200; 404 = session lost; a lost session is opened anew for the next scenario).

The client, per call: POST `tools/call`, read the SSE answer, remember the last event id and the last
`retry:`. When the stream ends without the call's response (EOF, reset, or the server ended it after
`retry:`) it waits the retry interval (1 s by default) and resumes: GET with `Last-Event-ID` (any instance
replays what followed and follows the call to its end); again on each break. HTTP 502/503/504 or a connection
error: back off (0.2 s doubling to 2 s) and retry; all within 60 s per call. A break before any event id
leaves nothing to resume: the POST is sent again (the "reposts" printed under the table count the POSTs
sent again, refused ones included; "resumes" the GETs with Last-Event-ID).

Table columns (one row per scenario):

  calls       calls started in the scenario (the probe's calls are not counted)
  completed   the call's result arrived ({"count": n}, not an error)
  clear err   failed with a clear error: a JSON-RPC error with `error.data.retryable` true (-32603: the
              instance running the call died, or hit its drain deadline); nothing is counted lost for it
  other err   failed otherwise: any other error response, HTTP error, a stream that cannot be resumed (400
              "cannot resume the stream"), a lost session, no outcome within the 60 s budget
  lost        events lost: for each completed call and each call whose stream could not be resumed,
              n minus the distinct progress values it received
  dups        progress notifications received again for a value already seen by that call
  sess lost   sessions answered with 404 (during the calls, or in the tools/list check after the scenario)
  recover s   seconds from the (first) fault until the first completed probe call: the probe session
              starts a short call (2 steps) right after the fault, and another until one completes
  settle s    seconds from the (first) fault until the last call of the scenario ended

Pass/fail: the run exits 1 when any session is lost, any call (probe calls included) fails otherwise, any
event is lost (none may be in drain or rolling; in kill and redis a call hit by the fault may only end as a
clear retryable error, so a loss there fails too), any duplicate arrives, a step of a scenario fails (an
instance does not exit 0 within 45 s of SIGTERM, a restarted instance or Redis does not answer within 30 s,
a session check fails otherwise than 404, no probe call completes within 120 s of the fault) or the whole
run hits its 10 minute deadline; else 0. (Calls cut by such a stop are listed under the table, not counted.) Ctrl-C or SIGTERM stops it (exit 1). Whatever happens,
everything it started is stopped at the end. It prints where the logs are, and on failure the last lines of
the instance logs.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import enum
import json
import math
import os
import re
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import trio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import cluster  # noqa: E402

HOST = cluster.HOST
PROTOCOL = "2025-11-25"
SCENARIOS = ("kill", "drain", "rolling", "redis")
INSTANCES = 3
PREFIX = "chaos:"  # Redis key prefix of this run's sessions

RUN_LIMIT = 600.0  # seconds for the whole run, stopping included
STOP_RESERVE = 60.0  # of those, kept for stopping everything (an instance may take up to 40 s to drain)
FAULT_AFTER = 1.5  # seconds after the first calls started: they are mid-stream then
CALL_BUDGET = 60.0  # seconds for one call to reach an outcome
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 2.0
DEFAULT_RETRY_MS = 1000  # until the server sends a `retry:`
REDIS_DOWN = 3.0  # seconds Redis stays down
READY_TIMEOUT = 30.0  # seconds for a restarted instance or Redis to answer
# Seconds for an instance to exit after SIGTERM: its handlers get 30 s (TRIO_MCP_DRAIN_TIMEOUT), the load
# balancer ~5 s to notice; a margin on top.
EXIT_TIMEOUT = 45.0
HAPROXY_CHECK = 2.0  # `check inter 2s` in cluster.haproxy_config: HAProxy sees a restarted instance by then
PROBE_STEPS, PROBE_INTERVAL_MS = 2, 50
PROBE_LIMIT = 120.0  # seconds the probe keeps trying after a fault
CHECK_BUDGET = 30.0  # seconds for a session check (tools/list) or an initialize, with retries
MAX_DETAILS = 12  # failed calls shown per scenario

ACCEPT_BOTH = "application/json, text/event-stream"
SSE = "text/event-stream"
JSON = "application/json"
RETRY_STATUSES = frozenset({502, 503, 504})  # the balancer found no instance, or the instance is not ready
# A resumed stream follows a quiet log with a keep-alive comment every 15 s; a read waits longer than that.
TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=10.0)


def now() -> float:
    return trio.current_time()


# -- SSE --


@dataclass
class SSEEvent:
    id: str | None
    event: str | None
    data: str | None  # None: no data field (e.g. only `retry:`); "" with an id: a priming event
    retry: int | None


class SSEParser:
    """Incremental SSE (the WHATWG event stream format): bytes in, complete events out. An event is
    handed out only at the blank line that ends it, so an id is never acted on before its data arrived."""

    _LINE_END = re.compile(r"\r\n|\r|\n")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""
        self._reset()

    def _reset(self) -> None:
        self._id: str | None = None
        self._event: str | None = None
        self._data: list[str] = []
        self._retry: int | None = None
        self._fields = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._text += self._decoder.decode(chunk)
        events: list[SSEEvent] = []
        pos = 0
        while (match := self._LINE_END.search(self._text, pos)) is not None:
            if match.group() == "\r" and match.end() == len(self._text):
                break  # perhaps the first half of a \r\n split across chunks
            event = self._line(self._text[pos : match.start()])
            pos = match.end()
            if event is not None:
                events.append(event)
        self._text = self._text[pos:]
        return events

    def end(self) -> list[SSEEvent]:
        """At the end of the body: a held-back final \r ends its line after all."""
        if not self._text.endswith("\r"):
            return []
        return self.feed(b"\n")

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._fields:
                return None
            data = "\n".join(self._data) if self._data else None
            event = SSEEvent(self._id, self._event, data, self._retry)
            self._reset()
            return event
        if line.startswith(":"):
            return None  # a comment: the server's keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        self._fields = True
        if name == "id":
            self._id = value
        elif name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None


# -- what was seen --


@dataclass
class Call:
    session: int
    n: int
    token: str
    started: float = 0.0
    ended: float | None = None
    progress: set[int] = field(default_factory=lambda: set[int]())
    duplicates: int = 0
    completed: bool = False
    clear_error: str | None = None  # the message of a retryable JSON-RPC error
    unresumable: str | None = None  # the 400 "cannot resume the stream" message
    session_lost: bool = False
    errors: list[str] = field(default_factory=lambda: list[str]())
    resumes: int = 0  # GETs with Last-Event-ID
    reposts: int = 0  # POSTs sent again (after a refusal, or a break before any event id)

    @property
    def outcome(self) -> str:
        if self.ended is None:
            return "unfinished"  # cut by the run's stop (deadline or signal), which is reported itself
        if self.errors or self.unresumable is not None or self.session_lost:
            return "other"
        if self.completed:
            return "completed"
        if self.clear_error is not None:
            return "clear"
        return "other"  # no outcome at all (cannot happen: run_call records why)

    @property
    def lost(self) -> int:
        if self.completed or self.unresumable is not None:
            return self.n - len(self.progress)
        return 0

    def describe(self) -> str:
        what = "; ".join(
            [*self.errors, *([f"cannot resume: {self.unresumable}"] if self.unresumable else [])]
        )
        span = f"{self.started:.1f}-{self.ended:.1f}s" if self.ended is not None else f"{self.started:.1f}s-"
        return (
            f"{self.token} (session {self.session}, {span}): progress {len(self.progress)}/{self.n}, "
            f"{self.resumes} resumes, {self.reposts} reposts: {what or self.clear_error or 'no outcome'}"
        )


@dataclass
class Scenario:
    name: str
    calls: list[Call] = field(default_factory=lambda: list[Call]())
    probes: list[Call] = field(default_factory=lambda: list[Call]())
    problems: list[str] = field(default_factory=lambda: list[str]())  # the scenario's own steps
    sessions_lost: set[int] = field(default_factory=lambda: set[int]())
    fault_at: float | None = None
    recovered_at: float | None = None
    finished: bool = False

    def count(self, outcome: str) -> int:
        return sum(call.outcome == outcome for call in self.calls)

    @property
    def lost(self) -> int:
        return sum(call.lost for call in self.calls)

    @property
    def duplicates(self) -> int:
        return sum(call.duplicates for call in [*self.calls, *self.probes])

    @property
    def settled_after(self) -> float | None:
        ends = [call.ended for call in self.calls if call.ended is not None]
        if self.fault_at is None or not ends:
            return None
        return max(ends) - self.fault_at

    @property
    def recovered_after(self) -> float | None:
        if self.fault_at is None or self.recovered_at is None:
            return None
        return self.recovered_at - self.fault_at

    def failures(self) -> list[str]:
        """Why this scenario fails the run (empty: it passes)."""
        why = list(self.problems)
        if not self.finished:
            why.append("did not finish")
        if self.sessions_lost:
            why.append(f"{len(self.sessions_lost)} session(s) lost: {sorted(self.sessions_lost)}")
        other = [call for call in [*self.calls, *self.probes] if call.outcome == "other"]
        if other:
            why.append(f"{len(other)} call(s) failed without a clear error")
        if self.lost:
            why.append(f"{self.lost} event(s) lost")
        if self.duplicates:
            why.append(f"{self.duplicates} duplicate progress notification(s)")
        return why


# -- the client --


class GaveUp(Exception):
    """No usable answer within the budget; the message says what the last attempt got."""


class Backoff:
    def __init__(self) -> None:
        self.delay = BACKOFF_FIRST

    async def wait(self) -> None:
        await trio.sleep(self.delay)
        self.delay = min(self.delay * 2, BACKOFF_MAX)

    def reset(self) -> None:
        self.delay = BACKOFF_FIRST


def _as_dict(value: object) -> dict[str, Any] | None:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").partition(";")[0].strip().lower()


def _error_text(response: httpx.Response) -> str:
    """An error answer in a line: its JSON-RPC error message, else the start of its body."""
    with contextlib.suppress(ValueError):
        error = _as_dict((_as_dict(json.loads(response.content)) or {}).get("error"))
        if error is not None:
            return str(error.get("message"))
    return response.text[:300].replace("\n", " ")


class Session:
    """One MCP session through the load balancer (its id changes when it is lost and opened anew)."""

    def __init__(self, index: int, client: httpx.AsyncClient, url: str) -> None:
        self.index = index
        self.client = client
        self.url = url
        self.id: str | None = None
        self._ids = 0

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def headers(self, accept: str = ACCEPT_BOTH) -> dict[str, str]:
        """A POST's headers; a GET's with `accept=SSE`."""
        headers = {"Accept": accept} if accept == SSE else {"Accept": accept, "Content-Type": JSON}
        if self.id is not None:
            headers["Mcp-Session-Id"] = self.id
            headers["MCP-Protocol-Version"] = PROTOCOL
        return headers

    def request(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """A request's id and body."""
        request_id = self.next_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        return request_id, json.dumps(message).encode()

    async def post(self, body: bytes, budget: float = CHECK_BUDGET) -> httpx.Response:
        """POST a message and read the whole answer, retrying refusals (502/503/504, connection errors)."""
        deadline = now() + budget
        backoff = Backoff()
        last = "no attempt"
        while now() < deadline:
            try:
                response = await self.client.post(self.url, content=body, headers=self.headers())
            except httpx.RequestError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                last = f"HTTP {response.status_code}: {_error_text(response)}"
            await backoff.wait()
        raise GaveUp(f"no answer within {budget:g} s (last: {last})")

    async def open(self) -> None:
        self.id = None
        params = {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "trio-mcp-chaos", "version": "1"},
        }
        response = await self.post(self.request("initialize", params)[1])
        session_id = response.headers.get("mcp-session-id")
        if response.status_code != 200 or not session_id:
            raise GaveUp(f"initialize: HTTP {response.status_code}: {_error_text(response)}")
        self.id = session_id
        response = await self.post(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')
        if response.status_code != 202:
            raise GaveUp(f"notifications/initialized: HTTP {response.status_code}: {_error_text(response)}")

    async def check(self) -> str | None:
        """None when the session answers tools/list; else what went wrong ("lost" for a 404)."""
        try:
            response = await self.post(self.request("tools/list")[1])
        except GaveUp as exc:
            return f"tools/list: {exc}"
        if response.status_code == 404:
            return "lost"
        if response.status_code != 200:
            return f"tools/list: HTTP {response.status_code}: {_error_text(response)}"
        return None


class Step(enum.Enum):
    DONE = "done"  # the call has its outcome (recorded on the Call)
    BROKEN = "broken"  # the stream ended or broke without the response: resume after `retry:`
    REFUSED = "refused"  # no stream: 502/503/504 or a connection error; back off and try again


@dataclass
class StreamState:
    request_id: int
    body: bytes
    last_id: str | None = None
    retry_ms: int = DEFAULT_RETRY_MS
    posts: int = 0
    why: str = ""  # what ended the last attempt


async def run_call(session: Session, call: Call, interval_ms: int) -> None:
    """One `count_slowly` call to its outcome (recorded on `call`), resuming its stream on each break."""
    call.started = now()
    params = {
        "name": "count_slowly",
        "arguments": {"n": call.n, "interval_ms": interval_ms},
        "_meta": {"progressToken": call.token},
    }
    stream = StreamState(*session.request("tools/call", params))
    with trio.move_on_after(CALL_BUDGET) as budget:
        try:
            await _call(session, call, stream)
        except Exception as exc:  # a bug here, or an answer it cannot read: one failed call, not the run
            call.errors.append(f"client error: {exc!r}")
    if budget.cancelled_caught:
        call.errors.append(f"no outcome within {CALL_BUDGET:g} s (last attempt: {stream.why or 'none'})")
    call.ended = now()


async def _call(session: Session, call: Call, stream: StreamState) -> None:
    backoff = Backoff()
    while True:
        step = await _attempt(session, call, stream)
        if step is Step.DONE:
            return
        if step is Step.REFUSED:
            await backoff.wait()
            continue
        backoff.reset()  # (a break before any event id leaves nothing to resume: the POST goes again)
        await trio.sleep(stream.retry_ms / 1000)


async def _attempt(session: Session, call: Call, stream: StreamState) -> Step:
    resume = stream.last_id is not None
    method = "GET" if resume else "POST"
    headers = session.headers(SSE if resume else ACCEPT_BOTH)
    if stream.last_id is not None:
        headers["Last-Event-ID"] = stream.last_id
        call.resumes += 1
    else:
        if stream.posts:
            call.reposts += 1
        stream.posts += 1
    opened = False
    try:
        async with session.client.stream(
            method, session.url, headers=headers, content=None if resume else stream.body
        ) as response:
            if response.status_code in RETRY_STATUSES:
                await response.aread()
                stream.why = f"{method}: HTTP {response.status_code}: {_error_text(response)}"
                return Step.REFUSED
            if response.status_code != 200:
                await response.aread()
                _refused(call, method, response)
                return Step.DONE
            opened = True
            return await _read(call, stream, response)
    except httpx.RequestError as exc:
        stream.why = f"{method}: {type(exc).__name__}: {exc}"
        return Step.BROKEN if opened else Step.REFUSED


def _refused(call: Call, method: str, response: httpx.Response) -> None:
    text = _error_text(response)
    if response.status_code == 404:
        call.session_lost = True
        call.errors.append(f"{method}: HTTP 404 (session lost): {text}")
    elif response.status_code == 400 and method == "GET" and "cannot resume" in text:
        call.unresumable = text
    else:
        call.errors.append(f"{method}: HTTP {response.status_code}: {text}")


async def _read(call: Call, stream: StreamState, response: httpx.Response) -> Step:
    kind = _content_type(response)
    if kind == JSON:
        body = await response.aread()
        try:
            message = json.loads(body)
        except ValueError:
            message = body.decode(errors="replace")
        if not _on_message(call, stream.request_id, message):
            call.errors.append(f"a JSON answer without the call's response: {body[:200]!r}")
        return Step.DONE
    if kind != SSE:
        call.errors.append(f"unexpected content type {kind!r}")
        return Step.DONE
    parser = SSEParser()
    retried = False
    async for chunk in response.aiter_raw():
        for event in parser.feed(chunk):
            retried = retried or event.retry is not None
            if _on_event(call, stream, event):
                return Step.DONE
    if any(_on_event(call, stream, event) for event in parser.end()):
        return Step.DONE
    stream.why = "the stream ended without the response" + (" (after retry:)" if retried else "")
    return Step.BROKEN


def _on_event(call: Call, stream: StreamState, event: SSEEvent) -> bool:
    """True when the event carries the call's response."""
    if event.retry is not None:
        stream.retry_ms = event.retry
    if event.id is not None:
        stream.last_id = event.id
    if not event.data:
        return False  # a priming event (an id, empty data) or a bare `retry:`
    try:
        message = json.loads(event.data)
    except ValueError:
        call.errors.append(f"an event that is not JSON: {event.data[:200]!r}")
        return False
    return _on_message(call, stream.request_id, message)


def _on_message(call: Call, request_id: int, message: object) -> bool:
    """Record one JSON-RPC message; True when it is the call's response."""
    obj = _as_dict(message)
    if obj is None:
        call.errors.append(f"not a JSON-RPC message: {message!r:.200}")
        return False
    if obj.get("method") == "notifications/progress":
        params = _as_dict(obj.get("params")) or {}
        if params.get("progressToken") == call.token:
            _progress(call, params.get("progress"))
        return False
    if "method" in obj:
        return False  # the "count k of n" log messages, and any other notification
    if obj.get("id") != request_id:
        call.errors.append(f"a response to another request: {json.dumps(obj)[:200]}")
        return False
    error = _as_dict(obj.get("error"))
    if error is not None:
        data = _as_dict(error.get("data")) or {}
        text = f"{error.get('code')}: {error.get('message')}"
        if data.get("retryable") is True:
            call.clear_error = text
        else:
            call.errors.append(f"JSON-RPC error {text}")
        return True
    result = _as_dict(obj.get("result")) or {}
    call.completed = True
    if result.get("isError") or result.get("structuredContent") != {"count": call.n}:
        call.errors.append(f"unexpected result: {json.dumps(result)[:200]}")
    return True


def _progress(call: Call, value: object) -> None:
    if not isinstance(value, int | float) or value != int(value) or not 1 <= value <= call.n:
        call.errors.append(f"progress value out of range: {value!r}")
        return
    step = int(value)
    if step in call.progress:
        call.duplicates += 1
    call.progress.add(step)


# -- the cluster --


class Cluster:
    """Redis, the instances and HAProxy, as lists so that `stop` stops whatever has started."""

    def __init__(self, logs: Path, port: int, haproxy: str) -> None:
        self.logs = logs
        self.port = port
        self.haproxy = haproxy
        self.redis_port: int = cluster.free_port()
        self.redis: list[cluster.Child] = []
        self.instances: list[cluster.Child] = []
        self.balancer: list[cluster.Child] = []

    def start(self) -> None:
        """Blocking, before trio runs: everything up and answering (cluster.ClusterError otherwise)."""
        deadline = time.monotonic() + cluster.START_TIMEOUT
        self.redis.append(cluster.start_redis(self.redis_port, self.logs))
        cluster.wait_redis(self.redis[0], deadline)
        for index in range(1, INSTANCES + 1):
            self.instances.append(cluster.start_instance(index, self.redis_port, PREFIX, self.logs))
        for child in self.instances:
            cluster.wait_http(child, child.port, deadline, child.name)
        self.balancer.append(cluster.start_haproxy(self.haproxy, self.port, self.instances, self.logs))
        for _ in self.instances:  # one round of the round-robin
            cluster.wait_http(self.balancer[0], self.port, deadline, "haproxy")

    def stop(self) -> None:
        cluster.stop_all([self.balancer, self.instances, self.redis])

    def describe(self) -> str:
        lines = [f"  {child.name:<12} pid {child.pid:<8} {HOST}:{child.port}" for child in self.all()]
        return "\n".join(lines)

    def all(self) -> list[cluster.Child]:
        return [*self.redis, *self.instances, *self.balancer]


async def wait_exit(child: cluster.Child, timeout: float) -> int | None:
    """The exit status, or None if the process still runs after `timeout` seconds."""
    with trio.move_on_after(timeout):
        # A Popen (cluster.Child) has nothing to await: poll it.
        while (status := child.proc.poll()) is None:  # noqa: ASYNC110
            await trio.sleep(0.05)
        return status
    return None


async def reap(child: cluster.Child) -> None:
    """Whatever is left of the exited process's group goes too (cluster's logic, off the trio thread)."""
    await trio.to_thread.run_sync(child.wait_and_reap, time.monotonic() + 5.0)


async def kill(child: cluster.Child) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    await wait_exit(child, 10.0)
    await reap(child)


async def terminate(child: cluster.Child, problems: list[str]) -> None:
    """SIGTERM: the instance drains and must exit 0 within EXIT_TIMEOUT (else SIGKILL and a problem)."""
    started = now()
    child.proc.send_signal(signal.SIGTERM)
    status = await wait_exit(child, EXIT_TIMEOUT)
    if status is None:
        problems.append(f"{child.name} did not exit within {EXIT_TIMEOUT:g} s of SIGTERM: SIGKILLed")
        await kill(child)
        return
    print(f"  {child.name} exited {status} {now() - started:.1f} s after SIGTERM", flush=True)
    if status != 0:
        problems.append(f"{child.name} exited with status {status} after SIGTERM (expected 0)")
    await reap(child)


async def wait_ready(client: httpx.AsyncClient, child: cluster.Child) -> None:
    """Until the instance's /readyz answers 200 (cluster.ClusterError after READY_TIMEOUT or if it dies)."""
    deadline = now() + READY_TIMEOUT
    last = "no attempt"
    while now() < deadline:
        if not child.running():
            raise child.died()
        try:
            response = await client.get(f"http://{HOST}:{child.port}/readyz")
        except httpx.RequestError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        await trio.sleep(0.1)
    raise cluster.ClusterError(f"{child.name}: /readyz not 200 within {READY_TIMEOUT:g} s (last: {last})")


async def restart_instance(run: Run, slot: int) -> None:
    old = run.cluster.instances[slot]
    new = cluster.start_instance(slot + 1, run.cluster.redis_port, PREFIX, run.cluster.logs, port=old.port)
    run.cluster.instances[slot] = new  # from now on the one to stop at the end
    started = now()
    await wait_ready(run.client, new)
    print(f"  {new.name} (pid {new.pid}) ready {now() - started:.1f} s after its restart", flush=True)


# -- the scenarios --


@dataclass
class Run:
    args: argparse.Namespace
    cluster: Cluster
    client: httpx.AsyncClient
    sessions: list[Session]
    probe: Session


Fault = Callable[[], None]  # marks the moment of the (first) fault
Driver = Callable[[Run, Fault, list[str]], Awaitable[None]]


async def drive_kill(run: Run, fault: Fault, problems: list[str]) -> None:
    child = run.cluster.instances[0]
    fault()
    await kill(child)
    print(f"  {child.name} SIGKILLed (status {child.proc.returncode})", flush=True)
    await restart_instance(run, 0)


async def drive_drain(run: Run, fault: Fault, problems: list[str]) -> None:
    fault()
    await terminate(run.cluster.instances[1], problems)
    await restart_instance(run, 1)


async def drive_rolling(run: Run, fault: Fault, problems: list[str]) -> None:
    for slot in range(len(run.cluster.instances)):
        fault()
        await terminate(run.cluster.instances[slot], problems)
        await restart_instance(run, slot)
        # A rolling deploy goes on once the balancer has the instance back, not merely once it answers.
        await trio.sleep(HAPROXY_CHECK)


async def drive_redis(run: Run, fault: Fault, problems: list[str]) -> None:
    old = run.cluster.redis[0]
    fault()
    await kill(old)
    print(f"  redis SIGKILLed; restarting it in {REDIS_DOWN:g} s", flush=True)
    await trio.sleep(REDIS_DOWN)
    new = cluster.start_redis(old.port, run.cluster.logs)  # same port, same data dir: the AOF is replayed
    run.cluster.redis[0] = new
    started = now()
    await trio.to_thread.run_sync(cluster.wait_redis, new, time.monotonic() + READY_TIMEOUT)
    print(f"  redis (pid {new.pid}) answers {now() - started:.1f} s after its restart", flush=True)


DRIVERS: dict[str, Driver] = {
    "kill": drive_kill,
    "drain": drive_drain,
    "rolling": drive_rolling,
    "redis": drive_redis,
}


async def run_scenario(run: Run, scenario: Scenario) -> None:
    print(f"scenario {scenario.name}:", flush=True)
    faults_over = trio.Event()
    async with trio.open_nursery() as nursery:
        for session in run.sessions:
            nursery.start_soon(_call_loop, run, session, scenario, faults_over)
        nursery.start_soon(_drive, run, scenario, faults_over, nursery)
    await _check_sessions(run, scenario)
    scenario.finished = True


async def _call_loop(run: Run, session: Session, scenario: Scenario, faults_over: trio.Event) -> None:
    """Calls one after the other until the faults are over, so that each fault finds calls mid-stream."""
    while True:
        call = Call(session.index, run.args.steps, f"{scenario.name}-s{session.index}-c{len(scenario.calls)}")
        scenario.calls.append(call)
        await run_call(session, call, run.args.interval_ms)
        if call.session_lost:
            scenario.sessions_lost.add(session.index)
            return
        if faults_over.is_set() or call.outcome == "other":
            return  # a failing session stops here: one failure says it, a hundred would flood the report


async def _drive(run: Run, scenario: Scenario, faults_over: trio.Event, nursery: trio.Nursery) -> None:
    def fault() -> None:
        if scenario.fault_at is None:
            scenario.fault_at = now()
            nursery.start_soon(_probe, run, scenario)

    try:
        await trio.sleep(FAULT_AFTER)
        await DRIVERS[scenario.name](run, fault, scenario.problems)
    except (cluster.ClusterError, OSError) as exc:
        scenario.problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        faults_over.set()


async def _probe(run: Run, scenario: Scenario) -> None:
    """Short calls on the probe session from the fault on, until one completes: when service is back."""
    with trio.move_on_after(PROBE_LIMIT):
        while True:
            call = Call(run.probe.index, PROBE_STEPS, f"{scenario.name}-probe-{len(scenario.probes)}")
            scenario.probes.append(call)
            await run_call(run.probe, call, PROBE_INTERVAL_MS)
            if call.outcome == "completed":
                scenario.recovered_at = call.ended
                return
            if call.session_lost:
                scenario.sessions_lost.add(run.probe.index)
                return
            await trio.sleep(BACKOFF_FIRST)
    scenario.problems.append(f"no probe call completed within {PROBE_LIMIT:g} s of the fault")


async def _check_sessions(run: Run, scenario: Scenario) -> None:
    """Every session must answer tools/list; a lost one is opened anew, for the next scenarios."""
    for session in [*run.sessions, run.probe]:
        if session.index not in scenario.sessions_lost:
            result = await session.check()
            if result == "lost":
                scenario.sessions_lost.add(session.index)
            elif result is not None:
                scenario.problems.append(f"session {session.index}: {result}")
        if session.index in scenario.sessions_lost:
            try:
                await session.open()
            except GaveUp as exc:
                scenario.problems.append(f"session {session.index} could not be opened again: {exc}")


# -- the run --


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--sessions", type=int, default=6, help="sessions streaming calls (default 6)")
    parser.add_argument(
        "--steps", type=int, default=20, help="steps n of each count_slowly call (default 20)"
    )
    parser.add_argument("--interval-ms", type=int, default=250, help="ms between steps (default 250)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="run this scenario (repeatable; default all, always in the order kill, drain, rolling, redis)",
    )
    parser.add_argument("--logs", type=Path, help="directory for logs, configs and Redis data (default: new)")
    parser.add_argument("--port", type=int, default=0, help="the load balancer's port (default: a free one)")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.steps < 1 or not 0 <= args.interval_ms <= 60_000:
        parser.error("--sessions and --steps must be at least 1, --interval-ms 0 to 60000")
    picked = set(args.scenario or SCENARIOS)
    args.scenarios = [name for name in SCENARIOS if name in picked]
    return args


async def run_all(
    args: argparse.Namespace, lab: Cluster, seconds: float
) -> tuple[list[Scenario], str | None]:
    """The scenarios, within `seconds`; returns them and why the run stopped early (None: it did not)."""
    scenarios: list[Scenario] = []
    stopped: list[str] = []
    limits = httpx.Limits(
        max_connections=4 * args.sessions + 16, max_keepalive_connections=2 * args.sessions + 8
    )
    # trust_env=False: no proxy from the environment between this client and 127.0.0.1.
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits, trust_env=False) as client:
        with trio.move_on_after(seconds) as deadline:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_stop_on_signal, nursery.cancel_scope, stopped.append)
                try:
                    await _scenarios(args, lab, client, scenarios)
                except GaveUp as exc:  # here, not in main: out of a nursery it would be in an ExceptionGroup
                    stopped.append(f"a session could not be opened: {exc}")
                nursery.cancel_scope.cancel()
    if deadline.cancelled_caught:
        stopped.append(f"the run's deadline ({RUN_LIMIT:g} s in all) was hit")
    return scenarios, (stopped[0] if stopped else None)


async def _scenarios(
    args: argparse.Namespace, lab: Cluster, client: httpx.AsyncClient, scenarios: list[Scenario]
) -> None:
    url = f"http://{HOST}:{lab.port}/mcp"
    sessions = [Session(index, client, url) for index in range(1, args.sessions + 1)]
    probe = Session(0, client, url)  # session 0 in the reports
    for session in [*sessions, probe]:
        await session.open()
    run = Run(args, lab, client, sessions, probe)
    for name in args.scenarios:
        scenarios.append(Scenario(name))
        await run_scenario(run, scenarios[-1])


async def _stop_on_signal(scope: trio.CancelScope, stopped: Callable[[str], None]) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            stopped(f"{signal.Signals(signum).name} arrived")
            scope.cancel()
            return


def _seconds(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1f}"


def print_table(scenarios: list[Scenario]) -> None:
    header = (
        f"{'scenario':<9} {'calls':>5} {'completed':>9} {'clear err':>9} {'other err':>9} {'lost':>5} "
        f"{'dups':>5} {'sess lost':>9} {'recover s':>9} {'settle s':>8}"
    )
    print()
    print("recover s: from the (first) fault to the first completed probe call started after it;")
    print("settle s: from the (first) fault to the end of the scenario's last call.")
    print(header)
    print("-" * len(header))
    for s in scenarios:
        print(
            f"{s.name:<9} {len(s.calls):>5} {s.count('completed'):>9} {s.count('clear'):>9} "
            f"{s.count('other'):>9} {s.lost:>5} {s.duplicates:>5} {len(s.sessions_lost):>9} "
            f"{_seconds(s.recovered_after):>9} {_seconds(s.settled_after):>8}"
        )


def print_details(scenarios: list[Scenario]) -> None:
    for s in scenarios:
        resumes = sum(call.resumes for call in s.calls)
        reposts = sum(call.reposts for call in s.calls)
        clear = sorted({call.clear_error for call in s.calls if call.outcome == "clear" and call.clear_error})
        unfinished = s.count("unfinished")
        print(
            f"{s.name}: {resumes} resumes, {reposts} reposts, {len(s.probes)} probe call(s)"
            + (f", {unfinished} call(s) cut by the stop" if unfinished else "")
        )
        for message in clear:
            print(f"  clear error: {message}")
        for problem in s.problems:
            print(f"  problem: {problem}")
        bad = [
            call for call in [*s.calls, *s.probes] if call.outcome == "other" or call.lost or call.duplicates
        ]
        for call in bad[:MAX_DETAILS]:
            print(f"  call {call.describe()} lost {call.lost} dups {call.duplicates}")
        if len(bad) > MAX_DETAILS:
            print(f"  ... and {len(bad) - MAX_DETAILS} more")


def print_logs(lab: Cluster, logs: Path, failed: bool) -> None:
    print(f"logs in {logs}:")
    for child in lab.instances:
        print(f"  {child.name}: {child.log} (access log {logs / (child.name + '.access.log')})")
    print(f"  haproxy: {logs / 'haproxy.log'}; redis: {logs / 'redis.log'}")
    if failed:
        for child in lab.instances:
            print(f"--- the end of {child.log}:\n{child.tail(2000)}")


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    haproxy = cluster.find_haproxy()
    if haproxy is None:
        print("chaos: haproxy is not installed (apt-get install haproxy)", file=sys.stderr)
        return 1
    logs: Path = (args.logs or Path(tempfile.mkdtemp(prefix="trio-mcp-chaos-"))).resolve()
    logs.mkdir(parents=True, exist_ok=True)
    print(f"logs: {logs}", flush=True)
    port = cast("int", args.port or cluster.free_port())  # (pyright cannot see into tests/_redis_server)
    lab = Cluster(logs, port, haproxy)
    scenarios: list[Scenario] = []
    stopped: str | None = None
    try:
        with cluster.Signals():  # SIGINT/SIGTERM raise cluster.Stop while the cluster starts
            lab.start()
        print(f"cluster up in {time.monotonic() - started:.1f} s:\n{lab.describe()}", flush=True)
        # The scenarios get what is left of RUN_LIMIT but the stop's reserve, on trio's clock.
        remaining = RUN_LIMIT - STOP_RESERVE - (time.monotonic() - started)
        scenarios, stopped = trio.run(run_all, args, lab, remaining)
    except cluster.ClusterError as exc:
        stopped = f"the cluster failed: {exc}"
    except (cluster.Stop, KeyboardInterrupt) as exc:
        stopped = f"{exc or 'SIGINT'} arrived"
    except Exception:
        traceback.print_exc()
        stopped = "an error in this script (traceback above)"
    finally:
        with cluster.Signals() as signals:
            signals.stopping = True  # no signal interrupts the stop
            lab.stop()
    return report(scenarios, stopped, lab, logs, time.monotonic() - started)


def report(scenarios: list[Scenario], stopped: str | None, lab: Cluster, logs: Path, elapsed: float) -> int:
    print_table(scenarios)
    print()
    print_details(scenarios)
    failures = [f"{s.name}: {why}" for s in scenarios for why in s.failures()]
    if stopped is not None:
        failures.insert(0, f"stopped early: {stopped}")
    print()
    print_logs(lab, logs, bool(failures))
    print()
    print(f"total run time {elapsed:.1f} s")
    if failures:
        print("FAIL:\n" + "\n".join(f"  {why}" for why in failures), flush=True)
        return 1
    print("PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
