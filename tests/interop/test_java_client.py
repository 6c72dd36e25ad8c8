"""Interop: Apache's Java client (org.apache.rocketmq:rocketmq-client 5.x, the remoting client,
and DefaultMQAdminExt) produces, consumes and administers through our bundled broker.

Each test boots a LocalBroker in process on ephemeral loopback ports with a temporary store,
short delay levels and quick transaction check-backs, and runs the Java client as driver
subprocesses (java_client.py, tests/drivers/java). What a user of the Java client relies on
is asserted: every acknowledged message delivered with body, keys, tags and properties
intact; orderly queues in order; failures retried with growing reconsume times and finally
dead-lettered; check-backs committing; broadcasting reaching every consumer; the admin API's
routes and offsets; and messages crossing between the Java client and ours both ways.
"""

from __future__ import annotations

import collections
import threading
import time

import pytest
from clienttools import pull_all, wait_for
from cpp_client import QUEUES, assert_same_content, make_body, make_message
from driver_records import SHORT_DELAY_LEVELS, by_seq
from java_client import (
    JavaAdmin,
    JavaLitePullConsumer,
    JavaProducer,
    JavaPushConsumer,
    JavaTransactionProducer,
    probe_until,
)

from rocketmq.broker import LocalBroker
from rocketmq.client import ConsumeStatus, Message, Producer, PushConsumer
from rocketmq.exceptions import PullConsumerFetchMQFailed

PROPERTY_NAMES = ["seq", "probe", "p1", "p2", "unicode"]

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def broker(tmp_path):
    with LocalBroker(
        store_dir=tmp_path / "store",
        namesrv_port=0,
        broker_port=0,
        delay_levels=SHORT_DELAY_LEVELS,
        transaction_check_interval_ms=500,
        transaction_timeout_ms=1000,
    ) as running:
        yield running


def start_producer(broker, home, cleanup, topic):
    """A Java producer whose first send created `topic` (4 queues, through TBW102)."""
    producer = JavaProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    result = producer.send([make_message(topic, -100, tags="Warmup")])[0]
    assert result.get("status") == 0, result
    return producer


def all_sent(results):
    assert all(r.get("status") == 0 for r in results), results
    return results


def received_record(msg):
    """Our client's received message in the Java driver's record format."""
    properties = {}
    for name in PROPERTY_NAMES:
        value = msg.get_property(name)
        if value:
            properties[name] = value.decode("utf-8")
    return {
        "id": msg.id,
        "topic": msg.topic,
        "tags": msg.tags.decode("utf-8"),
        "keys": msg.keys.decode("utf-8"),
        "properties": properties,
        "body_hex": msg.body.hex(),
        "queue_id": msg.queue_id,
        "reconsume_times": msg.reconsume_times,
    }


def python_message(spec):
    msg = Message(spec["topic"])
    msg.set_keys(spec["keys"])
    msg.set_tags(spec["tags"])
    msg.set_body(bytes.fromhex(spec["body_hex"]))
    for name, value in spec["properties"].items():
        msg.set_property(name, value)
    return msg


