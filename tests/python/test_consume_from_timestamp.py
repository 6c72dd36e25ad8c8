"""PushConsumer.set_consume_from_timestamp: a new group starts, on every queue, at the first
message stored at or after the given time (SEARCH_OFFSET_BY_TIMESTAMP), against our broker and
Apache's (ROCKETMQ_TEST_BROKER=apache)."""

import threading
import time

import pytest
from clienttools import make_producer, message, pull_all, unique, wait_for

from rocketmq.client import ConsumeStatus, PushConsumer

#: More messages than the topic has queues, so that every queue holds old and new ones.
PER_PHASE = 24


def send_bodies(broker, topic, prefix):
    producer = make_producer(broker)
    try:
        for i in range(PER_PHASE):
            producer.send_sync(message(topic, b"%s-%d" % (prefix, i)))
    finally:
        producer.shutdown()


@pytest.mark.apache4_unsupported(
    "4.9 ignores setZeroIfNotFound and answers 0 for a new group on a young queue, so a new "
    "group starts there at 0 (Java's client too)"
)
def test_a_new_group_starts_at_the_first_message_stored_since_the_time(broker):
    topic = unique("FromTime")
    send_bodies(broker, topic, b"old")
    old = pull_all(broker.namesrv_addr, topic)
    assert len(old) == PER_PHASE
    since = max(m.store_timestamp for m in old) + 1
    # Every new message is stored after `since` (store times are milliseconds).
    wait_for(lambda: time.time() * 1000 > since + 1, timeout=5, what="the clock to pass")
    send_bodies(broker, topic, b"new")

    got, lock = [], threading.Lock()

    def on_message(msg):
        with lock:
            got.append(msg.body)
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = PushConsumer(unique("FromTimeG"))
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.set_consume_from_first_offset()
    consumer.set_consume_from_timestamp(since)  # the last call wins
    consumer.subscribe(topic, on_message)
    consumer.start()
    try:
        wait_for(lambda: len(got) >= PER_PHASE, timeout=60, what="the new messages")
        # Every queue holds new messages after its old ones (round robin over fewer queues
        # than PER_PHASE), so a queue started too early delivers an old message before its
        # new ones: it would be among the first PER_PHASE.
        with lock:
            bodies = sorted(got)
    finally:
        consumer.shutdown()
    assert bodies == sorted(b"new-%d" % i for i in range(PER_PHASE))


@pytest.mark.parametrize(
    "value, error, words",
    [
        (1.5, TypeError, "epoch_ms must be an int of milliseconds"),
        ("1700000000000", TypeError, "epoch_ms must be an int of milliseconds"),
        (True, TypeError, "epoch_ms must be an int of milliseconds"),
        (-1, ValueError, "epoch_ms must be 0 or more"),
    ],
)
def test_a_bad_timestamp_says_what_to_pass(value, error, words):
    with pytest.raises(error, match=words):
        PushConsumer(unique("FromTimeG")).set_consume_from_timestamp(value)
