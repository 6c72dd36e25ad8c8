"""asyncio producers (private; public through ``rocketmq.asyncio``): ``Producer`` and
``TransactionMQProducer``.

What must stay true: no send blocks the event loop (each starts on the library's threads and
its outcome comes back to the loop); at most ``max_in_flight`` sends of one producer are in
the library at once, and a slot is freed when the send's outcome arrives, not when its
awaiting task is cancelled; a send whose await was cancelled after the message reached the
library runs to its end and its outcome is reported (``on_cancelled_send``, else a log
record), never dropped silently, and never retried by this layer.
"""

import asyncio
import inspect
import logging
from typing import Any, Callable, Iterable, List, Optional, Tuple, Union

from .. import _rocketmq
from .._arguments import StrOrBytes, as_int, as_text
from .._callbacks import transaction_verdict
from .._messages import Message, ReceivedMessage, check_message, outgoing_view
from .._producers import Producer as _ThreadProducer
from .._producers import TransactionMQProducer as _ThreadTransactionProducer
from .._producers import (
    hashing_queue_selector,
    java_string_hash,
    send_async_failed,
)
from .._results import SendResult, SendStatus, TransactionStatus, send_result
from ..exceptions import (
    ProducerSendAsyncFailed,
    ProducerSendOnewayFailed,
    ProducerSendOrderlyFailed,
    ProducerSendSyncFailed,
    ProducerSendTransactionFailed,
)
from ._bridge import call_native, maybe_await

log = logging.getLogger("rocketmq")

# Sends of one producer in flight at once unless the constructor says otherwise.
DEFAULT_MAX_IN_FLIGHT = 4096
# The native producer's own bound on async sends in flight (MAX_ASYNC_IN_FLIGHT in
# src/client/producer.rs): one group of send_many never asks for more.
MAX_IN_FLIGHT_LIMIT = 10000
# Attempts of an orderly send when the caller gives none, all on the selected queue (as in
# the thread API).
ORDERLY_SEND_ATTEMPTS = 3
# How long a check-back of a transactional producer waits for the event loop to answer, in
# seconds; the state is UNKNOWN after it (the broker checks back again later).
CHECK_BACK_TIMEOUT = 30.0

#: ``on_cancelled_send(message, outcome)``: the SendResult, or the exception of the send.
CancelledSendCallback = Callable[[Message, Union[SendResult, BaseException]], Any]
Selector = Callable[[int, ReceivedMessage, Any], Any]


def _log_cancelled_send(msg: Message, outcome: Union[SendResult, BaseException]) -> None:
    if isinstance(outcome, BaseException):
        log.warning("a cancelled send to %s failed (not stored): %s", msg.topic, outcome)
    else:
        log.warning(
            "a cancelled send to %s was stored anyway: msg_id=%s offset=%s",
            msg.topic,
            outcome.msg_id,
            outcome.offset,
        )


