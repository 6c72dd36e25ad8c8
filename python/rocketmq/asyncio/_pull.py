"""The asyncio pull consumer (private; public through ``rocketmq.asyncio``).

``pull(topic)`` is the awaitable twin of ``rocketmq.client.PullConsumer.pull``: every message
from the current offsets on, queue after queue, ending once every queue is drained.
``stream(topic)`` never ends by itself: it keeps one long poll per queue at the broker
(the broker answers when a message arrives or after ``poll_seconds``) and yields each batch
as it arrives.

What must stay true: no call blocks the event loop (every request is a native ``*_async``
call whose outcome comes back to the loop, or runs in the loop's executor); offsets go
through the overridable ``get/set_message_queue_offset`` hooks and ``offset_table`` exactly
as in the thread API (the same class does the bookkeeping), and with
``offset_store="broker"`` are committed only for messages the caller came back from; a
stream has at most one pull in flight per queue and asks for a queue's next batch only when
the caller came back for more, so a slow caller holds at most one batch per queue.
"""

import asyncio
import logging
import time
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

from .. import _rocketmq
from .._arguments import StrOrBytes, as_int, as_text, maybe_decode
from .._consumers import MessageQueue, expression_type_name
from .._consumers import PullConsumer as _ThreadPullConsumer
from .._messages import ReceivedMessage
from ..exceptions import PullConsumerFetchMessageFailed, _PullConsumerFetchQueuesFailed
from ..ffi import _CPullStatus
from ._bridge import call_native, cancel_quietly, shut_down_with_loop

log = logging.getLogger("rocketmq")

# How long the broker holds a stream's pull when the queue has nothing new, in seconds (the
# Java client's default broker suspend time is 15 s).
DEFAULT_POLL_SECONDS = 15.0
# How often a stream looks the topic's queues up again (new queues join), in seconds.
QUEUE_REFRESH_SECONDS = 30.0
# Pause before a failed pull of a stream is tried again, in seconds.
RETRY_PAUSE_SECONDS = 1.0

#: (status, next_begin_offset, min_offset, max_offset, messages)
_PullTuple = Tuple[int, int, int, int, List[ReceivedMessage]]


class _Offsets(_ThreadPullConsumer):
    """The thread API's pull consumer as the asyncio consumer's configuration and offset
    bookkeeping (its ``pull`` is not used)."""


