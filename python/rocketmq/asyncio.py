"""asyncio API: sends that are awaited instead of blocking a thread.

    from rocketmq.asyncio import Producer
    from rocketmq.client import Message

    async with Producer("my-producers", namesrv_addr="127.0.0.1:9876") as producer:
        result = await producer.send(msg)               # a SendResult, or raises
        results = await producer.send_many(messages)    # concurrently, results in order

A send never blocks the event loop: it starts on the library's own threads, and its outcome
comes back to the loop. Outcomes that arrive together resolve their futures in one loop
callback, not one wake-up each. At most ``max_in_flight`` sends run at once; further sends wait
(asynchronously) for a slot. Configure the producer with the same ``set_*`` methods as
``rocketmq.client.Producer`` before ``start()``.
"""

import asyncio
import collections
import threading
from typing import Any, Callable, Deque, Iterable, List, Optional, Tuple

from .client import Message, SendResult, StrOrBytes
from .client import Producer as _ThreadProducer

__all__ = ["Producer"]


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
        max_in_flight: int = 4096,
        timeout: Optional[int] = None,
    ) -> None:
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int):
            raise TypeError("max_in_flight must be an int")
        if not 1 <= max_in_flight <= 10000:
            raise ValueError("max_in_flight must be between 1 and 10000")
        self._producer = _ThreadProducer(group_id, timeout=timeout)
        if namesrv_addr is not None:
            self._producer.set_namesrv_addr(namesrv_addr)
        self._max_in_flight = max_in_flight
        self._bound: Optional[Tuple[asyncio.AbstractEventLoop, asyncio.Semaphore, _Outcomes]] = None

    def __getattr__(self, name: str) -> Any:
        # The configuration methods of rocketmq.client.Producer (set_namesrv_addr,
        # set_session_credentials, set_timeout, ...), called before start().
        if name.startswith("set_"):
            return getattr(self._producer, name)
        raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name))

    def _loop_state(self) -> Tuple[asyncio.Semaphore, _Outcomes]:
        loop = asyncio.get_running_loop()
        if self._bound is None or self._bound[0] is not loop:
            # A semaphore belongs to one loop: made here, inside it.
            self._bound = (loop, asyncio.Semaphore(self._max_in_flight), _Outcomes(loop))
        return self._bound[1], self._bound[2]

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
        The first failure is raised once every send has finished."""
        outcomes = await asyncio.gather(*(self.send(m) for m in msgs), return_exceptions=True)
        results: List[SendResult] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            results.append(outcome)
        return results
