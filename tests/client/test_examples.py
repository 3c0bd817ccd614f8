"""examples/client.py and examples/conformance_client.py, run as a user runs them, against the conformance
fixture served by `trio-mcp serve`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _instances import serving
from _redis_server import free_port

REPO = Path(__file__).resolve().parents[2]
WAIT = 60


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving("examples.everything:app") as endpoint:
        yield endpoint


def test_the_client_example(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "examples/client.py", url], cwd=REPO, capture_output=True, text=True, timeout=WAIT
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "test_tool_with_progress" in out
    assert "progress 100 of 100" in out
    assert 'User response: action=accept, content={"username":"ada","email":"ada@example.org"}' in out
    assert "LLM response: 4" in out


def test_the_client_example_says_plainly_when_nothing_listens() -> None:
    nobody = f"http://127.0.0.1:{free_port()}/mcp"
    done = subprocess.run(
        [sys.executable, "examples/client.py", nobody], cwd=REPO, capture_output=True, text=True, timeout=WAIT
    )
    assert done.returncode == 1
    assert done.stderr.startswith("cannot reach the server: cannot reach the MCP server at")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("scenario", ["initialize", "sse-retry"])
def test_the_conformance_client_runs_its_scenarios_against_our_server(url: str, scenario: str) -> None:
    # (The harness's own mock servers run it in `nox -s conformance`; here our server stands in.)
    done = subprocess.run(
        [sys.executable, "examples/conformance_client.py", url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WAIT,
        env={"MCP_CONFORMANCE_SCENARIO": scenario, "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
