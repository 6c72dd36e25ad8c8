"""The asyncio push consumer (private; public through ``rocketmq.asyncio``): the thread
API's consumer with callbacks that are coroutine functions, run on the event loop that
started it.

What must stay true: a dispatcher thread never blocks the loop, and never waits for a loop
that stopped or closed (its batches are then redelivered); a consumer still running when its
loop shuts down (the end of ``asyncio.run``) is shut down with it, so no consumer thread
outlives the loop; at most ``max_in_flight`` callbacks run on the loop at once, and a
dispatcher thread waits for its batches' verdicts, so slow callbacks hold back pulling.
"""

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple, Union

from .._arguments import StrOrBytes, as_int, as_text
from .._callbacks import verdict_of
from .._consumers import PushConsumer as _ThreadPushConsumer
from .._messages import ReceivedMessage
from ..ffi import MessageModel
from ._bridge import cancel_quietly, shut_down_with_loop

log = logging.getLogger("rocketmq")

# How long a consumer dispatcher thread waits for the loop before it checks that the loop
# still runs, in seconds.
LOOP_CHECK_INTERVAL = 1.0
# Callbacks of one consumer running on the loop at once unless the constructor says otherwise.
DEFAULT_MAX_IN_FLIGHT = 256


class _LoopPushConsumer(_ThreadPushConsumer):
    """The thread API's push consumer, with callbacks that are coroutines: each dispatcher call
    hands its batches to the event loop and waits (GIL released) for their verdicts. Batches
    run concurrently on the loop; the messages of one batch run in order, up to the first
    failure, as in the thread API."""

    _loop: Optional[asyncio.AbstractEventLoop] = None
    _coroutines: Dict[str, Callable[[ReceivedMessage], Awaitable[Any]]]
    _closing = False
    _closing_lock = threading.Lock()
    # Set when the loop shuts down: no batch goes to the loop any more.
    _stopping = False
    _running: Set["concurrent.futures.Future[List[bool]]"]
    # Callbacks running on the loop at once, at most; the semaphore is made on the loop.
    _max_in_flight: int
    _slots: Optional[Tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = None

    def _dispatch(self, batches: List[List[ReceivedMessage]]) -> List[bool]:
        loop = self._loop
        if loop is None or self._stopping:
            return [False] * len(batches)
        try:
            fut = asyncio.run_coroutine_threadsafe(self._consume(batches), loop)
        except RuntimeError:  # the loop is closed: redelivered later
            self._shut_down_once_off_thread()
            return [False] * len(batches)
        with self._closing_lock:
            self._running.add(fut)
            stopping = self._stopping
        if stopping:  # stop_with_loop() began meanwhile and did not see this one
            fut.cancel()
        try:
            return self._verdicts(loop, fut, len(batches))
        finally:
            with self._closing_lock:
                self._running.discard(fut)

    def _verdicts(
        self,
        loop: asyncio.AbstractEventLoop,
        fut: "concurrent.futures.Future[List[bool]]",
        count: int,
    ) -> List[bool]:
        while True:
            try:
                return fut.result(timeout=LOOP_CHECK_INTERVAL)
            except concurrent.futures.TimeoutError:
                if loop.is_closed() or not loop.is_running():
                    fut.cancel()
                    log.warning("the event loop of an asyncio consumer stopped; redelivering")
                    if loop.is_closed():
                        self._shut_down_once_off_thread()
                    return [False] * count
            except BaseException:  # noqa: BLE001 - cancelled with the loop, or a library bug
                return [False] * count

    def stop_with_loop(self) -> None:
        """The loop shuts down: hand it no more batches, cancel the callbacks running on it
        (their messages are redelivered), then shut down."""
        with self._closing_lock:
            self._stopping = True
            running = list(self._running)
        for fut in running:
            fut.cancel()
        self.shutdown()

    def _shut_down_once_off_thread(self) -> None:
        """The loop closed without shutting this consumer down: shut it down from a thread
        of its own (a dispatcher thread cannot wait for itself)."""
        with self._closing_lock:
            if self._closing:
                return
            self._closing = True
        threading.Thread(
            target=self.stop_with_loop, name="rocketmq-loop-closed-shutdown", daemon=True
        ).start()

    async def _consume(self, batches: List[List[ReceivedMessage]]) -> List[bool]:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self._max_in_flight))
        slots = self._slots[1]

        async def in_slot(batch: List[ReceivedMessage]) -> bool:
            async with slots:
                return await self._consume_batch(batch)

        return list(await asyncio.gather(*(in_slot(b) for b in batches)))

    async def _consume_batch(self, batch: List[ReceivedMessage]) -> bool:
        for msg in batch:
            callback = self._coroutines.get(msg.topic)
            if callback is None:
                log.warning("no callback for topic %r; message %s dropped", msg.topic, msg.id)
                continue
            try:
                result = await callback(msg)
            except Exception:  # noqa: BLE001 - a callback must never kill the consumer
                log.exception(
                    "exception in consumer callback for message %s; it will be redelivered",
                    msg.id,
                )
                return False
            if not verdict_of(result, msg):
                return False
        return True


