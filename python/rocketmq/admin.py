"""Cluster administration: the brokers a name server knows, topics created on them, and
messages looked up by key or id.

Works against the bundled broker and Apache RocketMQ clusters alike, the way Apache's
``mqadmin`` does it (GET_BROKER_CLUSTER_INFO, UPDATE_AND_CREATE_TOPIC on every master
broker, then waiting until the name servers route the topic)::

    from rocketmq.admin import Admin

    with Admin("127.0.0.1:9876") as admin:
        admin.create_topic("orders", queues=8)
        print(admin.topic_route("orders"))
        admin.create_topic("payments", queues=8, message_type="FIFO")
        admin.create_subscription_group("payments-group", consume_message_orderly=True)

What must stay true: every call is bounded by ``timeout``; every failure raises
:class:`AdminError` whose text names the address that failed and what to check.
"""

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, NamedTuple, Optional, Tuple

from . import _rocketmq
from ._arguments import as_text
from .exceptions import RocketMQException

if TYPE_CHECKING:
    from ._rocketmq import ReceivedMessage

__all__ = [
    "Admin",
    "AdminError",
    "MessageNotFoundError",
    "QueueRoute",
    "BrokerQueue",
    "ConsumeStatsRow",
    "SubscriptionGroup",
    "MESSAGE_TYPES",
    "PERM_READ",
    "PERM_WRITE",
]

#: PermName bit: consumers may read the topic's queues.
PERM_READ = 4
#: PermName bit: producers may write to the topic's queues.
PERM_WRITE = 2

#: The message types a RocketMQ 5 topic is created with (its ``message.type`` attribute).
MESSAGE_TYPES = ("NORMAL", "FIFO", "DELAY", "TRANSACTION", "PRIORITY", "MIXED")


class AdminError(RocketMQException):
    """An admin request failed; the text says which address and what to check."""


class MessageNotFoundError(AdminError, LookupError):
    """:meth:`Admin.view_message` found no message with that id."""


@dataclass(frozen=True)
class QueueRoute:
    """One broker's queues of a topic, as the name servers route them."""

    broker_name: str
    read_queues: int
    write_queues: int
    perm: int


class BrokerQueue(NamedTuple):
    """One queue of a topic: the broker that holds it and its queue id. A plain
    ``(broker_name, queue_id)`` tuple compares equal to it."""

    broker_name: str
    queue_id: int


@dataclass(frozen=True)
class ConsumeStatsRow:
    """How far a consumer group got in one queue."""

    topic: str
    broker_name: str
    queue_id: int
    #: The queue's max offset (one past its last message).
    broker_offset: int
    #: The group's committed offset (0 when it has none).
    consumer_offset: int
    #: Messages stored but not consumed yet: ``broker_offset - consumer_offset``.
    lag: int
    #: Store time (epoch ms) of the last consumed message; 0 if none.
    last_timestamp: int
    #: Where the group's latest pull of the queue ended (at least ``consumer_offset``).
    pull_offset: int


@dataclass(frozen=True)
class SubscriptionGroup:
    """A consumer group's config as the brokers keep it (Java ``SubscriptionGroupConfig``)."""

    group_name: str
    #: Consumers of the group may pull (``False``: brokers refuse their pulls).
    consume_enable: bool = True
    consume_from_min_enable: bool = True
    #: Broadcasting consumers of the group are served.
    consume_broadcast_enable: bool = True
    #: The group consumes FIFO (what makes a RocketMQ 5 group orderly).
    consume_message_orderly: bool = False
    retry_queue_nums: int = 1
    #: Failures after which a message goes to ``%DLQ%<group>``.
    retry_max_times: int = 16
    broker_id: int = 0
    which_broker_when_consume_slowly: int = 1
    notify_consumer_ids_changed_enable: bool = True
    group_sys_flag: int = 0
    consume_timeout_minute: int = 15
    attributes: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def _from_json(cls, data: dict) -> "SubscriptionGroup":
        return cls(
            group_name=data.get("groupName", ""),
            consume_enable=data.get("consumeEnable", True),
            consume_from_min_enable=data.get("consumeFromMinEnable", True),
            consume_broadcast_enable=data.get("consumeBroadcastEnable", True),
            consume_message_orderly=data.get("consumeMessageOrderly", False),
            retry_queue_nums=data.get("retryQueueNums", 1),
            retry_max_times=data.get("retryMaxTimes", 16),
            broker_id=data.get("brokerId", 0),
            which_broker_when_consume_slowly=data.get("whichBrokerWhenConsumeSlowly", 1),
            notify_consumer_ids_changed_enable=data.get("notifyConsumerIdsChangedEnable", True),
            group_sys_flag=data.get("groupSysFlag", 0),
            consume_timeout_minute=data.get("consumeTimeoutMinute", 15),
            attributes=dict(data.get("attributes") or {}),
        )


