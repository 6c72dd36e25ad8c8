"""Compatibility shim for code that reached into the originals' ``rocketmq.ffi``.

There is no C library behind this package: the enums are here, ``dll`` is an object that
explains what to use instead. Importing this module never fails.
"""

from enum import IntEnum

__all__ = [
    "CtypesEnum",
    "MessageModel",
    "TraceModel",
    "_CConsumeStatus",
    "_CLogLevel",
    "_CPullStatus",
    "_CStatus",
    "dll",
]


class CtypesEnum(IntEnum):
    """IntEnum usable where the originals passed enums to ctypes."""

    @classmethod
    def from_param(cls, obj: object) -> int:
        """What ctypes would pass for ``obj``: its int value."""
        return int(obj)  # type: ignore[call-overload]


class MessageModel(CtypesEnum):
    BROADCASTING = 0
    CLUSTERING = 1


class TraceModel(CtypesEnum):
    OPEN = 0
    CLOSE = 1


class _CConsumeStatus(CtypesEnum):
    CONSUME_SUCCESS = 0
    RECONSUME_LATER = 1


class _CLogLevel(CtypesEnum):
    FATAL = 1
    ERROR = 2
    WARN = 3
    INFO = 4
    DEBUG = 5
    TRACE = 6
    LEVEL_NUM = 7


class _CStatus(CtypesEnum):
    OK = 0
    NULL_POINTER = 1
    MALLOC_FAILED = 2
    PRODUCER_START_FAILED = 10
    PRODUCER_SEND_SYNC_FAILED = 11
    PRODUCER_SEND_ONEWAY_FAILED = 12
    PRODUCER_SEND_ORDERLY_FAILED = 13
    PRODUCER_SEND_ASYNC_FAILED = 14
    PRODUCER_SEND_ORDERLYASYNC_FAILED = 15
    PRODUCER_SEND_TRANSACTION_FAILED = 16
    PUSHCONSUMER_START_FAILED = 20
    PUSH_CONSUMER_START_FAILED = 20
    PULLCONSUMER_START_FAILED = 30
    PULLCONSUMER_FETCH_MQ_FAILED = 31
    PULLCONSUMER_FETCH_MESSAGE_FAILED = 32
    NOT_SUPPORT_NOW = -1
    Not_Support = 500


class _CPullStatus(CtypesEnum):
    FOUND = 0
    NO_NEW_MSG = 1
    NO_MATCHED_MSG = 2
    OFFSET_ILLEGAL = 3
    BROKER_TIMEOUT = 4


class _NoNativeLibrary:
    """Stands where the originals had the ctypes handle of librocketmq."""

    def __getattr__(self, name):
        raise AttributeError(
            "rocketmq has no C library; 'dll.%s' does not exist. Use the methods of "
            "Producer, PushConsumer and PullConsumer instead (for log levels, Python's "
            "logging.getLogger('rocketmq'))." % name
        )


dll = _NoNativeLibrary()
