"""Converter micro-benchmark: structure + unstructure of a tools/call request and result, µs per operation.

Run: python benchmarks/bench_converter.py  (part of `nox -s bench`). The target is tens of microseconds.
"""

from __future__ import annotations

import json
import sys
import timeit

from trio_mcp._proto.converter import structure_params, structure_result, unstructure

REQUEST = {
    "name": "forecast",
    "arguments": {"city": "Oslo", "days": 3, "units": "metric"},
    "_meta": {"progressToken": 17},
}
RESULT = {
    "content": [
        {"type": "text", "text": "Sunny, 21 °C"},
        {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
        {
            "type": "resource",
            "resource": {"uri": "weather://oslo/today", "mimeType": "application/json", "text": "{}"},
        },
    ],
    "structuredContent": {"city": "Oslo", "days": ["sun", "sun", "rain"]},
    "isError": False,
}


def measure(label: str, func: object, number: int) -> dict[str, float]:
    timer = timeit.Timer(func)  # type: ignore[arg-type]
    best = min(timer.repeat(repeat=5, number=number)) / number * 1e6
    print(f"{label:<40} {best:8.2f} µs/op")
    return {label: round(best, 3)}


def main() -> int:
    quick = "--quick" in sys.argv
    n = 2_000 if quick else 20_000
    out: dict[str, float] = {}
    out |= measure("tools/call request structure", lambda: structure_params(None, "tools/call", REQUEST), n)
    req = structure_params(None, "tools/call", REQUEST)
    out |= measure("tools/call request unstructure", lambda: unstructure(req), n)
    out |= measure("tools/call result structure", lambda: structure_result(None, "tools/call", RESULT), n)
    res = structure_result(None, "tools/call", RESULT)
    out |= measure("tools/call result unstructure", lambda: unstructure(res), n)
    out |= measure(
        "request + result round trip",
        lambda: (
            unstructure(structure_params(None, "tools/call", REQUEST)),
            unstructure(structure_result(None, "tools/call", RESULT)),
        ),
        n,
    )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
