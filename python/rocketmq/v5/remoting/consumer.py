"""``RemotingConsumer``: what ``rocketmq.v5.SimpleConsumer`` and a clustering
``PushConsumer`` receive through when their configuration says ``protocol="remoting"``: one
native POP consumer (``PopConsumer``) per subscribed topic, with the methods of the native
gRPC consumer.

What must stay true:
- the group's config on the brokers decides what the gRPC settings would: FIFO when it says
  ``consumeMessageOrderly`` (orderly POP), at most ``retryMaxTimes + 1`` delivery attempts
  (then the broker moves the message to ``%DLQ%<group>``);
- ``receive`` asks every subscribed topic once without waiting, then long-polls one of them
  (in turn) for the consumer's await duration; with one topic it only long-polls;
- a push consumer's messages (received without an invisible duration) stay invisible while
  its listener runs: ``PUSH_INVISIBLE_S`` at a time, renewed at half of it until settled
  (``renewal``), and every settle uses the newest receipt handle;
- ``forward_to_dead_letter_queue`` makes the message visible again at once: the broker's own
  rule moves a message past the group's maximum to the dead-letter queue;
- with a namespace, the group and the topics go to the brokers wrapped (``names``); received
  messages, and the topics every method takes, are the application's names.
"""

from __future__ import annotations

import itertools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Tuple

from rocketmq.grpc_protocol import FilterType
from rocketmq.v5.remoting.errors import from_remoting, grpc_error, native_errors
from rocketmq.v5.remoting.messages import received_dict
from rocketmq.v5.remoting.names import wrap
from rocketmq.v5.remoting.natives import native, new_client_id
from rocketmq.v5.remoting.renewal import HandleRenewal

#: How long a push consumer's message is made invisible at a time while its listener runs
#: (seconds); renewed at half of it.
PUSH_INVISIBLE_S = 60.0
#: Retry delays of a failed consumption, by attempt (seconds): the proxy's default backoff.
RETRY_DELAYS_S = [
    1,
    5,
    10,
    30,
    60,
    120,
    180,
    240,
    300,
    360,
    420,
    480,
    540,
    600,
    1200,
    1800,
    3600,
    7200,
]
#: The smallest invisible duration the native consumer takes (what "visible again" means).
VISIBLE_AGAIN_MS = 1000

_async_calls: Optional[ThreadPoolExecutor] = None
_async_lock = threading.Lock()


def _run_async(call: Callable[[], Any], callback: Callable[[bool, Any], None]) -> None:
    """Runs `call` on a shared helper thread; `callback(True, result)` or `(False, error)`."""
    global _async_calls
    with _async_lock:
        if _async_calls is None:
            _async_calls = ThreadPoolExecutor(
                max_workers=4, thread_name_prefix="rocketmq-v5-remoting"
            )
        pool = _async_calls

    def run() -> None:
        try:
            result = call()
        except BaseException as e:  # noqa: BLE001 (handed to the callback)
            callback(False, e)
            return
        callback(True, result)

    pool.submit(run)


def _expression_type(filter_type: int) -> str:
    return "SQL92" if int(filter_type) == int(FilterType.SQL) else "TAG"


