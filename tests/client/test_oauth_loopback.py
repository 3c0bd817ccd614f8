"""`loopback_redirect()`: a native app's redirect URI on 127.0.0.1 and a free port, with a browser (an httpx
client following redirects) going through a real authorization server and back to it."""

from __future__ import annotations

import httpx
import pytest
import trio
from _oauth_servers import start_authorization_server, start_resource

from trio_mcp import open_client
from trio_mcp.client_auth import OAuthClient, OAuthError, loopback_redirect


async def test_the_browser_comes_back_to_the_loopback_listener(nursery: trio.Nursery) -> None:
    server = await start_authorization_server(nursery)
    resource = await start_resource(nursery, server)
    pages: list[str] = []

    async def browser(url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=True) as http:
            page = await http.get(url)
        pages.append(page.text)

    async with loopback_redirect() as loopback:
        assert loopback.redirect_uri.startswith("http://127.0.0.1:")
        assert loopback.redirect_uri.endswith("/callback")
        oauth = OAuthClient(
            redirect_uri=loopback.redirect_uri, redirect_handler=browser, callback_handler=loopback.callback
        )
        async with open_client(resource.url, auth=oauth) as client:
            await client.list_tools()
    assert server.registrations[0]["redirect_uris"] == [loopback.redirect_uri]
    assert server.authorizations[0]["redirect_uri"] == loopback.redirect_uri
    assert "You can close this window" in pages[0]


async def test_only_the_redirect_path_with_a_response_is_taken() -> None:
    async with loopback_redirect(path="/cb", timeout=5) as loopback:
        base = loopback.redirect_uri
        async with httpx.AsyncClient() as http:
            assert (await http.get(base.replace("/cb", "/favicon.ico"))).status_code == 404
            assert (await http.get(base)).status_code == 404  # no code, no error
            assert (await http.post(base + "?code=x&state=y")).status_code == 404
            assert (
                await http.get(base + "?code=the-code&state=the-state&iss=https%3A%2F%2Fas")
            ).status_code == 200
        response = await loopback.callback()
    assert (response.code, response.state, response.iss) == ("the-code", "the-state", "https://as")


async def test_no_redirect_within_the_timeout_is_an_oauth_error() -> None:
    async with loopback_redirect(timeout=0.05) as loopback:
        with pytest.raises(OAuthError, match=r"no authorization response reached http://127\.0\.0\.1:"):
            await loopback.callback()


async def test_it_listens_on_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback address"):
        async with loopback_redirect(host="0.0.0.0"):
            pass