class Producer:
    """A producer for asyncio code. Every send is a coroutine; ``start`` and ``shutdown``
    run the blocking lifecycle calls in the loop's default executor.

    Cancelling a send: a send still waiting for one of the ``max_in_flight`` slots is not
    sent. A send already handed to the library cannot be recalled: it runs to its end, and
    its outcome (the SendResult when the broker stored it, else the exception) goes to
    ``on_cancelled_send(message, outcome)`` on the loop, or by default to a WARNING record of
    the ``rocketmq`` logger. So a cancelled send is either not stored, or stored once and
    reported; this layer never sends a message again by itself.
    """

    __module__ = "rocketmq.asyncio"

    def __init__(
        self,
        group_id: StrOrBytes,
        *,
        namesrv_addr: Optional[StrOrBytes] = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        timeout: Optional[int] = None,
        on_cancelled_send: Optional[CancelledSendCallback] = None,
    ) -> None:
        self._init_producer(
            _ThreadProducer(group_id, timeout=timeout),
            namesrv_addr,
            max_in_flight,
            on_cancelled_send,
        )

    def _init_producer(
        self,
        producer: _ThreadProducer,
        namesrv_addr: Optional[StrOrBytes],
        max_in_flight: int,
        on_cancelled_send: Optional[CancelledSendCallback],
    ) -> None:
        as_int(max_in_flight, "max_in_flight")
        if not 1 <= max_in_flight <= MAX_IN_FLIGHT_LIMIT:
            raise ValueError("max_in_flight must be between 1 and %d" % MAX_IN_FLIGHT_LIMIT)
        if on_cancelled_send is not None and not callable(on_cancelled_send):
            raise TypeError("on_cancelled_send must be callable (message, outcome) or None")
        self._producer = producer
        if namesrv_addr is not None:
            self._producer.set_namesrv_addr(namesrv_addr)
        self._max_in_flight = max_in_flight
        self._on_cancelled_send = on_cancelled_send or _log_cancelled_send
        self._bound: Optional[Tuple[asyncio.AbstractEventLoop, asyncio.Semaphore, asyncio.Lock]] = (
            None
        )
        self._in_flight = 0

    def __getattr__(self, name: str) -> Any:
        # The configuration methods of rocketmq.client.Producer (set_namesrv_addr,
        # set_session_credentials, set_timeout, ...), called before start().
        if name.startswith("set_"):
            return getattr(self._producer, name)
        raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name))

    def _loop_state(self) -> Tuple[asyncio.Semaphore, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        if self._bound is None or self._bound[0] is not loop:
            # Semaphores and locks belong to one loop: made here, inside it.
            self._bound = (loop, asyncio.Semaphore(self._max_in_flight), asyncio.Lock())
        return self._bound[1], self._bound[2]

    @property
    def in_flight(self) -> int:
        """Sends handed to the library whose outcome has not come back yet (at most
        ``max_in_flight``)."""
        return self._in_flight

    async def _take_slots(self, n: int) -> Callable[[], None]:
        """Waits for ``n`` slots (one group at a time: two groups each holding part of the
        slots they need would wait for each other for ever); returns what frees them."""
        slots, turn = self._loop_state()
        taken = 0
        try:
            async with turn:
                for _ in range(n):
                    await slots.acquire()
                    taken += 1
        except BaseException:
            for _ in range(taken):
                slots.release()
            raise
        self._in_flight += n

        def release() -> None:
            self._in_flight -= n
            for _ in range(n):
                slots.release()

        return release

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

    async def _send_in_slot(
        self,
        msg: Message,
        start: Callable[[Callable[[bool, Any], None]], None],
        failure: Callable[[str], BaseException],
        report: bool = True,
    ) -> Any:
        """Takes a slot, starts ``start(callback)``, awaits its value; the slot is freed when
        the outcome arrives. A cancelled await reports the outcome when ``report``."""
        release = await self._take_slots(1)
        on_cancelled = None
        if report:

            def on_cancelled(result: Any, exc: Any) -> None:
                self._on_cancelled_send(msg, exc if exc is not None else send_result(result))

        def start_converted(done: Callable[[bool, Any], None]) -> None:
            try:
                start(done)
            except _rocketmq.ClientError as e:
                raise failure(str(e)) from None

        return await call_native(
            start_converted, failure, release=release, on_cancelled=on_cancelled
        )

    async def send(self, msg: Message) -> SendResult:
        """Sends one message; returns its SendResult or raises ProducerSendAsyncFailed (or
        the argument and state errors of ``rocketmq.client.Producer.send_async``)."""
        check_message(msg)
        native = self._producer._require(ProducerSendAsyncFailed)
        wire = msg._wire()
        return send_result(
            await self._send_in_slot(
                msg, lambda done: native.send_async(*wire, done), send_async_failed
            )
        )

    async def send_oneway(self, msg: Message) -> None:
        """Sends without waiting for the broker's answer (returns once the request is
        written); raises ProducerSendOnewayFailed when it cannot be written."""
        check_message(msg)
        native = self._producer._require(ProducerSendOnewayFailed)
        wire = msg._wire()
        await self._send_in_slot(
            msg,
            lambda done: native.send_oneway_async(*wire, done),
            ProducerSendOnewayFailed,
            report=False,
        )

    async def send_orderly(
        self,
        msg: Message,
        arg: Any,
        retry_times: int = ORDERLY_SEND_ATTEMPTS,
        queue_selector: Selector = hashing_queue_selector,
    ) -> SendResult:
        """Sends to the queue ``queue_selector(queue_count, msg, arg)`` picks (a function or
        a coroutine function), retrying on that queue only; raises ProducerSendOrderlyFailed
        on failure. Messages sent one after another (each awaited) to one queue keep their
        order."""
        check_message(msg)
        native = self._producer._require(ProducerSendOrderlyFailed)
        index = await self._select(native, msg, arg, queue_selector)
        wire = msg._wire()
        attempts = max(1, as_int(retry_times, "retry_times"))
        return send_result(
            await self._send_in_slot(
                msg,
                lambda done: native.send_to_queue_async(*wire, index, attempts, done),
                ProducerSendOrderlyFailed,
            )
        )

    async def send_orderly_with_sharding_key(
        self, msg: Message, sharding_key: StrOrBytes
    ) -> SendResult:
        """Messages with the same key go to the same queue (Java ``String.hashCode``, as
        the thread API and Apache's clients)."""
        key = as_text(sharding_key, "sharding_key")

        def by_key(n: int, _msg: ReceivedMessage, _arg: Any) -> int:
            return abs(java_string_hash(key)) % n

        return await self.send_orderly(msg, None, queue_selector=by_key)

    async def _select(self, native: Any, msg: Message, arg: Any, queue_selector: Selector) -> int:
        count = await call_native(
            lambda done: native.queue_count_async(msg.topic, done), ProducerSendOrderlyFailed
        )
        try:
            index = await maybe_await(queue_selector(count, outgoing_view(msg), arg))
        except Exception as e:  # noqa: BLE001 - a selector error fails the send
            raise ProducerSendOrderlyFailed("the queue selector raised %r" % e) from e
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            raise ProducerSendOrderlyFailed(
                "the queue selector returned %r; expected an int in 0..%d" % (index, count - 1)
            )
        return index

    async def send_batch(self, msgs: List[Message]) -> SendResult:
        """Sends messages of one topic as one batch (one request, one slot); ``msg_id``
        joins the ids with commas. Raises ProducerSendSyncFailed on failure, as the thread
        API's ``send_batch``."""
        msgs = list(msgs)
        if not msgs:
            raise ValueError("msgs must not be empty")
        for m in msgs:
            check_message(m)
        native = self._producer._require(ProducerSendSyncFailed)
        wires = [m._wire() for m in msgs]
        return send_result(
            await self._send_in_slot(
                msgs[0],
                lambda done: native.send_batch_async(wires, done),
                ProducerSendSyncFailed,
            )
        )

    async def send_many(self, msgs: Iterable[Message]) -> List[SendResult]:
        """Sends every message concurrently; returns their SendResults in the same order.
        The first failure is raised once every send has finished. Messages go to the library
        in groups of up to ``max_in_flight``, one call and one outcome callback per group.
        Cancelled, the sends already handed over are reported one by one as for ``send``."""
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
        release = await self._take_slots(len(group))

        def on_cancelled(outcomes: Any, _exc: Any) -> None:
            for msg, (ok, payload) in zip(group, outcomes or ()):
                self._on_cancelled_send(
                    msg, send_result(payload) if ok else send_async_failed(payload)
                )

        wires = [m._wire() for m in group]

        def start(done: Callable[[bool, Any], None]) -> None:
            try:
                native.send_many_async(wires, done)
            except _rocketmq.ClientError as e:
                raise send_async_failed(str(e)) from None

        return await call_native(
            start, send_async_failed, release=release, on_cancelled=on_cancelled
        )


class _LoopChecker:
    """The check-back callback of an asyncio transactional producer, called by the library on
    one of its threads: runs the user's checker (a coroutine function or a function) on the
    producer's event loop and waits, GIL released, for its answer. Holds the user's callback
    and the loop only (not the producer), so no reference cycle keeps a dropped producer."""

    def __init__(self, checker: Callable[[ReceivedMessage], Any]) -> None:
        self.checker = checker
        self.loop: Optional[asyncio.AbstractEventLoop] = None

    def __call__(self, msg: ReceivedMessage) -> Any:
        loop = self.loop
        if loop is None or loop.is_closed():
            log.warning("transaction check-back of %s: the event loop is gone; UNKNOWN", msg.id)
            return TransactionStatus.UNKNOWN
        checker = self.checker

        async def check() -> Any:  # on the loop, for a plain function too
            return await maybe_await(checker(msg))

        coro = check()
        try:
            fut = asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:  # closed meanwhile
            coro.close()
            return TransactionStatus.UNKNOWN
        return fut.result(timeout=CHECK_BACK_TIMEOUT)


class TransactionMQProducer(Producer):
    """Sends transactional messages from asyncio code: the half message, the local
    transaction (a coroutine function, or a function), then commit or rollback. The broker's
    check-backs of transactions left UNKNOWN call ``checker_callback(msg)`` (a coroutine
    function, or a function) on the event loop that started the producer; it returns a
    ``TransactionStatus``. While that loop does not answer (stopped, closed, or more than
    30 s), the answer is UNKNOWN and the broker checks back later."""

    __module__ = "rocketmq.asyncio"

    def __init__(
        self,
        group_id: StrOrBytes,
        checker_callback: Callable[[ReceivedMessage], Any],
        *,
        namesrv_addr: Optional[StrOrBytes] = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        timeout: Optional[int] = None,
        on_cancelled_send: Optional[CancelledSendCallback] = None,
    ) -> None:
        if not callable(checker_callback):
            raise TypeError("checker_callback must be a coroutine function or a function")
        self._checker = _LoopChecker(checker_callback)
        self._init_producer(
            _ThreadTransactionProducer(group_id, self._checker, timeout=timeout),
            namesrv_addr,
            max_in_flight,
            on_cancelled_send,
        )

    async def start(self) -> None:
        """Starts the producer; check-backs run on the event loop running this call."""
        self._checker.loop = asyncio.get_running_loop()
        await super().start()

    async def send_message_in_transaction(
        self,
        message: Message,
        local_execute: Callable[[ReceivedMessage, Any], Any],
        user_args: Any = None,
    ) -> SendResult:
        """Sends ``message`` as a half message; if the broker stored it (status OK), awaits
        ``local_execute(msg, user_args)`` (a coroutine function, or a function), else the
        outcome is ROLLBACK; then sends the outcome to the broker (one-way) and returns the
        half message's SendResult. An exception or a value other than a TransactionStatus
        gives UNKNOWN (logged): the broker checks back. Cancelled after the half message was
        stored, the transaction is left UNKNOWN for the check-back to decide. A failed
        half-message send raises ProducerSendTransactionFailed."""
        check_message(message)
        if not callable(local_execute):
            raise TypeError("local_execute must be a coroutine function or a function")
        native = self._producer._require(ProducerSendTransactionFailed)
        wire = message._wire()
        result, half_properties = await self._send_in_slot(
            message,
            lambda done: native.send_half_async(*wire, done),
            ProducerSendTransactionFailed,
            report=False,
        )
        half_result = send_result(result)
        if half_result.status == SendStatus.OK:
            view = outgoing_view(message, half_result.msg_id, half_properties)
            status = await _local_transaction_status(local_execute, view, user_args)
        else:
            status = int(TransactionStatus.ROLLBACK)
        try:
            await call_native(
                lambda done: native.end_transaction_async(message.topic, result, status, done),
                _rocketmq.ClientError,
            )
        except _rocketmq.ClientError as e:
            log.warning(
                "cannot end transaction of message %s: %s; the broker will check back",
                half_result.msg_id,
                e,
            )
        return half_result


async def _local_transaction_status(
    local_execute: Callable[[ReceivedMessage, Any], Any], view: ReceivedMessage, user_args: Any
) -> int:
    """Runs the local transaction (awaited when it is a coroutine) and validates its answer
    as the thread API does; cancellation propagates."""
    try:
        outcome = local_execute(view, user_args)
        if inspect.isawaitable(outcome):
            outcome = await outcome
    except Exception:  # noqa: BLE001 - an error of the application's transaction is UNKNOWN
        log.exception("exception in local transaction %r; the state is UNKNOWN", local_execute)
        return int(TransactionStatus.UNKNOWN)
    return transaction_verdict(lambda: outcome, "local transaction %r" % (local_execute,))