class PullConsumer:
    """A pull consumer for asyncio code.

        async with PullConsumer("my-readers", namesrv_addr=addr) as consumer:
            async for msg in consumer.pull("OrderEvents"):      # what is there now, then ends
                ...
            async for batch in consumer.stream("OrderEvents"):  # for ever, batches as they come
                ...

    Offsets are kept as by ``rocketmq.client.PullConsumer``: in ``offset_table`` (one per
    instance), through the overridable ``get_message_queue_offset`` /
    ``set_message_queue_offset``, and with ``offset_store="broker"`` also on the broker for
    the group, so that a restarted consumer resumes (a message counts as consumed once the
    caller comes back for the next one; a batch of ``stream`` once the caller comes back for
    the next batch). Configure it with the ``set_*`` methods of ``rocketmq.client.PullConsumer``
    before ``start()``. One left running when its event loop shuts down (the end of
    ``asyncio.run``) is shut down then.
    """

    __module__ = "rocketmq.asyncio"

    #: Attempts on a failing broker before pull()/stream() raise PullConsumerFetchMessageFailed.
    pull_retry_times = 3

    def __init__(
        self,
        group_id: StrOrBytes,
        *,
        namesrv_addr: Optional[StrOrBytes] = None,
        offset_store: str = "memory",
    ) -> None:
        self._consumer = _Offsets(group_id, offset_store)
        if namesrv_addr is not None:
            self._consumer.set_namesrv_addr(namesrv_addr)
        self._guard: Optional["asyncio.Task[None]"] = None

    def __getattr__(self, name: str) -> Any:
        # The configuration methods of rocketmq.client.PullConsumer (set_namesrv_addr,
        # set_session_credentials, set_instance_name, ...), called before start().
        if name.startswith("set_"):
            return getattr(self._consumer, name)
        raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name))

    @property
    def offset_table(self) -> Dict[str, int]:
        """The next offset of every queue read so far, by ``"topic@broker@queueId"``."""
        return self._consumer.offset_table

    @property
    def offset_store(self) -> str:
        """``"memory"`` or ``"broker"``."""
        return self._consumer.offset_store

    def get_message_queue_offset(self, mq: MessageQueue) -> int:
        """The offset reading of ``mq`` starts at: ``offset_table``'s entry (the broker
        store's committed offset is put there before the first read), else 0. Override to
        keep offsets elsewhere; it must not block."""
        return self._consumer.offset_table.get(_ThreadPullConsumer._key(mq), 0)

    def set_message_queue_offset(self, mq: MessageQueue, offset: int) -> None:
        """Records the next offset of ``mq``. Override together with
        get_message_queue_offset(); it must not block."""
        self._consumer.offset_table[_ThreadPullConsumer._key(mq)] = offset

    async def start(self) -> None:
        """Starts the consumer; raises PullConsumerStartFailed for a blank group."""
        await asyncio.get_running_loop().run_in_executor(None, self._consumer.start)
        consumer = self._consumer
        cancel_quietly(self._guard)
        self._guard = shut_down_with_loop(
            consumer.shutdown, lambda: consumer._native is not None, "an asyncio PullConsumer"
        )

    async def shutdown(self) -> None:
        """Commits the offsets not committed yet (broker store), ends the pulls in flight
        (a ``pull`` or ``stream`` being iterated then ends) and closes the connections;
        idempotent."""
        await asyncio.get_running_loop().run_in_executor(None, self._consumer.shutdown)
        cancel_quietly(self._guard)

    async def __aenter__(self) -> "PullConsumer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.shutdown()

    def _native(self) -> Any:
        native = self._consumer._native
        if native is None:
            raise PullConsumerFetchMessageFailed("pull consumer not started (call start() first)")
        return native

    async def _queues(self, native: Any, topic: str) -> List[MessageQueue]:
        queues = await call_native(
            lambda done: native.fetch_subscribe_queues_async(topic, done),
            _PullConsumerFetchQueuesFailed,
        )
        return [MessageQueue(t.encode(), b.encode(), q) for t, b, q in queues]

    async def _check_expression(
        self, topic: str, expression: str, expression_type: StrOrBytes
    ) -> str:
        """The expression type's name, after the topic's brokers accepted an SQL92
        expression (in the loop's executor, once per topic and expression): one they refuse
        raises InvalidFilterExpression."""
        name = expression_type_name(expression_type)
        if name == "SQL92" and not expression.strip():
            raise ValueError("an SQL92 expression cannot be empty (use TAG with '*' for all)")
        if name != "TAG":
            await asyncio.get_running_loop().run_in_executor(
                None, self._consumer.check_expression, topic, expression, name
            )
        return name

    async def _start_offset(self, native: Any, mq: MessageQueue) -> int:
        """``get_message_queue_offset(mq)``, after the broker store's committed offset of a
        queue seen for the first time has been put in ``offset_table``."""
        consumer = self._consumer
        key = consumer._key(mq)
        if consumer.offset_store == "broker" and key not in consumer._committed:
            committed = await call_native(
                lambda done: native.query_offset_async(
                    maybe_decode(mq.topic), maybe_decode(mq.brokerName), mq.queueId, done
                ),
                lambda text: PullConsumerFetchMessageFailed(
                    "cannot read the committed offset of %s: %s" % (key, text)
                ),
            )
            if key not in consumer.offset_table:
                consumer._remember_committed(key, committed)
            else:
                consumer._committed[key] = committed if committed is not None else 0
        return self.get_message_queue_offset(mq)

    async def _consumed(self, mq: MessageQueue, offset: int) -> None:
        """Records what the caller consumed of ``mq`` and (broker store) commits it."""
        consumer = self._consumer
        self.set_message_queue_offset(mq, offset)
        key = consumer._key(mq)
        if consumer.offset_store != "broker" or consumer._committed.get(key) == offset:
            return
        consumer._to_commit[key] = (mq, offset)
        native = consumer._native
        if native is None:
            return  # committed by nobody: the next consumer reads these messages again
        try:
            await call_native(
                lambda done: native.commit_offset_async(
                    maybe_decode(mq.topic), maybe_decode(mq.brokerName), mq.queueId, offset, done
                ),
                _rocketmq.ClientError,
            )
        except _rocketmq.ClientError as e:
            log.warning("cannot commit offset %d of %s (will retry): %s", offset, key, e)
            return
        consumer._committed[key] = offset
        if consumer._to_commit.get(key) == (mq, offset):
            del consumer._to_commit[key]

    def _pull_once(
        self,
        native: Any,
        mq: MessageQueue,
        expression: str,
        offset: int,
        max_num: int,
        poll_ms: int,
        expression_type: str = "TAG",
    ) -> "asyncio.Future[_PullTuple]":
        return asyncio.ensure_future(
            call_native(
                lambda done: native.pull_async(
                    maybe_decode(mq.topic),
                    maybe_decode(mq.brokerName),
                    mq.queueId,
                    expression,
                    offset,
                    max_num,
                    poll_ms,
                    done,
                    expression_type,
                ),
                _rocketmq.ClientError,
            )
        )

    async def pull(
        self,
        topic: StrOrBytes,
        expression: StrOrBytes = "*",
        max_num: int = 32,
        expression_type: StrOrBytes = "TAG",
    ) -> AsyncIterator[ReceivedMessage]:
        """Yields every message of ``topic`` matching ``expression`` (a tag expression, or
        with ``expression_type="SQL92"`` an SQL92 condition the brokers evaluate) from the
        current offsets on, queue after queue, and ends once every queue is drained (it does
        not wait for new messages: see ``stream``). Raises _PullConsumerFetchQueuesFailed
        when the topic's queues cannot be looked up, InvalidFilterExpression when a broker
        refuses an SQL92 expression, PullConsumerFetchMessageFailed after
        ``pull_retry_times`` failed pulls of one queue. Ends early when the consumer is shut
        down."""
        topic = as_text(topic, "topic")
        expression = as_text(expression, "expression")
        max_num = as_int(max_num, "max_num")
        native = self._native()
        broker_store = self._consumer.offset_store == "broker"
        queues = await self._queues(native, topic)
        type_name = await self._check_expression(topic, expression, expression_type)
        for mq in queues:
            failures = 0
            while True:
                offset = await self._start_offset(native, mq)
                try:
                    status, next_offset, _min, _max, msgs = await self._pull_once(
                        native, mq, expression, offset, max_num, 0, type_name
                    )
                except _rocketmq.ClientError as e:
                    if self._consumer._native is None:
                        return  # shut down
                    failures += 1
                    if failures >= self.pull_retry_times:
                        raise PullConsumerFetchMessageFailed(str(e)) from None
                    continue
                failures = 0
                if not broker_store:
                    # Saved before the batch is yielded, as the thread API does.
                    self.set_message_queue_offset(mq, next_offset)
                    if status == _CPullStatus.FOUND:
                        for msg in msgs:
                            yield msg
                elif status == _CPullStatus.FOUND:
                    consumed: Optional[int] = None
                    try:
                        for msg in msgs:
                            yield msg
                            consumed = msg.queue_offset + 1
                        consumed = next_offset
                    finally:
                        if consumed is not None:
                            await self._consumed(mq, consumed)
                elif next_offset != offset:
                    await self._consumed(mq, next_offset)
                if status == _CPullStatus.NO_NEW_MSG:
                    break

    async def stream(
        self,
        topic: StrOrBytes,
        expression: StrOrBytes = "*",
        max_num: int = 32,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        expression_type: StrOrBytes = "TAG",
    ) -> AsyncIterator[List[ReceivedMessage]]:
        """Yields the messages of ``topic`` matching ``expression`` in batches (a list of at
        most ``max_num`` messages of one queue, in queue order) as they arrive, for ever:
        each queue has one long poll at the broker, answered as soon as a message arrives
        (or after ``poll_seconds``, then asked again). A queue's next batch is asked for
        when the caller comes back for more, so a slow caller holds at most one batch per
        queue. Offsets as for ``pull``; with ``offset_store="broker"`` a batch is committed
        when the caller comes back for the next one. Raises PullConsumerFetchMessageFailed
        after ``pull_retry_times`` failed pulls in a row of one queue; ends when the consumer
        is shut down. ``expression_type="SQL92"`` makes ``expression`` an SQL92 condition
        (checked with the brokers first, as for ``pull``). Use ``await it.aclose()`` (or
        ``contextlib.aclosing``, Python 3.10+) to end it at a known point."""
        topic = as_text(topic, "topic")
        expression = as_text(expression, "expression")
        max_num = as_int(max_num, "max_num")
        poll_ms = int(float(poll_seconds) * 1000)
        if poll_ms <= 0:
            raise ValueError("poll_seconds must be positive")
        native = self._native()
        broker_store = self._consumer.offset_store == "broker"
        type_name = await self._check_expression(topic, expression, expression_type)
        # One task per queue: (optional pause), start offset, one long poll.
        in_flight: Dict["asyncio.Future[Tuple[int, _PullTuple]]", MessageQueue] = {}
        failures: Dict[str, int] = {}
        known: Dict[str, MessageQueue] = {}

        async def poll(mq: MessageQueue, pause: float) -> Tuple[int, _PullTuple]:
            if pause:
                await asyncio.sleep(pause)
            offset = await self._start_offset(native, mq)
            return offset, await self._pull_once(
                native, mq, expression, offset, max_num, poll_ms, type_name
            )

        def ask(mq: MessageQueue, pause: float = 0.0) -> None:
            in_flight[asyncio.ensure_future(poll(mq, pause))] = mq

        async def refresh_queues() -> None:
            for mq in await self._queues(native, topic):
                key = _ThreadPullConsumer._key(mq)
                if key not in known:
                    known[key] = mq
                    ask(mq)

        try:
            await refresh_queues()
            refreshed = time.monotonic()
            while True:
                if not in_flight:
                    # Only when the topic has no readable queue: look again later.
                    await asyncio.sleep(QUEUE_REFRESH_SECONDS)
                    await refresh_queues()
                    refreshed = time.monotonic()
                    continue
                left = max(0.0, QUEUE_REFRESH_SECONDS - (time.monotonic() - refreshed))
                done, _ = await asyncio.wait(
                    list(in_flight), timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    await refresh_queues()
                    refreshed = time.monotonic()
                    continue
                for fut in done:
                    mq = in_flight.pop(fut)
                    key = _ThreadPullConsumer._key(mq)
                    try:
                        offset, (status, next_offset, _min, _max, msgs) = fut.result()
                    except (_rocketmq.ClientError, PullConsumerFetchMessageFailed) as e:
                        if self._consumer._native is None:
                            return  # shut down
                        failures[key] = failures.get(key, 0) + 1
                        if failures[key] >= self.pull_retry_times:
                            raise PullConsumerFetchMessageFailed(str(e)) from None
                        log.warning("pull of %s failed (will retry): %s", key, e)
                        ask(mq, RETRY_PAUSE_SECONDS)
                        continue
                    failures.pop(key, None)
                    if status == _CPullStatus.FOUND and msgs:
                        if not broker_store:
                            self.set_message_queue_offset(mq, next_offset)
                        yield list(msgs)
                        if broker_store:
                            await self._consumed(mq, next_offset)
                    elif next_offset != offset:
                        await self._consumed(mq, next_offset)
                    ask(mq)
        finally:
            for fut in in_flight:
                fut.cancel()
