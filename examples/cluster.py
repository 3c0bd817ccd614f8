"""The conformance fixture (examples/everything.py) plus two tools that send server-wide notifications.

The multi-instance tests (tests/multiprocess) run it on several hypercorn processes sharing one Redis:

    TRIO_MCP_STORE=redis REDIS_URL=redis://127.0.0.1:6379/0 \
        hypercorn --worker-class trio -b 127.0.0.1:8001 examples.cluster:app

The extra tools live here, not in everything.py, whose tool list the conformance notes fix exactly.
"""

from __future__ import annotations

from typing import Annotated

from examples.everything import server


@server.tool
async def trigger_resource_update(uri: Annotated[str, "The URI of the resource that changed"]) -> str:
    """Send notifications/resources/updated for a URI to every session subscribed to it, on every instance."""
    await server.notify_resource_updated(uri)
    return f"resources/updated sent for {uri}"


@server.tool
async def trigger_tools_list_changed() -> str:
    """Send notifications/tools/list_changed to every session, on every instance."""
    await server.send_tools_list_changed()
    return "tools/list_changed sent"


app = server.asgi_app()