def test_every_send_mode_is_read_back_by_the_lite_pull_consumer(broker, home, cleanup):
    topic = "JavaSendModes"
    producer = start_producer(broker, home, cleanup, topic)
    sync = [make_message(topic, seq, tags=("TagA", "TagB")[seq % 2]) for seq in range(0, 30)]
    # Bodies the client compresses (over 4 KiB: one that shrinks, one that does not) and one
    # of 1 MiB.
    sync.append(make_message(topic, 30, body=b"compressible " * 2000))
    sync.append(make_message(topic, 31, body=make_body(31, 64 * 1024)))
    sync.append(make_message(topic, 32, body=make_body(32, 1024 * 1024)))
    asynchronous = [make_message(topic, seq) for seq in range(40, 70)]
    oneway = [make_message(topic, seq) for seq in range(70, 80)]
    batch = [make_message(topic, seq, tags="TagBatch") for seq in range(80, 120)]
    orderly = [make_message(topic, seq, order_arg=seq) for seq in range(120, 140)]

    results = {}
    for mode, specs in (
        ("sync", sync),
        ("async", asynchronous),
        ("oneway", oneway),
        ("batch", batch),
        ("orderly", orderly),
    ):
        for spec, result in zip(specs, all_sent(producer.send(specs, mode=mode, batch_size=16))):
            results[int(spec["properties"]["seq"])] = result
    ids = [r["msg_id"] for seq, r in results.items() if not 70 <= seq < 80]
    assert len(set(ids)) == len(ids), "every acknowledged message has an id of its own"
    for seq in range(120, 140):
        assert results[seq]["queue_id"] == seq % QUEUES, "the selector chose the queue"
    sent = {int(m["properties"]["seq"]): m for m in sync + asynchronous + oneway + batch + orderly}

    for assign in (False, True):
        group = f"CG_lite_{'assign' if assign else 'subscribe'}"
        consumer = JavaLitePullConsumer(
            broker.namesrv_addr, home / group, group, topic, assign=assign
        )
        cleanup(consumer)
        consumer.wait_until(
            lambda c=consumer: set(by_seq(c.messages())) >= set(sent), 120, "every message"
        )
        consumer.stop()
        table = by_seq(consumer.messages())
        assert sorted(table) == sorted(sent)
        for seq, copies in table.items():
            assert len(copies) == 1, f"seq {seq} polled {len(copies)} times ({group})"
            assert_same_content(copies[0], sent[seq])
            if seq in results and seq not in range(70, 80):
                assert copies[0]["id"] == results[seq]["msg_id"]
                assert copies[0]["queue_id"] == results[seq]["queue_id"]
                assert copies[0]["queue_offset"] == results[seq]["offset"]
        # Batches keep their order inside one queue, at consecutive offsets.
        for start in range(80, 120, 16):
            chunk = [table[seq][0] for seq in range(start, min(start + 16, 120))]
            assert len({m["queue_id"] for m in chunk}) == 1
            offsets = [m["queue_offset"] for m in chunk]
            assert offsets == list(range(offsets[0], offsets[0] + len(chunk)))
    assert producer.finish() == 0


def test_tag_expression_and_delay_levels(broker, home, cleanup):
    topic, group = "JavaTagsDelay", "CG_java_tags"
    producer = start_producer(broker, home, cleanup, topic)
    consumer = JavaPushConsumer(broker.namesrv_addr, home / "c", group, topic, "TagA || TagB")
    cleanup(consumer)
    tags = ("TagA", "TagB", "TagC", "TagAB")
    sent = {seq: make_message(topic, seq, tags=tags[seq % 4]) for seq in range(40)}
    delayed = {seq: make_message(topic, seq, tags="TagA") for seq in range(100, 105)}
    for spec in delayed.values():
        spec["delay_level"] = 2  # 200 ms with the test broker's levels
    all_sent(producer.send(list(sent.values()) + list(delayed.values())))
    # Sentinels go to every queue last: once they arrived, every earlier message of the
    # same queue was pulled.
    sentinels = [make_message(topic, 1000 + q, tags="TagB", order_arg=q) for q in range(QUEUES)]
    all_sent(producer.send(sentinels, mode="orderly"))
    wanted = {seq for seq, m in sent.items() if m["tags"] in ("TagA", "TagB")}
    wanted |= set(delayed) | {1000 + q for q in range(QUEUES)}
    consumer.wait_until(lambda: set(consumer.seqs()) >= wanted, 120, "TagA and TagB messages")
    consumer.stop()
    got = by_seq(consumer.messages())
    assert set(got) == wanted, f"unexpected: {sorted(set(got) - wanted)[:10]}"
    for seq in wanted - {1000 + q for q in range(QUEUES)}:
        assert_same_content(got[seq][0], {**sent, **delayed}[seq])
    for seq in delayed:
        message = got[seq][0]
        assert message["topic"] == topic
        assert message["store_timestamp"] - message["born_timestamp"] >= 190, message


