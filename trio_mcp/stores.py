"""Session stores: where session records live so any instance can serve any session."""

from ._stores._base import ExpiryPolicy as ExpiryPolicy
from ._stores._base import SessionRecord as SessionRecord
from ._stores._base import SessionStore as SessionStore
from ._stores._base import StoreConfigError as StoreConfigError
from ._stores._base import StoreCorrupt as StoreCorrupt
from ._stores._base import StoreError as StoreError
from ._stores._base import StoreUnavailable as StoreUnavailable
from ._stores.file import FileSessionStore as FileSessionStore
from ._stores.file import FileStoreStatistics as FileStoreStatistics
from ._stores.memory import MemorySessionStore as MemorySessionStore
from ._stores.redis import RedisSessionStore as RedisSessionStore

__all__ = [
    "ExpiryPolicy",
    "FileSessionStore",
    "FileStoreStatistics",
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionRecord",
    "SessionStore",
    "StoreConfigError",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
]
