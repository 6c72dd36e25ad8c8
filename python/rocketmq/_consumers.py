"""Consumers: ``PushConsumer``, ``PullConsumer`` and the ``MessageQueue`` their offset hooks
receive (private; public through ``rocketmq.client``).

What must stay true: a push consumer's callbacks run on the native dispatcher threads and
their failures become redeliveries, never exceptions in those threads; one push consumer
per group and instance name is started in this process at a time; a pull consumer's
offsets live in Python (``get/set_message_queue_offset``), so subclasses can keep them
elsewhere; each pull consumer has an ``offset_table`` of its own unless a subclass or the
user set the class attribute (then the instances share it, as in rocketmq 0.4); with
``offset_store="broker"`` a message's offset is committed to the broker only after the
caller came back for the next message (at-least-once across restarts).
"""

import logging
import os
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, Union

from . import _rocketmq
from ._arguments import StrOrBytes, as_int, as_text, maybe_decode
from ._callbacks import consume_verdict
from ._lifecycle import ClientLifecycle, keep_alive, release
from ._messages import ReceivedMessage
from .exceptions import (
    InvalidFilterExpression,
    NullPointerException,
    PullConsumerFetchMessageFailed,
    PullConsumerStartFailed,
    PushConsumerStartFailed,
    _PullConsumerFetchQueuesFailed,
    _PullConsumerInvalidExpression,
    _PushConsumerStartInvalidExpression,
)
from .ffi import MessageModel, _CPullStatus

log = logging.getLogger("rocketmq")

# Where a pull consumer keeps its offsets: "memory" (offset_table only, as rocketmq 0.4) or
# "broker" (also committed to the broker for the group, so a restarted consumer resumes).
OFFSET_STORES = ("memory", "broker")

# The languages of a subscription expression: tags (``*``, ``A || B``, checked by the broker
# and again by the client) or SQL92 over user properties and TAGS (evaluated by the broker).
EXPRESSION_TYPES = ("TAG", "SQL92")


def expression_type_name(expression_type: StrOrBytes) -> str:
    """``"TAG"`` or ``"SQL92"`` from either name in any letter case; ValueError otherwise."""
    name = as_text(expression_type, "expression_type").strip().upper()
    if name not in EXPRESSION_TYPES:
        raise ValueError(
            "expression_type must be one of %s (any case), not %r"
            % (", ".join(repr(t) for t in EXPRESSION_TYPES), expression_type)
        )
    return name


# PullConsumer.offset_table as the class defines it. An instance whose class attribute is
# still this object gets a table of its own (a copy of it).
_CLASS_OFFSET_TABLE: Dict[str, int] = {}

# Push consumer settings until a set_* method changes them (those of the originals).
DEFAULT_BATCH_MAX_SIZE = 1
DEFAULT_MAX_RECONSUME_TIMES = 16
DEFAULT_MAX_CACHED_PER_QUEUE = 1000
DEFAULT_MAX_CACHED_MB_PER_QUEUE = 100
# Callback threads when the number of CPUs is unknown.
FALLBACK_THREAD_COUNT = 4


class MessageQueue:
    """A queue of a topic on one broker, as ``PullConsumer`` offset hooks receive it."""

    __module__ = "rocketmq.client"
    __slots__ = ("topic", "brokerName", "queueId")

    def __init__(self, topic: bytes, brokerName: bytes, queueId: int) -> None:  # noqa: N803
        """A queue; attribute names are those of the original ctypes structure."""
        self.topic = topic
        self.brokerName = brokerName
        self.queueId = queueId

    def __repr__(self) -> str:
        return "MessageQueue(topic=%r, brokerName=%r, queueId=%r)" % (
            self.topic,
            self.brokerName,
            self.queueId,
        )


