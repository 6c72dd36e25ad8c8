"""The 5.x ``Producer``, ``Transaction`` and ``TransactionChecker``, as in the official client
(``rocketmq.v5.producer``), over the native gRPC producer (``rocketmq._rocketmq.GrpcProducer``),
or with ``protocol="remoting"`` over the native remoting producer
(``rocketmq.v5.remoting.producer``).

What must stay true:
- ``Producer(client_configuration, topics=None, checker=None, tls_enable=False)``;
  ``startup``/``shutdown`` (also ``with Producer(...) as p``), ``send(message,
  transaction=None)``, ``send_async(message)`` returning a ``concurrent.futures.Future``,
  ``begin_transaction()``; every blocking call runs without the GIL (native);
- the checker's ``check(message)`` runs on a native thread that takes the GIL for it; its
  ``TransactionResolution`` (``COMMIT``/``ROLLBACK``; anything else: ask again later) goes
  back to the server as ``EndTransaction`` with source ``SOURCE_SERVER_CHECK``;
- errors are the official exception classes (``rocketmq.v5.exception``).
"""

from __future__ import annotations

import abc
import logging
import threading
import weakref
from concurrent.futures import Future
from typing import Any, Dict, Iterable, Optional

from rocketmq.grpc_protocol import TransactionResolution
from rocketmq.v5.client import REMOTING, ClientConfiguration
from rocketmq.v5.exception import (
    IllegalArgumentException,
    IllegalStateException,
    from_native,
    raise_native,
)
from rocketmq.v5.model import Message, SendReceipt, delivery_timestamp_ms

__all__ = ["Producer", "Transaction", "TransactionChecker"]

logger = logging.getLogger("rocketmq.v5")


def _native():
    from rocketmq import _rocketmq

    return _rocketmq


class TransactionChecker(metaclass=abc.ABCMeta):
    """Decides the fate of a half message whose producer did not end its transaction."""

    @abc.abstractmethod
    def check(self, message: Message) -> TransactionResolution:
        """``TransactionResolution.COMMIT`` or ``ROLLBACK`` (anything else: check later)."""


class Transaction:
    """One half message and its receipt, ended by ``commit()`` or ``rollback()``."""

    def __init__(self, producer: "Producer") -> None:
        self.__lock = threading.Lock()
        self.__message: Optional[Message] = None
        self.__send_receipt: Optional[SendReceipt] = None
        self.__producer = producer

    def add_half_message(self, message: Message) -> None:
        with self.__lock:
            if message is None:
                raise IllegalArgumentException("add half message error, message is none.")
            if self.__message is not None:
                raise IllegalArgumentException(
                    f"message already existed in transaction, topic:{message.topic}"
                )
            self.__message = message

    def add_send_receipt(self, send_receipt: SendReceipt) -> None:
        with self.__lock:
            if self.__message is None:
                raise IllegalArgumentException("add send receipt error, no message in transaction.")
            if send_receipt is None:
                raise IllegalArgumentException("add send receipt error, send receipt in none.")
            if self.__message.message_id != send_receipt.message_id:
                raise IllegalArgumentException("can't add another send receipt to a half message.")
            self.__send_receipt = send_receipt

    def commit(self) -> None:
        """Makes the half message visible to consumers."""
        self.__end(True)

    def rollback(self) -> None:
        """Discards the half message."""
        self.__end(False)

    def __end(self, commit: bool) -> None:
        if self.__message is None:
            raise IllegalArgumentException("no message in transaction.")
        receipt = self.__send_receipt
        if receipt is None or not receipt.transaction_id:
            raise IllegalArgumentException(
                "no transaction_id in transaction, must send half message at first."
            )
        self.__producer._end_transaction(receipt, commit)

    @property
    def message_id(self) -> Optional[str]:
        return self.__message.message_id if self.__message is not None else None


