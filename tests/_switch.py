"""A load balancer for client tests: an httpx transport that sends every request to instance A's port until
told to send them to B's."""

from __future__ import annotations

import httpx


class Switch(httpx.AsyncBaseTransport):
    def __init__(self, a: int, b: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.port, self.b = a, b

    def to_b(self) -> None:
        self.port = self.b

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(port=self.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
