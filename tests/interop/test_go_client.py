"""Interop: Apache's Go client (github.com/apache/rocketmq-client-go/v2, driven by
tests/drivers/go) produces and consumes through our bundled broker, and messages cross
between it and our Python client in both directions.

Each test boots a LocalBroker in process on ephemeral loopback ports with a temporary store,
short delay levels and a fast transaction check-back, and runs Go producers and consumers as
subprocesses (go_client.py).
"""

from __future__ import annotations

import collections
import threading
import time

import pytest
from clienttools import make_producer, message, pull_all, unique
from cpp_client import PROPERTY_NAMES, assert_same_content, make_body, make_message, probe_until
from driver_records import SHORT_DELAY_LEVELS, by_seq, create_topic
from go_client import GoProducer, GoPushConsumer, go_pull

from rocketmq.broker import LocalBroker
from rocketmq.client import ConsumeStatus, PushConsumer
from rocketmq.exceptions import PullConsumerFetchMQFailed

BROKER_NAME = "broker-go"
QUEUES = 4

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def broker(tmp_path):
    with LocalBroker(
        store_dir=tmp_path / "store",
        namesrv_port=0,
        broker_port=0,
        delay_levels=SHORT_DELAY_LEVELS,
        broker_name=BROKER_NAME,
        transaction_check_interval_ms=300,
        transaction_timeout_ms=1000,
        transaction_check_max=200,  # one minute of check-backs before giving up
    ) as running:
        yield running


def record_of(msg):
    """A message received by our Python client, described as the drivers describe one."""
    return {
        "topic": msg.topic,
        "tags": msg.tags.decode("utf-8", "surrogateescape"),
        "keys": msg.keys.decode("utf-8", "surrogateescape"),
        "properties": {
            name: msg.properties[name] for name in PROPERTY_NAMES if name in msg.properties
        },
        "body_hex": msg.body.hex(),
        "queue_id": msg.queue_id,
        "queue_offset": msg.queue_offset,
        "reconsume_times": msg.reconsume_times,
        "born_timestamp": msg.born_timestamp,
        "store_timestamp": msg.store_timestamp,
    }


def python_read_until(namesrv, topic, done, timeout=60):
    """Reads `topic` from the start with our client until `done(records)` holds (a topic
    the name server does not know yet reads as empty)."""
    records = []
    deadline = time.monotonic() + timeout
    for _attempt in range(1000):
        try:
            records = [record_of(m) for m in pull_all(namesrv, topic)]
        except PullConsumerFetchMQFailed:
            records = []
        if done(records) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return records


def create_retry_topic(broker, home, group, topic):
    """Starts and stops a Go consumer of `group`: its heartbeat makes the broker create the
    group's retry topic. The Go client looks up the route of a consumer's retry topic when it
    starts and then only every 30 s (not configurable in v2.1.2), so a consumer of a brand-new
    group would see its first retries only after that refresh; Apache's broker behaves the
    same way (it too creates the retry topic on the first heartbeat)."""
    warmup = GoPushConsumer(broker.namesrv_addr, home / "warmup", group, topic)
    try:
        warmup.stop()
    finally:
        warmup.kill()


def python_send(broker, specs):
    """Sends the spec'd messages with our Python client (sync); returns the message ids."""
    producer = make_producer(broker)
    try:
        ids = []
        for spec in specs:
            msg = message(spec["topic"], bytes.fromhex(spec["body_hex"]), tags=spec["tags"])
            msg.set_keys(spec["keys"])
            for name, value in spec["properties"].items():
                msg.set_property(name, value)
            ids.append(producer.send_sync(msg).msg_id)
        return ids
    finally:
        producer.shutdown()


