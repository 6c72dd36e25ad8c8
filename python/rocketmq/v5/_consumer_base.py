"""What the 5.x ``SimpleConsumer`` and ``PushConsumer`` share: the native consumer
(``rocketmq._rocketmq.GrpcConsumer``, or with ``protocol="remoting"``
``rocketmq.v5.remoting.consumer.RemotingConsumer``), subscriptions, ack and
invisible-duration changes, start and shutdown.

What must stay true: the consumer group and topics are checked as the official client checks
them; every call on a running consumer goes to the native client with the GIL released;
native errors become the official exceptions.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import Future
from typing import Any, Callable, Dict, List, Optional

from rocketmq.v5.client import REMOTING, ClientConfiguration
from rocketmq.v5.exception import (
    IllegalArgumentException,
    IllegalStateException,
    from_native,
    raise_native,
)
from rocketmq.v5.model import FilterExpression, Message

logger = logging.getLogger("rocketmq.v5")

GROUP_PATTERN = re.compile(r"^[%a-zA-Z0-9_-]+$")


def native_module():
    from rocketmq import _rocketmq

    return _rocketmq


def future_setter(
    future: "Future[Any]", convert: Callable[[Any], Any]
) -> Callable[[bool, Any], None]:
    """A native callback `(ok, payload)` that completes `future`."""

    def done(ok: bool, payload: Any) -> None:
        if ok:
            future.set_result(convert(payload))
        else:
            future.set_exception(from_native(payload))

    return done


class ConsumerBase:
    def __init__(
        self,
        client_configuration: ClientConfiguration,
        consumer_group: str,
        subscription: Optional[Dict[str, FilterExpression]],
        long_polling_timeout: float,
        push: bool,
        tls_enable: bool,
        broadcasting: bool = False,
        consumption_thread_count: int = 1,
    ) -> None:
        if client_configuration is None:
            raise IllegalArgumentException("clientConfiguration should not be null.")
        if consumer_group is None or consumer_group.strip() == "":
            raise IllegalArgumentException("consumerGroup should not be null")
        if not GROUP_PATTERN.match(consumer_group):
            raise IllegalArgumentException(
                f"consumerGroup does not match the regex [regex={GROUP_PATTERN.pattern}]"
            )
        self._configuration = client_configuration
        self._consumer_group = consumer_group
        self._subscriptions: Dict[str, FilterExpression] = dict(subscription or {})
        subs = [
            (topic, int(f.filter_type), f.expression)
            for topic, f in (
                (t, e if e is not None else FilterExpression())
                for t, e in self._subscriptions.items()
            )
        ]
        native = native_module()
        try:
            if broadcasting:
                self._native = self._open_broadcasting(
                    client_configuration, consumer_group, subs, consumption_thread_count, tls_enable
                )
            else:
                self._native = self._open_native(
                    client_configuration,
                    consumer_group,
                    subs,
                    long_polling_timeout,
                    push,
                    tls_enable,
                )
        except native.GrpcClientError as e:
            raise_native(e)

    @staticmethod
    def _open_native(
        configuration: ClientConfiguration,
        group: str,
        subs: List[tuple],
        long_polling_timeout: float,
        push: bool,
        tls_enable: bool,
    ) -> Any:
        """The native consumer of `configuration`'s protocol."""
        if configuration.protocol == REMOTING:
            from rocketmq.v5.remoting.consumer import RemotingConsumer

            name_servers, ak, sk, timeout = configuration._remoting_args(tls_enable)
            return RemotingConsumer(
                name_servers,
                ak,
                sk,
                group,
                subs,
                float(long_polling_timeout),
                timeout,
                configuration.namespace,
            )
        return native_module().GrpcConsumer(
            *configuration._native_args(tls_enable),
            group,
            subs,
            float(long_polling_timeout),
            push,
        )

    @staticmethod
    def _open_broadcasting(
        configuration: ClientConfiguration,
        group: str,
        subs: List[tuple],
        thread_count: int,
        tls_enable: bool,
    ) -> Any:
        if configuration.protocol != REMOTING:
            raise IllegalArgumentException(
                "broadcasting needs protocol='remoting' (the cluster's name servers): 5.x "
                "endpoints (gRPC) consume in clustering mode only"
            )
        from rocketmq.v5.remoting.broadcast import BroadcastConsumer

        name_servers, ak, sk, timeout = configuration._remoting_args(tls_enable)
        return BroadcastConsumer(
            name_servers, ak, sk, group, subs, timeout, thread_count, configuration.namespace
        )

    def __enter__(self):
        self.startup()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __str__(self) -> str:
        return f"{type(self).__name__}:{self._consumer_group}, client_id:{self.client_id}"

    @property
    def client_id(self) -> str:
        return self._native.client_id

    @property
    def is_running(self) -> bool:
        return self._native.is_running

    @property
    def consumer_group(self) -> str:
        return self._consumer_group

    @property
    def client_configuration(self) -> ClientConfiguration:
        return self._configuration

    def startup(self) -> None:
        try:
            self._native.start()
        except native_module().GrpcClientError as e:
            raise_native(e)
        logger.info("%s start success.", self)

    def shutdown(self) -> None:
        if not self._native.is_running:
            return
        self._native.shutdown()
        logger.info("shutdown %s success.", self)

    def subscribe(self, topic: str, filter_expression: Optional[FilterExpression] = None) -> None:
        if not self.is_running:
            raise IllegalStateException(
                "unable to add subscription because consumer is not running"
            )
        expression = filter_expression if filter_expression is not None else FilterExpression()
        try:
            self._native.subscribe(topic, int(expression.filter_type), expression.expression)
        except native_module().GrpcClientError as e:
            raise_native(e)
        self._subscriptions[topic] = expression

    def unsubscribe(self, topic: str) -> None:
        if not self.is_running:
            raise IllegalStateException(
                "unable to remove subscription because consumer is not running"
            )
        try:
            self._native.unsubscribe(topic)
        except native_module().GrpcClientError as e:
            raise_native(e)
        self._subscriptions.pop(topic, None)

    def _receive(self, max_message_num: int, invisible_duration: Optional[float]) -> List[Message]:
        try:
            found = self._native.receive(max_message_num, invisible_duration)
        except native_module().GrpcClientError as e:
            raise_native(e)
        return [Message._from_native(d) for d in found]

    @staticmethod
    def _receipt(message: Message) -> tuple:
        if message is None or not message.receipt_handle:
            raise IllegalArgumentException(
                "the message has no receipt handle: pass a message this consumer received"
            )
        return (message.topic, message.message_id, message.receipt_handle, message.endpoints)

    def _ack(self, message: Message) -> None:
        if not self.is_running:
            raise IllegalStateException("unable to ack message because consumer is not running")
        try:
            self._native.ack(*self._receipt(message))
        except native_module().GrpcClientError as e:
            raise_native(e)

    def _ack_async(self, message: Message) -> "Future[None]":
        if not self.is_running:
            raise IllegalStateException("unable to ack message because consumer is not running")
        future: "Future[None]" = Future()
        future.set_running_or_notify_cancel()
        self._native.ack_async(*self._receipt(message), future_setter(future, lambda _: None))
        return future

    def _change_invisible_duration(self, message: Message, invisible_duration: float) -> None:
        if not self.is_running:
            raise IllegalStateException(
                "unable to change invisible duration because consumer is not running"
            )
        try:
            handle = self._native.change_invisible_duration(
                *self._receipt(message), float(invisible_duration)
            )
        except native_module().GrpcClientError as e:
            raise_native(e)
        message.receipt_handle = handle

    def _change_invisible_duration_async(
        self, message: Message, invisible_duration: float
    ) -> "Future[None]":
        if not self.is_running:
            raise IllegalStateException(
                "unable to change invisible duration because consumer is not running"
            )
        future: "Future[None]" = Future()
        future.set_running_or_notify_cancel()

        def new_handle(handle: str) -> None:
            message.receipt_handle = handle

        self._native.change_invisible_duration_async(
            *self._receipt(message), float(invisible_duration), future_setter(future, new_handle)
        )
        return future
