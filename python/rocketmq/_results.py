"""Send results and statuses, and the conversion of the native send tuple (private).

The names here are public through ``rocketmq.client`` (their ``__module__`` says so, so repr,
pickling and ``help()`` show that module).
"""

from collections import namedtuple
from enum import IntEnum
from typing import Tuple

from .ffi import _CConsumeStatus


class SendStatus(IntEnum):
    __module__ = "rocketmq.client"

    OK = 0
    FLUSH_DISK_TIMEOUT = 1
    FLUSH_SLAVE_TIMEOUT = 2
    SLAVE_NOT_AVAILABLE = 3


ConsumeStatus = _CConsumeStatus


class TransactionStatus(IntEnum):
    __module__ = "rocketmq.client"

    COMMIT = 0
    ROLLBACK = 1
    UNKNOWN = 2


SendResult = namedtuple("SendResult", ["status", "msg_id", "offset"], module="rocketmq.client")

# What the native producer returns for a send:
# (status, msg_id, offset_msg_id, queue_id, queue_offset, broker_name, recall_handle).
SendTuple = Tuple[int, str, str, int, int, str, str]


def send_result(t: SendTuple) -> SendResult:
    """The public SendResult of a native send tuple."""
    status, msg_id, _offset_msg_id, _queue_id, queue_offset, _broker, _recall = t
    return SendResult(SendStatus(status), msg_id, queue_offset)
