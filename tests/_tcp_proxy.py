"""A TCP switch on a loopback port, playing a load balancer for WebSocket tests: every new connection goes to
the instance it points at now; `drop()` cuts every open connection (a network blip, a killed balancer)."""

from __future__ import annotations

import trio


class TcpSwitch:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.connections = 0
        self._open: set[trio.CancelScope] = set()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/mcp"

    async def start(self, nursery: trio.Nursery) -> TcpSwitch:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        nursery.start_soon(trio.serve_listeners, self._relay, listeners)
        return self

    def point_to(self, port: int) -> None:
        self.target_port = port

    def drop(self) -> None:
        for scope in list(self._open):
            scope.cancel()

    async def _relay(self, client: trio.SocketStream) -> None:
        scope = trio.CancelScope()
        self._open.add(scope)
        self.connections += 1
        async with client:
            try:
                with scope:
                    upstream = await trio.open_tcp_stream("127.0.0.1", self.target_port)
                    async with upstream, trio.open_nursery() as nursery:
                        nursery.start_soon(_pipe, client, upstream, nursery.cancel_scope)
                        await _pipe(upstream, client, nursery.cancel_scope)
            except OSError:
                pass  # the target is down: the client sees its connection end
            finally:
                self._open.discard(scope)


async def _pipe(source: trio.SocketStream, sink: trio.SocketStream, done: trio.CancelScope) -> None:
    try:
        while data := await source.receive_some(65536):
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    done.cancel()