def test_go_send_modes_reach_python_and_go_pull_byte_for_byte(broker, home, cleanup):
    topic = "GoModes"
    producer = GoProducer(broker.namesrv_addr, home)
    cleanup(producer)
    create_topic(producer, topic)
    tags = ("TagA", "TagB", "TagC")
    # seq 5 (1 MiB) and seq 6 (5000 bytes) are over the Go client's 4 KiB compression
    # threshold: they travel zlib-compressed and must come back as sent.
    sizes = {5: 1 << 20, 6: 5000}
    sync = [
        make_message(topic, seq, tags=tags[seq % 3], body=make_body(seq, sizes.get(seq)))
        for seq in range(0, 30)
    ]
    sync[29]["delay_level"] = 2  # 200 ms with the test broker's levels
    asynchronous = [make_message(topic, seq) for seq in range(30, 50)]
    oneway = [make_message(topic, seq) for seq in range(50, 70)]
    batch = [make_message(topic, seq, tags="TagB") for seq in range(70, 90)]
    orderly = [make_message(topic, seq, order_arg=seq) for seq in range(90, 110)]
    sent = {int(m["properties"]["seq"]): m for m in sync + asynchronous + oneway + batch + orderly}

    results = {}
    for mode, specs in (
        ("sync", sync),
        ("async", asynchronous),
        ("oneway", oneway),
        ("batch", batch),
        ("orderly", orderly),
    ):
        answers = producer.send(specs, mode=mode, batch_size=10)
        assert [r.get("status") for r in answers] == [0] * len(specs), (mode, answers)
        results.update({int(s["properties"]["seq"]): r for s, r in zip(specs, answers)})
    # A body over the broker's 4 MiB limit (random bytes: zlib cannot shrink it) is refused
    # with MESSAGE_ILLEGAL (13), as by Apache's broker, and the producer keeps working.
    oversized = make_message(topic, 1000, body=make_body(1000, 4 * 1024 * 1024 + 1))
    refused = producer.send([oversized])[0]
    assert refused.get("error", "").startswith("CODE: 13,"), refused
    producer.stop()

    acknowledged = [results[seq] for seq in sent if not 50 <= seq < 70]
    for result in acknowledged:
        # The broker's id of the stored message: IPv4 address, port and commit-log offset.
        assert len(result["offset_msg_id"]) == 32, result
        assert result["broker_name"] == BROKER_NAME, result
        assert 0 <= result["queue_id"] < QUEUES and result["offset"] >= 0, result
    unique_ids = [results[seq]["msg_id"] for seq in sent if seq < 50 or seq >= 90]
    assert len(set(unique_ids)) == len(unique_ids) and all(unique_ids)

    received = python_read_until(broker.namesrv_addr, topic, lambda r: set(by_seq(r)) >= set(sent))
    table = by_seq(received)
    assert sorted(table) == sorted(sent)
    for seq, copies in table.items():
        assert len(copies) == 1, f"seq {seq} read {len(copies)} times"
        assert_same_content(copies[0], sent[seq])
        assert copies[0]["topic"] == topic
        if seq in results and not 50 <= seq < 70 and seq != 29:
            # Where the broker said it stored the message is where it is (except for the
            # delayed one: as on Apache's broker, its offset is the one in the delay queue).
            position = (results[seq]["queue_id"], results[seq]["offset"])
            assert (copies[0]["queue_id"], copies[0]["queue_offset"]) == position, seq
        if seq >= 90:
            assert copies[0]["queue_id"] == seq % QUEUES, "the selector chose the queue"
    # Stored in the real topic only once the delay elapsed (same clock for both stamps).
    delayed = table[29][0]
    assert delayed["store_timestamp"] - delayed["born_timestamp"] >= 190, delayed

    pulled = go_pull(
        broker.namesrv_addr,
        home / "pull",
        "CG_go_pull_from",
        topic,
        mode="from",
        broker_name=BROKER_NAME,
        queues=QUEUES,
    )
    pulled_table = by_seq(pulled["messages"])
    assert sorted(pulled_table) == sorted(sent)
    for seq, copies in pulled_table.items():
        assert len(copies) == 1
        assert_same_content(copies[0], sent[seq])
    stored_per_queue = collections.Counter(m["queue_id"] for m in received)
    for queue in pulled["queues"]:
        pulls = queue["pulls"]
        assert all("error" not in p for p in pulls), pulls
        assert [p["status"] for p in pulls] == ["FOUND"] * len(pulls), pulls
        # Every pull returns the next messages in offset order, up to the queue's end.
        assert pulls[-1]["next_begin_offset"] == stored_per_queue[queue["queue_id"]], queue
        for p in pulls:
            assert p["min_offset"] == 0, pulls
            assert p["max_offset"] == stored_per_queue[queue["queue_id"]], pulls
            assert p["next_begin_offset"] == p["offset"] + p["messages"], pulls