def test_push_clustering_two_consumers_share_without_overlap(broker, home, cleanup):
    topic, group = "JavaCluster", "CG_java_cluster"
    producer = start_producer(broker, home, cleanup, topic)
    consumers = []
    for index in range(2):
        consumer = JavaPushConsumer(broker.namesrv_addr, home / f"c{index}", group, topic)
        cleanup(consumer)
        consumers.append(consumer)

    def split_evenly(seen):
        owned = [sorted(seen.get(index, [])) for index in range(2)]
        return all(len(q) == 2 for q in owned) and not set(owned[0]) & set(owned[1])

    probe_until(producer, consumers, topic, split_evenly)
    sent = {seq: make_message(topic, seq) for seq in range(200)}
    all_sent(producer.send(list(sent.values())))
    consumers[0].wait_until(
        lambda: set(consumers[0].seqs()) | set(consumers[1].seqs()) >= set(sent),
        120,
        "every message consumed by the group",
    )
    for consumer in consumers:
        consumer.stop()
    first, second = (set(c.seqs()) for c in consumers)
    assert first and second, "both consumers took part"
    assert not first & second, f"consumed by both: {sorted(first & second)[:10]}"
    for consumer in consumers:
        for seq, copies in by_seq(consumer.messages()).items():
            assert len(copies) == 1, f"seq {seq} delivered {len(copies)} times"
            assert_same_content(copies[0], sent[seq])


def test_push_broadcasting_each_consumer_gets_everything(broker, home, cleanup):
    topic, group = "JavaBroadcast", "CG_java_broadcast"
    producer = start_producer(broker, home, cleanup, topic)
    consumers = []
    for index in range(2):
        consumer = JavaPushConsumer(
            broker.namesrv_addr, home / f"c{index}", group, topic, broadcasting=True
        )
        cleanup(consumer)
        consumers.append(consumer)
    sent = {seq: make_message(topic, seq) for seq in range(100)}
    all_sent(producer.send(list(sent.values())))
    for consumer in consumers:
        consumer.wait_until(lambda c=consumer: set(c.seqs()) >= set(sent), 120, "every message")
    for consumer in consumers:
        consumer.stop()
        for seq, copies in by_seq(consumer.messages()).items():
            assert len(copies) == 1, f"seq {seq} delivered {len(copies)} times"
            assert_same_content(copies[0], sent[seq])


def test_orderly_consumer_keeps_order_and_retries_in_place(broker, home, cleanup):
    topic, group = "JavaOrderly", "CG_java_orderly"
    producer = start_producer(broker, home, cleanup, topic)
    consumer = JavaPushConsumer(
        broker.namesrv_addr, home / "c", group, topic, orderly=True, fail_first=True
    )
    cleanup(consumer)
    # 8 order keys over 4 queues; within a key, seq grows.
    sent = {seq: make_message(topic, seq, order_arg=seq % 8) for seq in range(120)}
    all_sent(producer.send(list(sent.values()), mode="orderly"))

    def done():
        return all(
            any(not m["failed"] for m in by_seq(consumer.messages()).get(s, [])) for s in sent
        )

    consumer.wait_until(done, 120, "a successful delivery of every ordered message")
    consumer.stop()
    per_queue = collections.defaultdict(list)
    for m in consumer.messages():
        seq = int(m["properties"]["seq"])
        if seq < 0:
            continue
        assert m["queue_id"] == (seq % 8) % QUEUES, "the selector chose the queue"
        per_queue[m["queue_id"]].append(m)
    assert sorted(per_queue) == list(range(QUEUES))
    for queue, deliveries in per_queue.items():
        # Each message fails once and comes back at once, before anything behind it.
        expected = []
        for m in sorted(
            {m["queue_offset"]: m for m in deliveries}.values(), key=lambda m: m["queue_offset"]
        ):
            expected += [(m["queue_offset"], 0, True), (m["queue_offset"], 1, False)]
        seen = [(m["queue_offset"], m["reconsume_times"], m["failed"]) for m in deliveries]
        assert seen == expected, f"queue {queue} delivered out of order: {seen[:12]}"
        seqs = [int(m["properties"]["seq"]) for m in deliveries if not m["failed"]]
        assert seqs == sorted(seqs), f"queue {queue} delivered out of send order"
    for seq, copies in by_seq(consumer.messages()).items():
        assert_same_content(copies[-1], sent[seq])


