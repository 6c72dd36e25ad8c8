"""4.x API features the client suites (tests/python, tests/scenarios) do not check on their own,
against the run's Apache broker (5.5.0, or 4.9.x with ROCKETMQ_TEST_BROKER=apache4): delay
levels, the dead-letter queue after the last retry, and the broker's tag filter on push
consumers. Apache's clusters of the harness run 18 delay levels of 1 s."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from clienttools import make_producer, message, unique, wait_for

from rocketmq.client import ConsumeStatus, PushConsumer, SendStatus

from remoting import RemotingConnection

pytestmark = [pytest.mark.apache_only, pytest.mark.timeout(240)]

GET_MAX_OFFSET = 30
#: Apache creates a group's dead-letter topic with one queue.
DLQ_QUEUES = 1


@pytest.fixture(scope="module")
def broker(broker_factory):
    with broker_factory() as b:
        yield b


def start_push(broker, topic, callback, expression="*", max_reconsume_times=None, group=None):
    consumer = PushConsumer(group or unique("FeatureCG"))
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.set_thread_count(2)
    if max_reconsume_times is not None:
        consumer.set_max_reconsume_times(max_reconsume_times)
    consumer.subscribe(topic, callback, expression)
    consumer.start()
    # Until every queue is pulled from a known offset, a new group could skip messages sent
    # meanwhile (consume-from-last-offset).
    wait_for(
        lambda: len([q for q in consumer._native.pulling_queues() if q[0] == topic]) == 4,
        60,
        f"every queue of {topic} pulled",
    )
    return consumer


def max_offset(broker_addr: str, topic: str, queue_id: int) -> int:
    with RemotingConnection(broker_addr) as conn:
        reply = conn.call(GET_MAX_OFFSET, {"topic": topic, "queueId": queue_id})
    if reply.code != 0:
        return 0  # the topic does not exist (yet)
    return int(reply.ext_fields["offset"])


def test_a_delay_level_holds_a_message_back(broker):
    topic = unique("DelayT")
    producer = make_producer(broker)
    producer.send_sync(message(topic, b"create"))
    received = {}

    def on_message(msg):
        received[msg.body] = msg
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = start_push(broker, topic, on_message)
    try:
        delayed = message(topic, b"delayed")
        delayed.set_delay_time_level(2)  # the second level: 1 s here
        assert producer.send_sync(delayed).status == SendStatus.OK
        assert producer.send_sync(message(topic, b"at-once")).status == SendStatus.OK
        wait_for(lambda: b"delayed" in received and b"at-once" in received, 60, "both")
        msg = received[b"delayed"]
        # Stored again when its level ran out: at least the level's second after its birth.
        assert msg.store_timestamp - msg.born_timestamp >= 1000, (
            msg.born_timestamp,
            msg.store_timestamp,
        )
        assert msg.get_property("DELAY") == b"2"
    finally:
        consumer.shutdown()
        producer.shutdown()


def test_the_last_failed_retry_goes_to_the_dead_letter_queue(broker):
    topic = unique("DlqT")
    producer = make_producer(broker)
    producer.send_sync(message(topic, b"create"))
    deliveries = Counter()
    lock = threading.Lock()

    def always_fail(msg):
        if msg.body == b"create":  # a new group may start at offset 0 and see it
            return ConsumeStatus.CONSUME_SUCCESS
        with lock:
            deliveries[(msg.body, msg.reconsume_times)] += 1
        return ConsumeStatus.RECONSUME_LATER

    group = unique("DlqCG")
    consumer = start_push(broker, topic, always_fail, max_reconsume_times=1, group=group)
    try:
        bodies = [b"doomed-%d" % i for i in range(3)]
        for body in bodies:
            assert producer.send_sync(message(topic, body)).status == SendStatus.OK
        dlq = f"%DLQ%{group}"
        wait_for(
            lambda: sum(max_offset(broker.broker_addr, dlq, q) for q in range(DLQ_QUEUES)) == 3,
            90,
            f"3 messages in {dlq}",
        )
        with lock:
            for body in bodies:
                # The first delivery and one retry, then the dead-letter queue.
                assert deliveries[(body, 0)] >= 1 and deliveries[(body, 1)] >= 1, deliveries
                assert not any(times > 1 for (b, times) in deliveries if b == body), deliveries
    finally:
        consumer.shutdown()
        producer.shutdown()


def test_push_consumers_get_only_their_tags(broker):
    topic = unique("TagT")
    producer = make_producer(broker)
    producer.send_sync(message(topic, b"create", "Other"))
    got = []
    consumer = start_push(broker, topic, lambda msg: got.append(msg.body), "TagA || TagB")
    try:
        # All on one queue, the marker last: once everything wanted arrived, an unwanted
        # message the broker let through would have arrived before the marker.
        for i, tag in enumerate(["TagA", "TagB", "TagC", "TagA", "Other", "TagB"]):
            body = b"marker" if i == 5 else b"%s-%d" % (tag.encode(), i)
            producer.send_orderly(message(topic, body, tag), 1)
        expected = [b"TagA-0", b"TagA-3", b"TagB-1", b"marker"]
        wait_for(lambda: set(expected) <= set(got), 60, "the matching messages")
        assert sorted(got) == expected
    finally:
        consumer.shutdown()
        producer.shutdown()
