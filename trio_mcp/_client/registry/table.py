"""The records of an in-process registry (memory, and the file backend's copy of its file): texts by user."""

from __future__ import annotations

from collections.abc import Iterator

import attrs


@attrs.define(eq=False)
class Entry:
    text: str
    deadline: float  # wall clock


@attrs.define(eq=False)
class RecordTable:
    users: dict[str, dict[str, Entry]] = attrs.field(factory=dict[str, dict[str, Entry]])

    def read(self, user_id: str, session_id: str) -> str | None:
        entry = self.users.get(user_id, {}).get(session_id)
        return None if entry is None else entry.text

    def read_user(self, user_id: str) -> list[str]:
        return [entry.text for entry in self.users.get(user_id, {}).values()]

    def insert(self, user_id: str, session_id: str, text: str, deadline: float) -> bool:
        sessions = self.users.setdefault(user_id, {})
        if session_id in sessions:
            return False
        sessions[session_id] = Entry(text, deadline)
        return True

    def swap(self, user_id: str, session_id: str, old: str, new: str, deadline: float) -> bool:
        entry = self.users.get(user_id, {}).get(session_id)
        if entry is None or entry.text != old:
            return False
        self.users[user_id][session_id] = Entry(new, deadline)
        return True

    def remove(self, user_id: str, session_id: str) -> str | None:
        sessions = self.users.get(user_id)
        entry = None if sessions is None else sessions.pop(session_id, None)
        if sessions is not None and not sessions:
            del self.users[user_id]
        return None if entry is None else entry.text

    def live_ids(self, now: float) -> list[tuple[str, str]]:
        return [(user, sid) for user, sid, entry in self.entries() if entry.deadline > now]

    def sweep(self, now: float) -> int:
        dead = [(user, sid) for user, sid, entry in self.entries() if entry.deadline <= now]
        for user, sid in dead:
            self.remove(user, sid)
        return len(dead)

    def entries(self) -> Iterator[tuple[str, str, Entry]]:
        for user, sessions in self.users.items():
            for sid, entry in sessions.items():
                yield user, sid, entry

    def clear(self) -> None:
        self.users.clear()
