"""asyncio API: sends that are awaited instead of blocking a thread, and consumer callbacks
that are coroutines.

    from rocketmq.asyncio import Producer, PushConsumer
    from rocketmq.client import Message

    async with Producer("my-producers", namesrv_addr="127.0.0.1:9876") as producer:
        result = await producer.send(msg)               # a SendResult, or raises
        results = await producer.send_many(messages)    # concurrently, results in order

    async def on_message(msg):                          # runs on the event loop
        ...                                             # None: consumed; raise: redelivered

    consumer = PushConsumer("my-consumers", namesrv_addr="127.0.0.1:9876")
    consumer.subscribe("OrderEvents", on_message)
    await consumer.start()
    ...
    await consumer.shutdown()

A send never blocks the event loop: it starts on the library's own threads, and its outcome
comes back to the loop. Outcomes that arrive together resolve their futures in one loop
callback, not one wake-up each. At most ``max_in_flight`` sends run at once; further sends wait
(asynchronously) for a slot. Configure the producer with the same ``set_*`` methods as
``rocketmq.client.Producer`` before ``start()``.
"""

import asyncio
import collections
import concurrent.futures
import inspect
import logging
import threading
from typing import Any, Awaitable, Callable, Deque, Dict, Iterable, List, Optional, Tuple, Union

from . import _rocketmq
from ._arguments import StrOrBytes, as_int, as_text
from ._callbacks import verdict_of
from ._consumers import PushConsumer as _ThreadPushConsumer
from ._messages import Message, ReceivedMessage, check_message
from ._producers import Producer as _ThreadProducer
from ._producers import send_async_failed
from ._results import SendResult, send_result
from .exceptions import ProducerSendAsyncFailed
from .ffi import MessageModel

__all__ = ["Producer", "PushConsumer"]

log = logging.getLogger("rocketmq")

# Sends of one producer in flight at once unless the constructor says otherwise.
DEFAULT_MAX_IN_FLIGHT = 4096
# The native producer's own bound on async sends in flight (MAX_ASYNC_IN_FLIGHT in
# src/client/producer.rs): one group of send_many never asks for more.
MAX_IN_FLIGHT_LIMIT = 10000
# How long a consumer dispatcher thread waits for the loop before it checks that the loop
# still runs, in seconds.
LOOP_CHECK_INTERVAL = 1.0