class PushConsumer:
    """A push consumer whose callbacks are coroutine functions, run on the event loop that
    started it. A callback returns None (or ``ConsumeStatus.CONSUME_SUCCESS``) when done;
    ``RECONSUME_LATER`` or an exception has the message delivered again later. Configure it
    with the ``set_*`` methods of ``rocketmq.client.PushConsumer`` before ``start()``, and stop
    it with ``await shutdown()`` (a blocking shutdown on the loop's thread would wait for
    callbacks that need that very loop). One left running when its event loop shuts down
    (the end of ``asyncio.run``) is shut down then, its unfinished messages redelivered.

    Back-pressure: at most ``max_in_flight`` callbacks run on the loop at once; the batches
    waiting for them hold the consumer's dispatcher threads (``set_thread_count``), and
    pulling pauses once ``set_max_cache_message_size`` messages per queue wait."""

    __module__ = "rocketmq.asyncio"

    def __init__(
        self,
        group_id: StrOrBytes,
        *,
        namesrv_addr: Optional[StrOrBytes] = None,
        orderly: bool = False,
        message_model: Union[MessageModel, int] = MessageModel.CLUSTERING,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        as_int(max_in_flight, "max_in_flight")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._consumer = _LoopPushConsumer(group_id, orderly, message_model)
        self._consumer._coroutines = {}
        self._consumer._running = set()
        self._consumer._max_in_flight = max_in_flight
        self._guard: Optional["asyncio.Task[None]"] = None
        if namesrv_addr is not None:
            self._consumer.set_namesrv_addr(namesrv_addr)

    def __getattr__(self, name: str) -> Any:
        # The configuration methods of rocketmq.client.PushConsumer (set_namesrv_addr,
        # set_thread_count, set_message_batch_max_size, ...), called before start().
        if name.startswith("set_"):
            return getattr(self._consumer, name)
        raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name))

    def subscribe(
        self,
        topic: StrOrBytes,
        callback: Callable[[ReceivedMessage], Awaitable[Any]],
        expression: StrOrBytes = "*",
        expression_type: StrOrBytes = "TAG",
    ) -> None:
        """Delivers ``topic``'s messages matching ``expression`` to the coroutine function
        ``callback``; ``expression_type="SQL92"`` makes ``expression`` an SQL92 condition
        (see ``rocketmq.client.PushConsumer.subscribe``). On a running consumer the topic's
        brokers are asked at once (a short blocking call) and a refused expression raises
        InvalidFilterExpression."""
        if not inspect.iscoroutinefunction(callback):
            raise TypeError("callback must be a coroutine function (async def)")
        name = as_text(topic, "topic")
        previous = self._consumer._coroutines.get(name)
        self._consumer._coroutines[name] = callback
        try:
            self._consumer.subscribe(name, callback, expression, expression_type)
        except BaseException:
            if previous is None:
                del self._consumer._coroutines[name]
            else:
                self._consumer._coroutines[name] = previous
            raise

    async def start(self) -> None:
        """Starts consuming; callbacks run on the event loop running this call."""
        loop = asyncio.get_running_loop()
        consumer = self._consumer
        consumer._loop = loop
        consumer._stopping = consumer._closing = False
        await loop.run_in_executor(None, consumer.start)
        cancel_quietly(self._guard)
        self._guard = shut_down_with_loop(
            consumer.stop_with_loop, lambda: consumer._native is not None, "an asyncio PushConsumer"
        )

    async def shutdown(self) -> None:
        """Stops consuming (callbacks in progress finish first); idempotent."""
        await asyncio.get_running_loop().run_in_executor(None, self._consumer.shutdown)
        cancel_quietly(self._guard)

    async def __aenter__(self) -> "PushConsumer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.shutdown()
