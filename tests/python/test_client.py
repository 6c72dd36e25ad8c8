"""Our Python client (rocketmq.client) against the bundled broker."""

import gc
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

import pytest
from clienttools import make_producer, message, pull_all, unique, wait_for

from rocketmq.client import (
    ConsumeStatus,
    Message,
    MessageModel,
    Producer,
    PullConsumer,
    PushConsumer,
    ReceivedMessage,
    RecvMessage,
    SendStatus,
)
from rocketmq.exceptions import (
    NullPointerException,
    ProducerSendSyncFailed,
    PushConsumerStartFailed,
    RocketMQException,
)


def start_push(broker, topic, callback, group, **kw):
    c = PushConsumer(group, **kw)
    c.set_instance_name(unique("member"))
    c.set_namesrv_addr(broker.namesrv_addr)
    c.set_thread_count(2)
    c.subscribe(topic, callback)
    c.start()
    # Until every queue is pulled from a known offset, a new group could skip messages
    # sent meanwhile (consume-from-last-offset).
    wait_for(lambda: len(c._native.pulling_queues()) >= 1, what="pulling")
    return c


def wait_all_queues_pulled(consumers, topic, count=4):
    """Waits for the final split: every queue pulled by exactly one consumer, and every
    consumer holding some (with at most `count` consumers, each gets at least one)."""

    def ready():
        per = [[q for q in c._native.pulling_queues() if q[0] == topic] for c in consumers]
        qs = [q for mine in per for q in mine]
        return len(qs) == count and len(set(qs)) == count and all(per)

    wait_for(ready, what="every queue of %s pulled" % topic)


def test_send_kinds_and_pull_back_byte_for_byte(broker):
    topic = unique("T")
    p = make_producer(broker)
    try:
        sent = {}
        bodies = [b"plain", b"nul\x00inside\x00", bytes(range(256)), b"x" * (1 << 20)]
        for i, body in enumerate(bodies):
            r = p.send_sync(message(topic, body, "TagA", "k%d k%d-b" % (i, i), prop="v%d" % i))
            assert r.status == SendStatus.OK and r.status == 0
            assert len(r.msg_id) == 32
            sent[r.msg_id] = body
        p.send_oneway(message(topic, b"oneway"))
        r = p.send_orderly(message(topic, b"orderly"), 3)
        sent[r.msg_id] = b"orderly"
        batch = [message(topic, b"batch-%d" % i, "TagB") for i in range(5)]
        r = p.send_batch(batch)
        ids = r.msg_id.split(",")
        assert len(ids) == 5
        sent.update(zip(ids, (m.body for m in batch)))

        done = threading.Event()
        results = []
        p.send_async(
            message(topic, b"async"),
            lambda res: (results.append(res), done.set()),
            lambda exc: (results.append(exc), done.set()),
        )
        assert done.wait(10)
        assert results[0].status == SendStatus.OK
        sent[results[0].msg_id] = b"async"

        wait_for(
            lambda: len(pull_all(broker.namesrv_addr, topic)) == len(sent) + 1, what="all messages"
        )
        got = pull_all(broker.namesrv_addr, topic)
        by_id = {m.id: m for m in got}
        for msg_id, body in sent.items():
            assert by_id[msg_id].body == body
        first = next(m for m in got if m.body == b"plain")
        assert isinstance(first, ReceivedMessage) and RecvMessage is ReceivedMessage
        assert first.tags == b"TagA" and first.keys == b"k0 k0-b"
        assert first.get_property("prop") == b"v0" and first["prop"] == b"v0"
        assert first.get_property("missing") == b""
        assert first.topic == topic and first.reconsume_times == 0
        assert {m.body for m in got if m.tags == b"TagB"} == {b"batch-%d" % i for i in range(5)}
        assert sorted(m.body for m in pull_all(broker.namesrv_addr, topic, "TagB")) == sorted(
            b"batch-%d" % i for i in range(5)
        )
    finally:
        p.shutdown()


