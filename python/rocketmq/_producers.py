"""Producers: ``Producer`` and ``TransactionMQProducer`` (private; public through
``rocketmq.client``).

What must stay true: one producer per group is started in this process at a time (as in
the originals' client instance); every send releases the GIL in the native producer; a
failed send raises the exception class of its kind (sync, oneway, orderly, async,
transaction) with the native error's text.
"""

import logging
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Union

from . import _rocketmq
from ._arguments import StrOrBytes, as_int, as_text
from ._callbacks import call_quietly, transaction_checker, transaction_verdict
from ._lifecycle import ClientLifecycle, keep_alive, release
from ._messages import Message, ReceivedMessage, check_message, outgoing_view
from ._results import SendResult, SendStatus, TransactionStatus, send_result
from .exceptions import (
    ProducerSendAsyncFailed,
    ProducerSendOnewayFailed,
    ProducerSendOrderlyFailed,
    ProducerSendSyncFailed,
    ProducerSendTransactionFailed,
    ProducerStartFailed,
)
from .ffi import _CStatus

log = logging.getLogger("rocketmq")

# Producer settings until a set_* method changes them (those of the originals).
DEFAULT_SEND_TIMEOUT_MS = 3000
DEFAULT_COMPRESS_LEVEL = 5
DEFAULT_COMPRESS_OVER_BYTES = 4096
DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024

# Further attempts of a failed synchronous or asynchronous send, each on another broker when
# the topic has one (the originals' default).
SEND_RETRY_TIMES = 2
# Attempts of an orderly send when the caller gives none, all on the selected queue.
ORDERLY_SEND_ATTEMPTS = 3
# A one-way send is tried once: no answer says whether it arrived.
ONEWAY_SEND_ATTEMPTS = 1


def send_async_failed(text: str) -> ProducerSendAsyncFailed:
    """The exception of a failed asynchronous send, as rocketmq 0.4 reported it."""
    return ProducerSendAsyncFailed(
        text, int(_CStatus.PRODUCER_SEND_ASYNC_FAILED), type="ClientError"
    )


def hashing_queue_selector(mq_size: int, msg: ReceivedMessage, arg: Any) -> int:
    """The default ``send_orderly`` selector: ``int(arg) % mq_size``."""
    return int(arg) % mq_size


# Public through rocketmq.client, as in rocketmq 0.4.
hashing_queue_selector.__module__ = "rocketmq.client"


