"""The 5.x API's consumers against a RocketMQ 5 endpoint (v5tools): ``SimpleConsumer``
(receive, ack, change of invisible duration, redelivery of what was not acked) and
``PushConsumer`` (listener on consumption threads, a failure comes back, FIFO order)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future

import pytest
from v5tools import receive_until, v5_endpoint_fixture, wait_for  # noqa: F401 (fixture)

from rocketmq import (
    ConsumeResult,
    FilterExpression,
    Message,
    MessageListener,
    Producer,
    PushConsumer,
    SimpleConsumer,
)
from rocketmq.grpc_protocol import FilterType
from rocketmq.v5.exception import (
    IllegalArgumentException,
    IllegalStateException,
    NotFoundException,
)

pytestmark = pytest.mark.timeout(240)


def send(ep, topic: str, bodies, **fields) -> None:
    with Producer(ep.config(), topics=[topic]) as producer:
        for body in bodies:
            m = Message()
            m.topic = topic
            m.body = body
            for k, v in fields.items():
                setattr(m, k, v)
            producer.send(m)


def test_received_messages_are_acked_once_and_not_delivered_again(v5_endpoint):
    topic, group = v5_endpoint.topic(), v5_endpoint.group()
    send(v5_endpoint, topic, [b"m%d" % i for i in range(4)], tag="T")
    with SimpleConsumer(v5_endpoint.config(), group, {topic: FilterExpression("T")}, 5) as c:
        got = receive_until(c, 4)
        assert sorted(m.body for m in got) == [b"m0", b"m1", b"m2", b"m3"]
        futures = [c.ack_async(m) for m in got[:2]]
        assert all(isinstance(f, Future) for f in futures)
        for f in futures:
            f.result(timeout=30)
        for m in got[2:]:
            c.ack(m)
        assert c.receive(4, 10) == []


def test_a_message_not_acked_comes_back_after_its_new_invisible_duration(v5_endpoint):
    topic, group = v5_endpoint.topic(), v5_endpoint.group()
    send(v5_endpoint, topic, [b"again"])
    with SimpleConsumer(v5_endpoint.config(), group, {topic: FilterExpression()}, 5) as c:
        (first,) = receive_until(c, 1, invisible=20)
        assert first.delivery_attempt == 1
        old_handle = first.receipt_handle
        c.change_invisible_duration(first, 2)
        assert first.receipt_handle and first.receipt_handle != old_handle
        (second,) = receive_until(c, 1, invisible=20, timeout=60)
        assert (second.message_id, second.body) == (first.message_id, b"again")
        assert second.delivery_attempt == 2
        c.ack(second)


def test_sql92_and_subscribe_after_start(v5_endpoint):
    topic, group = v5_endpoint.topic(), v5_endpoint.group()
    with SimpleConsumer(v5_endpoint.config(), group, await_duration=5) as c:
        with pytest.raises(IllegalArgumentException, match="no topic"):
            c.receive(1, 20)
        c.subscribe(topic, FilterExpression("TAGS = 'b'", FilterType.SQL))
        send(v5_endpoint, topic, [b"a"], tag="a")
        send(v5_endpoint, topic, [b"b"], tag="b")
        (got,) = receive_until(c, 1)
        assert got.body == b"b"
        c.ack(got)
        c.unsubscribe(topic)
    with pytest.raises(IllegalStateException):
        c.receive(1, 20)


class Recorder(MessageListener):
    def __init__(self, fail_first: bool = False) -> None:
        self.lock = threading.Lock()
        self.seen = []
        self.fail_first = fail_first
        self.threads = set()

    def consume(self, message):
        with self.lock:
            self.seen.append((message.body, message.delivery_attempt, message.message_group))
            self.threads.add(threading.current_thread().name)
        if self.fail_first and message.delivery_attempt == 1:
            return ConsumeResult.FAILURE
        return ConsumeResult.SUCCESS


def test_a_push_consumer_calls_the_listener_and_a_failure_comes_back(v5_endpoint):
    topic, group = v5_endpoint.topic(), v5_endpoint.group()
    listener = Recorder(fail_first=True)
    consumer = PushConsumer(
        v5_endpoint.config(),
        group,
        listener,
        {topic: FilterExpression()},
        consumption_thread_count=4,
    )
    with consumer:
        send(v5_endpoint, topic, [b"p0", b"p1"])
        wait_for(
            lambda: sorted(b for b, a, _ in listener.seen if a == 2) == [b"p0", b"p1"],
            timeout=90,
            what="both messages to come back after a failure",
        )
    assert all(name.startswith("rocketmq-v5-consume") for name in listener.threads)
    assert not consumer.is_running


def test_a_fifo_push_consumer_consumes_each_group_in_order(v5_endpoint):
    topic, group = v5_endpoint.topic("FIFO"), v5_endpoint.group(orderly=True)
    listener = Recorder()
    with PushConsumer(v5_endpoint.config(), group, listener, {topic: FilterExpression()}):
        send(v5_endpoint, topic, [b"%d" % i for i in range(6)], message_group="g1")
        wait_for(lambda: len(listener.seen) >= 6, timeout=90, what="six FIFO messages")
    assert [b for b, _, _ in listener.seen[:6]] == [b"%d" % i for i in range(6)]
    assert {g for _, _, g in listener.seen} == {"g1"}


class AlwaysFails(MessageListener):
    def __init__(self) -> None:
        self.attempts = []

    def consume(self, message):
        self.attempts.append(message.delivery_attempt)
        raise RuntimeError("the listener fails")


def dead_letters(ep, group: str, count: int) -> list:
    """Receives ``count`` messages of ``group``'s dead-letter queue (a broker may create that
    topic, and its route, only when the first message goes there)."""
    deadline = time.monotonic() + 90
    while True:
        try:
            dlq = SimpleConsumer(ep.config(), ep.group(), {f"%DLQ%{group}": FilterExpression()}, 5)
            dlq.startup()
            break
        except NotFoundException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        got = receive_until(dlq, count, timeout=90)
        for m in got:
            dlq.ack(m)
        return got
    finally:
        dlq.shutdown()


def test_a_message_failing_every_attempt_goes_to_the_dead_letter_queue(v5_endpoint):
    topic, group = v5_endpoint.topic(), v5_endpoint.group(retry_max_times=1)
    listener = AlwaysFails()
    with PushConsumer(v5_endpoint.config(), group, listener, {topic: FilterExpression()}):
        send(v5_endpoint, topic, [b"doomed"])
        wait_for(lambda: len(listener.attempts) >= 2, timeout=90, what="two attempts")
    assert listener.attempts[:2] == [1, 2]
    (dead,) = dead_letters(v5_endpoint, group, 1)
    assert dead.body == b"doomed"


class FailsOnceShutdownBegan(MessageListener):
    """Fails each message once its consumer has stopped receiving (shutdown began)."""

    def __init__(self) -> None:
        self.consumer = None
        self.started = threading.Event()

    def consume(self, message):
        self.started.set()
        receiver = self.consumer._PushConsumer__receiver
        wait_for(
            lambda: receiver is None or not receiver.is_alive(),
            timeout=30,
            what="the receive loop to end",
        )
        return ConsumeResult.FAILURE


def test_a_listener_running_at_shutdown_still_settles_its_message(v5_endpoint, caplog):
    # One attempt allowed: the failure moves the message to the dead-letter queue, which the
    # consumer can only do if shutdown waits for the listener before closing the client (a
    # broker would move it there later too, when the message comes back: the log tells).
    caplog.set_level(logging.WARNING, logger="rocketmq.v5")
    topic, group = v5_endpoint.topic(), v5_endpoint.group(retry_max_times=0)
    listener = FailsOnceShutdownBegan()
    consumer = PushConsumer(v5_endpoint.config(), group, listener, {topic: FilterExpression()})
    listener.consumer = consumer
    consumer.startup()
    try:
        send(v5_endpoint, topic, [b"late"])
        assert listener.started.wait(90), "the listener was not called"
    finally:
        consumer.shutdown()
    assert not consumer.is_running
    refused = [r.getMessage() for r in caplog.records if "dead-letter" in r.getMessage()]
    assert refused == []
    (dead,) = dead_letters(v5_endpoint, group, 1)
    assert dead.body == b"late"
