"""Property-based fuzzing of the session record codec: `record_to_json`/`record_from_json`, the Redis
`dump_record`/`load_record`, and the FileSessionStore that writes records to disk.

Records are built with arbitrary text everywhere a string goes (lone surrogates included: the server's own
code, e.g. a principal hook, may produce them), arbitrary JSON in the capabilities, huge progress tokens.
Encoding never raises, decoding gives the same record back except that each lone surrogate became U+FFFD,
and no store write fails.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import trio
from _fuzz import has_surrogate, hostile_text, huge_integers, scaled, strict_json, valid_text
from hypothesis import event, given
from hypothesis import strategies as st

from trio_mcp._proto import types as t
from trio_mcp._stores._base import SessionRecord, _converter, record_from_json, record_to_json
from trio_mcp._stores.file import FileSessionStore
from trio_mcp._stores.redis import dump_record, load_record

pytestmark = pytest.mark.fuzz

_SURROGATE = re.compile("[\ud800-\udfff]")
# What the Redis touch script rewrites in place (redis._TOUCH_LUA: '^{"lastAccessedAt":[-+.%deE]+').
_TOUCH_HEAD = re.compile(r'\{"lastAccessedAt":[-+.0-9eE]+[,}]')


def scrub(value: Any) -> Any:
    """`value` with every lone surrogate, in keys and strings at any depth, replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [scrub(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def expected_after_round_trip(record: SessionRecord) -> Any:
    return scrub(_converter.unstructure(record))


# 4300 digits: the most CPython's int(str)/str(int) take, so the most json.loads and json.dumps handle.
longest_integers = st.builds(
    lambda below, sign: sign * (10**4300 - 1 - below), st.integers(0, 2**64), st.sampled_from([1, -1])
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        huge_integers,
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(hostile_text, children, max_size=3)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(hostile_text, json_values, max_size=3)
maybe_text = st.none() | hostile_text

capabilities = st.builds(
    t.ClientCapabilities,
    experimental=st.none() | st.dictionaries(hostile_text, json_objects, max_size=2),
    roots=st.none() | st.builds(t.RootsCapability, list_changed=st.none() | st.booleans()),
    sampling=st.none()
    | st.builds(t.SamplingCapability, context=st.none() | json_objects, tools=st.none() | json_objects),
    elicitation=st.none()
    | st.builds(t.ElicitationCapability, form=st.none() | json_objects, url=st.none() | json_objects),
    tasks=st.none() | json_objects,
)
implementations = st.builds(
    t.Implementation,
    name=hostile_text,
    version=hostile_text,
    title=maybe_text,
    description=maybe_text,
    website_url=maybe_text,
    icons=st.none()
    | st.lists(
        st.builds(
            t.Icon,
            src=hostile_text,
            mime_type=maybe_text,
            sizes=st.none() | st.lists(hostile_text, max_size=2),
            theme=st.none() | st.sampled_from(["light", "dark"]),
        ),
        max_size=2,
    ),
)
timestamps = st.floats(min_value=0, max_value=4e9, allow_nan=False)


def records(session_ids: st.SearchStrategy[str] = hostile_text) -> st.SearchStrategy[SessionRecord]:
    return st.builds(
        SessionRecord,
        session_id=session_ids,
        principal=maybe_text,
        status=st.sampled_from(["pending", "active"]),
        protocol_version=maybe_text,
        client_capabilities=st.none() | capabilities,
        client_info=st.none() | implementations,
        log_level=st.none() | st.sampled_from(t.LOGGING_LEVELS),
        subscriptions=st.lists(hostile_text, max_size=4),
        last_progress_token=st.none() | hostile_text | st.integers() | huge_integers | longest_integers,
        created_at=timestamps,
        last_accessed_at=timestamps,
    )


def note_surrogates(record: SessionRecord) -> None:
    event("holds lone surrogates" if has_surrogate(all_text(record)) else "valid text only")


def all_text(record: SessionRecord) -> str:
    """Every string of the record (keys too), joined: to tell whether it holds a lone surrogate."""
    strings: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
                walk(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:  # pyright: ignore[reportUnknownVariableType]
                walk(item)

    walk(_converter.unstructure(record))
    return "".join(strings)


@scaled(2)
@given(records())
def test_record_json_round_trip_keeps_everything_but_lone_surrogates(record: SessionRecord) -> None:
    """record_to_json never raises, writes strict UTF-8 JSON, and reads back as the same record (U+FFFD
    where a lone surrogate was)."""
    note_surrogates(record)
    text = record_to_json(record)
    assert not has_surrogate(text)
    strict_json(text.encode("utf-8"))
    loaded = record_from_json(text)
    assert _converter.unstructure(loaded) == expected_after_round_trip(record)
    if not has_surrogate(all_text(record)):
        assert loaded == record


@scaled(2)
@given(records())
def test_redis_record_round_trip_keeps_everything_and_puts_last_access_first(record: SessionRecord) -> None:
    """dump_record never raises, starts with the number the touch script rewrites, reads back the same."""
    note_surrogates(record)
    text = dump_record(record)
    assert not has_surrogate(text)
    strict_json(text.encode("utf-8"))
    assert _TOUCH_HEAD.match(text), text[:80]
    loaded = load_record(text)
    assert _converter.unstructure(loaded) == expected_after_round_trip(record)
    # A record written by one store reads in the other.
    assert record_from_json(text) == loaded
    assert load_record(record_to_json(record)) == loaded


@scaled(1)
@given(
    st.lists(
        records(st.one_of(valid_text, hostile_text)),
        min_size=1,
        max_size=5,
        unique_by=lambda record: scrub(record.session_id),
    )
)
async def test_file_store_writes_any_records_and_reloads_them(records_in: list[SessionRecord]) -> None:
    """A FileSessionStore given such records flushes without a write error and reloads them all."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sessions.json"
        async with FileSessionStore(path, debounce=0) as store:
            for record in records_in:
                await store.set(record)
            await store.flush()
            assert store.statistics().write_errors == 0
        assert store.statistics().write_errors == 0
        strict_json(path.read_bytes())
        async with FileSessionStore(path) as reloaded:
            found = {sid: _converter.unstructure(await reloaded.get(sid)) async for sid in reloaded.keys()}  # noqa: SIM118
    assert found == {scrub(r.session_id): expected_after_round_trip(r) for r in records_in}


@scaled(0.2)
@given(st.lists(records(valid_text), min_size=1, max_size=3, unique_by=lambda record: record.session_id))
async def test_file_store_closed_by_a_cancelled_host_still_writes_its_records(
    records_in: list[SessionRecord],
) -> None:
    """The ASGI lifespan's shape: open(), the host runs, its scope is cancelled, aclose() in `finally`. The
    records set just before must be on disk (aclose writes what is pending, shielded)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sessions.json"
        store = FileSessionStore(path, debounce=0.1)
        ready = trio.Event()

        async def host() -> None:
            await store.open()
            try:
                for record in records_in:
                    await store.set(record)
                ready.set()
                await trio.sleep_forever()
            finally:
                await store.aclose()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(host)
            await ready.wait()
            nursery.cancel_scope.cancel()
        assert store.statistics().write_errors == 0
        assert path.exists(), "aclose() wrote nothing"
        async with FileSessionStore(path) as reloaded:
            found = {sid: _converter.unstructure(await reloaded.get(sid)) async for sid in reloaded.keys()}  # noqa: SIM118
    assert found == {r.session_id: expected_after_round_trip(r) for r in records_in}
