"""A complete test file using the rocketmq pytest plugin: every fixture, the factories and an
indirect parameter. Installing the package installs the plugin; nothing to configure.

    pytest examples/test_pytest_plugin.py                                  # bundled broker
    pytest examples/test_pytest_plugin.py --rocketmq-namesrv 127.0.0.1:9876   # a running cluster

The second form starts no broker: the same tests run against any RocketMQ cluster (ours from
``rocketmq-broker``, or Apache RocketMQ with 1 s as its first delay level).
"""

import threading
import time

import pytest

from rocketmq.client import ConsumeStatus, Message, PushConsumer
from rocketmq.pytest_plugin import factories

# One more topic fixture, with 8 queues instead of 4.
wide_topic = factories.rocketmq_topic_factory(queues=8)


def message(topic, body, tags=None):
    msg = Message(topic)
    msg.set_body(body)
    if tags:
        msg.set_tags(tags)
    return msg


def test_the_broker_serves_the_name_server_address(rocketmq_broker, rocketmq_namesrv_addr):
    assert rocketmq_broker.namesrv_addr == rocketmq_namesrv_addr
    host, _, port = rocketmq_broker.broker_addr.rpartition(":")
    assert host and int(port) > 0


def test_sent_messages_are_consumed(rocketmq_producer, rocketmq_topic, rocketmq_consume):
    for i in range(3):
        result = rocketmq_producer.send_sync(message(rocketmq_topic, f"order {i}"))
        assert result.status.name == "OK"

    received = rocketmq_consume(rocketmq_topic, count=3, timeout=30)

    assert sorted(m.body for m in received) == [b"order 0", b"order 1", b"order 2"]
    assert {m.topic for m in received} == {rocketmq_topic}


def test_consume_filters_by_tag(rocketmq_producer, rocketmq_topic, rocketmq_consume):
    rocketmq_producer.send_sync(message(rocketmq_topic, "skip me", tags="debug"))
    rocketmq_producer.send_sync(message(rocketmq_topic, "keep me", tags="audit"))

    received = rocketmq_consume(rocketmq_topic, count=1, expression="audit", timeout=30)

    assert [(m.tags, m.body) for m in received] == [(b"audit", b"keep me")]


@pytest.mark.parametrize("rocketmq_topic", [1], indirect=True)
def test_a_one_queue_topic_keeps_send_order(rocketmq_producer, rocketmq_topic, rocketmq_consume):
    for i in range(5):
        rocketmq_producer.send_sync(message(rocketmq_topic, str(i)))

    received = rocketmq_consume(rocketmq_topic, count=5, timeout=30)

    assert [m.body for m in received] == [b"0", b"1", b"2", b"3", b"4"]
    assert {m.queue_id for m in received} == {0}


def test_a_factory_made_topic_has_its_queue_count(rocketmq_producer, wide_topic, rocketmq_consume):
    for i in range(8):
        rocketmq_producer.send_orderly(message(wide_topic, str(i)), i)  # queue i % 8

    received = rocketmq_consume(wide_topic, count=8, timeout=30)

    assert sorted(m.queue_id for m in received) == list(range(8))


def test_a_push_consumer_of_the_test_group(
    rocketmq_group, rocketmq_namesrv_addr, rocketmq_producer, rocketmq_topic
):
    received = []
    arrived = threading.Event()

    def on_message(msg):
        received.append(msg.body)
        arrived.set()
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = PushConsumer(rocketmq_group)
    consumer.set_namesrv_addr(rocketmq_namesrv_addr)
    consumer.set_consume_from_first_offset()
    consumer.subscribe(rocketmq_topic, on_message)
    with consumer:
        rocketmq_producer.send_sync(message(rocketmq_topic, "pushed"))
        assert arrived.wait(60), "the push consumer received nothing within 60 s"
    assert received == [b"pushed"]


def test_a_delayed_message_waits_its_level(rocketmq_producer, rocketmq_topic, rocketmq_consume):
    msg = message(rocketmq_topic, "later")
    msg.set_delay_time_level(1)  # 1 s: the plugin's broker (and the CI's clusters) use 1 s
    sent_at = time.monotonic()
    rocketmq_producer.send_sync(msg)

    received = rocketmq_consume(rocketmq_topic, count=1, timeout=30)

    assert [m.body for m in received] == [b"later"]
    assert time.monotonic() - sent_at >= 0.9  # never before its delay


def test_too_few_messages_fail_with_what_arrived(
    rocketmq_producer, rocketmq_topic, rocketmq_consume
):
    rocketmq_producer.send_sync(message(rocketmq_topic, "only one"))

    with pytest.raises(AssertionError, match="1 of 2 messages") as failure:
        rocketmq_consume(rocketmq_topic, count=2, timeout=2)
    assert "only one" in str(failure.value)