def test_failed_deliveries_come_back_as_retries_then_dead_letters(broker, home, cleanup):
    topic, group = "JavaRetry", "CG_java_retry"
    producer = start_producer(broker, home, cleanup, topic)
    consumer = JavaPushConsumer(
        broker.namesrv_addr,
        home / "c",
        group,
        topic,
        fail_first=True,
        fail_always=[0],
        max_reconsume_times=2,
    )
    cleanup(consumer)
    sent = {seq: make_message(topic, seq) for seq in range(20)}
    all_sent(producer.send(list(sent.values())))

    def report():
        return [
            (m["properties"].get("seq"), m["failed"], m["reconsume_times"], m["topic"])
            for m in consumer.messages()
        ]

    def retried_all():
        table = by_seq(consumer.messages())
        return len(table.get(0, [])) >= 3 and all(
            any(not m["failed"] for m in table.get(seq, [])) for seq in range(1, 20)
        )

    try:
        consumer.wait_until(retried_all, 120, "the retries of every failed message")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\ndeliveries (seq, failed, reconsume, topic): {report()}"
        ) from exc

    # seq 0 fails every delivery: the original and 2 retries, then the dead-letter queue.
    dead = []
    deadline = time.monotonic() + 30
    for _ in range(300):
        try:
            dead = [received_record(m) for m in pull_all(broker.namesrv_addr, f"%DLQ%{group}")]
        except PullConsumerFetchMQFailed:
            dead = []  # the third failure's send-back has not created the topic yet
        if dead or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    consumer.stop()
    table = by_seq(consumer.messages())
    assert [m["reconsume_times"] for m in table[0]] == [0, 1, 2], report()
    assert [m["properties"].get("seq") for m in dead] == ["0"], dead
    assert_same_content(dead[0], sent[0])
    for seq in range(1, 20):
        copies = table[seq]
        assert [(m["failed"], m["reconsume_times"]) for m in copies] == [(True, 0), (False, 1)], (
            seq,
            report(),
        )
        retry = copies[1]
        assert retry["topic"] == topic, "the client restores the original topic"
        assert retry["retry_topic"] == topic
        assert retry["id"] == copies[0]["id"], "a retry keeps the message id"
        assert_same_content(retry, sent[seq])


