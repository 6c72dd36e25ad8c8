"""``RemotingProducer``: what ``rocketmq.v5.Producer`` sends through when its configuration
says ``protocol="remoting"``: the native remoting producer (``NativeProducer``), with the
methods of the native gRPC producer.

What must stay true:
- a message with a ``message_group`` is sent with ``__SHARDINGKEY``: the native producer
  puts it on the queue the Apache proxy and the bundled broker's gRPC endpoint pick for the
  group, so one group keeps its order whichever protocol sent it;
- a transactional send is a half message; ``end_transaction`` ends it once (commit or
  rollback), by the transaction id the receipt carries; a half message left open is checked
  back by the broker through this producer's group, and the checker's answer goes back;
- all producers of this mode share one producer group (``PRODUCER_GROUP``): a check-back
  may reach any of them, so give every transactional producer the same checker;
- ``recall`` is RECALL_MESSAGE to the broker the handle names;
- with a namespace, every topic goes to the brokers wrapped (``names``) and comes back (in
  receipts, check-backs) as the application named it.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple

from rocketmq.v5.remoting.errors import from_remoting, grpc_error, native_errors
from rocketmq.v5.remoting.messages import TRANSACTION_ID, outgoing_properties, received_dict
from rocketmq.v5.remoting.names import wrap
from rocketmq.v5.remoting.natives import native, new_client_id

#: The producer group of the 5.x producers in remoting mode (5.x producers have none).
PRODUCER_GROUP = "rocketmq-v5-producer"
#: ``TransactionStatus`` values of ``NativeProducer.end_transaction``.
COMMIT, ROLLBACK, UNKNOWN = 0, 1, 2


class RemotingProducer:
    """Stands in for ``GrpcProducer`` (see the module header)."""

    def __init__(
        self,
        name_servers: str,
        access_key: str,
        secret_key: str,
        request_timeout: float,
        topics: List[str],
        checker: Optional[Callable[[Dict[str, Any]], Optional[bool]]],
        namespace: str = "",
    ) -> None:
        self.__name_servers = name_servers
        self.__namespace = namespace
        self.__topics = list(topics)
        self.__checker = checker
        self.__client_id = new_client_id("remoting")
        self.__running = False
        self.__lock = threading.Lock()
        # transaction id -> (topic, native send tuple) of the half messages not ended yet.
        self.__open: Dict[str, Tuple[str, tuple]] = {}
        credentials = (access_key, secret_key, "") if access_key else None
        # The native producer holds the check callback through a weak reference, so that a
        # producer nobody references any more is collected.
        this = weakref.ref(self)

        def check(message: Any) -> int:
            producer = this()
            return producer.__check(message) if producer is not None else UNKNOWN

        try:
            self.__native = native().NativeProducer(
                group=PRODUCER_GROUP,
                name_servers_list=name_servers,
                instance_name=self.__client_id,
                timeout_ms=max(1, int(request_timeout * 1000)),
                credentials=credentials,
                checker=check if checker is not None else None,
            )
        except native_errors() as e:
            raise from_remoting(e) from None

    @property
    def client_id(self) -> str:
        return self.__client_id

    @property
    def is_running(self) -> bool:
        return self.__running

    def start(self) -> None:
        for topic in self.__topics:
            self.__queue_count(wrap(self.__namespace, topic))
        self.__running = True

    def shutdown(self) -> None:
        self.__running = False
        self.__native.shutdown()

    def __queue_count(self, topic: str) -> int:
        try:
            return self.__native.queue_count(topic)
        except native_errors() as e:
            raise from_remoting(e) from None

    def __check(self, message: Any) -> int:
        checker = self.__checker
        if checker is None:
            return UNKNOWN
        props = message.properties
        attempt = 1 + int(props.get("TRANSACTION_CHECK_TIMES", "0") or 0)
        decision = checker(
            received_dict(message, attempt, None, self.__name_servers, self.__namespace)
        )
        if decision is True:
            return COMMIT
        if decision is False:
            return ROLLBACK
        return UNKNOWN

    def __receipt(self, topic: str, sent: tuple, transaction_id: str = "") -> tuple:
        _status, msg_id, _offset_id, queue_id, queue_offset, broker, recall_handle = sent
        return (
            msg_id,
            transaction_id,
            queue_offset,
            recall_handle,
            topic,
            queue_id,
            broker,
            self.__name_servers,
        )

    def send(
        self,
        topic: str,
        body: bytes,
        tag: Optional[str],
        keys: List[str],
        properties: Dict[str, str],
        message_group: Optional[str],
        delivery_timestamp_ms: Optional[int],
        priority: Optional[int],
        transactional: bool,
    ) -> tuple:
        props = outgoing_properties(
            tag, keys, properties, message_group, delivery_timestamp_ms, priority
        )
        wrapped = wrap(self.__namespace, topic)
        try:
            if transactional:
                sent, half = self.__native.send_half(wrapped, body, 0, props)
                transaction_id = half.get(TRANSACTION_ID) or sent[1]
                with self.__lock:
                    self.__open[transaction_id] = (wrapped, sent)
                return self.__receipt(topic, sent, transaction_id)
            sent = self.__native.send(wrapped, body, 0, props)
        except native_errors() as e:
            raise from_remoting(e) from None
        return self.__receipt(topic, sent)

    def send_async(
        self,
        topic: str,
        body: bytes,
        tag: Optional[str],
        keys: List[str],
        properties: Dict[str, str],
        message_group: Optional[str],
        delivery_timestamp_ms: Optional[int],
        priority: Optional[int],
        callback: Callable[[bool, Any], None],
    ) -> None:
        props = outgoing_properties(
            tag, keys, properties, message_group, delivery_timestamp_ms, priority
        )

        def done(ok: bool, payload: Any) -> None:
            if ok:
                callback(True, self.__receipt(topic, payload))
            else:
                callback(False, grpc_error("remoting", str(payload)))

        self.__native.send_async(wrap(self.__namespace, topic), body, 0, props, done)

    def recall(self, topic: str, recall_handle: str) -> str:
        try:
            return self.__native.recall(wrap(self.__namespace, topic), recall_handle)
        except native_errors() as e:
            raise from_remoting(e) from None

    def end_transaction(
        self, endpoint: str, topic: str, message_id: str, transaction_id: str, commit: bool
    ) -> None:
        with self.__lock:
            half = self.__open.pop(transaction_id, None)
        if half is None:
            raise grpc_error(
                "argument",
                f"transaction {transaction_id!r} is not open in this producer: end a "
                "transaction once, with the producer that sent its half message",
            )
        try:
            self.__native.end_transaction(half[0], half[1], COMMIT if commit else ROLLBACK)
        except native_errors() as e:
            raise from_remoting(e) from None