def java_string_hash(s: str) -> int:
    """Java ``String.hashCode`` over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


class Producer(ClientLifecycle):
    """Sends messages. Thread-safe once started; every send releases the GIL."""

    __module__ = "rocketmq.client"

    _started_groups: Set[str] = set()
    _groups_lock = threading.Lock()

    def __init__(
        self,
        group_id: StrOrBytes,
        orderly: Union[bool, int, None] = False,
        timeout: Optional[int] = None,
        compress_level: Optional[int] = None,
        max_message_size: Optional[int] = None,
    ) -> None:
        """A producer of ``group_id``. The second positional argument is ``orderly`` when a
        bool (rocketmq-client-python 2.0) and ``timeout`` in ms when an int (rocketmq 0.4)."""
        self._init_config(group_id)
        # The second positional argument is `orderly` (A20) when a bool and `timeout`
        # (0.4.x) when an int.
        if isinstance(orderly, int) and not isinstance(orderly, bool):
            if timeout is None:
                timeout = orderly
            orderly = False
        self._orderly = bool(orderly)
        self._timeout = DEFAULT_SEND_TIMEOUT_MS
        self._compress_level = DEFAULT_COMPRESS_LEVEL
        self._compress_over = DEFAULT_COMPRESS_OVER_BYTES
        self._max_message_size = DEFAULT_MAX_MESSAGE_SIZE
        self._native: Optional[_rocketmq.NativeProducer] = None
        if timeout is not None:
            self.set_timeout(timeout)
        if compress_level is not None:
            self.set_compress_level(compress_level)
        if max_message_size is not None:
            self.set_max_message_size(max_message_size)

    def set_timeout(self, timeout: int) -> None:
        """Send timeout in milliseconds (default 3000)."""
        timeout = as_int(timeout, "timeout")
        if timeout <= 0:
            raise ValueError("timeout must be a positive number of milliseconds")
        self._timeout = timeout

    def set_compress_level(self, level: int) -> None:
        """zlib level -1..9 for bodies over 4 KiB (default 5)."""
        level = as_int(level, "compress_level")
        if not -1 <= level <= 9:
            raise ValueError("compress_level must be between -1 and 9")
        self._compress_level = level

    def set_compress_msg_body_over_howmuch(self, size: int) -> None:
        """Bodies larger than ``size`` bytes are compressed (default 4096)."""
        self._compress_over = as_int(size, "size")

    def set_max_message_size(self, size: int) -> None:
        """Largest body accepted, in bytes (default 4 MiB, as the broker)."""
        size = as_int(size, "max_message_size")
        if size <= 0:
            raise ValueError("max_message_size must be positive")
        self._max_message_size = size

    def start(self) -> None:
        """Starts the producer; raises ProducerStartFailed for a blank group or a group
        already started in this process. Does not contact the name server."""
        if self._native is not None:
            return
        if not self._group.strip():
            raise ProducerStartFailed(
                "the specified group is blank: pass a group name, e.g. Producer('my-producers')"
            )
        with Producer._groups_lock:
            if self._group in Producer._started_groups:
                raise ProducerStartFailed(
                    "The producer group[%s] has been created before, specify another name "
                    "please." % self._group
                )
            Producer._started_groups.add(self._group)
        try:
            self._native = _rocketmq.NativeProducer(
                timeout_ms=self._timeout,
                retry_times=SEND_RETRY_TIMES,
                compress_level=self._compress_level,
                compress_over=self._compress_over,
                max_message_size=self._max_message_size,
                **self._native_client_options(),
                **self._native_producer_options(),
            )
        except Exception as e:
            with Producer._groups_lock:
                Producer._started_groups.discard(self._group)
            raise ProducerStartFailed(str(e)) from e
        keep_alive(self)

    def _native_producer_options(self) -> Dict[str, Any]:
        """Extra keyword arguments of the native producer (the transaction checker)."""
        return {}

    def shutdown(self) -> None:
        """Waits for pending ``send_async`` callbacks (bounded by the send timeout), then
        unregisters the group from the brokers and closes the producer's connections.
        Idempotent; fine before start()."""
        native, self._native = self._native, None
        if native is None:
            return
        if not native.shutdown():
            log.warning("producer %s shut down with send_async callbacks pending", self._group)
        with Producer._groups_lock:
            Producer._started_groups.discard(self._group)
        release(self)

    # In the class's own namespace: the originals' test suites `del PushConsumer.__del__`.
    __del__ = ClientLifecycle._shut_down_quietly

    def _require(self, exc: Callable[[str], Exception]) -> "_rocketmq.NativeProducer":
        if self._native is None:
            raise exc("producer not started (call start() first)")
        return self._native

    def send_sync(self, msg: Message) -> SendResult:
        """Sends and waits for the broker; raises ProducerSendSyncFailed on failure."""
        check_message(msg)
        native = self._require(ProducerSendSyncFailed)
        try:
            return send_result(native.send(*msg._wire()))
        except _rocketmq.ClientError as e:
            raise ProducerSendSyncFailed(str(e)) from None

    def send_oneway(self, msg: Message) -> None:
        """Sends without waiting for an answer."""
        check_message(msg)
        native = self._require(ProducerSendOnewayFailed)
        try:
            native.send_oneway(*msg._wire())
        except _rocketmq.ClientError as e:
            raise ProducerSendOnewayFailed(str(e)) from None

    def _select(self, msg: Message, arg: Any, queue_selector: Any, exc: Any) -> int:
        native = self._require(exc)
        try:
            n = native.queue_count(msg.topic)
        except _rocketmq.ClientError as e:
            raise exc(str(e)) from None
        view = outgoing_view(msg)
        try:
            index = queue_selector(n, view, arg)
        except Exception as e:  # noqa: BLE001 - a selector error fails the send
            raise exc("the queue selector raised %r" % e) from e
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise exc("the queue selector returned %r; expected an int in 0..%d" % (index, n - 1))
        return index

    def send_orderly(
        self,
        msg: Message,
        arg: Any,
        retry_times: int = ORDERLY_SEND_ATTEMPTS,
        queue_selector: Callable[[int, ReceivedMessage, Any], int] = hashing_queue_selector,
    ) -> SendResult:
        """Sends to the queue ``queue_selector(queue_count, msg, arg)`` picks, retrying on
        that queue only; raises ProducerSendOrderlyFailed on failure."""
        check_message(msg)
        index = self._select(msg, arg, queue_selector, ProducerSendOrderlyFailed)
        try:
            return send_result(
                self._require(ProducerSendOrderlyFailed).send_to_queue(
                    *msg._wire(), index=index, attempts=max(1, int(retry_times))
                )
            )
        except _rocketmq.ClientError as e:
            raise ProducerSendOrderlyFailed(str(e)) from None

    def send_oneway_orderly(
        self,
        msg: Message,
        arg: Any,
        queue_selector: Callable[[int, ReceivedMessage, Any], int] = hashing_queue_selector,
    ) -> None:
        """Like send_orderly() but one-way: no answer, no retry."""
        check_message(msg)
        index = self._select(msg, arg, queue_selector, ProducerSendOnewayFailed)
        try:
            self._require(ProducerSendOnewayFailed).send_to_queue(
                *msg._wire(), index=index, attempts=ONEWAY_SEND_ATTEMPTS
            )
        except _rocketmq.ClientError as e:
            raise ProducerSendOnewayFailed(str(e)) from None

    def send_orderly_with_sharding_key(self, msg: Message, sharding_key: StrOrBytes) -> SendResult:
        """Messages with the same key go to the same queue (Java ``String.hashCode``)."""
        key = as_text(sharding_key, "sharding_key")

        def by_key(n: int, _msg: ReceivedMessage, _arg: Any) -> int:
            return abs(java_string_hash(key)) % n

        return self.send_orderly(
            msg, None, retry_times=ORDERLY_SEND_ATTEMPTS, queue_selector=by_key
        )

    def send_batch(self, msgs: List[Message]) -> SendResult:
        """Sends messages of one topic as one batch; ``msg_id`` joins the ids with commas."""
        assert msgs, "msgs must not be empty"
        for m in msgs:
            assert isinstance(m, Message), "every item of msgs must be a Message"
        native = self._require(ProducerSendSyncFailed)
        try:
            return send_result(native.send_batch([m._wire() for m in msgs]))
        except _rocketmq.ClientError as e:
            raise ProducerSendSyncFailed(str(e)) from None

    def send_async(
        self,
        msg: Message,
        success_callback: Optional[Callable[[SendResult], Any]],
        exception_callback: Optional[Callable[[Exception], Any]],
    ) -> None:
        """Starts the send and returns at once. Later, on the library's send-callback thread,
        ``success_callback(SendResult)`` or ``exception_callback(ProducerSendAsyncFailed)``
        is called once. A callback's exception is logged (logger ``rocketmq``) and ignored.
        ``shutdown()`` waits for pending callbacks."""
        check_message(msg)
        native = self._require(ProducerSendAsyncFailed)

        def done(ok: bool, payload: Any) -> None:
            if ok:
                if success_callback is not None:
                    call_quietly(success_callback, send_result(payload))
                return
            exc = send_async_failed(payload)
            if exception_callback is None:
                log.error("send_async failed: %s", exc)
            else:
                call_quietly(exception_callback, exc)

        try:
            native.send_async(*msg._wire(), done)
        except _rocketmq.ClientError as e:
            raise send_async_failed(str(e)) from None


class TransactionMQProducer(Producer):
    """Sends transactional messages: a half message, the local transaction, then commit or
    rollback. The broker checks back on half messages left UNKNOWN; ``checker_callback`` then
    decides, on a library thread."""

    __module__ = "rocketmq.client"

    def __init__(
        self,
        group_id: StrOrBytes,
        checker_callback: Callable[[ReceivedMessage], Any],
        user_args: Any = None,
        timeout: Optional[int] = None,
        compress_level: Optional[int] = None,
        max_message_size: Optional[int] = None,
    ) -> None:
        """``checker_callback(msg: ReceivedMessage) -> TransactionStatus`` answers the
        broker's check-backs. ``user_args`` is accepted and ignored, as in the original."""
        if not callable(checker_callback):
            raise TypeError("checker_callback must be callable")
        super().__init__(
            group_id,
            orderly=False,
            timeout=timeout,
            compress_level=compress_level,
            max_message_size=max_message_size,
        )
        self._checker_callback = checker_callback
        self._user_args = user_args

    def _native_producer_options(self) -> Dict[str, Any]:
        return {"checker": transaction_checker(self._checker_callback)}

    def send_message_in_transaction(
        self,
        message: Message,
        local_execute: Callable[[ReceivedMessage, Any], Any],
        user_args: Any = None,
    ) -> SendResult:
        """Sends ``message`` as a half message; if the broker stored it (status OK), calls
        ``local_execute(msg, user_args)`` on this thread, else the outcome is ROLLBACK; then
        sends the outcome to the broker (one-way) and returns the half message's
        SendResult. ``msg`` describes the outgoing message (with its id). An exception or a
        value other than a TransactionStatus gives UNKNOWN (logged). A failed half-message
        send raises ProducerSendTransactionFailed."""
        check_message(message)
        if not callable(local_execute):
            raise TypeError("local_execute must be callable")
        native = self._require(ProducerSendTransactionFailed)
        try:
            result, half_properties = native.send_half(*message._wire())
        except _rocketmq.ClientError as e:
            raise ProducerSendTransactionFailed(str(e)) from None
        half_result = send_result(result)
        if half_result.status == SendStatus.OK:
            view = outgoing_view(message, half_result.msg_id, half_properties)
            status = transaction_verdict(local_execute, "local transaction", view, user_args)
        else:
            status = int(TransactionStatus.ROLLBACK)
        try:
            native.end_transaction(message.topic, result, status)
        except _rocketmq.ClientError as e:
            log.warning(
                "cannot end transaction of message %s: %s; the broker will check back",
                half_result.msg_id,
                e,
            )
        return half_result
