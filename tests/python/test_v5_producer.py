"""The 5.x API's producer (``rocketmq.Producer``) against a RocketMQ 5 endpoint (v5tools):
normal, FIFO, delay and transactional sends (commit, rollback, check-back), ``send_async``,
and the errors a user can cause."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future

import pytest
from v5tools import recall_one_of_two, receive_until, v5_endpoint_fixture  # noqa: F401

from rocketmq import (
    ClientConfiguration,
    Credentials,
    FilterExpression,
    Message,
    Producer,
    SimpleConsumer,
    TransactionChecker,
    TransactionResolution,
    _rocketmq,
)
from rocketmq.grpc_protocol import Code
from rocketmq.v5.exception import ClientException, IllegalArgumentException, IllegalStateException

pytestmark = pytest.mark.timeout(240)


def message(topic: str, body: bytes, **fields) -> Message:
    m = Message()
    m.topic = topic
    m.body = body
    for k, v in fields.items():
        setattr(m, k, v)
    return m


def consumer(ep, topic: str, group: str) -> SimpleConsumer:
    return SimpleConsumer(ep.config(), group, {topic: FilterExpression()}, await_duration=5)


def test_a_normal_message_is_sent_and_received_with_its_fields(v5_endpoint):
    topic = v5_endpoint.topic("NORMAL")
    group = v5_endpoint.group()
    with Producer(v5_endpoint.config(), topics=[topic]) as producer:
        m = message(topic, b"hello v5", tag="TagA")
        m.keys = "k1"
        m.add_property("color", "blue")
        receipt = producer.send(m)
        assert receipt.message_id and receipt.message_id == m.message_id
        assert receipt.message_queue.topic == topic
    with consumer(v5_endpoint, topic, group) as c:
        (got,) = receive_until(c, 1)
        assert (got.topic, got.body, got.tag) == (topic, b"hello v5", "TagA")
        assert got.keys == {"k1"}
        assert got.properties.get("color") == "blue"
        assert got.message_id == receipt.message_id
        assert got.delivery_attempt == 1
        assert got.born_host and got.born_timestamp
        c.ack(got)


def test_fifo_messages_of_one_group_arrive_in_order(v5_endpoint):
    topic = v5_endpoint.topic("FIFO")
    group = v5_endpoint.group(orderly=True)
    with consumer(v5_endpoint, topic, group) as c:
        with Producer(v5_endpoint.config(), topics=[topic]) as producer:
            for i in range(5):
                producer.send(message(topic, b"%d" % i, message_group="order-1"))
        seen = []
        deadline = time.monotonic() + 60
        while len(seen) < 5 and time.monotonic() < deadline:
            for m in c.receive(5, 20):
                assert m.message_group == "order-1"
                seen.append(int(m.body))
                c.ack(m)
        assert seen == [0, 1, 2, 3, 4]


def test_a_delay_message_arrives_after_its_delivery_timestamp(v5_endpoint):
    topic = v5_endpoint.topic("DELAY")
    group = v5_endpoint.group()
    with consumer(v5_endpoint, topic, group) as c:
        with Producer(v5_endpoint.config(), topics=[topic]) as producer:
            due_ms = int(time.time() * 1000) + 3000
            producer.send(message(topic, b"later", delivery_timestamp=due_ms))
        (got,) = receive_until(c, 1)
        assert got.body == b"later"
        assert int(time.time() * 1000) >= due_ms - 500
        c.ack(got)


class Checker(TransactionChecker):
    def __init__(self, resolution):
        self.resolution = resolution
        self.checked = []
        self.event = threading.Event()

    def check(self, message):
        self.checked.append(message.message_id)
        self.event.set()
        return self.resolution


@pytest.mark.parametrize("commit", [True, False])
def test_a_transaction_commits_or_rolls_back(v5_endpoint, commit):
    topic = v5_endpoint.topic("TRANSACTION")
    group = v5_endpoint.group()
    checker = Checker(TransactionResolution.ROLLBACK)
    with Producer(v5_endpoint.config(), topics=[topic], checker=checker) as producer:
        tx = producer.begin_transaction()
        receipt = producer.send(message(topic, b"half"), transaction=tx)
        assert receipt.transaction_id
        (tx.commit if commit else tx.rollback)()
    with consumer(v5_endpoint, topic, group) as c:
        if commit:
            (got,) = receive_until(c, 1)
            assert got.body == b"half"
            c.ack(got)
        else:
            # One long poll (5 s) comes back empty: a rolled-back half message is never
            # delivered (the committed case above shows the same wait finds a message).
            assert c.receive(1, 10) == []


def test_an_unended_transaction_is_resolved_by_the_checker(v5_endpoint):
    topic = v5_endpoint.topic("TRANSACTION")
    group = v5_endpoint.group()
    checker = Checker(TransactionResolution.COMMIT)
    with Producer(v5_endpoint.config(), topics=[topic], checker=checker) as producer:
        v5_endpoint.wait_transaction_producer(topic)
        tx = producer.begin_transaction()
        receipt = producer.send(message(topic, b"checked"), transaction=tx)
        assert checker.event.wait(90), "the server never asked the checker"
        assert receipt.message_id in checker.checked
        with consumer(v5_endpoint, topic, group) as c:
            (got,) = receive_until(c, 1, timeout=90)
            assert got.body == b"checked"
            c.ack(got)


def test_send_async_returns_futures_of_receipts(v5_endpoint, caplog):
    """Hundreds of sends at once: most wait for a request slot and travel in batched
    requests (one entry per message from the bundled broker, one entry naming every id from
    Apache's proxy); each message still gets its own receipt and arrives once, intact."""
    caplog.set_level(logging.DEBUG, logger="rocketmq.client.v5")
    _rocketmq.reset_log_cache()
    topic, group = v5_endpoint.topic("NORMAL"), v5_endpoint.group()
    count = 300
    try:
        with Producer(v5_endpoint.config(), topics=[topic]) as producer:
            futures = []
            for i in range(count):
                m = message(topic, b"a%d" % i, tag="Tag%d" % (i % 3), keys="k%d" % i)
                m.add_property("index", str(i))
                futures.append(producer.send_async(m))
            assert all(isinstance(f, Future) for f in futures)
            receipts = [f.result(timeout=60) for f in futures]
    finally:
        caplog.set_level(logging.WARNING, logger="rocketmq.client.v5")
        _rocketmq.reset_log_cache()
    assert len({r.message_id for r in receipts}) == count
    # Every batch was settled by its answer: none fell back to sends one by one.
    fallbacks = [r.getMessage() for r in caplog.records if "one by one" in r.getMessage()]
    assert not fallbacks, fallbacks
    with consumer(v5_endpoint, topic, group) as c:
        seen = {}
        deadline = time.monotonic() + 90
        while len(seen) < count and time.monotonic() < deadline:
            for got in c.receive(32, 30):
                i = int(got.properties["index"])
                assert got.message_id == receipts[i].message_id
                assert (got.body, got.tag, got.keys) == (b"a%d" % i, "Tag%d" % (i % 3), {"k%d" % i})
                assert i not in seen, f"message {i} arrived twice"
                seen[i] = got.message_id
                c.ack(got)
        assert len(seen) == count, f"received {len(seen)} of {count}"


def test_user_errors_say_what_to_do(v5_endpoint):
    topic = v5_endpoint.topic("NORMAL")
    producer = Producer(v5_endpoint.config(), topics=[topic])
    with pytest.raises(IllegalStateException, match="not running"):
        producer.send(message(topic, b"x"))
    with producer:
        with pytest.raises(IllegalArgumentException, match="begin_transaction|checker"):
            producer.begin_transaction()
        if v5_endpoint.apache_broker_addr:
            # Apache's proxy creates no topic; the bundled broker auto-creates one on a send,
            # as its remoting path does (docs/compatibility.md).
            with pytest.raises(ClientException):
                producer.send(message(v5_endpoint_missing_topic(), b"x"))
        with pytest.raises(ClientException, match="FIFO|type"):
            producer.send(message(topic, b"x", message_group="g"))
    with pytest.raises(IllegalArgumentException):
        Message().topic = "bad topic!"
    with pytest.raises(IllegalArgumentException, match="host:port"):
        Producer(ClientConfiguration("nohost", Credentials()))


def v5_endpoint_missing_topic() -> str:
    return "V5Missing-" + str(time.monotonic_ns())


def test_a_recalled_delay_message_is_never_delivered(v5_endpoint):
    # Apache's test broker runs with recallMessageEnable=true (off by default).
    def refusals(producer, recalled):
        with pytest.raises(ClientException) as refused:
            producer.recall_message(recalled.message_queue.topic, "bm90IGEgaGFuZGxl")
        assert refused.value.code == Code.INTERNAL_SERVER_ERROR, refused.value
        with pytest.raises(IllegalArgumentException, match="recall_handle"):
            producer.recall_message(recalled.message_queue.topic, "")

    topic, group = v5_endpoint.topic("DELAY", queues=1), v5_endpoint.group()
    recall_one_of_two(v5_endpoint.config(), topic, group, refusals)