def test_python_sends_two_go_push_consumers_share_the_queues(broker, home, cleanup):
    topic, group = "GoCluster", "CG_go_cluster"
    producer = GoProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    create_topic(producer, topic)
    consumers = []
    for index in range(2):
        consumer = GoPushConsumer(broker.namesrv_addr, home / f"c{index}", group, topic)
        cleanup(consumer)
        consumers.append(consumer)

    def split_evenly(seen):
        owned = [sorted(seen.get(index, [])) for index in range(2)]
        return all(len(q) == 2 for q in owned) and not set(owned[0]) & set(owned[1])

    probe_until(producer, consumers, topic, split_evenly)
    sent = {seq: make_message(topic, seq, tags=("TagA", "TagB")[seq % 2]) for seq in range(200)}
    ids = python_send(broker, list(sent.values()))
    assert len(set(ids)) == len(sent)

    def all_consumed():
        return set(consumers[0].seqs()) | set(consumers[1].seqs()) >= set(sent)

    consumers[0].wait_until(all_consumed, 120, "every message consumed by the group")
    for consumer in consumers:
        consumer.stop()
        assert consumer.lines("DONE"), consumer.diagnostics()
    first, second = (set(c.seqs()) for c in consumers)
    assert first and second, "both consumers took part"
    assert not first & second, f"consumed by both: {sorted(first & second)[:10]}"
    for consumer in consumers:
        for seq, copies in by_seq(consumer.messages()).items():
            assert len(copies) == 1, f"seq {seq} delivered {len(copies)} times"
            assert_same_content(copies[0], sent[seq])
            assert copies[0]["reconsume_times"] == 0
            assert copies[0]["id"] == ids[seq], "the id our client got is the id Go sees"


def test_go_sends_python_push_consumer_receives_and_retries(broker, home, cleanup):
    topic, group = "GoToPythonPush", unique("CG_python_push")
    producer = GoProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    sent = {seq: make_message(topic, seq, tags=("TagA", "TagB")[seq % 2]) for seq in range(40)}
    results = producer.send([sent[seq] for seq in range(20)], mode="sync")
    results += producer.send([sent[seq] for seq in range(20, 40)], mode="async")
    assert [r.get("status") for r in results] == [0] * len(sent), results
    deliveries = []
    lock = threading.Lock()

    def on_message(msg):
        record = record_of(msg)
        record["id"] = msg.id
        with lock:
            # The first delivery of every even seq fails: our client sends it back.
            failing = int(record["properties"]["seq"]) % 2 == 0 and not any(
                d["properties"] == record["properties"] for d in deliveries
            )
            record["failed"] = failing
            deliveries.append(record)
        return ConsumeStatus.RECONSUME_LATER if failing else ConsumeStatus.CONSUME_SUCCESS

    consumer = PushConsumer(group)
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.set_consume_from_first_offset()
    consumer.subscribe(topic, on_message)
    consumer.start()
    try:

        def done():
            with lock:
                table = by_seq(deliveries)
            return all(any(not m["failed"] for m in table.get(seq, [])) for seq in sent)

        deadline = time.monotonic() + 60
        while not done() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        consumer.shutdown()
    table = by_seq(deliveries)
    assert sorted(table) == sorted(sent)
    for seq, copies in table.items():
        expected = [0, 1] if seq % 2 == 0 else [0]
        assert [m["reconsume_times"] for m in copies] == expected, (seq, copies)
        for copy in copies:
            assert copy["topic"] == topic
            assert copy["id"] == results[seq]["msg_id"], "Go's message id is the one we see"
            assert_same_content(copy, sent[seq])


def test_go_push_broadcasting_delivers_everything_to_every_consumer(broker, home, cleanup):
    topic, group = "GoBroadcast", "CG_go_broadcast"
    producer = GoProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    create_topic(producer, topic)
    consumers = []
    for index in range(2):
        consumer = GoPushConsumer(
            broker.namesrv_addr, home / f"c{index}", group, topic, broadcasting=True
        )
        cleanup(consumer)
        consumers.append(consumer)
    sent = {seq: make_message(topic, seq) for seq in range(60)}
    assert all(r.get("status") == 0 for r in producer.send(list(sent.values()), mode="async"))
    for consumer in consumers:
        consumer.wait_until(lambda c=consumer: set(c.seqs()) >= set(sent), 120, "every message")
    for consumer in consumers:
        consumer.stop()
        for seq, copies in by_seq(consumer.messages()).items():
            assert len(copies) == 1, f"seq {seq} delivered {len(copies)} times"
            assert_same_content(copies[0], sent[seq])


