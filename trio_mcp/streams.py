"""Stream managers: how messages for a session reach the instance holding its GET stream, on any instance."""

from ._streams._base import StreamBuffer as StreamBuffer
from ._streams._base import StreamBufferStatistics as StreamBufferStatistics
from ._streams._base import StreamEvents as StreamEvents
from ._streams._base import StreamManager as StreamManager
from ._streams._base import StreamUnavailable as StreamUnavailable
from ._streams.kit import RecordingEvents as RecordingEvents
from ._streams.kit import StreamManagerFactory as StreamManagerFactory
from ._streams.kit import check_stream_manager as check_stream_manager
from ._streams.memory import MemoryStreamManager as MemoryStreamManager
from ._streams.redis import RedisStreamManager as RedisStreamManager
from ._streams.redis import RedisStreamStatistics as RedisStreamStatistics
from ._streams.select import StreamConfigError as StreamConfigError

__all__ = [
    "MemoryStreamManager",
    "RecordingEvents",
    "RedisStreamManager",
    "RedisStreamStatistics",
    "StreamBuffer",
    "StreamBufferStatistics",
    "StreamConfigError",
    "StreamEvents",
    "StreamManager",
    "StreamManagerFactory",
    "StreamUnavailable",
    "check_stream_manager",
]
