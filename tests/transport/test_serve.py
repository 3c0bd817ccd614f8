"""serve(): a client that stops reading never holds its connection and its stream's task forever."""

from __future__ import annotations

import functools
import socket

import trio
from _rawhttp import Target, initialize, post_headers

from examples.everything import server
from trio_mcp import serve


async def test_a_stream_whose_client_never_reads_is_closed_in_bounded_time(nursery: trio.Nursery) -> None:
    app = server.asgi_app(stream_buffer=4, slow_stream_timeout=0.5, keepalive_interval=60)
    urls: list[str] = await nursery.start(
        functools.partial(serve, app, host="127.0.0.1", port=0, graceful_timeout=0.5, send_timeout=1.0)
    )
    host, port = urls[0].removeprefix("http://").rsplit(":", 1)
    target = Target(app=app, host=host, port=int(port))
    session_id = await initialize(target)

    client = trio.socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window fills fast
    await client.connect((host, int(port)))
    request = (
        f"GET /mcp HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
        f"Mcp-Session-Id: {session_id}\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n"
    ).encode()
    await client.send(request)
    with trio.fail_after(10):
        while (live := app._sessions.live.get(session_id)) is None or live.standalone is None:
            await trio.sleep(0.01)
    # The client reads nothing: push large messages until its stream is dropped (its buffer stayed full).
    big = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"%s"}}' % (
        b"x" * 65536
    )
    with trio.fail_after(30):
        while app.streams.deliver_local(session_id, big):
            await trio.sleep(0.05)
        # hypercorn's write to the stalled socket cannot be cancelled; the kernel's user timeout ends it,
        # and with it the stream's task and its hold on the session.
        while session_id in app._sessions.live:
            await trio.sleep(0.05)
    # The connection is gone on the server's side: the client sees it reset or closed once it reads.
    with trio.fail_after(10):
        try:
            while await client.recv(1 << 20):
                pass
        except ConnectionResetError:
            pass
    client.close()
    # The app serves on.
    response = await target.request(
        "POST", post_headers(session_id), b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    )
    assert response.status == 200