def test_go_consumer_of_a_new_group_filters_tags_from_the_first_message(broker, home, cleanup):
    topic, group = "GoTags", "CG_go_tags"
    producer = GoProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    tags = ("TagA", "TagB", "TagC", "TagAB")
    sent = {seq: make_message(topic, seq, tags=tags[seq % 4]) for seq in range(80)}
    assert all(r.get("status") == 0 for r in producer.send(list(sent.values())))
    # Starting at the last offset, a group new to a queue that never lost a message starts
    # at its first message (as on Apache's broker), so everything sent above is delivered.
    consumer = GoPushConsumer(
        broker.namesrv_addr, home / "c", group, topic, "TagA || TagC", from_last=True
    )
    cleanup(consumer)
    # Sentinels go to every queue after the others: once they arrived, every earlier message
    # of their queue was pulled.
    sentinels = [make_message(topic, 1000 + q, tags="TagC", order_arg=q) for q in range(QUEUES)]
    assert all(r.get("status") == 0 for r in producer.send(sentinels, mode="orderly"))
    wanted = {seq for seq, m in sent.items() if m["tags"] in ("TagA", "TagC")}
    wanted |= {1000 + q for q in range(QUEUES)}
    consumer.wait_until(lambda: set(consumer.seqs()) >= wanted, 60, "TagA and TagC messages")
    consumer.stop()
    got = by_seq(consumer.messages())
    assert set(got) == wanted, f"unexpected: {sorted(set(got) - wanted)[:10]}"
    for seq in wanted - {1000 + q for q in range(QUEUES)}:
        assert len(got[seq]) == 1
        assert_same_content(got[seq][0], sent[seq])


def test_go_failed_deliveries_come_back_with_increasing_reconsume_times(broker, home, cleanup):
    topic, group = "GoRetry", "CG_go_retry"
    producer = GoProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    create_topic(producer, topic)
    create_retry_topic(broker, home, group, topic)
    consumer = GoPushConsumer(broker.namesrv_addr, home / "c", group, topic, fail_times=2)
    cleanup(consumer)
    sent = {seq: make_message(topic, seq) for seq in range(12)}
    assert all(r.get("status") == 0 for r in producer.send(list(sent.values())))

    def report():
        return [
            (m["properties"].get("seq"), m["failed"], m["reconsume_times"], m["topic"])
            for m in consumer.messages()
        ]

    def retried_all():
        table = by_seq(consumer.messages())
        return all(any(not m["failed"] for m in table.get(seq, [])) for seq in sent)

    try:
        consumer.wait_until(retried_all, 120, "the third delivery of every message")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n(seq, failed, reconsume, topic): {report()}") from exc
    consumer.stop()
    for seq, copies in by_seq(consumer.messages()).items():
        assert [m["reconsume_times"] for m in copies] == [0, 1, 2], (seq, report())
        assert [m["failed"] for m in copies] == [True, True, False], (seq, report())
        for copy in copies:
            assert copy["topic"] == topic, "a retry is shown under its original topic"
            assert_same_content(copy, sent[seq])


def test_go_message_failing_every_delivery_goes_to_the_dead_letter_queue(broker, home, cleanup):
    topic, group = "GoDead", "CG_go_dead"
    producer = GoProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    create_topic(producer, topic)
    create_retry_topic(broker, home, group, topic)
    consumer = GoPushConsumer(
        broker.namesrv_addr, home / "c", group, topic, fail_always=[0], max_reconsume_times=2
    )
    cleanup(consumer)
    sent = {seq: make_message(topic, seq) for seq in range(3)}
    assert all(r.get("status") == 0 for r in producer.send(list(sent.values())))

    def attempts():
        return sorted(
            m["reconsume_times"] for m in consumer.messages() if m["properties"].get("seq") == "0"
        )

    # The first delivery plus max_reconsume_times retries, then the dead-letter queue.
    consumer.wait_until(lambda: len(attempts()) >= 3, 120, "3 deliveries of seq 0")
    dead = python_read_until(broker.namesrv_addr, f"%DLQ%{group}", lambda r: bool(r))
    consumer.stop()
    assert attempts() == [0, 1, 2], attempts()
    assert [m["properties"].get("seq") for m in dead] == ["0"], dead
    assert_same_content(dead[0], sent[0])
    others = by_seq(consumer.messages())
    assert all(len(others[seq]) == 1 for seq in (1, 2)), "only seq 0 was failed"


