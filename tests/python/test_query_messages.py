"""Admin.query_messages_by_key and Admin.view_message: the broker's message index answers key
queries (QUERY_MESSAGE) and id lookups (unique id through a unique-key QUERY_MESSAGE, offset id
through VIEW_MESSAGE_BY_ID), against our broker and Apache's (ROCKETMQ_TEST_BROKER=apache);
and on our broker the index survives kill -9 of the broker process."""

import queue
import re
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from clienttools import make_producer, message, unique, wait_for

from rocketmq.admin import Admin, AdminError, MessageNotFoundError
from rocketmq.broker import LocalBroker

#: Messages stored around the keyed ones.
BULK = 100_000
#: Messages sent with the key under test, spread over the bulk.
KEYED = 10
BATCH = 500
#: Commit-log segment size of the killed broker and of the one reopening its store.
SEGMENT_SIZE = 64 << 20


def _query_until(admin, topic, key, expected, timeout=30, **bounds):
    """The query's answer once it holds `expected` messages (an index may lag its sends)."""
    found = []

    def enough():
        found[:] = admin.query_messages_by_key(topic, key, **bounds)
        return len(found) >= expected

    wait_for(enough, timeout=timeout, what=f"{expected} messages with key {key!r}")
    return list(found)


@pytest.fixture(scope="module")
def stored(broker):
    """A topic holding BULK messages with keys of their own and KEYED messages with one shared
    key spread among them: (topic, key, the keyed messages' unique ids in send order)."""
    topic = unique("QueryKeys")
    key = unique("order")
    producer = make_producer(broker)
    ids = []
    try:
        keyed_every = BULK // KEYED
        batch = []
        for i in range(BULK):
            if i % keyed_every == keyed_every // 2:
                keyed = message(topic, b"keyed-%d" % len(ids), keys=key)
                ids.append(producer.send_sync(keyed).msg_id)
            batch.append(message(topic, b"bulk-%d" % i, keys="bulk-%d other" % i))
            if len(batch) == BATCH:
                producer.send_batch(batch)
                batch = []
        if batch:
            producer.send_batch(batch)
    finally:
        producer.shutdown()
    assert len(ids) == KEYED
    return topic, key, ids


@pytest.fixture(scope="module")
def admin(broker):
    with Admin(broker.namesrv_addr) as a:
        yield a


@pytest.mark.timeout(600)
def test_a_key_among_many_messages_returns_exactly_its_messages(stored, admin):
    topic, key, ids = stored
    found = _query_until(admin, topic, key, KEYED)
    assert sorted(m.body for m in found) == sorted(b"keyed-%d" % i for i in range(KEYED))
    assert sorted(m.id for m in found) == sorted(ids)
    times = [m.store_timestamp for m in found]
    assert times == sorted(times, reverse=True), "newest first"
    assert all(m.topic == topic and m.keys == key.encode() for m in found)
    # A bulk message's own key finds it alone; a key no message has finds nothing.
    assert [m.body for m in admin.query_messages_by_key(topic, "bulk-77")] == [b"bulk-77"]
    assert admin.query_messages_by_key(topic, unique("absent")) == []
    with pytest.raises(AdminError, match="route"):
        admin.query_messages_by_key(unique("NoSuchTopic"), key)


def test_time_bounds_and_max_num_are_respected(stored, admin):
    topic, key, _ = stored
    found = _query_until(admin, topic, key, KEYED)
    times = sorted(m.store_timestamp for m in found)
    lo, hi = times[2], times[6]
    window = admin.query_messages_by_key(topic, key, begin_ms=lo, end_ms=hi)
    assert sorted(m.store_timestamp for m in window) == [t for t in times if lo <= t <= hi]
    after = admin.query_messages_by_key(topic, key, begin_ms=times[-1] + 1)
    assert after == []
    before = admin.query_messages_by_key(topic, key, end_ms=times[0] - 1)
    assert before == []
    newest = admin.query_messages_by_key(topic, key, max_num=3)
    assert [m.store_timestamp for m in newest] == sorted(times, reverse=True)[:3]


