"""The 5.x ``PushConsumer``, ``MessageListener`` and ``ConsumeResult``, as in the official
client: a receive thread takes messages from the queues the server assigns (the native
client waits without the GIL) and consumption threads call the listener.

What must stay true:
- at most ``max_cache_message_count`` messages are received and not yet consumed;
- ``SUCCESS`` acks the message; ``FAILURE`` (or an exception) makes it visible again after
  the server's retry-policy delay for its attempt, and after the last attempt moves it to
  the group's dead-letter queue;
- in a FIFO group (the server says so in its settings) the messages of one message group are
  consumed one after the other, in order; a failure is retried in place, so later messages
  of the group wait;
- ``shutdown`` stops receiving, lets the running listeners finish, and returns (bounded);
- beyond the official client, ``broadcasting=True`` (with ``protocol="remoting"``) gives
  every consumer of the group every message (``rocketmq.v5.remoting.broadcast``); a failed
  consumption is then not retried.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from typing import Callable, Dict, List, Optional

from rocketmq.v5._consumer_base import ConsumerBase
from rocketmq.v5.client import ClientConfiguration
from rocketmq.v5.exception import ClientException, IllegalArgumentException
from rocketmq.v5.model import FilterExpression, Message

__all__ = ["PushConsumer", "MessageListener", "ConsumeResult"]

logger = logging.getLogger("rocketmq.v5")

#: Messages asked for per receive.
RECEIVE_BATCH = 32
#: Long-polling time of the push consumer's receives (seconds).
LONG_POLLING_TIMEOUT = 20
#: Pause after a failed receive before the next one (seconds).
RECEIVE_RETRY_DELAY = 1.0


class ConsumeResult(Enum):
    SUCCESS = 0
    FAILURE = 1


class MessageListener(metaclass=abc.ABCMeta):
    @abc.abstractmethod
    def consume(self, message: Message) -> ConsumeResult:
        """Processes `message`; ``ConsumeResult.SUCCESS`` acks it, ``FAILURE`` retries it."""


class PushConsumer(ConsumerBase):
    """Calls a listener for every message of its subscriptions; see the module header."""

    def __init__(
        self,
        client_configuration: ClientConfiguration,
        consumer_group: str,
        message_listener: MessageListener,
        subscription: Dict[str, FilterExpression],
        max_cache_message_count: int = 1024,
        max_cache_message_size: int = 64 * 1024 * 1024,
        consumption_thread_count: int = 20,
        tls_enable: bool = False,
        broadcasting: bool = False,
    ) -> None:
        if not message_listener:
            raise IllegalArgumentException("message_listener should not be null")
        if not subscription:
            raise IllegalArgumentException("subscription should not be null")
        if consumption_thread_count <= 0:
            raise IllegalArgumentException("consumption_thread_count must be greater than 0")
        super().__init__(
            client_configuration,
            consumer_group,
            subscription,
            LONG_POLLING_TIMEOUT,
            True,
            tls_enable,
            broadcasting=broadcasting,
            consumption_thread_count=consumption_thread_count,
        )
        self.__broadcasting = bool(broadcasting)
        self.__listener = message_listener
        self.__max_cached = max(1, int(max_cache_message_count))
        self.__max_cached_bytes = max(1, int(max_cache_message_size))
        self.__threads = consumption_thread_count
        self.__executor: Optional[ThreadPoolExecutor] = None
        self.__receiver: Optional[threading.Thread] = None
        self.__stopping = threading.Event()
        self.__cache = threading.Condition()
        self.__cached = 0
        self.__cached_bytes = 0

    @property
    def broadcasting(self) -> bool:
        return self.__broadcasting

    def startup(self) -> None:
        if self.__broadcasting:
            self._native.set_consumer(self.__consume_broadcast)
            super().startup()
            return
        super().startup()
        self.__stopping.clear()
        self.__executor = ThreadPoolExecutor(
            max_workers=self.__threads, thread_name_prefix="rocketmq-v5-consume"
        )
        self.__receiver = threading.Thread(
            target=self.__receive_loop, name="rocketmq-v5-receive", daemon=True
        )
        self.__receiver.start()

    def shutdown(self) -> None:
        """Stops receiving, lets the listeners running finish and settle (ack, retry or
        dead-letter) what they hold, then closes the client. Messages received but not yet
        handed to a listener stay unsettled: the server delivers them again."""
        self.__stopping.set()
        with self.__cache:
            self.__cache.notify_all()
        if not self.__broadcasting and self._native.is_running:
            self._native.stop_receiving()
        if self.__executor is not None:
            self.__executor.shutdown(wait=True)
            self.__executor = None
        # Closing ends a receive still in flight (the remoting stand-in's long poll).
        super().shutdown()
        if self.__receiver is not None:
            self.__receiver.join(timeout=LONG_POLLING_TIMEOUT + 10)
            self.__receiver = None

    def __receive_loop(self) -> None:
        while not self.__stopping.is_set():
            with self.__cache:
                while (
                    self.__cached >= self.__max_cached
                    or self.__cached_bytes >= self.__max_cached_bytes
                ) and not self.__stopping.is_set():
                    self.__cache.wait(timeout=1.0)
            if self.__stopping.is_set():
                return
            try:
                batch = min(RECEIVE_BATCH, self.__max_cached - self.__cached)
                messages = self._receive(max(1, batch), None)
            except ClientException as e:
                if self.__stopping.is_set():
                    return
                logger.debug("%s receive failed: %s", self, e)
                self.__stopping.wait(RECEIVE_RETRY_DELAY)
                continue
            if not messages:
                continue
            executor = self.__executor
            if executor is None or self.__stopping.is_set():
                return  # left unsettled: the server delivers them again
            self.__hold(messages)
            units: List[List[Message]]
            consume: Callable[[List[Message]], None]
            if self._native.fifo:
                groups: "OrderedDict[str, List[Message]]" = OrderedDict()
                for m in messages:
                    groups.setdefault(m.message_group or m.message_id or "", []).append(m)
                units, consume = list(groups.values()), self.__consume_in_order
            else:
                units, consume = [[m] for m in messages], self.__consume_alone
            for i, unit in enumerate(units):
                try:
                    executor.submit(consume, unit)
                except RuntimeError:  # shut down meanwhile: left unsettled
                    for rest in units[i:]:
                        for m in rest:
                            self.__release(m)
                    return

    def __hold(self, messages: List[Message]) -> None:
        with self.__cache:
            self.__cached += len(messages)
            self.__cached_bytes += sum(len(m.body or b"") for m in messages)

    def __release(self, message: Message) -> None:
        with self.__cache:
            self.__cached -= 1
            self.__cached_bytes -= len(message.body or b"")
            self.__cache.notify_all()

    def __call_listener(self, message: Message) -> ConsumeResult:
        try:
            result = self.__listener.consume(message)
        except Exception:  # noqa: BLE001 (a listener's error is a failed consumption)
            logger.exception("%s: the listener raised for message %s", self, message.message_id)
            return ConsumeResult.FAILURE
        return result if result == ConsumeResult.SUCCESS else ConsumeResult.FAILURE

    def __consume_broadcast(self, d: dict) -> bool:
        return self.__call_listener(Message._from_native(d)) == ConsumeResult.SUCCESS

    def __consume_alone(self, unit: List[Message]) -> None:
        self.__consume_one(unit[0])

    def __consume_one(self, message: Message) -> None:
        try:
            if self.__stopping.is_set():
                return  # not started before shutdown: the server delivers it again
            if self.__call_listener(message) == ConsumeResult.SUCCESS:
                self.__ack_quietly(message)
            else:
                self.__retry_later(message)
        finally:
            self.__release(message)

    def __consume_in_order(self, messages: List[Message]) -> None:
        max_attempts, delays = self._native.retry_policy()
        for message in messages:
            try:
                if self.__stopping.is_set():
                    continue  # not started before shutdown: delivered again, in order
                attempt = message.delivery_attempt or 1
                while True:
                    if self.__call_listener(message) == ConsumeResult.SUCCESS:
                        self.__ack_quietly(message)
                        break
                    if self.__stopping.is_set():
                        # Not acked: the server delivers it again after its invisible time.
                        break
                    if attempt >= max_attempts:
                        self.__dead_letter(message, attempt, max_attempts)
                        break
                    delay = delays[min(attempt, len(delays)) - 1] if delays else 1.0
                    if self.__stopping.wait(delay):
                        break
                    attempt += 1
            finally:
                self.__release(message)

    def __ack_quietly(self, message: Message) -> None:
        try:
            self._ack(message)
        except ClientException as e:
            logger.warning("%s: ack of %s failed (it comes back): %s", self, message.message_id, e)

    def __retry_later(self, message: Message) -> None:
        max_attempts, delays = self._native.retry_policy()
        attempt = message.delivery_attempt or 1
        try:
            if attempt >= max_attempts:
                self.__dead_letter(message, attempt, max_attempts)
                return
            delay = delays[min(attempt, len(delays)) - 1] if delays else 1.0
            self._change_invisible_duration(message, delay)
        except ClientException as e:
            logger.warning("%s: cannot schedule the retry of %s: %s", self, message.message_id, e)

    def __dead_letter(self, message: Message, attempt: int, max_attempts: int) -> None:
        try:
            self._native.forward_to_dead_letter_queue(
                *self._receipt(message), attempt, max_attempts
            )
        except Exception as e:  # noqa: BLE001 (the message comes back; say why)
            logger.warning(
                "%s: cannot move %s to the dead-letter queue: %s", self, message.message_id, e
            )