def test_go_orderly_consumer_keeps_queue_order_through_retries(broker, home, cleanup):
    topic, group = "GoOrderly", "CG_go_orderly"
    producer = GoProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    create_topic(producer, topic)
    consumer = GoPushConsumer(
        broker.namesrv_addr, home / "c", group, topic, orderly=True, fail_times=1
    )
    cleanup(consumer)
    # 8 order keys over 4 queues; within a key, seq grows.
    sent = {seq: make_message(topic, seq, order_arg=seq % 8) for seq in range(48)}
    results = producer.send(list(sent.values()), mode="orderly")
    assert all(r.get("status") == 0 for r in results), results

    def done():
        table = by_seq(consumer.messages())
        return all(any(not m["failed"] for m in table.get(seq, [])) for seq in sent)

    consumer.wait_until(done, 120, "every ordered message consumed after its retry")
    consumer.stop()
    per_queue = collections.defaultdict(list)
    for m in consumer.messages():
        seq = int(m["properties"]["seq"])
        if seq < 0:
            continue
        assert m["queue_id"] == (seq % 8) % QUEUES, "the selector chose the queue"
        per_queue[m["queue_id"]].append((seq, m["failed"], m["reconsume_times"]))
    for queue, deliveries in per_queue.items():
        # Each message fails once and is retried in place before the next one is shown.
        expected_seqs = sorted({seq for seq, _, _ in deliveries})
        expected = [
            (seq, failed, times)
            for seq in expected_seqs
            for failed, times in ((True, 0), (False, 1))
        ]
        assert deliveries == expected, f"queue {queue}: {deliveries}"
    for seq, copies in by_seq(consumer.messages()).items():
        assert_same_content(copies[-1], sent[seq])


def test_go_orderly_message_failing_past_its_retries_goes_to_the_dead_letter_queue(
    broker, home, cleanup
):
    topic, group = "GoOrderlyDead", "CG_go_orderly_dead"
    producer = GoProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    create_topic(producer, topic)
    consumer = GoPushConsumer(
        broker.namesrv_addr,
        home / "c",
        group,
        topic,
        orderly=True,
        fail_always=[0],
        max_reconsume_times=1,
    )
    cleanup(consumer)
    sent = {seq: make_message(topic, seq, order_arg=0) for seq in range(3)}
    assert all(r.get("status") == 0 for r in producer.send(list(sent.values()), mode="orderly"))
    # The orderly client retries in place; past max_reconsume_times it sends the message back
    # with delay level -1 to the broker it was stored on (its store host), which puts it in
    # the dead-letter queue, and the queue moves on.
    consumer.wait_until(lambda: {1, 2} <= set(consumer.seqs()), 60, "the messages behind seq 0")
    dead = python_read_until(broker.namesrv_addr, f"%DLQ%{group}", lambda r: bool(r))
    consumer.stop()
    attempts = [m["reconsume_times"] for m in consumer.messages() if m["properties"]["seq"] == "0"]
    assert attempts == [0, 1, 2], attempts
    assert [m["properties"].get("seq") for m in dead] == ["0"], dead
    assert_same_content(dead[0], sent[0])
    assert [int(m["properties"]["seq"]) for m in consumer.messages()][-2:] == [1, 2]