def test_view_message_by_unique_id_and_by_offset_id(stored, admin):
    topic, key, ids = stored
    found = {m.id: m for m in _query_until(admin, topic, key, KEYED)}
    for uniq in (ids[0], ids[-1]):
        expected = found[uniq]
        by_unique = admin.view_message(uniq, topic)
        by_offset = admin.view_message(expected.offset_msg_id)
        for m in (by_unique, by_offset):
            assert (m.id, m.body, m.offset_msg_id, m.commit_log_offset) == (
                uniq,
                expected.body,
                expected.offset_msg_id,
                expected.commit_log_offset,
            )
    # The lower-case form of an offset id names the same message.
    assert admin.view_message(found[ids[1]].offset_msg_id.lower()).id == ids[1]


def test_view_message_errors_say_what_to_pass(stored, admin):
    topic, _, ids = stored
    with pytest.raises(ValueError, match="pass its topic"):
        admin.view_message(ids[0])
    with pytest.raises(ValueError, match="hex digits"):
        admin.view_message("not-an-id", topic)
    with pytest.raises(MessageNotFoundError, match="no message with id"):
        admin.view_message("0" * 31 + "1", topic)
    with pytest.raises(TypeError, match="milliseconds since the epoch"):
        admin.query_messages_by_key(topic, "k", begin_ms=1.5)
    with pytest.raises(ValueError, match="one non-empty word"):
        admin.query_messages_by_key(topic, "two words")
    with pytest.raises(TypeError, match="max_num"):
        admin.query_messages_by_key(topic, "k", max_num=0)


def _start_broker_process(store_dir):
    """Our broker as a child process (`python -m rocketmq.broker`, sync flush): the process and
    its name server address, once it printed both listening addresses."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rocketmq.broker",
            "--store-dir",
            str(store_dir),
            "--namesrv-port",
            "0",
            "--broker-port",
            "0",
            "--flush",
            "sync",
            "--segment-size",
            str(SEGMENT_SIZE),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        found = re.fullmatch(r"name server listening on (127\.0\.0\.1:\d+)\s*", line)
        if found:
            return proc, found.group(1)
    proc.kill()
    proc.wait(10)
    raise AssertionError("the broker process did not print its name server address")


@pytest.mark.ours_broker_only("kills our broker process and reopens its store")
def test_the_index_survives_kill_9(tmp_path):
    store_dir = tmp_path / "store"
    topic, key = unique("Kill9Keys"), unique("k9")
    proc, namesrv = _start_broker_process(store_dir)
    try:
        producer = make_producer(SimpleNamespace(namesrv_addr=namesrv))
        try:
            ids = [
                producer.send_sync(message(topic, b"k9-%d" % i, keys=f"{key} n{i}")).msg_id
                for i in range(50)
            ]
        finally:
            producer.shutdown()
        with Admin(namesrv) as admin:
            assert len(_query_until(admin, topic, key, 50)) == 50
    finally:
        proc.kill()  # SIGKILL: no flush, no clean shutdown
        proc.wait(10)
    with LocalBroker(
        store_dir=str(store_dir), namesrv_port=0, broker_port=0, segment_size=SEGMENT_SIZE
    ) as broker:
        with Admin(broker.namesrv_addr) as admin:
            found = _query_until(admin, topic, key, 50)
            assert sorted(m.id for m in found) == sorted(ids)
            assert admin.view_message(ids[7], topic).body == b"k9-7"
            assert [m.body for m in admin.query_messages_by_key(topic, "n49")] == [b"k9-49"]


@pytest.mark.ours_broker_only("LocalBroker's message_index option")
def test_a_broker_without_the_index_answers_no_key_query(tmp_path):
    with pytest.raises(TypeError, match="message_index must be True"):
        LocalBroker(store_dir=str(tmp_path / "bad"), namesrv_port=0, broker_port=0, message_index=2)
    store_dir = tmp_path / "store"
    with LocalBroker(
        store_dir=str(store_dir), namesrv_port=0, broker_port=0, message_index=False
    ) as broker:
        producer = make_producer(broker)
        try:
            msg_id = producer.send_sync(message("NoIndex", b"x", keys="k")).msg_id
        finally:
            producer.shutdown()
        with Admin(broker.namesrv_addr) as admin:
            assert admin.query_messages_by_key("NoIndex", "k") == []
            with pytest.raises(MessageNotFoundError):
                admin.view_message(msg_id, "NoIndex")
    assert not (store_dir / "index").exists()
