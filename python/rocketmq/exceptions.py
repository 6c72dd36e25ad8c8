"""Exceptions of the RocketMQ client, in the hierarchy of both original packages.

Every class takes one argument, the error text (``str(exc)`` is that text), except
:class:`ProducerSendAsyncFailed`, which also carries ``error``, ``file``, ``line`` and ``type``.
"""

from typing import Dict, Optional, Type

__all__ = [
    "RocketMQException",
    "NullPointerException",
    "MallocFailed",
    "ProducerException",
    "ProducerStartFailed",
    "ProducerSendSyncFailed",
    "ProducerSendOnewayFailed",
    "ProducerSendOrderlyFailed",
    "ProducerSendAsyncFailed",
    "ProducerSendTransactionFailed",
    "ConsumerException",
    "PushConsumerStartFailed",
    "PullConsumerStartFailed",
    "PullConsumerFetchMQFailed",
    "PullConsumerFetchMessageFailed",
    "InvalidFilterExpression",
    "ffi_check",
]


class RocketMQException(Exception):
    """RocketMQ exception base class"""


_EXCEPTION_MAP: Dict[int, Type[RocketMQException]] = {}


def _register(status: int):
    def deco(cls):
        _EXCEPTION_MAP[status] = cls
        return cls

    return deco


@_register(1)
class NullPointerException(RocketMQException):
    """A required argument or object was missing (status 1)."""


@_register(2)
class MallocFailed(RocketMQException):
    """Out of memory (status 2)."""


class ProducerException(RocketMQException):
    """Base class of producer errors."""


@_register(10)
class ProducerStartFailed(ProducerException):
    """The producer could not start (status 10)."""


@_register(11)
class ProducerSendSyncFailed(ProducerException):
    """A synchronous send failed (status 11)."""


@_register(12)
class ProducerSendOnewayFailed(ProducerException):
    """A one-way send could not be written (status 12)."""


@_register(13)
class ProducerSendOrderlyFailed(ProducerException):
    """An orderly send failed (status 13)."""


@_register(14)
class ProducerSendAsyncFailed(ProducerException):
    """An asynchronous send failed (status 14)."""

    def __init__(
        self,
        msg: Optional[str],
        error: int = 0,
        file: str = "",
        line: int = 0,
        type: str = "",  # noqa: A002 - the original's name
    ) -> None:
        """``msg`` is the text (also ``args[0]``); ``error``, ``file``, ``line`` and ``type``
        are kept as attributes, as in rocketmq 0.4."""
        super().__init__(msg)
        self.msg = msg
        self.error = error
        self.file = file
        self.line = line
        self.type = type


@_register(16)
class ProducerSendTransactionFailed(ProducerException):
    """A transactional send failed (status 16)."""


class ConsumerException(RocketMQException):
    """Base class of consumer errors."""


@_register(20)
class PushConsumerStartFailed(ConsumerException):
    """The push consumer could not start (status 20)."""


@_register(30)
class PullConsumerStartFailed(ConsumerException):
    """The pull consumer could not start (status 30)."""


class PullConsumerFetchMQFailed(ConsumerException):
    """The queues of a topic could not be fetched (status 31)."""


@_register(32)
class PullConsumerFetchMessageFailed(ConsumerException):
    """A pull failed (status 32)."""


@_register(31)
class _PullConsumerFetchQueuesFailed(PullConsumerFetchMQFailed, PullConsumerFetchMessageFailed):
    """Queue-fetch failure, catchable as either of the two classes the originals raised."""


class InvalidFilterExpression(ConsumerException, ValueError):
    """A broker refused a subscription expression: ``str(exc)`` has the broker's reason,
    for SQL92 the parse error with its line and column (``Encountered "..." at line 1,
    column 7``). Raised by ``PushConsumer.start``/``subscribe`` and ``PullConsumer.pull``
    with ``expression_type="SQL92"``; an Apache broker needs ``enablePropertyFilter=true``
    to accept any SQL92 expression. Also a ``ValueError``."""


class _PushConsumerStartInvalidExpression(InvalidFilterExpression, PushConsumerStartFailed):
    """``start()`` refused over an expression: catchable as either class."""


class _PullConsumerInvalidExpression(InvalidFilterExpression, PullConsumerFetchMessageFailed):
    """``pull()`` refused over an expression: catchable as either class."""


def ffi_check(status_code: int, msg: Optional[str] = None) -> None:
    """Raises the exception class registered for a C status code; does nothing for 0."""
    status = int(status_code)
    if status == 0:
        return
    raise _EXCEPTION_MAP.get(status, RocketMQException)(msg)