def _message_type(value: object) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, str):
        upper = value.strip().upper()
        if upper in MESSAGE_TYPES:
            return upper
    raise ValueError(
        f"message_type must be one of {', '.join(MESSAGE_TYPES)} (any case) or None, got {value!r}"
    )


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return value


def _timestamp_ms(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            "timestamp_ms must be an int of milliseconds since the epoch, e.g. "
            f"int(time.time() * 1000), got {value!r}"
        )
    return value


def _positive(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TypeError(f"{what} must be an int of 1 or more, got {value!r}")
    return value


#: The largest store time a query can name (Java's ``Long.MAX_VALUE``).
_MAX_MS = 2**63 - 1


def _epoch_ms(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(
            f"{what} must be an int of milliseconds since the epoch, e.g. "
            f"int(time.time() * 1000), got {value!r}"
        )
    return value


def _timeout_ms(timeout: object) -> int:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise TypeError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return max(1, int(timeout * 1000))


class Admin:
    """Admin requests to the cluster behind ``namesrv_addr`` (``"host:port"``, several
    separated by ``;``). ``timeout`` (seconds) bounds each call. Connections open on the
    first call (:meth:`start` is there for code written for the Java admin's lifecycle).
    Close it with :meth:`shutdown` or use it as a context manager."""

    def __init__(
        self,
        namesrv_addr: str,
        timeout: float = 10.0,
        credentials: Optional[Tuple[str, str, str]] = None,
    ) -> None:
        addr = as_text(namesrv_addr, "namesrv_addr").strip()
        if not addr:
            raise ValueError("namesrv_addr is blank: pass the name server's 'host:port'")
        self.namesrv_addr = addr
        self.timeout = timeout
        self._timeout_ms = _timeout_ms(timeout)
        self._native = _rocketmq.NativeAdmin(
            name_servers_list=addr, timeout_ms=self._timeout_ms, credentials=credentials
        )
        self._shut_down = False

    def start(self) -> "Admin":
        """Makes the admin ready (it already is: connections open on the first call) and
        returns it; after :meth:`shutdown` it raises, since a closed admin stays closed."""
        if self._shut_down:
            raise AdminError("this Admin was shut down: create a new Admin(namesrv_addr)")
        return self

    def __enter__(self) -> "Admin":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Closes the connections; the object is not usable afterwards."""
        self._shut_down = True
        self._native.shutdown()

    def _call(self, method, *args):
        try:
            return method(*args)
        except _rocketmq.ClientError as e:
            raise AdminError(str(e)) from None

    def cluster_info(self) -> Dict[str, dict]:
        """``{"brokers": {name: {"cluster": c, "addrs": {broker_id: addr}}},
        "clusters": {cluster: [broker names]}}``; broker id 0 is the master."""
        return self._call(self._native.cluster_info)

    def master_brokers(self, wait: Optional[float] = None) -> Dict[str, str]:
        """Broker name -> master address. With ``wait`` (seconds), waits that long for a
        first broker to register instead of answering ``{}``."""
        if wait is None:
            info = self.cluster_info()
            return {
                name: data["addrs"][0]
                for name, data in info["brokers"].items()
                if 0 in data["addrs"]
            }
        return self._call(self._native.wait_for_brokers, _timeout_ms(wait))

    def create_topic(
        self,
        topic: str,
        queues: int = 4,
        *,
        read_queues: Optional[int] = None,
        write_queues: Optional[int] = None,
        perm: int = PERM_READ | PERM_WRITE,
        order: bool = False,
        timeout: Optional[float] = None,
        message_type: Optional[str] = None,
    ) -> List[str]:
        """Creates (or updates) ``topic`` with ``queues`` read and write queues on every master
        broker, and returns the names of those brokers once the name servers route it.
        Waits up to ``timeout`` seconds (default: the admin's) for a broker to register and
        for the route. ``message_type`` (one of :data:`MESSAGE_TYPES`, any case) sets the
        topic's RocketMQ 5 ``message.type`` attribute; ``None`` leaves the attributes of an
        existing topic as they are. Apache's broker refuses ``MIXED`` unless it runs with
        ``enableMixedMessageType=true``."""
        kind = _message_type(message_type)
        name = as_text(topic, "topic")
        count = _positive(queues, "queues")
        reads = count if read_queues is None else _positive(read_queues, "read_queues")
        writes = count if write_queues is None else _positive(write_queues, "write_queues")
        if isinstance(perm, bool) or not isinstance(perm, int):
            raise TypeError(f"perm must be PermName bits (an int such as 6), got {perm!r}")
        limit = self._timeout_ms if timeout is None else _timeout_ms(timeout)
        return self._call(
            self._native.create_topic, name, reads, writes, perm, bool(order), limit, kind
        )

    def search_offset(
        self, topic: str, queue_id: int, timestamp_ms: int, broker_name: Optional[str] = None
    ) -> int:
        """The offset of the first message stored at or after ``timestamp_ms`` (epoch
        milliseconds) in queue ``queue_id`` of ``topic``; the queue's end when there is none.
        ``broker_name`` is needed only when several brokers hold that queue id."""
        name = as_text(topic, "topic")
        if isinstance(queue_id, bool) or not isinstance(queue_id, int) or queue_id < 0:
            raise TypeError(f"queue_id must be an int of 0 or more, got {queue_id!r}")
        _timestamp_ms(timestamp_ms)
        broker = None if broker_name is None else as_text(broker_name, "broker_name")
        return self._call(self._native.search_offset, name, queue_id, timestamp_ms, broker)

    def query_messages_by_key(
        self,
        topic: str,
        key: str,
        max_num: int = 64,
        begin_ms: int = 0,
        end_ms: Optional[int] = None,
    ) -> List["ReceivedMessage"]:
        """The messages of ``topic`` whose keys (``Message.set_keys``, space-separated words)
        include ``key``, stored between ``begin_ms`` and ``end_ms`` (epoch milliseconds,
        inclusive; ``None``: no upper bound), newest first, at most ``max_num`` (each broker
        answers at most 64). ``[]`` when there are none. Asks every master broker of the
        topic, as ``mqadmin queryMsgByKey`` does."""
        name = as_text(topic, "topic")
        word = as_text(key, "key")
        if not word or " " in word:
            raise ValueError(f"key must be one non-empty word without spaces, got {key!r}")
        count = _positive(max_num, "max_num")
        begin = _epoch_ms(begin_ms, "begin_ms")
        end = _MAX_MS if end_ms is None else _epoch_ms(end_ms, "end_ms")
        if end < begin:
            raise ValueError(f"end_ms ({end}) is before begin_ms ({begin})")
        return self._call(self._native.query_messages_by_key, name, word, count, begin, end)

    def view_message(self, msg_id: str, topic: Optional[str] = None) -> "ReceivedMessage":
        """The message with id ``msg_id``: either the offset message id
        (``ReceivedMessage.offset_msg_id``: it names the broker and the commit-log position)
        or the unique id ``SendResult.msg_id`` returns (``ReceivedMessage.id``), which needs
        ``topic`` (it is looked up on the topic's brokers, as ``mqadmin queryMsgById``).
        Raises :class:`MessageNotFoundError` when there is no such message, ``ValueError`` for
        an id that cannot be either form."""
        ident = as_text(msg_id, "msg_id").strip()
        if not ident or any(c not in "0123456789abcdefABCDEF" for c in ident):
            raise ValueError(
                f"msg_id must be a message id of hex digits (SendResult.msg_id or "
                f"offset_msg_id), got {msg_id!r}"
            )
        name = None if topic is None else as_text(topic, "topic")
        try:
            found = self._native.view_message(ident, name)
        except _rocketmq.ClientError as e:
            text = str(e)
            if "not an offset message id" in text:
                raise ValueError(text) from None
            raise AdminError(text) from None
        if found is None:
            where = f"in topic {name!r}" if name is not None else "on the broker it names"
            raise MessageNotFoundError(f"no message with id {ident!r} {where}")
        return found

    def topic_route(self, topic: str) -> Optional[List[QueueRoute]]:
        """The topic's queues per broker as the name servers route them; ``None`` if no name
        server knows the topic."""
        route = self._call(self._native.topic_route, as_text(topic, "topic"))
        if route is None:
            return None
        return [QueueRoute(*entry) for entry in route]

    def reset_offset_by_time(
        self, topic: str, group: str, timestamp_ms: int
    ) -> Dict[BrokerQueue, int]:
        """Moves consumer group ``group`` on every queue of ``topic`` to the first message
        stored at or after ``timestamp_ms`` (epoch milliseconds; a negative value: the end of
        each queue), and returns each queue's new offset. Running push consumers of the group
        continue from there at once; a group with no consumer online starts there."""
        name = as_text(topic, "topic")
        group_name = as_text(group, "group")
        when = _timestamp_ms(timestamp_ms)
        table = self._call(self._native.reset_offset_by_time, name, group_name, when)
        return {BrokerQueue(broker, queue_id): offset for broker, queue_id, offset in table}

    def consume_stats(self, group: str, topic: Optional[str] = None) -> List[ConsumeStatsRow]:
        """How far consumer group ``group`` got in each queue of ``topic`` (default: every
        topic it has committed offsets in), from every master broker, in topic, broker and
        queue order. Empty when the group has consumed nothing there."""
        group_name = as_text(group, "group")
        name = None if topic is None else as_text(topic, "topic")
        rows = self._call(self._native.consume_stats, group_name, name)
        out = []
        for t, broker, queue_id, broker_offset, consumer_offset, pull_offset, last in rows:
            out.append(
                ConsumeStatsRow(
                    topic=t,
                    broker_name=broker,
                    queue_id=queue_id,
                    broker_offset=broker_offset,
                    consumer_offset=consumer_offset,
                    lag=max(0, broker_offset - consumer_offset),
                    last_timestamp=last,
                    pull_offset=pull_offset,
                )
            )
        return out

    def create_subscription_group(
        self,
        group: str,
        consume_message_orderly: bool = False,
        retry_max_times: int = 16,
        consume_broadcast_enable: bool = True,
        consume_enable: bool = True,
    ) -> List[str]:
        """Creates (or replaces) consumer group ``group``'s config on every master broker and
        returns their names. The fields not passed take the brokers' defaults, also when the
        group existed. ``retry_max_times``: failures after which a message goes to
        ``%DLQ%<group>``; ``consume_message_orderly``: the group consumes FIFO."""
        name = as_text(group, "group")
        if isinstance(retry_max_times, bool) or not isinstance(retry_max_times, int):
            raise TypeError(f"retry_max_times must be an int, got {retry_max_times!r}")
        if not 0 <= retry_max_times <= 2**31 - 1:
            raise ValueError(
                "retry_max_times must be 0 (a failed message goes straight to the DLQ) or more, "
                f"got {retry_max_times!r}"
            )
        return self._call(
            self._native.create_subscription_group,
            name,
            _flag(consume_message_orderly, "consume_message_orderly"),
            retry_max_times,
            _flag(consume_broadcast_enable, "consume_broadcast_enable"),
            _flag(consume_enable, "consume_enable"),
        )

    def get_subscription_group(self, group: str) -> Optional[SubscriptionGroup]:
        """Consumer group ``group``'s config, or ``None`` when no master broker has one.
        Asking does not create it (brokers create a group's config with the defaults when a
        consumer of it first heartbeats or pulls)."""
        name = as_text(group, "group")
        text = self._call(self._native.subscription_group, name)
        return None if text is None else SubscriptionGroup._from_json(json.loads(text))

    def list_subscription_groups(self) -> List[SubscriptionGroup]:
        """Every consumer group's config on the master brokers (the brokers' system groups
        included), by group name."""
        table = json.loads(self._call(self._native.list_subscription_groups))
        return [SubscriptionGroup._from_json(table[name]) for name in sorted(table)]

    def delete_subscription_group(self, group: str, clean_offset: bool = False) -> List[str]:
        """Deletes consumer group ``group``'s config on every master broker (a broker without
        it answers success) and returns their names. ``clean_offset=True`` asks the brokers to
        remove the group's committed offsets too (Apache's brokers do; the bundled broker
        keeps them). Apache 5.5.0's broker re-creates the group with the defaults at once
        unless ``clean_offset`` is true (its delete looks the group up again, which creates
        it); the bundled broker deletes it either way."""
        name = as_text(group, "group")
        return self._call(
            self._native.delete_subscription_group,
            name,
            _flag(clean_offset, "clean_offset"),
        )
