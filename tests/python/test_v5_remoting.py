"""The 5.x API without a proxy (``ClientConfiguration(..., protocol="remoting")``): the
clients speak remoting to the brokers behind the name servers (ours, or Apache's with
``ROCKETMQ_TEST_BROKER=apache``). Sends, receives, acks, message groups and transactions
behave as over gRPC, messages cross between the two protocols, and a broadcasting
``PushConsumer`` (which no 5.x endpoint offers) gives every consumer every message.
The official flows in this mode: tests/interop/test_v5_flows_remoting.py."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest
from v5tools import (  # noqa: F401 (fixture)
    recall_one_of_two,
    receive_until,
    unique,
    v5_endpoint_fixture,
    wait_for,
)

from rocketmq import (
    ClientConfiguration,
    ConsumeResult,
    Credentials,
    FilterExpression,
    Message,
    MessageListener,
    Producer,
    PushConsumer,
    SimpleConsumer,
    TransactionChecker,
    TransactionResolution,
)
from rocketmq.admin import Admin
from rocketmq.grpc_protocol import Code
from rocketmq.v5.exception import ClientException, IllegalArgumentException

pytestmark = pytest.mark.timeout(240)


def remoting(ep) -> ClientConfiguration:
    return ClientConfiguration(ep.namesrv_addr, Credentials(), protocol="remoting")


def grpc(ep) -> ClientConfiguration:
    return ClientConfiguration(ep.endpoint, Credentials())


def message(topic: str, body: bytes, **fields) -> Message:
    m = Message()
    m.topic = topic
    m.body = body
    for k, v in fields.items():
        setattr(m, k, v)
    return m


class Recorder(MessageListener):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: list = []

    def consume(self, message: Message) -> ConsumeResult:
        with self.lock:
            self.bodies.append(message.body)
        return ConsumeResult.SUCCESS

    def seen(self) -> list:
        with self.lock:
            return sorted(self.bodies)


def test_the_protocol_option_and_what_remoting_refuses():
    assert ClientConfiguration("127.0.0.1:8081").protocol == "grpc"
    by_scheme = ClientConfiguration("remoting://127.0.0.1:9876;127.0.0.2:9876")
    assert (by_scheme.protocol, by_scheme.endpoints) == (
        "remoting",
        "127.0.0.1:9876;127.0.0.2:9876",
    )
    with pytest.raises(ValueError, match="'grpc'.*'remoting'"):
        ClientConfiguration("127.0.0.1:9876", protocol="http")
    with pytest.raises(IllegalArgumentException, match="TLS"):
        Producer(ClientConfiguration("127.0.0.1:9876", protocol="remoting"), tls_enable=True)
    with pytest.raises(IllegalArgumentException, match="broadcasting needs protocol='remoting'"):
        PushConsumer(
            ClientConfiguration("127.0.0.1:8081"),
            "G",
            Recorder(),
            {"T": FilterExpression()},
            broadcasting=True,
        )


def test_send_receive_ack_and_change_invisible_over_remoting(v5_endpoint):
    topic, group = v5_endpoint.topic(), v5_endpoint.group()
    with Producer(remoting(v5_endpoint), topics=[topic]) as producer:
        m = message(topic, b"first", tag="TagA", keys="k1")
        m.add_property("color", "blue")
        sent = producer.send(m)
        other = producer.send_async(message(topic, b"second", tag="TagA")).result(timeout=30)
        producer.send(message(topic, b"filtered-out", tag="TagB"))
    with SimpleConsumer(remoting(v5_endpoint), group, {topic: FilterExpression("TagA")}, 5) as c:
        got = {m.body: m for m in receive_until(c, 2)}
        assert sorted(got) == [b"first", b"second"]
        first = got[b"first"]
        assert first.message_id == sent.message_id and first.topic == topic
        assert got[b"second"].message_id == other.message_id
        assert (first.tag, first.keys, first.properties) == ("TagA", {"k1"}, {"color": "blue"})
        assert first.delivery_attempt == 1 and first.born_host
        c.ack(got[b"second"])
        c.change_invisible_duration(first, 1)
        again = receive_until(c, 1, invisible=30, timeout=60)
        assert [(m.body, m.delivery_attempt) for m in again] == [(b"first", 2)]
        c.ack(again[0])
        assert c.receive(4, 10) == []


def test_messages_cross_between_remoting_and_grpc(v5_endpoint):
    topic = v5_endpoint.topic("FIFO", queues=4)
    groups = [v5_endpoint.group(orderly=True) for _ in range(2)]
    sent = {}
    with (
        Producer(remoting(v5_endpoint), topics=[topic]) as by_remoting,
        Producer(grpc(v5_endpoint), topics=[topic]) as by_grpc,
    ):
        for i in range(6):
            producer = by_remoting if i % 2 == 0 else by_grpc
            body = b"g-%d" % i
            sent[body] = producer.send(message(topic, body, message_group="one-group")).message_id
    for config, group in ((grpc(v5_endpoint), groups[0]), (remoting(v5_endpoint), groups[1])):
        order = []
        with SimpleConsumer(config, group, {topic: FilterExpression()}, 5) as c:
            deadline = time.monotonic() + 60
            while len(order) < 6 and time.monotonic() < deadline:
                for m in c.receive(6, 30):
                    assert m.message_id == sent[m.body] and m.message_group == "one-group"
                    order.append(m.body)
                    c.ack(m)
        # One message group, one queue whichever protocol sent it: consumed in send order.
        assert order == [b"g-%d" % i for i in range(6)], (config.protocol, order)


def test_a_received_message_shows_the_same_fields_over_both_protocols(v5_endpoint):
    """What a 5.x consumer sees of a message (tag, keys, group, properties) does not depend
    on the protocol: the user properties are every stored property outside Java's
    ``MessageConst.STRING_HASH_SET``, as the Apache proxy builds them, so a FIFO message
    shows its ``__SHARDINGKEY`` there on either protocol."""
    topic = v5_endpoint.topic("FIFO")
    groups = [v5_endpoint.group() for _ in range(2)]
    with (
        Producer(remoting(v5_endpoint), topics=[topic]) as by_remoting,
        Producer(grpc(v5_endpoint), topics=[topic]) as by_grpc,
    ):
        for body, producer in ((b"from-remoting", by_remoting), (b"from-grpc", by_grpc)):
            m = message(topic, body, tag="T", keys="k", message_group="G1")
            m.add_property("color", "blue")
            producer.send(m)
    seen = {}
    for config, group in ((grpc(v5_endpoint), groups[0]), (remoting(v5_endpoint), groups[1])):
        with SimpleConsumer(config, group, {topic: FilterExpression()}, 5) as c:
            for m in receive_until(c, 2):
                fields = (m.tag, m.keys, m.message_group, m.properties)
                seen[(config.protocol, m.body)] = fields
                c.ack(m)
    for body in (b"from-remoting", b"from-grpc"):
        assert seen[("grpc", body)] == seen[("remoting", body)], body
        tag, keys, group, properties = seen[("grpc", body)]
        assert (tag, keys, group) == ("T", {"k"}, "G1")
        assert properties == {"color": "blue", "__SHARDINGKEY": "G1"}, body


def test_a_namespace_wraps_names_as_the_proxy_does(v5_endpoint):
    """A namespace puts topics and groups at ``<namespace>%<name>`` on the brokers, as the
    proxy does: what a namespaced remoting producer sends, a namespaced gRPC consumer gets and
    the other way round, and received messages show the short topic and the namespace."""
    namespace = unique("ns")
    topic, groups = unique("V5Ns"), [unique("V5NsG"), unique("V5NsG")]
    with Admin(v5_endpoint.namesrv_addr, timeout=30) as admin:
        admin.create_topic(f"{namespace}%{topic}", 2, message_type="NORMAL")
        for group in groups:
            admin.create_subscription_group(f"{namespace}%{group}")

    def config(protocol: str) -> ClientConfiguration:
        endpoints = v5_endpoint.namesrv_addr if protocol == "remoting" else v5_endpoint.endpoint
        return ClientConfiguration(endpoints, Credentials(), namespace, protocol=protocol)

    # Apache's proxy (5.5.0) looks a namespaced topic's route up by its bare name (its
    # QueryRoute does not apply the namespace, its SendMessage does): against it, only the
    # remoting side runs.
    protocols = ("remoting",) if v5_endpoint.apache_broker_addr else ("remoting", "grpc")
    sent = {}
    for protocol in protocols:
        with Producer(config(protocol), topics=[topic]) as producer:
            receipt = producer.send(message(topic, protocol.encode(), tag="N"))
            assert receipt.message_queue.topic == topic
            sent[protocol.encode()] = receipt.message_id
    for protocol, group in zip(protocols, groups):
        with SimpleConsumer(config(protocol), group, {topic: FilterExpression("N")}, 5) as c:
            got = receive_until(c, len(protocols))
            for m in got:
                assert (m.topic, m.namespace) == (topic, namespace), protocol
                assert m.message_id == sent[m.body], protocol
                c.ack(m)
            assert sorted(m.body for m in got) == sorted(p.encode() for p in protocols)


class Checker(TransactionChecker):
    def __init__(self) -> None:
        self.checked: dict = {}

    def check(self, message: Message) -> TransactionResolution:
        self.checked[message.body] = message.message_id
        return TransactionResolution.COMMIT


def test_transactions_over_remoting_commit_rollback_and_check_back(v5_endpoint):
    topic, group = v5_endpoint.topic("TRANSACTION"), v5_endpoint.group()
    checker = Checker()
    with Producer(remoting(v5_endpoint), topics=[topic], checker=checker) as producer:
        ids = {}
        for body in (b"commit", b"rollback", b"checked"):
            t = producer.begin_transaction()
            ids[body] = producer.send(message(topic, body), t).message_id
            if body == b"commit":
                t.commit()
            elif body == b"rollback":
                t.rollback()
        with pytest.raises(IllegalArgumentException, match="not open"):
            t2 = producer.begin_transaction()
            producer.send(message(topic, b"twice"), t2)
            t2.commit()
            t2.commit()
        with SimpleConsumer(remoting(v5_endpoint), group, {topic: FilterExpression()}, 5) as c:
            got = {m.body: m for m in receive_until(c, 3, timeout=120)}
            for m in got.values():
                c.ack(m)
        assert sorted(got) == [b"checked", b"commit", b"twice"]
        assert got[b"commit"].message_id == ids[b"commit"]
        assert checker.checked.get(b"checked") == ids[b"checked"]
        # As through the Apache proxy: the transaction id, and the checks a check-back made,
        # are among the user properties (not in Java's system set).
        for body, m in got.items():
            extra = {"TRANSACTION_CHECK_TIMES"} if body == b"checked" else set()
            assert set(m.properties) == {"__transactionId__"} | extra, (body, m.properties)
        assert int(got[b"checked"].properties["TRANSACTION_CHECK_TIMES"]) >= 1


def test_a_broadcasting_push_consumer_gets_every_message_in_every_consumer(v5_endpoint):
    topic, group = v5_endpoint.topic(queues=4), v5_endpoint.group()
    listeners = [Recorder(), Recorder()]
    consumers = [
        PushConsumer(
            remoting(v5_endpoint),
            group,
            listener,
            {topic: FilterExpression("B")},
            broadcasting=True,
        )
        for listener in listeners
    ]
    try:
        for c in consumers:
            c.startup()
            assert c.broadcasting
        bodies = [b"b-%d" % i for i in range(8)]
        with Producer(remoting(v5_endpoint), topics=[topic]) as producer:
            for body in bodies:
                producer.send(message(topic, body, tag="B"))
            producer.send(message(topic, b"not-subscribed", tag="C"))
        wait_for(
            lambda: all(listener.seen() == bodies for listener in listeners),
            60,
            "every message in every consumer",
        )
    finally:
        for c in consumers:
            c.shutdown()
    per_consumer = defaultdict(int)
    for i, listener in enumerate(listeners):
        for _ in listener.seen():
            per_consumer[i] += 1
    assert dict(per_consumer) == {0: 8, 1: 8}


class SlowFirst(MessageListener):
    """Takes `seconds` over the message ``slow`` (its first delivery), records every delivery."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.deliveries: list = []
        self.finished = threading.Event()

    def consume(self, message: Message) -> ConsumeResult:
        with self.lock:
            self.deliveries.append((message.body, message.delivery_attempt))
            first = len(self.deliveries) == 1
        if message.body == b"slow" and first:
            time.sleep(self.seconds)  # the listener at work, longer than the invisible time
            self.finished.set()
        return ConsumeResult.SUCCESS


