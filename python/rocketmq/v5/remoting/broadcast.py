"""``BroadcastConsumer``: what a ``PushConsumer(..., broadcasting=True)`` consumes through
(``protocol="remoting"`` only): the native push consumer in broadcasting mode, so every
consumer of the group gets every message of its topics, which no 5.x endpoint offers.

What must stay true:
- ``start`` returns once the consumer pulls every queue of its topics (bounded by the
  request timeout and ``START_WAIT_S``), so a message sent after ``startup()`` reaches it;
  it starts at the end of each queue, as a new broadcasting consumer does;
- the listener runs on the native consumer's dispatcher threads; a failed consumption is
  not retried (broadcasting has no retry topic) and is logged;
- progress is kept per consumer in this process only: a restarted broadcasting consumer
  starts at the end again;
- with a namespace, the group and the topics go to the brokers wrapped (``names``);
  received messages show the application's names.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from rocketmq.v5.remoting.consumer import _expression_type
from rocketmq.v5.remoting.errors import from_remoting, grpc_error, native_errors
from rocketmq.v5.remoting.messages import received_dict
from rocketmq.v5.remoting.names import wrap
from rocketmq.v5.remoting.natives import native, new_client_id

logger = logging.getLogger("rocketmq.v5")

#: The longest ``start`` waits for the consumer to pull every queue of its topics (seconds).
START_WAIT_S = 30.0
#: The read permission bit of a route's ``perm``.
PERM_READ = 4


class BroadcastConsumer:
    """Stands in for the native consumer of a ``PushConsumer`` (see the module header)."""

    def __init__(
        self,
        name_servers: str,
        access_key: str,
        secret_key: str,
        group: str,
        subscriptions: List[Tuple[str, int, str]],
        request_timeout: float,
        thread_count: int,
        namespace: str = "",
    ) -> None:
        self.__name_servers = name_servers
        self.__credentials = (access_key, secret_key, "") if access_key else None
        self.__namespace = namespace
        self.__group = wrap(namespace, group)
        # Keyed by the topics as the brokers know them.
        self.__subscriptions: Dict[str, Tuple[int, str]] = {
            wrap(namespace, topic): (int(t), e) for topic, t, e in subscriptions
        }
        self.__request_timeout = request_timeout
        self.__threads = max(1, int(thread_count))
        self.__client_id = new_client_id("broadcast")
        self.__consume: Optional[Callable[[Dict[str, Any]], bool]] = None
        self.__native: Any = None

    @property
    def client_id(self) -> str:
        return self.__client_id

    @property
    def is_running(self) -> bool:
        return self.__native is not None

    @property
    def fifo(self) -> bool:
        return False

    def retry_policy(self) -> Tuple[int, List[float]]:
        return 1, []

    def set_consumer(self, consume: Callable[[Dict[str, Any]], bool]) -> None:
        """`consume(message dict) -> True` when consumed: the listener of the PushConsumer."""
        self.__consume = consume

    def __dispatch(self, batches: List[List[Any]]) -> List[bool]:
        consume = self.__consume
        verdicts = []
        for batch in batches:
            ok = True
            for m in batch:
                d = received_dict(
                    m, m.reconsume_times + 1, None, self.__name_servers, self.__namespace
                )
                if consume is None or not consume(d):
                    logger.warning(
                        "%s: message %s was not consumed; broadcasting does not retry it",
                        self.__client_id,
                        d["message_id"],
                    )
                    ok = False
            verdicts.append(ok)
        return verdicts

    def start(self) -> None:
        if self.__native is not None:
            return
        subs = [(t, e or "*", _expression_type(f)) for t, (f, e) in self.__subscriptions.items()]
        try:
            consumer = native().NativePushConsumer(
                group=self.__group,
                name_servers_list=self.__name_servers,
                subscriptions=subs,
                dispatch=self.__dispatch,
                instance_name=self.__client_id,
                broadcasting=True,
                thread_count=self.__threads,
                credentials=self.__credentials,
            )
        except native_errors() as e:
            raise from_remoting(e) from None
        self.__native = consumer
        try:
            self.__wait_pulling(set(self.__subscriptions))
        except BaseException:
            self.shutdown()
            raise

    def __wait_pulling(self, topics: set) -> None:
        """Waits until every readable queue of `topics` is pulled from a known offset."""
        admin = native().NativeAdmin(
            name_servers_list=self.__name_servers,
            timeout_ms=max(1, int(self.__request_timeout * 1000)),
            credentials=self.__credentials,
        )
        deadline = time.monotonic() + max(START_WAIT_S, self.__request_timeout)
        try:
            wanted: Set[Tuple[str, str, int]] = set()
            for topic in topics:
                route = admin.topic_route(topic)
                if not route:
                    raise grpc_error("remoting", f"topic {topic!r} has no route: create it first")
                for broker, read_queues, _write, perm in route:
                    if perm & PERM_READ:
                        wanted.update((topic, broker, q) for q in range(read_queues))
        except native_errors() as e:
            raise from_remoting(e) from None
        finally:
            admin.shutdown()
        while True:
            pulling = {tuple(q) for q in self.__native.pulling_queues()}
            if wanted <= pulling:
                return
            if time.monotonic() >= deadline:
                raise grpc_error(
                    "remoting",
                    f"the broadcasting consumer pulls {len(pulling & wanted)} of "
                    f"{len(wanted)} queues after {START_WAIT_S:.0f} s: check the brokers",
                )
            time.sleep(0.05)

    def shutdown(self) -> None:
        running, self.__native = self.__native, None
        if running is not None:
            running.shutdown()

    def subscribe(self, topic: str, filter_type: int, expression: str) -> None:
        topic = wrap(self.__namespace, topic)
        self.__subscriptions[topic] = (int(filter_type), expression)
        if self.__native is None:
            return
        try:
            self.__native.subscribe(topic, expression or "*", _expression_type(filter_type))
        except native_errors() as e:
            raise from_remoting(e) from None
        self.__wait_pulling({topic})

    def unsubscribe(self, topic: str) -> None:
        raise grpc_error(
            "argument",
            "a broadcasting consumer cannot drop a topic while it runs: shut it down and "
            "create one without the topic",
        )

    def receive(self, max_message_num: int, invisible_duration: Optional[float] = None) -> list:
        raise grpc_error("state", "a broadcasting consumer delivers to its listener only")
