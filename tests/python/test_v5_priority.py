"""Priority messages through the 5.x API (v5tools endpoint: ours, or Apache's proxy 5.5):
``Message.priority`` goes out as the priority system property, a ``PRIORITY`` topic takes only
priority messages, a message lands on the queue its priority names (capped at the last one),
and consumers of the topic get the higher priorities first."""

from __future__ import annotations

import time

import pytest
from v5tools import v5_endpoint_fixture, wait_for  # noqa: F401 (fixture)

from rocketmq import (
    FilterExpression,
    Message,
    Producer,
    SimpleConsumer,
)
from rocketmq.admin import Admin
from rocketmq.v5.exception import ClientException, IllegalArgumentException

pytestmark = pytest.mark.timeout(180)


def priority_message(topic: str, priority: int, key: str) -> Message:
    m = Message()
    m.topic = topic
    m.body = b"priority %d" % priority
    m.keys = key
    m.priority = priority
    return m


def test_priority_is_checked_like_the_official_client():
    m = Message()
    with pytest.raises(IllegalArgumentException, match="greater than or equal to 0"):
        m.priority = -1
    m.priority = 0
    assert m.priority == 0
    with pytest.raises(IllegalArgumentException, match="priority"):
        m.message_group = "g"
    with pytest.raises(IllegalArgumentException, match="priority"):
        m.delivery_timestamp = int(time.time()) + 10
    grouped = Message()
    grouped.message_group = "g"
    with pytest.raises(IllegalArgumentException, match="message_group"):
        grouped.priority = 1


def test_higher_priorities_are_consumed_first(v5_endpoint):
    topic, group = v5_endpoint.topic("PRIORITY", queues=4), v5_endpoint.group()
    run = topic.rsplit("-", 1)[-1]
    sent = [0, 1, 2, 3, 9]  # 9 is capped at the last queue, after 3 there
    with Producer(v5_endpoint.config(), topics=[topic]) as producer:
        for p in sent:
            assert producer.send(priority_message(topic, p, f"{run}p{p}")).message_id
        plain = Message()
        plain.topic = topic
        plain.body = b"no priority"
        with pytest.raises(ClientException, match="PRIORITY"):
            producer.send(plain)
    # The last message indexed means every earlier one is in its queue too.
    with Admin(v5_endpoint.namesrv_addr, timeout=30) as admin:
        wait_for(
            lambda: admin.query_messages_by_key(topic, f"{run}p9") != [],
            timeout=60,
            what="the last priority message to be stored",
        )
    got = []
    with SimpleConsumer(v5_endpoint.config(), group, {topic: FilterExpression()}, 5) as consumer:
        deadline = time.monotonic() + 90
        while len(got) < len(sent):
            assert time.monotonic() < deadline, f"received only {[m.priority for m in got]}"
            for m in consumer.receive(1, 30):
                got.append(m)
                consumer.ack(m)
    assert [m.priority for m in got] == [3, 9, 2, 1, 0]
    assert [m.body for m in got] == [b"priority %d" % p for p in (3, 9, 2, 1, 0)]


def test_a_lite_topic_is_refused_rather_than_sent_as_a_plain_message():
    m = Message()
    assert m.lite_topic is None
    with pytest.raises(IllegalArgumentException, match="lite topics are not supported"):
        m.lite_topic = "lite-1"


def test_a_message_prints_as_the_official_client_prints_it():
    m = Message()
    m.topic = "T"
    m.body = b"x"
    m.tag = "a"
    m.priority = 2
    assert str(m) == (
        "topic:T, tag:a, message_group:None, lite_topic:None, priority:2, "
        "delivery_timestamp:None, keys:set(), properties:{}"
    )