def test_three_push_consumers_share_a_group_and_survive_one_leaving(broker):
    topic, group = unique("T"), unique("CG")
    p = make_producer(broker)
    p.send_sync(message(topic, b"create"))
    seen = defaultdict(list)
    lock = threading.Lock()

    def recorder(name):
        def cb(msg):
            with lock:
                seen[name].append(msg.body)

        return cb

    consumers = [start_push(broker, topic, recorder(i), group) for i in range(3)]
    try:
        wait_all_queues_pulled(consumers, topic)
        for i in range(300):
            p.send_sync(message(topic, b"m%d" % i))
        want = {b"m%d" % i for i in range(300)}
        wait_for(lambda: want <= {b for v in seen.values() for b in v}, what="300 messages")
        counts = Counter(b for v in seen.values() for b in v)
        bad = {i: counts[b"m%d" % i] for i in range(300) if counts[b"m%d" % i] != 1}
        assert not bad, "each message once: %r %r" % (
            bad,
            [c._native.pulling_queues() for c in consumers],
        )

        consumers[2].shutdown()
        wait_all_queues_pulled(consumers[:2], topic)
        for i in range(300, 400):
            p.send_sync(message(topic, b"m%d" % i))
        wait_for(
            lambda: all(any(b"m%d" % i in v for v in seen.values()) for i in range(300, 400)),
            what="messages after the rebalance",
        )
    finally:
        for c in consumers:
            c.shutdown()
        p.shutdown()


def test_broadcasting_delivers_everything_to_everyone(broker):
    topic, group = unique("T"), unique("BG")
    p = make_producer(broker)
    p.send_sync(message(topic, b"create"))
    got = [[], []]
    consumers = [
        start_push(broker, topic, got[i].append, group, message_model=MessageModel.BROADCASTING)
        for i in range(2)
    ]
    try:
        for c in consumers:
            wait_all_queues_pulled([c], topic)
        for i in range(50):
            p.send_sync(message(topic, b"b%d" % i))
        for g in got:
            wait_for(
                lambda g=g: {m.body for m in g} >= {b"b%d" % i for i in range(50)},
                what="every broadcast message",
            )
    finally:
        for c in consumers:
            c.shutdown()
        p.shutdown()


def test_orderly_per_sharding_key_with_two_consumers(broker):
    topic, group = unique("T"), unique("OG")
    p = make_producer(broker)
    p.send_sync(message(topic, b"create"))
    got = defaultdict(list)
    lock = threading.Lock()

    def cb(msg):
        if msg.body != b"create":
            with lock:
                got[msg.keys].append(int(msg.body))

    consumers = [start_push(broker, topic, cb, group, orderly=True) for _ in range(2)]
    try:
        wait_all_queues_pulled(consumers, topic)
        keys = ["order-%d" % k for k in range(6)]
        for i in range(40):
            for k in keys:
                p.send_orderly_with_sharding_key(message(topic, b"%d" % i, keys=k), k)
        wait_for(lambda: all(len(got[k.encode()]) >= 40 for k in keys), what="ordered messages")
        for k in keys:
            assert got[k.encode()] == list(range(40)), "order kept for %s" % k
    finally:
        for c in consumers:
            c.shutdown()
        p.shutdown()


def test_pull_generator_with_overridden_offset_store(broker):
    topic = unique("T")
    p = make_producer(broker)
    for i in range(20):
        p.send_sync(message(topic, b"p%d" % i))
    p.shutdown()

    store = {}

    class MyPull(PullConsumer):
        def get_message_queue_offset(self, mq):
            return store.get((mq.topic, mq.brokerName, mq.queueId), 0)

        def set_message_queue_offset(self, mq, offset):
            store[(mq.topic, mq.brokerName, mq.queueId)] = offset

    c = MyPull(unique("PullG"))
    c.set_namesrv_addr(broker.namesrv_addr)
    c.start()
    try:
        first = [m.body for m in c.pull(topic)]
        assert sorted(first) == sorted(b"p%d" % i for i in range(20))
        assert sum(store.values()) == 20
        assert list(c.pull(topic)) == [], "offsets kept: nothing read twice"
    finally:
        c.shutdown()