class RemotingConsumer:
    """Stands in for ``GrpcConsumer`` (see the module header)."""

    def __init__(
        self,
        name_servers: str,
        access_key: str,
        secret_key: str,
        group: str,
        subscriptions: List[Tuple[str, int, str]],
        long_polling_timeout: float,
        request_timeout: float,
        namespace: str = "",
    ) -> None:
        self.__name_servers = name_servers
        self.__credentials = (access_key, secret_key, "") if access_key else None
        self.__namespace = namespace
        self.__group = wrap(namespace, group)
        self.__await_ms = max(0, int(float(long_polling_timeout) * 1000))
        self.__timeout_ms = max(1, int(request_timeout * 1000)) + self.__await_ms
        self.__client_id = new_client_id("remoting")
        self.__subscriptions = {topic: (int(t), e) for topic, t, e in subscriptions}
        self.__pops: Dict[str, Any] = {}
        self.__lock = threading.Lock()
        self.__turn = itertools.count()
        self.__running = False
        self.__receiving = False
        self.__fifo = False
        self.__max_attempts = 17
        self.__renewal = HandleRenewal(self.__renew, PUSH_INVISIBLE_S)

    @property
    def client_id(self) -> str:
        return self.__client_id

    @property
    def is_running(self) -> bool:
        return self.__running

    @property
    def fifo(self) -> bool:
        return self.__fifo

    def retry_policy(self) -> Tuple[int, List[float]]:
        return self.__max_attempts, [float(d) for d in RETRY_DELAYS_S]

    def __read_group_config(self) -> None:
        admin = native().NativeAdmin(
            name_servers_list=self.__name_servers,
            timeout_ms=self.__timeout_ms,
            credentials=self.__credentials,
        )
        try:
            text = admin.subscription_group(self.__group)
        finally:
            admin.shutdown()
        config = json.loads(text) if text else {}
        self.__fifo = bool(config.get("consumeMessageOrderly", False))
        self.__max_attempts = int(config.get("retryMaxTimes", 16)) + 1

    def __open(self, topic: str, filter_type: int, expression: str) -> Any:
        pop = native().PopConsumer(
            self.__group,
            wrap(self.__namespace, topic),
            name_servers_list=self.__name_servers,
            expression=expression or "*",
            expression_type=_expression_type(filter_type),
            order=self.__fifo,
            instance_name=f"{self.__client_id}-{topic}",
            timeout_ms=self.__timeout_ms,
            credentials=self.__credentials,
        )
        try:
            pop.start()
        except BaseException:
            pop.shutdown()
            raise
        return pop

    def start(self) -> None:
        self.__renewal = HandleRenewal(self.__renew, PUSH_INVISIBLE_S)
        try:
            self.__read_group_config()
            for topic, (filter_type, expression) in self.__subscriptions.items():
                with self.__lock:
                    if topic in self.__pops:
                        continue
                pop = self.__open(topic, filter_type, expression)
                with self.__lock:
                    self.__pops[topic] = pop
        except native_errors() as e:
            self.shutdown()
            raise from_remoting(e) from None
        self.__running = True
        self.__receiving = True

    def stop_receiving(self) -> None:
        """Later receives answer empty while settling still works; a long poll under way
        ends at ``shutdown``."""
        self.__receiving = False

    def shutdown(self) -> None:
        self.__running = False
        self.__renewal.stop()
        with self.__lock:
            pops, self.__pops = list(self.__pops.values()), {}
        for pop in pops:
            pop.shutdown()

    def subscribe(self, topic: str, filter_type: int, expression: str) -> None:
        try:
            pop = self.__open(topic, filter_type, expression)
        except native_errors() as e:
            raise from_remoting(e) from None
        with self.__lock:
            old = self.__pops.pop(topic, None)
            self.__pops[topic] = pop
            self.__subscriptions[topic] = (int(filter_type), expression)
        if old is not None:
            old.shutdown()

    def unsubscribe(self, topic: str) -> None:
        with self.__lock:
            pop = self.__pops.pop(topic, None)
            self.__subscriptions.pop(topic, None)
        if pop is not None:
            pop.shutdown()

    def __pop_of(self, topic: str) -> Any:
        with self.__lock:
            pop = self.__pops.get(topic)
        if pop is None:
            raise grpc_error(
                "argument",
                f"topic {topic!r} is not subscribed by this consumer: ack and change the "
                "invisible duration of messages this consumer received",
            )
        return pop

    def receive(
        self, max_message_num: int, invisible_duration: Optional[float] = None
    ) -> List[dict]:
        if not self.__running:
            raise grpc_error("state", "the consumer is not running: call startup() first")
        if not self.__receiving:
            return []
        held = invisible_duration is None
        seconds = PUSH_INVISIBLE_S if invisible_duration is None else float(invisible_duration)
        invisible_ms = max(1, int(seconds * 1000))
        batch = max(1, min(32, int(max_message_num)))
        with self.__lock:
            pops = list(self.__pops.items())
        if not pops:
            raise grpc_error("argument", "there is no topic to receive from: subscribe first")
        first = next(self.__turn) % len(pops)
        pops = pops[first:] + pops[:first]
        try:
            if len(pops) > 1:
                for _topic, pop in pops:
                    found = pop.receive(batch, invisible_ms, 0)
                    if found:
                        return self.__dicts(found)
            found = pops[0][1].receive(batch, invisible_ms, self.__await_ms)
        except native_errors() as e:
            raise from_remoting(e) from None
        return self.__dicts(found, held)

    def __dicts(self, found: List[Any], held: bool = False) -> List[dict]:
        dicts = [
            received_dict(
                p.message,
                p.delivery_attempt,
                p.receipt_handle,
                self.__name_servers,
                self.__namespace,
            )
            for p in found
        ]
        if held:
            for d in dicts:
                self.__renewal.hold(d["topic"], d["receipt_handle"])
        return dicts

    def __renew(self, topic: str, receipt_handle: str) -> str:
        try:
            return self.__pop_of(topic).change_invisible_duration(
                receipt_handle, max(1, int(PUSH_INVISIBLE_S * 1000))
            )
        except native_errors() as e:
            raise from_remoting(e) from None

    def held_messages(self) -> int:
        """How many received messages are kept invisible while a listener runs."""
        return self.__renewal.held()

    def ack(self, topic: str, message_id: str, receipt_handle: str, endpoint: str) -> None:
        try:
            with self.__renewal.settle(receipt_handle) as handle:
                self.__pop_of(topic).ack(handle)
        except native_errors() as e:
            raise from_remoting(e) from None

    def ack_async(
        self,
        topic: str,
        message_id: str,
        receipt_handle: str,
        endpoint: str,
        callback: Callable[[bool, Any], None],
    ) -> None:
        _run_async(lambda: self.ack(topic, message_id, receipt_handle, endpoint), callback)

    def change_invisible_duration(
        self,
        topic: str,
        message_id: str,
        receipt_handle: str,
        endpoint: str,
        invisible_duration: float,
    ) -> str:
        invisible_ms = max(1, int(float(invisible_duration) * 1000))
        try:
            with self.__renewal.settle(receipt_handle) as handle:
                return self.__pop_of(topic).change_invisible_duration(handle, invisible_ms)
        except native_errors() as e:
            raise from_remoting(e) from None

    def change_invisible_duration_async(
        self,
        topic: str,
        message_id: str,
        receipt_handle: str,
        endpoint: str,
        invisible_duration: float,
        callback: Callable[[bool, Any], None],
    ) -> None:
        _run_async(
            lambda: self.change_invisible_duration(
                topic, message_id, receipt_handle, endpoint, invisible_duration
            ),
            callback,
        )

    def forward_to_dead_letter_queue(
        self,
        topic: str,
        message_id: str,
        receipt_handle: str,
        endpoint: str,
        delivery_attempt: int,
        max_delivery_attempts: int,
    ) -> None:
        try:
            with self.__renewal.settle(receipt_handle) as handle:
                self.__pop_of(topic).change_invisible_duration(handle, VISIBLE_AGAIN_MS)
        except native_errors() as e:
            raise from_remoting(e) from None
