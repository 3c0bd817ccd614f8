"""examples/auth.py as a user runs it: `trio-mcp serve examples.auth:app` on a free port, tokens minted by
`python -m examples.auth mint` with the same development key file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _instances import serving
from _issuer import parse_challenge

REPO = Path(__file__).resolve().parents[2]
WAIT = 60
VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"


@pytest.fixture(scope="module")
def key_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    key = tmp_path_factory.mktemp("dev-issuer") / "key.pem"
    return {**os.environ, "TRIO_MCP_DEV_ISSUER_KEY": str(key), "TRIO_MCP_JSON_RESPONSE": "true"}


@pytest.fixture(scope="module")
def url(key_env: dict[str, str]) -> Iterator[str]:
    with serving("examples.auth:app", key_env) as endpoint:
        yield endpoint


def mint(key_env: dict[str, str], url: str, subject: str, *scopes: str) -> str:
    flags = [arg for scope in scopes for arg in ("--scope", scope)]
    done = subprocess.run(
        [sys.executable, "-m", "examples.auth", "mint", subject, *flags, "--resource", url],
        cwd=REPO,
        env=key_env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def rpc(method: str, params: dict[str, object] | None = None, id: int | None = 1) -> dict[str, object]:
    message: dict[str, object] = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        message["id"] = id
    if params is not None:
        message["params"] = params
    return message


def test_the_metadata_and_the_challenge_of_a_tokenless_request(url: str) -> None:
    base = url.removesuffix("/mcp")
    document = httpx.get(f"{base}/.well-known/oauth-protected-resource/mcp", timeout=WAIT).json()
    assert document["resource"] == url
    assert document["authorization_servers"] == ["https://dev-issuer.trio-mcp.invalid"]
    assert document["scopes_supported"] == ["admin", "mcp", "notes:read", "notes:write"]
    refused = httpx.post(url, json=rpc("tools/list"), headers={"accept": ACCEPT}, timeout=WAIT)
    assert refused.status_code == 401
    challenge = parse_challenge(refused.headers["www-authenticate"])
    assert challenge == {
        "resource_metadata": f"{base}/.well-known/oauth-protected-resource/mcp",
        "scope": "mcp",
    }


def test_minted_tokens_open_the_tools_their_scopes_allow(url: str, key_env: dict[str, str]) -> None:
    reader = mint(key_env, url, "alice", "mcp", "notes:read")
    writer = mint(key_env, url, "alice", "mcp", "notes:read", "notes:write")
    with httpx.Client(timeout=WAIT) as client:
        init = client.post(
            url,
            json=rpc(
                "initialize",
                {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
            ),
            headers={"accept": ACCEPT, "authorization": f"Bearer {reader}"},
        )
        assert init.status_code == 200, init.text
        sid = init.headers["mcp-session-id"]

        def post(token: str, message: dict[str, object]) -> httpx.Response:
            headers = {
                "accept": ACCEPT,
                "authorization": f"Bearer {token}",
                "mcp-session-id": sid,
                "mcp-protocol-version": VERSION,
            }
            return client.post(url, json=message, headers=headers)

        assert post(reader, rpc("notifications/initialized", id=None)).status_code == 202
        tools = post(reader, rpc("tools/list")).json()["result"]["tools"]
        assert sorted(tool["name"] for tool in tools) == ["list_notes", "whoami"]
        refused = post(reader, rpc("tools/call", {"name": "add_note", "arguments": {"text": "hi"}}))
        assert refused.status_code == 403
        assert parse_challenge(refused.headers["www-authenticate"])["scope"] == "mcp notes:write"
        added = post(writer, rpc("tools/call", {"name": "add_note", "arguments": {"text": "hi"}}))
        assert added.json()["result"]["content"][0]["text"] == "1 note(s)"
        notes = post(reader, rpc("tools/call", {"name": "list_notes", "arguments": {}}))
        assert [item["text"] for item in notes.json()["result"]["content"]] == ["hi"]
        me = post(reader, rpc("tools/call", {"name": "whoami", "arguments": {}})).json()["result"]
        assert me["structuredContent"]["principal"] == "https://dev-issuer.trio-mcp.invalid#alice"
