"""Admin.reset_offset_by_time and Admin.consume_stats against the broker under test (ours,
or Apache's with ROCKETMQ_TEST_BROKER=apache / apache4): a live push consumer group moved back
to a time receives again exactly the messages stored since then; consume stats rows and their
lag before and after consumption; a group with no consumer online is reset too."""

import os
import threading
import time
from collections import Counter

import pytest
from clienttools import make_producer, message, unique, wait_for

from rocketmq.admin import Admin, AdminError, BrokerQueue, ConsumeStatsRow
from rocketmq.client import ConsumeStatus, PushConsumer

BROKER_ENV = "ROCKETMQ_TEST_BROKER"
#: More messages than the topic has queues, so every queue holds several.
PER_PHASE = 12
QUEUES = 3
#: Milliseconds between the last old message and the first new one.
GAP_MS = 1500


class Recorder:
    """A push consumer's listener that keeps every delivery, in order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.got = []

    def __call__(self, msg):
        with self.lock:
            self.got.append(msg)
        return ConsumeStatus.CONSUME_SUCCESS

    def snapshot(self):
        with self.lock:
            return list(self.got)

    def clear(self):
        with self.lock:
            self.got.clear()


def start_consumer(broker, group, topic, recorder):
    consumer = PushConsumer(group)
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.set_consume_from_first_offset()
    consumer.subscribe(topic, recorder)
    consumer.start()
    return consumer


def send_phase(broker, topic, prefix, count=PER_PHASE):
    """Sends ``count`` messages (round robin over the queues); their bodies, sorted."""
    producer = make_producer(broker)
    try:
        for i in range(count):
            producer.send_sync(message(topic, b"%s-%d" % (prefix, i)))
    finally:
        producer.shutdown()
    return sorted(b"%s-%d" % (prefix, i) for i in range(count))


def rows_of(admin, group, topic):
    return [r for r in admin.consume_stats(group, topic) if r.topic == topic]


def total_lag(admin, group, topic):
    return sum(r.lag for r in rows_of(admin, group, topic))


def test_a_live_group_moved_back_to_a_time_gets_exactly_the_messages_stored_since(broker):
    topic, group = unique("ResetT"), unique("ResetG")
    recorder = Recorder()
    with Admin(broker.namesrv_addr) as admin:
        admin.create_topic(topic, queues=QUEUES)
        old = send_phase(broker, topic, b"old")
        consumer = start_consumer(broker, group, topic, recorder)
        try:
            wait_for(lambda: len(recorder.snapshot()) >= PER_PHASE, 60, "the old messages")
            last_old = max(m.store_timestamp for m in recorder.snapshot())
            # A gap between the phases: 4.9 answers the message stored *nearest* to the time
            # (5.x and ours: the first at or after it), so the time must be nearer to each
            # queue's first new message than to its last old one.
            wait_for(lambda: time.time() * 1000 > last_old + GAP_MS, 5, "the clock to pass")
            new = send_phase(broker, topic, b"new")
            wait_for(lambda: len(recorder.snapshot()) >= 2 * PER_PHASE, 60, "the new messages")
            first_round = recorder.snapshot()
            assert sorted(m.body for m in first_round) == sorted(old + new)
            since = min(m.store_timestamp for m in first_round if m.body.startswith(b"new"))

            # Where each queue must go back to: its first new message.
            expected = {}
            for m in first_round:
                if m.body.startswith(b"new"):
                    key = m.queue_id
                    expected[key] = min(expected.get(key, m.queue_offset), m.queue_offset)
            recorder.clear()
            table = admin.reset_offset_by_time(topic, group, since)
            assert all(isinstance(k, BrokerQueue) for k in table)
            assert sorted(k.queue_id for k in table) == list(range(QUEUES))
            per_queue = Counter(m.queue_id for m in first_round)
            for key, offset in table.items():
                assert offset == expected.get(key.queue_id, per_queue[key.queue_id]), table

            # One more message per queue, stored after the reset: Apache 5 moves a consumer at
            # its next pull answer, and a new message ends the pull it holds at once.
            late = send_phase(broker, topic, b"late", count=QUEUES)
            since_then = sorted(new + late)
            wait_for(lambda: len(recorder.snapshot()) >= len(since_then), 90, "the redelivery")
            wait_for(lambda: total_lag(admin, group, topic) == 0, 60, "offsets committed")
            again = recorder.snapshot()
        finally:
            consumer.shutdown()
    assert sorted(m.body for m in again) == since_then


def test_consume_stats_rows_lag_and_last_timestamp_before_and_after_consuming(broker):
    topic, group = unique("StatsT"), unique("StatsG")
    recorder = Recorder()
    with Admin(broker.namesrv_addr) as admin:
        admin.create_topic(topic, queues=QUEUES)
        sent = send_phase(broker, topic, b"m")
        # Apache's broker builds its consume queues after answering the send (ours before):
        # wait, bounded, until its queue offsets count every message sent.
        wait_for(
            lambda: sum(r.broker_offset for r in rows_of(admin, group, topic)) == PER_PHASE,
            30,
            "the queues to count every message sent",
        )
        before = rows_of(admin, group, topic)
        assert all(isinstance(r, ConsumeStatsRow) for r in before)
        assert sorted(r.queue_id for r in before) == list(range(QUEUES))
        assert all(r.consumer_offset == 0 and r.lag == r.broker_offset for r in before)
        assert all(r.last_timestamp == 0 for r in before)
        assert sum(r.lag for r in before) == PER_PHASE

        consumer = start_consumer(broker, group, topic, recorder)
        try:
            wait_for(lambda: len(recorder.snapshot()) >= PER_PHASE, 60, "the messages")
            wait_for(lambda: total_lag(admin, group, topic) == 0, 60, "offsets committed")
            after = rows_of(admin, group, topic)
            # Without a topic: every topic the group has offsets in, this one among them.
            everything = admin.consume_stats(group)
        finally:
            consumer.shutdown()
    got = recorder.snapshot()
    assert sorted(m.body for m in got) == sent
    per_queue = Counter(m.queue_id for m in got)
    last_stored = {}
    for m in got:
        last_stored[m.queue_id] = max(last_stored.get(m.queue_id, 0), m.store_timestamp)
    for r in after:
        assert r.broker_offset == r.consumer_offset == per_queue[r.queue_id], after
        assert r.lag == 0
        # 4.9 keeps no pull offsets and answers 0 for them.
        assert r.pull_offset >= r.consumer_offset or os.environ.get(BROKER_ENV) == "apache4"
        assert r.last_timestamp == last_stored.get(r.queue_id, 0), after
    assert {(r.topic, r.queue_id) for r in after} <= {(r.topic, r.queue_id) for r in everything}


def test_a_group_with_no_consumer_online_is_reset_and_starts_there(broker):
    topic, group = unique("OfflineT"), unique("OfflineG")
    recorder = Recorder()
    with Admin(broker.namesrv_addr) as admin:
        admin.create_topic(topic, queues=QUEUES)
        sent = send_phase(broker, topic, b"m")
        consumer = start_consumer(broker, group, topic, recorder)
        try:
            wait_for(lambda: len(recorder.snapshot()) >= PER_PHASE, 60, "the messages")
        finally:
            consumer.shutdown()  # commits its offsets
        assert total_lag(admin, group, topic) == 0
        recorder.clear()

        table = admin.reset_offset_by_time(topic, group, 0)
        assert sorted(k.queue_id for k in table) == list(range(QUEUES))
        assert set(table.values()) == {0}
        assert total_lag(admin, group, topic) == PER_PHASE

        consumer = start_consumer(broker, group, topic, recorder)
        try:
            wait_for(lambda: len(recorder.snapshot()) >= PER_PHASE, 60, "the redelivery")
        finally:
            consumer.shutdown()
    assert sorted(m.body for m in recorder.snapshot()) == sent


def test_resetting_an_unknown_topic_or_with_bad_arguments_says_what_to_do(broker):
    with Admin(broker.namesrv_addr) as admin:
        with pytest.raises(AdminError):
            admin.reset_offset_by_time(unique("NoSuchTopic"), "G", 0)
        with pytest.raises(TypeError, match="timestamp_ms must be an int"):
            admin.reset_offset_by_time("T", "G", 1.5)
        with pytest.raises(AdminError, match="blank"):
            admin.reset_offset_by_time("T", " ", 0)
        with pytest.raises(AdminError, match="blank"):
            admin.consume_stats(" ")
