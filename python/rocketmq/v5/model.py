"""The 5.x API's data classes, as in the official client (``rocketmq.v5.model``):
``Message``, ``SendReceipt``, ``MessageQueue`` and ``FilterExpression``.

What must stay true:
- ``Message()`` takes no arguments; fields are set through the official properties, with the
  official checks (blank topic/tag/key refused, ``message_group`` and ``delivery_timestamp``
  exclusive, ``keys`` adds to a set);
- ``delivery_timestamp`` is what the application gave when sending. The official Python
  client sends it as seconds since the epoch; Java takes milliseconds. Values below
  10**11 are read as seconds, larger ones as milliseconds, so both kinds of scripts work;
  on a received message it is milliseconds, as the official client gives it;
- received messages carry ``message_id``, ``receipt_handle``, ``delivery_attempt``,
  ``born_host``, ``born_timestamp`` (ms), ... and ``endpoints`` (where acks go).
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional, Set

from rocketmq.grpc_protocol import FilterType
from rocketmq.v5.exception import IllegalArgumentException

__all__ = ["Message", "SendReceipt", "MessageQueue", "FilterExpression"]

TOPIC_PATTERN = re.compile(r"^[%a-zA-Z0-9_-]+$")
#: Delivery timestamps below this are seconds since the epoch, above it milliseconds.
_SECONDS_LIMIT = 10**11


def delivery_timestamp_ms(value: Optional[int]) -> Optional[int]:
    """A delivery timestamp as milliseconds (see the module header)."""
    if not value:
        return None
    value = int(value)
    return value * 1000 if value < _SECONDS_LIMIT else value


class Message:
    """A message to send, or one received (then the broker's fields are set too)."""

    def __init__(self) -> None:
        self.__body: Optional[bytes] = None
        self.__topic: Optional[str] = None
        self.__namespace: Optional[str] = None
        self.__message_id: Optional[str] = None
        self.__tag: Optional[str] = None
        self.__message_group: Optional[str] = None
        self.__delivery_timestamp: Optional[int] = None
        self.__priority: Optional[int] = None
        self.__keys: Set[str] = set()
        self.__properties: Dict[str, str] = {}
        self.__born_host: Optional[str] = None
        self.__born_timestamp: Optional[int] = None
        self.__store_timestamp: Optional[int] = None
        self.__delivery_attempt: Optional[int] = None
        self.__receipt_handle: Optional[str] = None
        self.__message_type: Optional[int] = None
        self.__endpoints: Optional[str] = None
        self.__corrupted = False

    @classmethod
    def _from_native(cls, d: Dict[str, Any]) -> "Message":
        """A received message from the native client's dict."""
        m = cls()
        m.__topic = d["topic"]
        m.__namespace = d["namespace"]
        m.__body = d["body"]
        m.__tag = d["tag"]
        m.__keys = set(d["keys"])
        m.__properties = dict(d["properties"])
        m.__message_id = d["message_id"]
        m.__message_group = d["message_group"]
        m.__message_type = d["message_type"]
        m.__delivery_timestamp = d["delivery_timestamp"]
        m.__priority = d["priority"]
        m.__born_host = d["born_host"]
        m.__born_timestamp = d["born_timestamp"]
        m.__store_timestamp = d["store_timestamp"]
        m.__delivery_attempt = d["delivery_attempt"]
        m.__receipt_handle = d["receipt_handle"]
        m.__endpoints = d["endpoint"]
        m.__corrupted = d["corrupted"]
        return m

    def __str__(self) -> str:
        return (
            f"topic:{self.__topic}, tag:{self.__tag}, message_group:{self.__message_group}, "
            f"lite_topic:None, priority:{self.__priority}, "
            f"delivery_timestamp:{self.__delivery_timestamp}, keys:{self.__keys}, "
            f"properties:{self.__properties}"
        )

    @property
    def body(self) -> Optional[bytes]:
        return self.__body

    @body.setter
    def body(self, body: bytes) -> None:
        if not body:
            raise IllegalArgumentException("body should not be blank.")
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.__body = bytes(body)

    @property
    def topic(self) -> Optional[str]:
        return self.__topic

    @topic.setter
    def topic(self, topic: str) -> None:
        if not topic or not topic.strip():
            raise IllegalArgumentException("topic has not been set yet.")
        if not TOPIC_PATTERN.match(topic):
            raise IllegalArgumentException(
                f"topic does not match the regex [regex={TOPIC_PATTERN.pattern}]."
            )
        self.__topic = topic

    @property
    def namespace(self) -> Optional[str]:
        return self.__namespace

    @property
    def message_id(self) -> Optional[str]:
        return self.__message_id

    @message_id.setter
    def message_id(self, message_id: str) -> None:
        self.__message_id = message_id

    @property
    def tag(self) -> Optional[str]:
        return self.__tag

    @tag.setter
    def tag(self, tag: str) -> None:
        if not tag or not tag.strip():
            raise IllegalArgumentException("tag should not be blank.")
        if "|" in tag:
            raise IllegalArgumentException('tag should not contain "|".')
        self.__tag = tag

    @property
    def message_group(self) -> Optional[str]:
        return self.__message_group

    @message_group.setter
    def message_group(self, message_group: str) -> None:
        if not message_group or not message_group.strip():
            raise IllegalArgumentException("message_group should not be blank.")
        if self.__delivery_timestamp:
            raise IllegalArgumentException(
                "message_group and delivery_timestamp should not be set at same time."
            )
        if self.__priority is not None:
            raise IllegalArgumentException(
                "message_group and priority should not be set at same time."
            )
        self.__message_group = message_group

    @property
    def delivery_timestamp(self) -> Optional[int]:
        return self.__delivery_timestamp

    @delivery_timestamp.setter
    def delivery_timestamp(self, delivery_timestamp: int) -> None:
        if self.__message_group:
            raise IllegalArgumentException(
                "delivery_timestamp and message_group should not be set at same time."
            )
        if self.__priority is not None:
            raise IllegalArgumentException(
                "delivery_timestamp and priority should not be set at same time."
            )
        self.__delivery_timestamp = delivery_timestamp

    @property
    def lite_topic(self) -> Optional[str]:
        """Always ``None``: lite topics are not served by this package yet."""
        return None

    @lite_topic.setter
    def lite_topic(self, lite_topic: str) -> None:
        raise IllegalArgumentException(
            "lite topics are not supported by this package yet: send to the parent topic "
            "without lite_topic, or use rocketmq-python-client for lite consumption."
        )

    @property
    def priority(self) -> Optional[int]:
        """A priority message's priority (>= 0): on a ``PRIORITY`` topic, messages of a higher
        priority are consumed first. Not with ``message_group`` or ``delivery_timestamp``."""
        return self.__priority

    @priority.setter
    def priority(self, priority: int) -> None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise IllegalArgumentException(
                f"priority must be an int >= 0, got {type(priority).__name__}."
            )
        if priority < 0:
            raise IllegalArgumentException("priority must be greater than or equal to 0.")
        if self.__message_group:
            raise IllegalArgumentException(
                "priority and message_group should not be set at same time."
            )
        if self.__delivery_timestamp:
            raise IllegalArgumentException(
                "priority and delivery_timestamp should not be set at same time."
            )
        self.__priority = priority

    @property
    def keys(self) -> Set[str]:
        return self.__keys

    @keys.setter
    def keys(self, *keys: str) -> None:
        for key in keys:
            if not key or not key.strip():
                raise IllegalArgumentException("key should not be blank.")
        self.__keys.update(keys)

    @property
    def properties(self) -> Dict[str, str]:
        return self.__properties

    def add_property(self, key: str, value: str) -> None:
        if not key or not key.strip():
            raise IllegalArgumentException("key should not be blank.")
        if not value or not value.strip():
            raise IllegalArgumentException("value should not be blank.")
        self.__properties[key] = value

    @property
    def born_host(self) -> Optional[str]:
        return self.__born_host

    @property
    def born_timestamp(self) -> Optional[int]:
        return self.__born_timestamp

    @property
    def store_timestamp(self) -> Optional[int]:
        return self.__store_timestamp

    @property
    def delivery_attempt(self) -> Optional[int]:
        return self.__delivery_attempt

    @property
    def receipt_handle(self) -> Optional[str]:
        return self.__receipt_handle

    @receipt_handle.setter
    def receipt_handle(self, receipt_handle: str) -> None:
        self.__receipt_handle = receipt_handle

    @property
    def message_type(self) -> Optional[int]:
        """1 = NORMAL, 2 = FIFO, 3 = DELAY, 4 = TRANSACTION, 6 = PRIORITY
        (``grpc_protocol.MessageType``)."""
        return self.__message_type

    @message_type.setter
    def message_type(self, message_type: int) -> None:
        self.__message_type = message_type

    @property
    def endpoints(self) -> Optional[str]:
        """The ``host:port`` a received message came from."""
        return self.__endpoints

    @property
    def corrupted(self) -> bool:
        """Whether the body did not match its digest."""
        return self.__corrupted


class MessageQueue:
    """The queue a message was sent to."""

    def __init__(self, topic: str, queue_id: int, broker_name: str, endpoints: str) -> None:
        self.topic = topic
        self.queue_id = queue_id
        self.broker_name = broker_name
        self.endpoints = endpoints

    def __repr__(self) -> str:
        return (
            f"MessageQueue(topic={self.topic!r}, queue_id={self.queue_id}, "
            f"broker_name={self.broker_name!r}, endpoints={self.endpoints!r})"
        )


class SendReceipt:
    """What a successful send returns."""

    def __init__(
        self,
        message_id: str,
        transaction_id: Optional[str],
        message_queue: MessageQueue,
        offset: int,
        recall_handle: Optional[str] = None,
    ) -> None:
        self.__message_id = message_id
        self.__transaction_id = transaction_id
        self.__message_queue = message_queue
        self.__offset = offset
        self.__recall_handle = recall_handle

    @classmethod
    def _from_native(cls, t: tuple) -> "SendReceipt":
        message_id, transaction_id, offset, recall_handle, topic, queue_id, broker, endpoint = t
        return cls(
            message_id,
            transaction_id or None,
            MessageQueue(topic, queue_id, broker, endpoint),
            offset,
            recall_handle or None,
        )

    def __str__(self) -> str:
        return f"message_id:{self.__message_id}"

    @property
    def message_id(self) -> str:
        return self.__message_id

    @property
    def transaction_id(self) -> Optional[str]:
        return self.__transaction_id

    @property
    def message_queue(self) -> MessageQueue:
        return self.__message_queue

    @property
    def offset(self) -> int:
        return self.__offset

    @property
    def recall_handle(self) -> Optional[str]:
        return self.__recall_handle


class FilterExpression:
    """A subscription's filter: a tag expression (``"*"``, ``"a||b"``) or SQL92."""

    TAG_EXPRESSION_SUB_ALL = "*"

    def __init__(
        self, expression: str = TAG_EXPRESSION_SUB_ALL, filter_type: int = FilterType.TAG
    ) -> None:
        self.__expression = expression
        self.__filter_type = filter_type

    @property
    def expression(self) -> str:
        return self.__expression

    @property
    def filter_type(self) -> int:
        return self.__filter_type