@pytest.mark.parametrize("check_answer", ["commit", "rollback"])
def test_transaction_check_back_decides_unknown_transactions(broker, home, cleanup, check_answer):
    topic = f"JavaTransaction_{check_answer}"
    plain = start_producer(broker, home, cleanup, topic)
    producer = JavaTransactionProducer(
        broker.namesrv_addr, home / "tx", f"PG_java_tx_{check_answer}", check_answer
    )
    cleanup(producer)
    committed = {seq: make_message(topic, seq) for seq in range(0, 5)}
    rolled_back = {seq: make_message(topic, seq) for seq in range(5, 10)}
    unknown = {seq: make_message(topic, seq) for seq in range(10, 15)}
    for local, specs in (("commit", committed), ("rollback", rolled_back), ("unknown", unknown)):
        results = producer.send(list(specs.values()), local)
        assert all(r.get("status") == 0 for r in results), results
        expected = {"commit": "COMMIT_MESSAGE", "rollback": "ROLLBACK_MESSAGE"}.get(local, "UNKNOW")
        assert [r["local_state"] for r in results] == [expected] * len(specs)

    def checked():
        return {int(c["properties"]["seq"]) for c in producer.lines("CHECK")}

    producer.wait_until(lambda: checked() >= set(unknown), 60, "a check-back for every unknown")
    visible = set(committed) | (set(unknown) if check_answer == "commit" else set())
    consumer = JavaLitePullConsumer(broker.namesrv_addr, home / "c", f"CG_tx_{check_answer}", topic)
    cleanup(consumer)
    consumer.wait_until(lambda: set(consumer.seqs()) >= visible, 60, "the committed messages")
    # A sentinel sent after every decision: once it is read, so is anything stored before it.
    all_sent(plain.send([make_message(topic, 99, order_arg=q) for q in range(QUEUES)], "orderly"))
    consumer.wait_until(
        lambda: 99 in consumer.seqs() and consumer.seqs().count(99) == QUEUES, 60, "the sentinels"
    )
    consumer.stop()
    assert producer.finish() == 0
    table = by_seq(consumer.messages())
    assert set(table) == visible | {99}, sorted(table)
    for seq in visible:
        assert len(table[seq]) == 1
        assert_same_content(table[seq][0], {**committed, **unknown}[seq])
    # A check-back may race a commit sent just before it (in Apache too); what counts is that
    # every decided transaction was stored once or not at all, as asserted above.
    for check in producer.lines("CHECK"):
        assert check["transaction_id"], check
        assert check["topic"] == topic, check


def ask_until(admin, condition, op, timeout=30, **fields):
    """The admin answer to `op` once `condition` holds for it (the last one on timeout):
    the broker registers topics and commits offsets shortly after it answered."""
    deadline = time.monotonic() + timeout
    for _ in range(1000):
        answer = admin.ask(op, **fields)
        if condition(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)
    return answer


def test_admin_api_routes_offsets_and_messages(broker, home, cleanup):
    topic, group = "JavaAdmin", "CG_java_admin"
    admin = JavaAdmin(broker.namesrv_addr, home / "admin")
    cleanup(admin)
    created = admin.ask("create_topic", topic=topic, queues=8)
    assert "error" not in created, created
    route = ask_until(
        admin,
        lambda r: [q["read_queues"] for q in r.get("queues", [])] == [8],
        "route",
        topic=topic,
    )
    assert [q["read_queues"] for q in route["queues"]] == [8], route
    assert [q["write_queues"] for q in route["queues"]] == [8], route
    assert route["brokers"][0]["addrs"] == {"0": broker.broker_addr}, route
    cluster = admin.ask("cluster")
    broker_name = route["brokers"][0]["broker_name"]
    assert cluster["brokers"][broker_name]["addrs"] == {"0": broker.broker_addr}, cluster
    assert any(broker_name in names for names in cluster["clusters"].values()), cluster
    assert topic in admin.ask("topics")["topics"]

    producer = JavaProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    sent = {seq: make_message(topic, seq, order_arg=seq % 8) for seq in range(24)}
    before = int(time.time() * 1000)
    results = all_sent(producer.send(list(sent.values()), mode="orderly"))
    offsets = admin.ask("offsets", topic=topic, group=group)
    assert [(q["queue_id"], q["min"], q["max"]) for q in offsets["queues"]] == [
        (queue, 0, 3) for queue in range(8)
    ], offsets
    assert all(q["earliest_store_time"] >= before - 5000 for q in offsets["queues"]), offsets
    # A group that never committed has no offset yet: QUERY_NOT_FOUND (22).
    assert {q.get("consumer_offset_error") for q in offsets["queues"]} == {22}, offsets
    found = admin.ask("search_offset", topic=topic, queue_id=3, timestamp=before - 60000)
    assert found["offset"] == 0, found

    for seq in (0, 13):
        viewed = admin.ask("view", topic=topic, msg_id=results[seq]["offset_msg_id"])
        assert "error" not in viewed, viewed
        assert_same_content(viewed, sent[seq])
        assert viewed["queue_offset"] == results[seq]["offset"]
        assert viewed["queue_id"] == results[seq]["queue_id"]

    consumer = JavaPushConsumer(broker.namesrv_addr, home / "c", group, topic)
    cleanup(consumer)
    consumer.wait_until(lambda: set(consumer.seqs()) >= set(sent), 60, "every message")
    consumers = admin.ask("consumers", group=group)
    assert len(consumers.get("client_ids", [])) == 1, consumers
    consumer.stop()
    committed = ask_until(
        admin,
        lambda r: [q.get("consumer_offset") for q in r.get("queues", [])] == [3] * 8,
        "offsets",
        topic=topic,
        group=group,
    )
    assert [q.get("consumer_offset") for q in committed["queues"]] == [3] * 8, committed
    assert admin.finish() == 0


