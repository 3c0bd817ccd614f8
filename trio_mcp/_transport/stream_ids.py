"""Names of SSE streams and of a session's held stream: unique, cheap, and not secrets.

A stream id only tells a session's streams apart (event ids are `<stream>:<seq>`, T§Resumability), and a held
stream's token only tells one GET from the next; whoever sees either already holds the session id, which is
the secret (`sessions.new_session_id`, from `secrets`). So they come from one PRNG per process, seeded from the
OS: every POST answered over SSE names a stream, and a `secrets` call is a system call each time.
"""

from __future__ import annotations

import os
import random

_rng = random.Random(os.urandom(32))


def random_hex(nbytes: int) -> str:
    """`2 * nbytes` hex digits."""
    return f"{_rng.getrandbits(8 * nbytes):0{2 * nbytes}x}"
