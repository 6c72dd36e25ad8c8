"""Retention on our broker: small commit-log files and a reserved time of seconds, so that old
files go while a producer and consumers run. What is younger than the reserved time is never
touched; a push consumer group whose committed offsets fell below the queues' new minimum,
and a pull consumer starting at offset 0, both continue from the minimum (PULL_OFFSET_MOVED);
DELETE_EXPIRED_COMMITLOG cleans at once but never takes unexpired files. The refusal
watermark is in test_retention_disk_full.py."""

import inspect
import subprocess
import sys
import threading
import time

import pytest
from clienttools import FAST_LEVELS, FreshPullConsumer, make_producer, message, unique, wait_for

from rocketmq import _rocketmq
from rocketmq.broker import LocalBroker
from rocketmq.client import ConsumeStatus, PushConsumer

from remoting import RemotingConnection

pytestmark = pytest.mark.ours_broker_only(
    "small commit-log files and a reserved time of seconds are LocalBroker options"
)

SEGMENT = 128 * 1024
RESERVED_S = 2.0
DELETE_EXPIRED_COMMITLOG = 329
CLEAN_EXPIRED_CONSUMEQUEUE = 306


def retention_broker(tmp_path, reserved):
    return LocalBroker(
        store_dir=tmp_path / "store",
        namesrv_port=0,
        broker_port=0,
        segment_size=SEGMENT,
        max_message_size=16 * 1024,
        delay_levels=FAST_LEVELS,
        file_reserved_time=reserved,
    )


def segments(broker):
    return sorted(int(p.name) for p in (broker.store_dir / "commitlog").iterdir())


def body(i):
    return b"retained-%06d-" % i + b"x" * 2000


class Collector:
    """A push consumer callback that records what it got."""

    def __init__(self):
        self.lock = threading.Lock()
        self.bodies = []
        self.offsets = []

    def __call__(self, msg):
        with self.lock:
            self.bodies.append(msg.body)
            self.offsets.append((msg.queue_id, msg.queue_offset))
        return ConsumeStatus.CONSUME_SUCCESS

    def count(self):
        with self.lock:
            return len(self.bodies)

    def body_set(self):
        with self.lock:
            return set(self.bodies)


def push_consumer(broker, group, topic, collector, from_first=False):
    c = PushConsumer(group)
    c.set_namesrv_addr(broker.namesrv_addr)
    if from_first:
        c.set_consume_from_first_offset()
    c.subscribe(topic, collector)
    c.start()
    return c


def pull_everything(broker, topic):
    """Every stored message of `topic`, read by a pull consumer that starts at offset 0 of
    every queue (below the minimum once files went: the broker moves it up)."""
    c = FreshPullConsumer(unique("RetainedPull"))
    c.set_namesrv_addr(broker.namesrv_addr)
    c.start()
    try:
        return list(c.pull(topic))
    finally:
        c.shutdown()


def by_queue(msgs):
    queues = {}
    for m in msgs:
        queues.setdefault(m.queue_id, []).append(m.queue_offset)
    return {q: sorted(offsets) for q, offsets in queues.items()}


def test_old_files_go_while_producing_and_consuming_and_laggards_continue(tmp_path):
    with retention_broker(tmp_path, f"{int(RESERVED_S * 1000)}ms") as broker:
        topic = unique("Retained")
        producer = make_producer(broker)
        sent_at = {}

        def send(i):
            sent_at[body(i)] = time.time()
            producer.send_sync(message(topic, body(i)))

        try:
            # A group that consumes the first messages, then stops: its committed offsets
            # stay at the start of the queues while their files go.
            for i in range(20):
                send(i)
            lagging_group = unique("LaggingG")
            early = Collector()
            lagging = push_consumer(broker, lagging_group, topic, early, from_first=True)
            try:
                wait_for(lambda: early.count() >= 20, timeout=60, what="the first messages")
            finally:
                lagging.shutdown()

            live = Collector()
            live_consumer = push_consumer(broker, unique("LiveG"), topic, live)
            try:
                # Produce until retention removed the oldest file, then a little more.
                first = segments(broker)[0]
                i = 20
                deadline = time.monotonic() + 120
                while segments(broker)[0] == first:
                    assert time.monotonic() < deadline and i < 200_000, "no file was removed"
                    send(i)
                    i += 1
                for _ in range(200):
                    send(i)
                    i += 1

                # Nothing younger than the reserved time is touched: every message sent
                # after (end of the read - reserved time) is still stored.
                stored = pull_everything(broker, topic)
                cutoff = time.time() - RESERVED_S
                stored_bodies = {m.body for m in stored}
                recent = {b for b, t in sent_at.items() if t > cutoff}
                assert recent and recent <= stored_bodies
                # The reader started at 0 and was moved to each queue's new minimum; from
                # there every offset up to the end is present.
                queues = by_queue(stored)
                assert any(offsets[0] > 0 for offsets in queues.values()), queues.keys()
                for q, offsets in queues.items():
                    assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), q

                # Once retention is done only the file being written is left; both the
                # running consumer and the lagging group (its offsets far below the new
                # minimum) get everything still stored, and the laggard nothing older.
                wait_for(lambda: len(segments(broker)) == 1, timeout=60, what="old files gone")
                remaining = pull_everything(broker, topic)
                remaining_bodies = {m.body for m in remaining}
                assert 0 < len(remaining_bodies) < len(sent_at)
                wait_for(
                    lambda: remaining_bodies <= live.body_set(),
                    timeout=60,
                    what="the live consumer to get what is stored",
                )
            finally:
                live_consumer.shutdown()

            again = Collector()
            lagging = push_consumer(broker, lagging_group, topic, again)
            try:
                wait_for(
                    lambda: again.count() >= len(remaining_bodies),
                    timeout=60,
                    what="the lagging group to continue from the minimum",
                )
                assert again.body_set() == remaining_bodies
            finally:
                lagging.shutdown()
        finally:
            producer.shutdown()


