"""The 5.x ``SimpleConsumer``, as in the official client: the application receives
(``receive(max_message_num, invisible_duration)``, long polling up to ``await_duration``
seconds), then acks or changes the invisible duration of each message.

What must stay true: ``SimpleConsumer(client_configuration, consumer_group, subscription=None,
await_duration=20, tls_enable=False)``; durations are seconds; ``receive`` returns a list
(empty when nothing came within ``await_duration``); the ``*_async`` methods return
``concurrent.futures.Future``.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Dict, List, Optional

from rocketmq.v5._consumer_base import ConsumerBase
from rocketmq.v5.client import ClientConfiguration
from rocketmq.v5.exception import IllegalArgumentException, IllegalStateException
from rocketmq.v5.model import FilterExpression, Message

__all__ = ["SimpleConsumer"]


class SimpleConsumer(ConsumerBase):
    """Receives on demand; see the module header."""

    def __init__(
        self,
        client_configuration: ClientConfiguration,
        consumer_group: str,
        subscription: Optional[Dict[str, FilterExpression]] = None,
        await_duration: float = 20,
        tls_enable: bool = False,
    ) -> None:
        if await_duration is None:
            raise IllegalArgumentException("awaitDuration should not be null")
        super().__init__(
            client_configuration, consumer_group, subscription, await_duration, False, tls_enable
        )
        self.__await_duration = await_duration

    @property
    def await_duration(self) -> float:
        return self.__await_duration

    def receive(self, max_message_num: int, invisible_duration: float) -> List[Message]:
        """Up to `max_message_num` messages, invisible to the group for `invisible_duration`
        seconds unless acked."""
        if not self.is_running:
            raise IllegalStateException("consumer is not running now; call startup() first.")
        if not self._subscriptions:
            raise IllegalArgumentException("There is no topic to receive message")
        if max_message_num <= 0:
            raise IllegalArgumentException("max_message_num must be greater than 0")
        return self._receive(max_message_num, float(invisible_duration))

    def receive_async(
        self, max_message_num: int, invisible_duration: float
    ) -> "Future[List[Message]]":
        """``receive`` on a helper thread; the future gets the list or the exception."""
        import threading

        future: "Future[List[Message]]" = Future()
        future.set_running_or_notify_cancel()

        def run() -> None:
            try:
                future.set_result(self.receive(max_message_num, invisible_duration))
            except BaseException as e:  # noqa: BLE001 (handed to the future)
                future.set_exception(e)

        threading.Thread(target=run, name="rocketmq-receive-async", daemon=True).start()
        return future

    def ack(self, message: Message) -> None:
        """Marks `message` consumed; the group never gets it again."""
        self._ack(message)

    def ack_async(self, message: Message) -> "Future[None]":
        return self._ack_async(message)

    def change_invisible_duration(self, message: Message, invisible_duration: float) -> None:
        """Keeps `message` invisible for `invisible_duration` seconds from now (its receipt
        handle is updated; ack with the same message object)."""
        self._change_invisible_duration(message, invisible_duration)

    def change_invisible_duration_async(
        self, message: Message, invisible_duration: float
    ) -> "Future[None]":
        return self._change_invisible_duration_async(message, invisible_duration)
