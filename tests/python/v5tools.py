"""The RocketMQ 5 endpoint the 5.x API tests (test_v5_*.py) run against, and their helpers.

``v5_endpoint`` (session scope) is, with ``ROCKETMQ_TEST_BROKER``:
* ``ours``: a LocalBroker with its gRPC endpoint (``grpc_port=0``), skipped with the reason
  when this build's LocalBroker has none;
* ``apache``: Apache 5.5.0's proxy (the ``apache_proxy`` fixture) in front of the session's
  Apache cluster;
* ``apache4``: skipped (4.9 has no proxy).

Either way it offers ``endpoint`` (``host:port`` for ``ClientConfiguration``) and
``topic(kind)`` / ``group(orderly=False)``, which create a fresh topic of a message type
(``NORMAL``, ``FIFO``, ``DELAY``, ``TRANSACTION``) or consumer group through the remoting
admin, because a proxy does not create them. Every test uses names of its own.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from typing import Callable, List

import pytest

from rocketmq import ClientConfiguration, Credentials
from rocketmq.admin import Admin


def broker_kind() -> str:
    return os.environ.get("ROCKETMQ_TEST_BROKER", "ours") or "ours"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


#: Request code GET_PRODUCER_CONNECTION_LIST (remoting): answers 0 once a producer group
#: has a connection on the broker.
GET_PRODUCER_CONNECTION_LIST = 204


class V5Endpoint:
    def __init__(self, endpoint: str, namesrv_addr: str, apache_broker_addr: str = "") -> None:
        self.endpoint = endpoint
        self.namesrv_addr = namesrv_addr
        self.apache_broker_addr = apache_broker_addr

    def wait_transaction_producer(self, topic: str, timeout: float = 60.0) -> None:
        """Waits until the broker can reach the transactional producers of `topic` for
        check-backs. Apache's proxy registers them with its brokers on a 20 s heartbeat
        (``transactionHeartbeatPeriodSecond``), and the test cluster's broker gives a half
        message up after 15 one-second checks, so a check-back test waits for this first."""
        if not self.apache_broker_addr:
            return
        from remoting import RemotingConnection

        def registered() -> bool:
            with RemotingConnection(self.apache_broker_addr) as conn:
                reply = conn.call(GET_PRODUCER_CONNECTION_LIST, {"producerGroup": topic})
            return reply.code == 0

        wait_for(registered, timeout, f"the broker to know the producers of {topic}")

    def config(self) -> ClientConfiguration:
        """A client configuration for this endpoint, without credentials."""
        return ClientConfiguration(self.endpoint, Credentials())

    def topic(self, kind: str = "NORMAL", queues: int = 2) -> str:
        name = unique(f"V5{kind.title()}")
        with Admin(self.namesrv_addr, timeout=30) as admin:
            admin.create_topic(name, queues, message_type=kind)
        return name

    def group(self, orderly: bool = False, retry_max_times: int = 16) -> str:
        name = unique("V5G")
        with Admin(self.namesrv_addr, timeout=30) as admin:
            admin.create_subscription_group(
                name, consume_message_orderly=orderly, retry_max_times=retry_max_times
            )
        return name


@pytest.fixture(scope="session", name="v5_endpoint")
def v5_endpoint_fixture(request, tmp_path_factory):
    kind = broker_kind()
    if kind == "apache4":
        pytest.skip("Apache 4.9 has no RocketMQ 5 (gRPC) endpoint")
    if kind == "apache":
        proxy = request.getfixturevalue("apache_proxy")
        cluster = request.getfixturevalue("apache_cluster")
        yield V5Endpoint(proxy.proxy_grpc_endpoint, cluster.namesrv_addr, cluster.broker_addr)
        return
    from rocketmq.broker import LocalBroker

    store = tmp_path_factory.mktemp("v5store")
    try:
        # Check-backs as quick as the Apache test cluster's (every second, after 1 s).
        broker = LocalBroker(
            store_dir=str(store),
            namesrv_port=0,
            broker_port=0,
            grpc_port=0,
            transaction_check_interval_ms=1000,
            transaction_timeout_ms=1000,
        )
    except TypeError:
        pytest.skip("this build's LocalBroker has no gRPC endpoint (grpc_port)")
    with broker:
        yield V5Endpoint(broker.grpc_endpoint, broker.namesrv_addr)
    shutil.rmtree(store, ignore_errors=True)


def wait_for(cond: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Polls `cond` until it is true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def receive_until(consumer, count: int, invisible: float = 30, timeout: float = 60.0) -> List:
    """Receives (and returns, not acked) until `count` messages came; bounded by `timeout`."""
    got: List = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"received {len(got)} of {count} messages in {timeout}s")
        got.extend(consumer.receive(count - len(got), invisible))
    return got


def recall_one_of_two(config, topic: str, group: str, check_refusals: Callable) -> None:
    """Sends two delay messages to `topic` (a DELAY topic of one queue), recalls the first
    (its id comes back), runs ``check_refusals(producer, receipt_of_the_first)``, then
    receives one message with `group`: the second. It is due 1.5 s later (past the broker's
    timer slot) and behind the first in the queue, so the first, had it been delivered,
    would have come first."""
    from rocketmq import FilterExpression, Message, Producer, SimpleConsumer

    def message(body: bytes, due_ms: int) -> Message:
        m = Message()
        m.topic = topic
        m.body = body
        m.delivery_timestamp = due_ms
        return m

    with Producer(config, topics=[topic]) as producer:
        due_ms = int(time.time() * 1000) + 2000
        recalled = producer.send(message(b"recalled", due_ms))
        producer.send(message(b"kept", due_ms + 1500))
        assert recalled.recall_handle
        assert producer.recall_message(topic, recalled.recall_handle) == recalled.message_id
        check_refusals(producer, recalled)
    with SimpleConsumer(config, group, {topic: FilterExpression()}, 5) as c:
        got = receive_until(c, 1, timeout=60)
        c.ack(got[0])
    assert [m.body for m in got] == [b"kept"]
