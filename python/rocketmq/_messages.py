"""Messages: the outgoing ``Message`` and the native ``ReceivedMessage`` (private; public
through ``rocketmq.client``).

What must stay true: a ``Message`` may be sent many times, from several threads; what goes
on the wire is a fresh copy (``Message.wire()``) taken at send time.
"""

from typing import Any, Dict, Optional, Tuple, Union

from . import _rocketmq
from ._arguments import StrOrBytes, as_int, as_property_text, as_text

# The received-message class is native (src/client/message.rs): a lazy view that makes Python
# objects only for the fields read. Its data is copied out of the consumer: it stays valid
# after the callback returns.
ReceivedMessage = _rocketmq.ReceivedMessage
RecvMessage = ReceivedMessage

# The field order of ``ReceivedMessage.fields()``, which its constructor takes back.
MESSAGE_FIELDS = (
    "topic",
    "tags",
    "keys",
    "body",
    "id",
    "offset_msg_id",
    "queue_id",
    "queue_offset",
    "commit_log_offset",
    "reconsume_times",
    "store_size",
    "born_timestamp",
    "store_timestamp",
    "prepared_transaction_offset",
    "properties",
    "born_host",
    "store_host",
)

# (topic, body, flag, properties): a message as the native producer takes it.
WireMessage = Tuple[str, bytes, int, Dict[str, str]]


# The timer properties a Message sets (one at a time).
_TIMER_PROPERTIES = ("TIMER_DELIVER_MS", "TIMER_DELAY_SEC", "TIMER_DELAY_MS")


def _non_negative(value: Any, what: str) -> int:
    number = as_int(value, what)
    if number < 0:
        raise ValueError("%s must be 0 or more, got %d" % (what, number))
    if number >= 1 << 63:
        raise ValueError("%s must be below 2**63, got %d" % (what, number))
    return number


class Message:
    """An outgoing message. It may be sent many times, from several threads."""

    __module__ = "rocketmq.client"

    def __init__(self, topic: StrOrBytes) -> None:
        """A message for ``topic`` (``str`` or UTF-8 ``bytes``). Anything else, ``None``
        included, is a TypeError here rather than a failed send later."""
        self._topic = as_text(topic, "topic")
        self._body = b""
        self._flag = 0
        self._properties: Dict[str, str] = {}

    def set_keys(self, keys: StrOrBytes) -> None:
        """Sets the ``KEYS`` property (several keys separated by a space)."""
        if isinstance(keys, (list, tuple)):
            keys = " ".join(as_property_text(k, "keys") for k in keys)
        self._set("KEYS", as_property_text(keys, "keys"))

    def set_tags(self, tags: StrOrBytes) -> None:
        """Sets the ``TAGS`` property (one tag per message)."""
        self._set("TAGS", as_property_text(tags, "tags"))

    def set_body(self, body: Union[str, bytes, bytearray, memoryview]) -> None:
        """The body: ``str`` is encoded as UTF-8; bytes-like values are sent byte for byte."""
        if isinstance(body, str):
            self._body = body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            self._body = bytes(body)
        else:
            raise TypeError("body must be str or bytes, got %s" % type(body).__name__)

    def set_property(self, key: StrOrBytes, value: StrOrBytes) -> None:
        """A user property; key and value must not contain ``\\x01``/``\\x02``."""
        self._set(as_property_text(key, "property key"), as_property_text(value, "property value"))

    def set_delay_time_level(self, delay_time_level: int) -> None:
        """Delay level 1..18 (1s 5s 10s 30s 1m ... 2h with the default levels); 0: none."""
        level = as_int(delay_time_level, "delay_time_level")
        if level <= 0:
            self._properties.pop("DELAY", None)
        else:
            self._properties["DELAY"] = str(level)

    def set_deliver_time_ms(self, deliver_time_ms: int) -> None:
        """Deliver at this time, in ms since the epoch (``TIMER_DELIVER_MS``, RocketMQ 5
        timer messages; Java ``setDeliverTimeMs``). A time already past is delivered at once;
        one further ahead than the broker's ``timer_max_delay`` (3 days by default) is
        refused. Replaces any delay set with ``set_delay_time_sec``/``set_delay_time_ms``."""
        self._set_timer("TIMER_DELIVER_MS", _non_negative(deliver_time_ms, "deliver_time_ms"))

    def set_delay_time_sec(self, delay_time_sec: int) -> None:
        """Deliver this many seconds after the broker stores it (``TIMER_DELAY_SEC``; Java
        ``setDelayTimeSec``). Replaces any other timer set on this message."""
        self._set_timer("TIMER_DELAY_SEC", _non_negative(delay_time_sec, "delay_time_sec"))

    def set_delay_time_ms(self, delay_time_ms: int) -> None:
        """Deliver this many milliseconds after the broker stores it (``TIMER_DELAY_MS``;
        Java ``setDelayTimeMs``). Replaces any other timer set on this message."""
        self._set_timer("TIMER_DELAY_MS", _non_negative(delay_time_ms, "delay_time_ms"))

    def _set_timer(self, key: str, value: int) -> None:
        # The broker reads TIMER_DELAY_SEC before TIMER_DELAY_MS before TIMER_DELIVER_MS, so
        # a message carries one of them: the last one set.
        for other in _TIMER_PROPERTIES:
            self._properties.pop(other, None)
        self._properties[key] = str(value)

    def destroy(self) -> None:
        """Kept for rocketmq-client-python 0.5 scripts; nothing to free."""

    def _set(self, key: str, value: str) -> None:
        if value:
            self._properties[key] = value
        else:
            self._properties.pop(key, None)

    @property
    def topic(self) -> str:
        """The topic the message is sent to."""
        return self._topic

    @property
    def body(self) -> bytes:
        """The body as set (uncompressed)."""
        return self._body

    @property
    def tags(self) -> str:
        """The ``TAGS`` property, ``""`` when unset."""
        return self._properties.get("TAGS", "")

    @property
    def keys(self) -> str:
        """The ``KEYS`` property, ``""`` when unset."""
        return self._properties.get("KEYS", "")

    @property
    def properties(self) -> Dict[str, str]:
        """A copy of every property set so far."""
        return dict(self._properties)

    def _wire(self) -> WireMessage:
        return (self._topic, self._body, self._flag, dict(self._properties))


def check_message(msg: Any) -> Message:
    """``msg`` if it is a Message; a TypeError otherwise."""
    if not isinstance(msg, Message):
        raise TypeError("expected a Message, got %s" % type(msg).__name__)
    return msg


def outgoing_view(
    msg: Message, msg_id: str = "", properties: Optional[Dict[str, str]] = None
) -> ReceivedMessage:
    """A ReceivedMessage describing an outgoing message (for queue selectors and local
    transactions): topic, tags, keys, body, properties and id; the numbers are 0 and the
    hosts empty, as nothing has been stored yet."""
    described: Dict[str, Any] = dict.fromkeys(MESSAGE_FIELDS, 0)
    described.update(
        topic=msg.topic,
        tags=msg.tags.encode(),
        keys=msg.keys.encode(),
        body=msg.body,
        id=msg_id,
        offset_msg_id="",
        properties=dict(msg.properties if properties is None else properties),
        born_host="",
        store_host="",
    )
    fields: Any = tuple(described[name] for name in MESSAGE_FIELDS)
    return ReceivedMessage(fields=fields)