def test_go_transaction_check_back_commits_and_rolls_back(broker, home, cleanup):
    topic = "GoTransaction"
    answers = [
        ("commit", "rollback"),
        ("rollback", "commit"),
        ("unknown", "commit"),
        ("unknown", "rollback"),
    ]
    sent = {}
    for seq in range(12):
        spec = make_message(topic, seq)
        spec["local_state"], spec["check_state"] = answers[seq // 3]
        sent[seq] = spec
    producer = GoProducer(broker.namesrv_addr, home, group="PG_go_txn", command="transaction")
    cleanup(producer)
    create_topic(producer, topic)
    results = producer.send(list(sent.values()))
    assert [r.get("status") for r in results] == [0] * len(sent), results
    undecided = {seq for seq, spec in sent.items() if spec["local_state"] == "unknown"}
    ends_committed = (("commit", "rollback"), ("unknown", "commit"))
    committed = {
        seq
        for seq, spec in sent.items()
        if (spec["local_state"], spec["check_state"]) in ends_committed
    }

    def checked():
        return {int(c["properties"]["seq"]) for c in producer.lines("CHECK")}

    producer.wait_until(lambda: checked() >= undecided, 60, "a check-back of every undecided")
    received = python_read_until(
        broker.namesrv_addr, topic, lambda r: set(by_seq(r)) >= committed, timeout=30
    )
    producer.stop()
    assert checked() == undecided, "only undecided transactions are checked back"
    local = {int(line["seq"]): line["transaction_id"] for line in producer.lines("LOCAL")}
    for check in producer.lines("CHECK"):
        seq = int(check["properties"]["seq"])
        assert check["known"] and check["transaction_id"] == local[seq], check
        assert_same_content(check, sent[seq])
    table = by_seq(received)
    assert sorted(table) == sorted(committed)
    for seq, copies in table.items():
        assert len(copies) == 1
        assert_same_content(copies[0], sent[seq])


def test_python_sends_go_pull_consumer_polls_and_keeps_offsets(broker, home, cleanup):
    topic, group = "GoPoll", unique("CG_go_poll")
    first = {seq: make_message(topic, seq) for seq in range(40)}
    python_send(broker, list(first.values()))
    polled = go_pull(
        broker.namesrv_addr, home / "p1", group, topic, mode="poll", expect=len(first)
    )["polled"]
    table = by_seq(polled)
    assert sorted(table) == sorted(first)
    for seq, copies in table.items():
        assert len(copies) == 1
        assert_same_content(copies[0], first[seq])

    second = {seq: make_message(topic, seq) for seq in range(40, 50)}
    python_send(broker, list(second.values()))
    polled = go_pull(
        broker.namesrv_addr, home / "p2", group, topic, mode="poll", expect=len(second)
    )["polled"]
    assert sorted(by_seq(polled)) == sorted(second), "the group resumed at its committed offsets"


def test_go_transaction_is_checked_back_with_another_producer_of_the_group(broker, home, cleanup):
    topic, group = "GoTransactionHandover", "PG_go_txn_handover"
    sent = {}
    for seq in range(4):
        spec = make_message(topic, seq)
        spec["local_state"], spec["check_state"] = "unknown", "unknown"
        sent[seq] = spec
    first = GoProducer(broker.namesrv_addr, home / "first", group=group, command="transaction")
    cleanup(first)
    create_topic(first, topic)
    assert all(r.get("status") == 0 for r in first.send(list(sent.values())))
    first.stop()  # undecided, and the producer that sent them is gone
    answers = {0: "commit", 1: "commit", 2: "rollback", 3: "rollback"}
    second = GoProducer(
        broker.namesrv_addr,
        home / "second",
        group=group,
        command="transaction",
        check_by_seq=answers,
    )
    cleanup(second)
    # A Go client heartbeats only the brokers it knows from topic routes: the new producer
    # sends once, so that the broker learns it exists and can check back with it.
    assert second.send([make_message(topic, -2)])[0].get("status") == 0

    def checked():
        return {int(c["properties"]["seq"]) for c in second.lines("CHECK") if c["known"]}

    second.wait_until(lambda: checked() >= set(answers), 60, "check-backs at the new producer")
    received = python_read_until(
        broker.namesrv_addr, topic, lambda r: set(by_seq(r)) >= {0, 1}, timeout=30
    )
    second.stop()
    table = by_seq(received)
    assert sorted(table) == [0, 1]
    for seq, copies in table.items():
        assert len(copies) == 1
        assert_same_content(copies[0], sent[seq])