def test_java_sends_and_our_push_consumer_receives(broker, home, cleanup):
    topic, group = "JavaToPython", "CG_python_from_java"
    producer = start_producer(broker, home, cleanup, topic)
    sent = {seq: make_message(topic, seq) for seq in range(40)}
    sent[40] = make_message(topic, 40, body=b"compressible " * 2000)
    sent[41] = make_message(topic, 41, body=make_body(41, 256 * 1024))
    batch = {seq: make_message(topic, seq) for seq in range(50, 70)}
    received = []
    lock = threading.Lock()

    def on_message(msg):
        with lock:
            received.append(received_record(msg))
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = PushConsumer(group)
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.set_consume_from_first_offset()
    consumer.subscribe(topic, on_message)
    consumer.start()
    try:
        all_sent(producer.send(list(sent.values())))
        all_sent(producer.send(list(batch.values()), mode="batch", batch_size=10))
        everything = {**sent, **batch}

        def seqs():
            with lock:
                return set(by_seq(list(received)))

        wait_for(lambda: seqs() >= set(everything), 120, "every Java message in our consumer")
    finally:
        consumer.shutdown()
    table = by_seq(received)
    assert sorted(table) == sorted(everything)
    for seq, copies in table.items():
        assert len(copies) == 1, f"seq {seq} delivered {len(copies)} times"
        assert_same_content(copies[0], everything[seq])
    assert producer.finish() == 0


def test_our_producer_sends_and_java_push_consumer_receives(broker, home, cleanup):
    topic, group = "PythonToJava", "CG_java_from_python"
    producer = Producer("PG_python_to_java")
    producer.set_namesrv_addr(broker.namesrv_addr)
    producer.start()
    try:
        warmup = python_message(make_message(topic, -100, tags="Warmup"))
        assert producer.send_sync(warmup).status == 0
        consumer = JavaPushConsumer(broker.namesrv_addr, home / "c", group, topic)
        cleanup(consumer)
        sent = {seq: make_message(topic, seq) for seq in range(40)}
        sent[40] = make_message(topic, 40, body=b"compressible " * 2000)
        sent[41] = make_message(topic, 41, body=make_body(41, 256 * 1024))
        ids = {}
        for seq, spec in sent.items():
            result = producer.send_sync(python_message(spec))
            assert result.status == 0, result
            ids[seq] = result.msg_id
        orderly = {seq: make_message(topic, seq) for seq in range(50, 60)}
        for seq, spec in orderly.items():
            result = producer.send_orderly(python_message(spec), seq)
            assert result.status == 0, result
            ids[seq] = result.msg_id
        batch = {seq: make_message(topic, seq) for seq in range(60, 70)}
        assert producer.send_batch([python_message(s) for s in batch.values()]).status == 0
    finally:
        producer.shutdown()
    everything = {**sent, **orderly, **batch}
    consumer.wait_until(lambda: set(consumer.seqs()) >= set(everything), 120, "every message")
    consumer.stop()
    table = by_seq(consumer.messages())
    assert sorted(table) == sorted(everything)
    for seq, copies in table.items():
        assert len(copies) == 1, f"seq {seq} delivered {len(copies)} times"
        assert_same_content(copies[0], everything[seq])
        if seq in ids:
            assert copies[0]["id"] == ids[seq], "the Java client sees our message id"