def test_clean_codes_take_expired_files_at_once_and_never_unexpired_ones(tmp_path):
    def fill(broker, topic):
        """About five files' worth of messages."""
        producer = make_producer(broker)
        try:
            for i in range(5 * SEGMENT // len(body(0))):
                producer.send_sync(message(topic, body(i)))
        finally:
            producer.shutdown()

    # Reserved for an hour: the codes answer SUCCESS and remove nothing.
    with retention_broker(tmp_path / "kept", "1h") as broker:
        topic = unique("Kept")
        fill(broker, topic)
        before = segments(broker)
        assert len(before) >= 4
        with RemotingConnection(broker.broker_addr) as conn:
            for code in (DELETE_EXPIRED_COMMITLOG, CLEAN_EXPIRED_CONSUMEQUEUE):
                assert conn.call(code).code == 0, code
        assert segments(broker) == before
        assert all(q[0] == 0 for q in by_queue(pull_everything(broker, topic)).values())

    # Reserved for no time: when the answer comes, only the file being written is left (the
    # store's own once-a-second pass may have removed some before).
    with retention_broker(tmp_path / "expired", "0ms") as broker:
        topic = unique("Expired")
        fill(broker, topic)
        with RemotingConnection(broker.broker_addr) as conn:
            assert conn.call(DELETE_EXPIRED_COMMITLOG).code == 0
        assert len(segments(broker)) == 1
        left = by_queue(pull_everything(broker, topic))
        assert left and any(offsets[0] > 0 for offsets in left.values())


def test_watermarks_are_off_where_tests_and_developers_run_brokers():
    params = inspect.signature(LocalBroker).parameters
    assert params["disk_max_used_ratio"].default is None
    assert params["disk_refuse_ratio"].default is None
    result = subprocess.run(
        [sys.executable, "-m", "rocketmq.broker", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result
    help_text = " ".join(result.stdout.split())
    for option in ("--disk-max-used-ratio", "--disk-refuse-ratio"):
        at = help_text.rindex(option + " ")  # its description, after the usage line
        assert "(default: 0" in help_text[at : at + 400], help_text[at : at + 400]
    assert f"(default: {_rocketmq.DEFAULT_FILE_RESERVED_TIME})" in help_text


def test_retention_options_are_checked():
    with pytest.raises(ValueError, match="file_reserved_time"):
        LocalBroker(namesrv_port=0, broker_port=0, file_reserved_time="72")
    with pytest.raises(ValueError, match="disk_refuse_ratio"):
        LocalBroker(namesrv_port=0, broker_port=0, disk_refuse_ratio=5)
    with pytest.raises(TypeError, match="file_reserved_time"):
        LocalBroker(namesrv_port=0, broker_port=0, file_reserved_time=[1])


def test_an_undelivered_timer_message_holds_retention_back(tmp_path):
    """A timer message lives in the commit log until its time: retention keeps its file (and
    every later one) however old, and lets them go once it is delivered."""
    with retention_broker(tmp_path, "0ms") as broker:
        timer_topic, filler_topic = unique("Timed"), unique("Filler")
        producer = make_producer(broker)
        try:
            timed = message(timer_topic, b"due-later")
            timed.set_delay_time_ms(4000)
            producer.send_sync(timed)
            for i in range(5 * SEGMENT // len(body(0))):
                producer.send_sync(message(filler_topic, body(i)))
        finally:
            producer.shutdown()
        with RemotingConnection(broker.broker_addr) as conn:
            assert conn.call(DELETE_EXPIRED_COMMITLOG).code == 0
            # Nothing left the commit log: the timer message is in its first file.
            assert segments(broker)[0] == 0
            assert len(segments(broker)) >= 4
            assert pull_everything(broker, timer_topic) == []
            wait_for(
                lambda: [m.body for m in pull_everything(broker, timer_topic)] == [b"due-later"],
                timeout=30,
                what="the timer message delivered after the cleans",
            )

            # Delivered (and checkpointed): the old files may go now.
            def cleaned():
                assert conn.call(DELETE_EXPIRED_COMMITLOG).code == 0
                return len(segments(broker)) == 1

            wait_for(cleaned, timeout=30, what="the old files removed after the delivery")