class _Outcomes:
    """Hands send outcomes from the library's callback thread to one event loop: many outcomes
    that arrive together cost one loop wake-up. Every callback runs on the loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: Deque[Tuple[Callable[[], None], "asyncio.Future[Any]", Any, Any]] = (
            collections.deque()
        )
        self._scheduled = False

    def deliver(
        self, release: Callable[[], None], fut: "asyncio.Future[Any]", result: Any, exc: Any
    ) -> None:
        """Called from any thread."""
        with self._lock:
            self._pending.append((release, fut, result, exc))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    def _drain(self) -> None:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        for release, fut, result, exc in batch:
            release()
            if fut.done():  # cancelled meanwhile: the send itself still ran
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)


class Producer:
    """A producer for asyncio code. ``send`` and ``send_many`` are coroutines; ``start`` and
    ``shutdown`` run the blocking lifecycle calls in the loop's default executor."""

    def __init__(
        self,
        group_id: StrOrBytes,
        *,
        namesrv_addr: Optional[StrOrBytes] = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        timeout: Optional[int] = None,
    ) -> None:
        as_int(max_in_flight, "max_in_flight")
        if not 1 <= max_in_flight <= MAX_IN_FLIGHT_LIMIT:
            raise ValueError("max_in_flight must be between 1 and %d" % MAX_IN_FLIGHT_LIMIT)
        self._producer = _ThreadProducer(group_id, timeout=timeout)
        if namesrv_addr is not None:
            self._producer.set_namesrv_addr(namesrv_addr)
        self._max_in_flight = max_in_flight
        self._bound: Optional[
            Tuple[asyncio.AbstractEventLoop, asyncio.Semaphore, _Outcomes, asyncio.Lock]
        ] = None

    def __getattr__(self, name: str) -> Any:
        # The configuration methods of rocketmq.client.Producer (set_namesrv_addr,
        # set_session_credentials, set_timeout, ...), called before start().
        if name.startswith("set_"):
            return getattr(self._producer, name)
        raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name))

    def _group_state(self) -> Tuple[asyncio.Semaphore, _Outcomes, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        if self._bound is None or self._bound[0] is not loop:
            # Semaphores and locks belong to one loop: made here, inside it.
            self._bound = (
                loop,
                asyncio.Semaphore(self._max_in_flight),
                _Outcomes(loop),
                asyncio.Lock(),
            )
        return self._bound[1], self._bound[2], self._bound[3]

    def _loop_state(self) -> Tuple[asyncio.Semaphore, _Outcomes]:
        slots, outcomes, _ = self._group_state()
        return slots, outcomes

    async def start(self) -> None:
        """Starts the producer (connections are made on the first send)."""
        await asyncio.get_running_loop().run_in_executor(None, self._producer.start)

    async def shutdown(self) -> None:
        """Waits for the sends in flight, then stops the producer; idempotent."""
        await asyncio.get_running_loop().run_in_executor(None, self._producer.shutdown)

    async def __aenter__(self) -> "Producer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.shutdown()

    async def send(self, msg: Message) -> SendResult:
        """Sends one message; returns its SendResult or raises ProducerSendAsyncFailed (or the
        argument and state errors of ``rocketmq.client.Producer.send_async``). Cancelling the
        await does not recall the message: it may still be stored."""
        slots, outcomes = self._loop_state()
        await slots.acquire()
        fut: "asyncio.Future[SendResult]" = asyncio.get_running_loop().create_future()
        try:
            self._producer.send_async(
                msg,
                lambda result: outcomes.deliver(slots.release, fut, result, None),
                lambda exc: outcomes.deliver(slots.release, fut, None, exc),
            )
        except BaseException:
            slots.release()
            raise
        return await fut

    async def send_many(self, msgs: Iterable[Message]) -> List[SendResult]:
        """Sends every message concurrently; returns their SendResults in the same order.
        The first failure is raised once every send has finished. Messages go to the library
        in groups of up to ``max_in_flight``, one call and one outcome callback per group."""
        messages = list(msgs)
        for msg in messages:
            check_message(msg)
        native = self._producer._require(ProducerSendAsyncFailed)
        groups = [
            messages[i : i + self._max_in_flight]
            for i in range(0, len(messages), self._max_in_flight)
        ]
        results: List[SendResult] = []
        for outcomes in await asyncio.gather(*(self._send_group(native, g) for g in groups)):
            for ok, payload in outcomes:
                if not ok:
                    raise send_async_failed(payload)
                results.append(send_result(payload))
        return results

    async def _send_group(self, native: Any, group: List[Message]) -> List[Tuple[bool, Any]]:
        slots, outcomes, turn = self._group_state()
        taken = 0
        try:
            # One group takes its slots at a time: two groups each holding part of the slots
            # they need would wait for each other for ever.
            async with turn:
                for _ in group:
                    await slots.acquire()
                    taken += 1
        except BaseException:
            for _ in range(taken):
                slots.release()
            raise
        fut: "asyncio.Future[List[Tuple[bool, Any]]]" = asyncio.get_running_loop().create_future()

        def release() -> None:
            for _ in range(taken):
                slots.release()

        def done(_ok: bool, results: List[Tuple[bool, Any]]) -> None:
            outcomes.deliver(release, fut, results, None)

        try:
            native.send_many_async([m._wire() for m in group], done)
        except _rocketmq.ClientError as e:
            release()
            raise send_async_failed(str(e)) from None
        except BaseException:
            release()
            raise
        return await fut


class _LoopPushConsumer(_ThreadPushConsumer):
    """The thread API's push consumer, with callbacks that are coroutines: each dispatcher call
    hands its batches to the event loop and waits (GIL released) for their verdicts. Batches
    run concurrently on the loop; the messages of one batch run in order, up to the first
    failure, as in the thread API."""

    _loop: Optional[asyncio.AbstractEventLoop] = None
    _coroutines: Dict[str, Callable[[ReceivedMessage], Awaitable[Any]]]

    def _dispatch(self, batches: List[List[ReceivedMessage]]) -> List[bool]:
        loop = self._loop
        if loop is None:
            return [False] * len(batches)
        try:
            fut = asyncio.run_coroutine_threadsafe(self._consume(batches), loop)
        except RuntimeError:  # the loop is closed: redelivered later
            return [False] * len(batches)
        while True:
            try:
                return fut.result(timeout=LOOP_CHECK_INTERVAL)
            except concurrent.futures.TimeoutError:
                if loop.is_closed() or not loop.is_running():
                    fut.cancel()
                    log.warning("the event loop of an asyncio consumer stopped; redelivering")
                    return [False] * len(batches)
            except BaseException:  # noqa: BLE001 - cancelled with the loop, or a library bug
                return [False] * len(batches)

    async def _consume(self, batches: List[List[ReceivedMessage]]) -> List[bool]:
        return list(await asyncio.gather(*(self._consume_batch(b) for b in batches)))

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
    callbacks that need that very loop)."""

    def __init__(
        self,
        group_id: StrOrBytes,
        *,
        namesrv_addr: Optional[StrOrBytes] = None,
        orderly: bool = False,
        message_model: Union[MessageModel, int] = MessageModel.CLUSTERING,
    ) -> None:
        self._consumer = _LoopPushConsumer(group_id, orderly, message_model)
        self._consumer._coroutines = {}
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
    ) -> None:
        """Delivers ``topic``'s messages matching ``expression`` to the coroutine function
        ``callback``."""
        if not inspect.iscoroutinefunction(callback):
            raise TypeError("callback must be a coroutine function (async def)")
        name = as_text(topic, "topic")
        self._consumer.subscribe(name, callback, expression)
        self._consumer._coroutines[name] = callback

    async def start(self) -> None:
        """Starts consuming; callbacks run on the event loop running this call."""
        loop = asyncio.get_running_loop()
        self._consumer._loop = loop
        await loop.run_in_executor(None, self._consumer.start)

    async def shutdown(self) -> None:
        """Stops consuming (callbacks in progress finish first); idempotent."""
        await asyncio.get_running_loop().run_in_executor(None, self._consumer.shutdown)

    async def __aenter__(self) -> "PushConsumer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.shutdown()