@pytest.mark.parametrize("failure", ["reconsume_later", "exception"])
def test_failed_messages_are_redelivered_with_reconsume_times(broker, failure):
    topic, group = unique("T"), unique("RG")
    p = make_producer(broker)
    p.send_sync(message(topic, b"create"))
    deliveries = []

    def cb(msg):
        if msg.body != b"fail-once":
            return ConsumeStatus.CONSUME_SUCCESS
        deliveries.append((msg.topic, msg.reconsume_times, msg.id))
        if msg.reconsume_times == 0:
            if failure == "exception":
                raise RuntimeError("boom")
            return ConsumeStatus.RECONSUME_LATER
        return ConsumeStatus.CONSUME_SUCCESS

    c = start_push(broker, topic, cb, group)
    try:
        wait_all_queues_pulled([c], topic)
        p.send_sync(message(topic, b"fail-once"))
        wait_for(lambda: len(deliveries) >= 2, what="the redelivery")
        assert deliveries[0][1] == 0 and deliveries[1][1] == 1
        assert deliveries[1][0] == topic, "the original topic, not %RETRY%"
        assert deliveries[0][2] == deliveries[1][2], "same message id"
    finally:
        c.shutdown()
        p.shutdown()


def test_eight_threads_share_one_producer(broker):
    topic = unique("T")
    p = make_producer(broker)
    ids, errors = [], []
    lock = threading.Lock()

    def work():
        mine = []
        try:
            for i in range(1250):
                r = p.send_sync(message(topic, b"t%d" % i))
                assert r.status == SendStatus.OK
                mine.append(r.msg_id)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    p.shutdown()
    assert not errors
    assert len(ids) == 10000 and len(set(ids)) == 10000


def test_a_started_consumer_survives_losing_every_reference(broker):
    topic, group = unique("T"), unique("GCG")
    p = make_producer(broker)
    p.send_sync(message(topic, b"create"))
    got = []
    c = start_push(broker, topic, got.append, group)
    wait_all_queues_pulled([c], topic)
    del c
    gc.collect()
    p.send_sync(message(topic, b"after-gc"))
    wait_for(lambda: any(m.body == b"after-gc" for m in got), what="delivery after gc")
    p.shutdown()
    from rocketmq import client as client_module

    for live in list(client_module._live_clients):
        if isinstance(live, PushConsumer) and live._group == group:
            live.shutdown()


def test_errors_are_clear_python_exceptions(broker):
    p = Producer(unique("PG"))
    p.set_namesrv_addr("127.0.0.1:1")
    p.set_timeout(1000)
    p.start()
    try:
        with pytest.raises(ProducerSendSyncFailed) as e:
            p.send_sync(message("T", b"x"))
        assert "127.0.0.1:1" in str(e.value)
        assert isinstance(e.value, RocketMQException)
        with pytest.raises(TypeError):
            Message("T").set_keys(None)
        with pytest.raises(TypeError):
            Message("T").set_body(12)
        with pytest.raises(ValueError):
            Message("T").set_property("a\x01", "b")
        with pytest.raises(NullPointerException):
            Producer(None)
        with pytest.raises(NullPointerException):
            PushConsumer("g").set_thread_count(0)
        with pytest.raises(TypeError):
            p.send_sync("not a message")
    finally:
        p.shutdown()
    with pytest.raises(PushConsumerStartFailed):
        PushConsumer(unique("G")).start()


def test_forked_child_sends_and_consumes(broker):
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    topic = unique("T")
    p = make_producer(broker)
    p.send_sync(message(topic, b"from-parent"))
    pid = os.fork()
    if pid == 0:  # the child: new clients must work
        code = 1
        try:
            child = make_producer(broker, group=unique("ChildPG"))
            child.send_sync(message(topic, b"from-child"))
            child.shutdown()
            bodies = {m.body for m in pull_all(broker.namesrv_addr, topic)}
            code = 0 if bodies == {b"from-parent", b"from-child"} else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    p.shutdown()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_script_exits_without_shutdown(broker):
    script = (
        "from rocketmq.client import PushConsumer, Producer, Message\n"
        "c = PushConsumer('exit-group')\n"
        "c.set_namesrv_addr(%r)\n"
        "c.subscribe('ExitTopic', print)\n"
        "c.start()\n"
        "p = Producer('exit-producer')\n"
        "p.set_namesrv_addr(%r)\n"
        "p.start()\n"
        "m = Message('ExitTopic'); m.set_body(b'x'); p.send_sync(m)\n"
        % (broker.namesrv_addr, broker.namesrv_addr)
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], timeout=30, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert time.monotonic() - started < 5
