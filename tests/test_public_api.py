"""The public namespaces export exactly what the design fixes, and nothing private leaks through them."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import trio_mcp

PUBLIC_MODULES = [
    "trio_mcp",
    "trio_mcp.types",
    "trio_mcp.stores",
    "trio_mcp.streams",
    "trio_mcp.testing",
    "trio_mcp.client_sessions",
    "trio_mcp.auth",
    "trio_mcp.client_auth",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_resolve(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported, f"{name} exports nothing"
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names {attr!r}, which does not exist"
        assert not attr.startswith("_")


def test_top_level_api() -> None:
    for attr in ("Server", "Context", "serve", "open_client", "McpError", "ClientSession", "Image", "Audio"):
        assert attr in trio_mcp.__all__
    assert trio_mcp.Server.__module__ == "trio_mcp._server.server"


def test_the_session_admin_api_is_public() -> None:
    assert "SessionAdmin" in trio_mcp.__all__
    for method in (
        "list",
        "list_ids",
        "get",
        "list_all_ids",
        "count",
        "revoke",
        "revoke_all",
        "cleanup_expired",
    ):
        assert callable(getattr(trio_mcp.SessionAdmin, method)), method


def test_store_and_stream_backends_are_public() -> None:
    stores = importlib.import_module("trio_mcp.stores")
    streams = importlib.import_module("trio_mcp.streams")
    for attr in (
        "SessionStore",
        "SessionRecord",
        "MemorySessionStore",
        "FileSessionStore",
        "RedisSessionStore",
        "StoreUnavailable",
    ):
        assert attr in stores.__all__
    for attr in (
        "StreamManager",
        "MemoryStreamManager",
        "RedisStreamManager",
        "EventStore",
        "MemoryEventStore",
        "RedisEventStore",
        "EventsGone",
    ):
        assert attr in streams.__all__


def test_client_session_registry_is_public() -> None:
    client_sessions = importlib.import_module("trio_mcp.client_sessions")
    for attr in (
        "ClientSessionRecord",
        "ClientSessionRegistry",
        "MemoryClientRegistry",
        "FileClientRegistry",
        "RedisClientRegistry",
        "open_client_registry",
        "ClientSessionExists",
        "ClientSessionNotFound",
        "ClientAuthUnreadable",
    ):
        assert attr in client_sessions.__all__
    for method in (
        "create",
        "update",
        "get",
        "list",
        "list_ids",
        "delete",
        "list_all_ids",
        "cleanup_expired",
    ):
        assert callable(getattr(client_sessions.MemoryClientRegistry, method)), method


def test_testing_kit() -> None:
    testing = importlib.import_module("trio_mcp.testing")
    assert set(testing.__all__) == {
        "check_client_registry",
        "check_event_store",
        "check_session_store",
        "check_stream_manager",
        "open_memory_client",
    }


def test_no_coredis_in_public_signatures() -> None:
    # coredis stays behind our own interfaces (DESIGN.md §4).
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            value = getattr(module, attr)
            assert "coredis" not in getattr(value, "__module__", ""), f"{name}.{attr} comes from coredis"


def _modules_loaded_by(code: str) -> set[str]:
    """The top-level packages (and trio_mcp's client half) a fresh interpreter has loaded after `code`."""
    probe = (
        code
        + "\nimport sys\nprint('\\n'.join(sorted({m.split('.')[0] for m in sys.modules}"
        + " | {m for m in sys.modules if m.startswith('trio_mcp._client')})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


CLIENT_STACK = {"httpx", "httpcore", "trio_websocket", "jwt", "cryptography", "trio_mcp._client"}


def test_a_server_process_never_loads_the_client_half() -> None:
    # A server imports trio_mcp and builds its app: httpx, trio-websocket, PyJWT and cryptography (about 19 MiB
    # of RSS per instance) stay out until something uses them.
    loaded = _modules_loaded_by(
        "import trio_mcp\n"
        "server = trio_mcp.Server('s')\n"
        "@server.tool\n"
        "def add(a: int, b: int) -> int:\n"
        '    """Add two integers."""\n'
        "    return a + b\n"
        "app = server.asgi_app()\n"
    )
    assert "trio_mcp" in loaded
    assert not loaded & CLIENT_STACK, sorted(loaded & CLIENT_STACK)


def test_a_client_name_imports_the_client_half_on_first_use() -> None:
    loaded = _modules_loaded_by("import trio_mcp\nassert callable(trio_mcp.open_client)\n")
    assert {"httpx", "trio_mcp._client"} <= loaded
    assert "open_client" in dir(trio_mcp)
    assert trio_mcp.ClientSession.__module__ == "trio_mcp._client.session"
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = trio_mcp.not_a_name  # type: ignore[attr-defined]