class Producer:
    """Sends messages to a RocketMQ 5 endpoint over gRPC."""

    def __init__(
        self,
        client_configuration: ClientConfiguration,
        topics: Optional[Iterable[str]] = None,
        checker: Optional[TransactionChecker] = None,
        tls_enable: bool = False,
    ) -> None:
        if client_configuration is None:
            raise IllegalArgumentException("clientConfiguration should not be null.")
        self.__configuration = client_configuration
        self.__checker = checker
        self.__topics = list(topics) if topics else []
        # The native producer holds the checker callback; through a weak reference, so that
        # a Producer nobody references any more is collected (and its native half shut down).
        this = weakref.ref(self)

        def check(d: Dict[str, Any]) -> Optional[bool]:
            producer = this()
            return producer.__check(d) if producer is not None else None

        self.__native: Any
        try:
            if client_configuration.protocol == REMOTING:
                from rocketmq.v5.remoting.producer import RemotingProducer

                name_servers, ak, sk, timeout = client_configuration._remoting_args(tls_enable)
                self.__native = RemotingProducer(
                    name_servers,
                    ak,
                    sk,
                    timeout,
                    self.__topics,
                    check if checker is not None else None,
                    client_configuration.namespace,
                )
            else:
                self.__native = _native().GrpcProducer(
                    *client_configuration._native_args(tls_enable),
                    self.__topics,
                    check if checker is not None else None,
                )
        except _native().GrpcClientError as e:
            raise_native(e)

    def __str__(self) -> str:
        return f"PRODUCER client_id:{self.client_id}"

    def __enter__(self) -> "Producer":
        self.startup()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    @property
    def client_id(self) -> str:
        return self.__native.client_id

    @property
    def is_running(self) -> bool:
        return self.__native.is_running

    @property
    def client_configuration(self) -> ClientConfiguration:
        return self.__configuration

    def startup(self) -> None:
        """Fetches the topics' routes and the server's settings; raises when it cannot."""
        try:
            self.__native.start()
        except _native().GrpcClientError as e:
            raise_native(e)
        logger.info("%s start success.", self)

    def shutdown(self) -> None:
        """Tells the server the client is leaving and stops its work. Idempotent."""
        if not self.__native.is_running:
            return
        self.__native.shutdown()
        logger.info("shutdown %s success.", self)

    @staticmethod
    def __message_args(message: Message) -> tuple:
        if message is None:
            raise IllegalArgumentException("message should not be None.")
        if not message.topic:
            raise IllegalArgumentException("topic has not been set yet.")
        if not message.body:
            raise IllegalArgumentException("message body is none.")
        return (
            message.topic,
            message.body,
            message.tag,
            sorted(message.keys),
            dict(message.properties),
            message.message_group,
            delivery_timestamp_ms(message.delivery_timestamp),
            message.priority,
        )

    def send(self, message: Message, transaction: Optional[Transaction] = None) -> SendReceipt:
        """Sends `message` (a half message of `transaction` when given) and waits."""
        if not self.is_running:
            raise IllegalStateException("producer is not running now; call startup() first.")
        args = self.__message_args(message)
        if transaction is not None:
            transaction.add_half_message(message)
        try:
            receipt = SendReceipt._from_native(self.__native.send(*args, transaction is not None))
        except _native().GrpcClientError as e:
            raise_native(e)
        message.message_id = receipt.message_id
        if transaction is not None:
            transaction.add_send_receipt(receipt)
        return receipt

    def send_async(self, message: Message) -> "Future[SendReceipt]":
        """Starts sending `message`; the future gets the ``SendReceipt`` or the exception."""
        if not self.is_running:
            raise IllegalStateException("producer is not running now; call startup() first.")
        args = self.__message_args(message)
        future: "Future[SendReceipt]" = Future()
        future.set_running_or_notify_cancel()

        def done(ok: bool, payload: Any) -> None:
            if ok:
                receipt = SendReceipt._from_native(payload)
                message.message_id = receipt.message_id
                future.set_result(receipt)
            else:
                future.set_exception(from_native(payload))

        self.__native.send_async(*args, done)
        return future

    def recall_message(self, topic: str, recall_handle: str) -> str:
        """Cancels a delay message not delivered yet (``receipt.recall_handle``); returns its
        message id."""
        if not self.is_running:
            raise IllegalStateException("producer is not running now; call startup() first.")
        try:
            return self.__native.recall(topic, recall_handle or "")
        except _native().GrpcClientError as e:
            raise_native(e)

    def recall_message_async(self, topic: str, recall_handle: str) -> "Future[str]":
        """``recall_message`` on a helper thread; the future gets the message id."""
        future: "Future[str]" = Future()
        future.set_running_or_notify_cancel()

        def run() -> None:
            try:
                future.set_result(self.recall_message(topic, recall_handle))
            except BaseException as e:  # noqa: BLE001 (handed to the future)
                future.set_exception(e)

        threading.Thread(target=run, name="rocketmq-recall", daemon=True).start()
        return future

    def begin_transaction(self) -> Transaction:
        """A new transaction; the producer needs a checker (``Producer(checker=...)``)."""
        if not self.is_running:
            raise IllegalStateException(
                "unable to begin transaction because producer is not running; call startup() first"
            )
        if self.__checker is None:
            raise IllegalArgumentException("Transaction checker should not be null.")
        return Transaction(self)

    def _end_transaction(self, receipt: SendReceipt, commit: bool) -> None:
        queue = receipt.message_queue
        try:
            self.__native.end_transaction(
                queue.endpoints, queue.topic, receipt.message_id, receipt.transaction_id, commit
            )
        except _native().GrpcClientError as e:
            raise_native(e)

    def __check(self, d: Dict[str, Any]) -> Optional[bool]:
        checker = self.__checker
        if checker is None:
            return None
        resolution = checker.check(Message._from_native(d))
        if resolution == TransactionResolution.COMMIT:
            return True
        if resolution == TransactionResolution.ROLLBACK:
            return False
        return None