def test_a_push_listener_running_past_the_invisible_time_keeps_its_message(
    v5_endpoint, monkeypatch
):
    """The remoting push consumer renews a message's invisible time while its listener runs
    (the gRPC consumer asks the proxy to, with auto_renew): a listener taking 2.5 times the
    invisible time gets its message once, and the ack with the renewed handle settles it."""
    from rocketmq.v5.remoting import consumer as remoting_consumer

    invisible = 2.0
    monkeypatch.setattr(remoting_consumer, "PUSH_INVISIBLE_S", invisible)
    topic, group = v5_endpoint.topic(queues=1), v5_endpoint.group()
    listener = SlowFirst(invisible * 2.5)
    push = PushConsumer(remoting(v5_endpoint), group, listener, {topic: FilterExpression()})
    push.startup()
    try:
        with Producer(remoting(v5_endpoint), topics=[topic]) as producer:
            producer.send(message(topic, b"slow"))
        assert listener.finished.wait(60), "the slow listener never ran"
        # Acked with the newest handle: nothing is renewed any more, and the message does
        # not come back once an invisible time (and a margin) has passed.
        native = push._native  # noqa: SLF001 (the renewal table)
        wait_for(lambda: native.held_messages() == 0, 30, "the ack to settle the message")
        deadline = time.monotonic() + invisible * 2 + 1
        while time.monotonic() < deadline:
            with listener.lock:
                assert listener.deliveries == [(b"slow", 1)], listener.deliveries
            time.sleep(0.1)
    finally:
        push.shutdown()


def test_a_timer_message_recalled_over_remoting_is_never_delivered(v5_endpoint):
    def refusals(producer, recalled):
        topic = recalled.message_queue.topic
        with pytest.raises(ClientException, match="recall handle is invalid"):
            producer.recall_message(topic, "bm90IGEgaGFuZGxl")
        with pytest.raises(ClientException) as missing:
            producer.recall_message(topic + "-missing", recalled.recall_handle)
        assert missing.value.code == Code.TOPIC_NOT_FOUND, missing.value

    topic, group = v5_endpoint.topic("DELAY", queues=1), v5_endpoint.group()
    recall_one_of_two(remoting(v5_endpoint), topic, group, refusals)
