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
from ._streams.event_kit import check_event_store as check_event_store
from ._streams.event_redis import RedisEventStore as RedisEventStore
from ._streams.events import EventLog as EventLog
from ._streams.events import EventsGone as EventsGone
from ._streams.events import EventStore as EventStore
from ._streams.events import MemoryEventStore as MemoryEventStore
from ._streams.events import StoredEvent as StoredEvent
from ._streams.kit import RecordingEvents as RecordingEvents
from ._streams.kit import StreamManagerFactory as StreamManagerFactory
from ._streams.kit import check_stream_manager as check_stream_manager
from ._streams.memory import MemoryStreamManager as MemoryStreamManager
from ._streams.redis import RedisStreamManager as RedisStreamManager
from ._streams.redis import RedisStreamStatistics as RedisStreamStatistics

__all__ = [
    "CancelRequest",
    "ControlEvent",
    "EventLog",
    "EventStore",
    "EventsGone",
    "MemoryEventStore",
    "MemoryStreamManager",
    "Notify",
    "RecordingEvents",
    "RedisEventStore",
    "RedisStreamManager",
    "RedisStreamStatistics",
    "ResourceUpdated",
    "SessionChanged",
    "SessionDeleted",
    "StoredEvent",
    "StreamBuffer",
    "StreamBufferStatistics",
    "StreamConfigError",
    "StreamEvents",
    "StreamManager",
    "StreamManagerFactory",
    "StreamTaken",
    "StreamUnavailable",
    "check_event_store",
    "check_stream_manager",
]
