"""A trio_mcp stdio server that tells its pid and can be made to ignore the end of its input, so the stdio
client's tests see how the process is stopped."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from trio_mcp import Server

server = Server("stubborn")


@server.tool
async def pid() -> int:
    """This server process's pid."""
    return os.getpid()


if __name__ == "__main__":
    server.run_stdio()
    if "--linger" in sys.argv:  # after stdin closed: keep running until a signal stops it
        time.sleep(3600)