class PullConsumer(ClientLifecycle):
    """Reads every queue of a topic from offsets it keeps in ``offset_table``.

    Override :meth:`get_message_queue_offset`/:meth:`set_message_queue_offset` to keep offsets
    elsewhere. ``pull()`` never waits for new messages: it stops once every queue is drained.

    Each instance has an ``offset_table`` of its own, unless a subclass defines the class
    attribute or the user assigned ``PullConsumer.offset_table``: then every instance using
    that class attribute shares it, as in rocketmq 0.4 (where all instances shared one).

    ``offset_store="broker"`` also keeps the group's offsets on the broker
    (QUERY_CONSUMER_OFFSET / UPDATE_CONSUMER_OFFSET), so that a consumer of the same group
    started later, in this or another process, resumes where the last one stopped: a queue
    missing from ``offset_table`` starts at the group's committed offset (0 when it has none);
    a message's offset is committed once the caller asks for the next message (or the queue's
    batch is done), so a consumer that dies loses nothing: it may see again the message it was
    handling. ``offset_store="memory"`` (the default) keeps them in ``offset_table`` only and
    saves each batch's offset before yielding it, as rocketmq 0.4 did.
    """

    __module__ = "rocketmq.client"

    offset_table: Dict[str, int] = _CLASS_OFFSET_TABLE

    #: Attempts on a failing broker before pull() raises PullConsumerFetchMessageFailed.
    pull_retry_times = 3

    def __init__(self, group_id: StrOrBytes, offset_store: str = "memory") -> None:
        """A pull consumer of ``group_id`` (``None`` raises NullPointerException);
        ``offset_store`` is ``"memory"`` or ``"broker"``."""
        self._init_config(group_id)
        if offset_store not in OFFSET_STORES:
            raise ValueError(
                "offset_store must be 'memory' (offsets in this process only) or 'broker' "
                "(committed for the group, a restarted consumer resumes), not %r" % (offset_store,)
            )
        self._offset_store = offset_store
        if type(self).offset_table is _CLASS_OFFSET_TABLE:
            self.offset_table = dict(_CLASS_OFFSET_TABLE)
        # Broker store: the offset last committed per queue key, and the queues to commit.
        self._committed: Dict[str, int] = {}
        self._to_commit: Dict[str, Tuple[MessageQueue, int]] = {}
        self._native: Optional[_rocketmq.NativePullClient] = None
        # (topic, expression) pairs of SQL92 the topic's brokers accepted.
        self._checked_expressions: Set[Tuple[str, str]] = set()

    @property
    def offset_store(self) -> str:
        """``"memory"`` or ``"broker"``."""
        return self._offset_store

    def start(self) -> None:
        """Starts the consumer; raises PullConsumerStartFailed for a blank group."""
        if self._native is not None:
            return
        if not self._group.strip():
            raise PullConsumerStartFailed(
                "the specified group is blank: pass a group name, e.g. PullConsumer('my-consumers')"
            )
        try:
            self._native = _rocketmq.NativePullClient(**self._native_client_options())
        except Exception as e:
            raise PullConsumerStartFailed(str(e)) from e
        keep_alive(self)

    def shutdown(self) -> None:
        """Commits the offsets not committed yet (broker store), then closes the consumer's
        connections. Idempotent; fine before start()."""
        self.commit_offsets()
        native, self._native = self._native, None
        if native is not None:
            native.shutdown()
            release(self)

    # In the class's own namespace: the originals' test suites `del PushConsumer.__del__`.
    __del__ = ClientLifecycle._shut_down_quietly

    @staticmethod
    def _key(mq: MessageQueue) -> str:
        return "%s@%s@%s" % (maybe_decode(mq.topic), maybe_decode(mq.brokerName), mq.queueId)

    def get_message_queue_offset(self, mq: MessageQueue) -> int:
        """The offset ``pull()`` starts ``mq`` at: ``offset_table``'s entry, else (broker
        store) the group's offset committed on the broker, else 0. Override to keep offsets
        elsewhere."""
        key = self._key(mq)
        offset = self.offset_table.get(key)
        if offset is not None:
            return offset
        if self._offset_store != "broker" or self._native is None:
            return 0
        try:
            committed = self._native.query_offset(
                maybe_decode(mq.topic), maybe_decode(mq.brokerName), mq.queueId
            )
        except _rocketmq.ClientError as e:
            raise PullConsumerFetchMessageFailed(
                "cannot read the committed offset of %s: %s" % (key, e)
            ) from None
        return self._remember_committed(key, committed)

    def _remember_committed(self, key: str, committed: Optional[int]) -> int:
        """Records the broker's committed offset of a queue read at its first use."""
        offset = committed if committed is not None and committed >= 0 else 0
        self._committed[key] = offset
        self.offset_table[key] = offset
        return offset

    def set_message_queue_offset(self, mq: MessageQueue, offset: int) -> None:
        """Records the next offset of ``mq`` (memory store: called before a batch is yielded;
        broker store: once its messages were consumed). Override together with
        get_message_queue_offset()."""
        self.offset_table[self._key(mq)] = offset

    def _consumed(self, mq: MessageQueue, offset: int) -> None:
        """Everything of ``mq`` before ``offset`` was consumed (broker store): record it and
        commit it."""
        self.set_message_queue_offset(mq, offset)
        key = self._key(mq)
        if self._committed.get(key) != offset:
            self._to_commit[key] = (mq, offset)
            self.commit_offsets()

    def commit_offsets(self) -> None:
        """Commits to the broker the consumed offsets not committed yet (broker store; a
        failed commit is logged and tried again at the next commit or at shutdown)."""
        native = self._native
        if native is None:
            return
        for key, (mq, offset) in list(self._to_commit.items()):
            try:
                native.commit_offset(
                    maybe_decode(mq.topic), maybe_decode(mq.brokerName), mq.queueId, offset
                )
            except _rocketmq.ClientError as e:
                log.warning("cannot commit offset %d of %s (will retry): %s", offset, key, e)
                return
            self._committed[key] = offset
            if self._to_commit.get(key) == (mq, offset):
                del self._to_commit[key]

    def check_expression(self, topic: str, expression: str, expression_type: str) -> None:
        """Asks the brokers of ``topic`` whether they accept an SQL92 ``expression`` (once
        per topic and expression; tag expressions need no check): raises
        InvalidFilterExpression (also a PullConsumerFetchMessageFailed) with the broker's
        reason when one refuses it."""
        native = self._native
        if (
            native is None
            or expression_type == "TAG"
            or (topic, expression) in self._checked_expressions
        ):
            return
        try:
            native.check_expression(topic, expression, expression_type)
        except _rocketmq.FilterExpressionRefused as e:
            raise _PullConsumerInvalidExpression(str(e)) from None
        except _rocketmq.ClientError as e:
            raise PullConsumerFetchMessageFailed(str(e)) from None
        self._checked_expressions.add((topic, expression))

    def pull(
        self,
        topic: StrOrBytes,
        expression: StrOrBytes = "*",
        max_num: int = 32,
        expression_type: StrOrBytes = "TAG",
    ) -> Iterator[ReceivedMessage]:
        """Yields the messages of every queue from its stored offset, then stops.
        ``expression`` is a tag expression (``*``, ``A || B``) or, with
        ``expression_type="SQL92"``, an SQL92 condition over user properties and TAGS
        (``region = 'eu' AND amount > 100``), which the brokers check before the first pull:
        one they refuse raises InvalidFilterExpression."""
        topic = as_text(topic, "topic")
        expression = as_text(expression, "expression")
        max_num = as_int(max_num, "max_num")
        expression_type = expression_type_name(expression_type)
        if expression_type == "SQL92" and not expression.strip():
            raise ValueError("an SQL92 expression cannot be empty (use TAG with '*' for all)")
        if self._native is None:
            raise PullConsumerFetchMessageFailed("pull consumer not started (call start() first)")
        native = self._native
        try:
            queues = native.fetch_subscribe_queues(topic)
        except _rocketmq.ClientError as e:
            raise _PullConsumerFetchQueuesFailed(str(e)) from None
        self.check_expression(topic, expression, expression_type)
        for q_topic, broker, queue_id in queues:
            mq = MessageQueue(q_topic.encode(), broker.encode(), queue_id)
            failures = 0
            while True:
                offset = self.get_message_queue_offset(mq)
                try:
                    status, next_offset, _min, _max, msgs = native.pull(
                        q_topic, broker, queue_id, expression, offset, max_num, expression_type
                    )
                except _rocketmq.ClientError as e:
                    failures += 1
                    if failures >= self.pull_retry_times:
                        raise PullConsumerFetchMessageFailed(str(e)) from None
                    continue
                failures = 0
                if self._offset_store == "broker":
                    if status == _CPullStatus.FOUND:
                        yield from self._yield_then_commit(mq, msgs, next_offset)
                    elif next_offset != offset:
                        self._consumed(mq, next_offset)
                else:
                    # The offset is saved before the batch is yielded, as the original did.
                    self.set_message_queue_offset(mq, next_offset)
                    if status == _CPullStatus.FOUND:
                        yield from msgs
                if status == _CPullStatus.NO_NEW_MSG:
                    break

    def _yield_then_commit(
        self, mq: MessageQueue, msgs: List[ReceivedMessage], next_offset: int
    ) -> Iterator[ReceivedMessage]:
        """Yields one batch; records and commits what the caller consumed of it, also when
        it stops in the middle (the message it stopped at is not counted)."""
        consumed: Optional[int] = None
        try:
            for msg in msgs:
                yield msg
                consumed = msg.queue_offset + 1
            consumed = next_offset
        finally:
            if consumed is not None:
                self._consumed(mq, consumed)


