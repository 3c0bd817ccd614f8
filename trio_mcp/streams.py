"""Stream managers: how messages for a session reach the instance holding its GET stream, on any instance."""

from ._streams._base import StreamBuffer as StreamBuffer
from ._streams._base import StreamBufferStatistics as StreamBufferStatistics
from ._streams._base import StreamConfigError as StreamConfigError
from ._streams._base import StreamEvents as StreamEvents
from ._streams._base import StreamManager as StreamManager
from ._streams._base import StreamUnavailable as StreamUnavailable
from ._streams.control import CancelRequest as CancelRequest
from ._streams.control import ControlEvent as ControlEvent
from ._streams.control import Notify as Notify
from ._streams.control import ResourceUpdated as ResourceUpdated
from ._streams.control import SessionChanged as SessionChanged
from ._streams.control import SessionDeleted as SessionDeleted
from ._streams.control import StreamTaken as StreamTaken
from ._streams.kit import RecordingEvents as RecordingEvents
from ._streams.kit import StreamManagerFactory as StreamManagerFactory
from ._streams.kit import check_stream_manager as check_stream_manager
from ._streams.memory import MemoryStreamManager as MemoryStreamManager
from ._streams.redis import RedisStreamManager as RedisStreamManager
from ._streams.redis import RedisStreamStatistics as RedisStreamStatistics

__all__ = [
    "CancelRequest",
    "ControlEvent",
    "MemoryStreamManager",
    "Notify",
    "RecordingEvents",
    "RedisStreamManager",
    "RedisStreamStatistics",
    "ResourceUpdated",
    "SessionChanged",
    "SessionDeleted",
    "StreamBuffer",
    "StreamBufferStatistics",
    "StreamConfigError",
    "StreamEvents",
    "StreamManager",
    "StreamManagerFactory",
    "StreamTaken",
    "StreamUnavailable",
    "check_stream_manager",
]