class PushConsumer(ClientLifecycle):
    """Receives messages pushed to callbacks, one callback per subscribed topic.

    Callbacks run on the consumer's threads. Return ``None``/``ConsumeStatus.CONSUME_SUCCESS``
    when done, ``ConsumeStatus.RECONSUME_LATER`` (or raise) to have the message delivered
    again later.
    """

    __module__ = "rocketmq.client"

    _started_groups: Set[Tuple[str, str]] = set()
    _groups_lock = threading.Lock()

    def __init__(
        self,
        group_id: StrOrBytes,
        orderly: bool = False,
        message_model: Union[MessageModel, int] = MessageModel.CLUSTERING,
    ) -> None:
        """A push consumer of ``group_id``; ``orderly`` consumes each queue one message at
        a time, in order."""
        self._init_config(group_id)
        self._orderly = bool(orderly)
        self._thread_count = os.cpu_count() or FALLBACK_THREAD_COUNT
        self._batch_max_size = DEFAULT_BATCH_MAX_SIZE
        self._max_reconsume_times = DEFAULT_MAX_RECONSUME_TIMES
        self._max_cached_per_queue = DEFAULT_MAX_CACHED_PER_QUEUE
        self._max_cached_mb_per_queue = DEFAULT_MAX_CACHED_MB_PER_QUEUE
        self._consume_from_first = False
        self._consume_from_timestamp: Optional[int] = None
        # topic -> (expression, expression type)
        self._subscriptions: Dict[str, Tuple[str, str]] = {}
        self._callbacks: Dict[str, Callable[[ReceivedMessage], Any]] = {}
        self._native: Optional[_rocketmq.NativePushConsumer] = None
        self.set_message_model(message_model)

    def set_message_model(self, model: Union[MessageModel, int]) -> None:
        """``MessageModel.CLUSTERING`` (default) or ``MessageModel.BROADCASTING``."""
        self._message_model = int(model)

    def set_thread_count(self, thread_count: int) -> None:
        """Threads that run callbacks (default: the number of CPUs)."""
        n = as_int(thread_count, "thread_count")
        if n == 0:
            raise NullPointerException("thread_count must be at least 1")
        if n > 0:
            self._thread_count = n

    def set_message_batch_max_size(self, max_size: int) -> None:
        """Messages handed over together (the callback still gets one at a time)."""
        n = as_int(max_size, "max_size")
        if n == 0:
            raise NullPointerException("max_size must be at least 1")
        if n > 0:
            self._batch_max_size = n

    def set_max_reconsume_times(self, times: int) -> None:
        """Deliveries of a failing message before it goes to the dead-letter queue (16)."""
        self._max_reconsume_times = as_int(times, "times")

    def set_max_cache_message_size(self, size: int) -> None:
        """Unacknowledged messages kept per queue before pulling pauses (1000)."""
        n = as_int(size, "size")
        if n <= 0:
            raise ValueError("size must be positive")
        self._max_cached_per_queue = n

    def set_max_cache_message_size_in_mb(self, mb: int) -> None:
        """Body megabytes (MiB) of unacknowledged messages kept per queue before pulling
        pauses (100, at most 1024). A queue with nothing unacknowledged always pulls, so
        one pull may pass the limit."""
        n = as_int(mb, "mb")
        if not 1 <= n <= 1024:
            raise ValueError("mb must be between 1 and 1024")
        self._max_cached_mb_per_queue = n

    def set_consume_from_first_offset(self, first: bool = True) -> None:
        """A new group starts at the oldest message instead of the newest."""
        self._consume_from_first = bool(first)
        self._consume_from_timestamp = None

    def set_consume_from_timestamp(self, epoch_ms: int) -> None:
        """A new group starts, on every queue, at the first message stored at or after
        ``epoch_ms`` (milliseconds since the epoch, e.g. ``int(time.time() * 1000)``). A group
        with committed offsets resumes from them; to move one back in time, reset its offsets.
        The last of this and :meth:`set_consume_from_first_offset` called wins."""
        if isinstance(epoch_ms, bool) or not isinstance(epoch_ms, int):
            raise TypeError(
                "epoch_ms must be an int of milliseconds since the epoch, e.g. "
                "int(time.time() * 1000), got %r" % (epoch_ms,)
            )
        if epoch_ms < 0:
            raise ValueError("epoch_ms must be 0 or more, got %d" % epoch_ms)
        self._consume_from_timestamp = epoch_ms
        self._consume_from_first = False

    def subscribe(
        self,
        topic: StrOrBytes,
        callback: Callable[[ReceivedMessage], Any],
        expression: StrOrBytes = "*",
        expression_type: StrOrBytes = "TAG",
    ) -> None:
        """Delivers ``topic``'s messages matching ``expression``: a tag expression (``*`` or
        ``A || B``) or, with ``expression_type="SQL92"``, an SQL92 condition over user
        properties and TAGS (``region = 'eu' AND amount > 100``), evaluated by the broker.
        SQL92 expressions are checked with the topic's brokers at start(), or here on a
        running consumer (which then subscribes at once): one they refuse raises
        InvalidFilterExpression with the broker's parse error."""
        topic = as_text(topic, "topic")
        if not callable(callback):
            raise TypeError("callback must be callable")
        text = as_text(expression, "expression")
        type_name = expression_type_name(expression_type)
        if type_name == "SQL92" and not text.strip():
            raise ValueError("an SQL92 expression cannot be empty (use TAG with '*' for all)")
        native = self._native
        if native is not None:
            previous = self._callbacks.get(topic)
            self._callbacks[topic] = callback
            try:
                native.subscribe(topic, text, type_name)
            except _rocketmq.ClientError as e:
                if previous is None:
                    del self._callbacks[topic]
                else:
                    self._callbacks[topic] = previous
                if isinstance(e, _rocketmq.FilterExpressionRefused):
                    raise InvalidFilterExpression(str(e)) from None
                raise
        self._subscriptions[topic] = (text, type_name)
        self._callbacks[topic] = callback

    def _register_callback(self, callback: Callable[[ReceivedMessage], Any]) -> None:
        for topic in self._callbacks:
            self._callbacks[topic] = callback

    def _unregister_callback(self) -> None:
        """Kept for compatibility; callbacks stay until shutdown."""

    def _dispatch(self, batches: List[List[ReceivedMessage]]) -> List[bool]:
        verdicts = []
        callbacks = self._callbacks
        for batch in batches:
            ok = True
            for msg in batch:
                cb = callbacks.get(msg.topic)
                if cb is None:
                    log.warning("no callback for topic %r; message %s dropped", msg.topic, msg.id)
                    continue
                if not consume_verdict(cb, msg):
                    ok = False
                    break
            verdicts.append(ok)
        return verdicts

    def start(self) -> None:
        """Starts consuming; raises PushConsumerStartFailed without a subscription, for a
        blank or reserved group, an invalid message model or a group already started here.
        An unreachable name server is not a start failure (it is retried)."""
        if self._native is not None:
            return
        if not self._subscriptions:
            raise PushConsumerStartFailed("messageListener is null (call subscribe() first)")
        if not self._group.strip():
            raise PushConsumerStartFailed(
                "the specified group is blank: pass a group name, e.g. PushConsumer('my-consumers')"
            )
        if self._group == "DEFAULT_CONSUMER":
            raise PushConsumerStartFailed("consumerGroup can not equal DEFAULT_CONSUMER")
        if self._message_model not in (MessageModel.BROADCASTING, MessageModel.CLUSTERING):
            raise PushConsumerStartFailed("messageModel is valid ")
        # One consumer per group and instance name, as in the original client instance;
        # several members of a group in one process need distinct instance names.
        key = (self._group, self._instance_name)
        with PushConsumer._groups_lock:
            if key in PushConsumer._started_groups:
                raise PushConsumerStartFailed(
                    "The cousumer group[%s] has been created before, specify another name "
                    "please (or another instance name)." % self._group
                )
            PushConsumer._started_groups.add(key)
        try:
            self._native = _rocketmq.NativePushConsumer(
                subscriptions=[
                    (topic, expression, type_name)
                    for topic, (expression, type_name) in self._subscriptions.items()
                ],
                dispatch=self._dispatch,
                broadcasting=self._message_model == MessageModel.BROADCASTING,
                orderly=self._orderly,
                thread_count=self._thread_count,
                batch_max_size=self._batch_max_size,
                max_reconsume_times=self._max_reconsume_times,
                consume_from_first=self._consume_from_first,
                consume_from_timestamp=self._consume_from_timestamp,
                max_cached_per_queue=self._max_cached_per_queue,
                max_cached_mb_per_queue=self._max_cached_mb_per_queue,
                **self._native_client_options(),
            )
        except Exception as e:
            with PushConsumer._groups_lock:
                PushConsumer._started_groups.discard(key)
            if isinstance(e, _rocketmq.FilterExpressionRefused):
                raise _PushConsumerStartInvalidExpression(str(e)) from None
            raise PushConsumerStartFailed(str(e)) from e
        keep_alive(self)

    def shutdown(self) -> None:
        """Stops, waits for running callbacks, commits offsets. Idempotent."""
        native, self._native = self._native, None
        if native is None:
            return
        native.shutdown()
        with PushConsumer._groups_lock:
            PushConsumer._started_groups.discard((self._group, self._instance_name))
        release(self)

    # In the class's own namespace: the originals' test suites `del PushConsumer.__del__`.
    __del__ = ClientLifecycle._shut_down_quietly
