"""Apache 5.x's proxy (apache_proxy.py) in front of the session's Apache cluster: its listeners,
a gRPC health check (TCP connect and an answered HTTP/2 preface), and our client
(rocketmq.client) sending and consuming through the proxy's remoting endpoint, which is name
server and broker in one for remoting clients. Topics are created on the cluster first: the
proxy does not auto-create them."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import apache_proxy as proxy_harness
import pytest
from apache_artifacts import APACHE4_VERSION
from clienttools import FreshPullConsumer, message, unique, wait_for
from test_apache_cluster import listening_sockets

from rocketmq.client import ConsumeStatus, Producer, PushConsumer, SendStatus

from remoting import RemotingConnection, split_address

pytestmark = [
    pytest.mark.apache_only,
    pytest.mark.apache4_unsupported("the proxy is a 5.x component"),
    pytest.mark.timeout(300),
]

GET_ROUTEINFO_BY_TOPIC = 105
HTTP2_SETTINGS = 4


def proxy_producer(proxy) -> Producer:
    producer = Producer(unique("ProxyPG"))
    producer.set_namesrv_addr(proxy.proxy_remoting_addr)
    producer.start()
    return producer


def new_topic(apache_cluster) -> str:
    topic = unique("ProxyT")
    apache_cluster.create_topic(topic)
    return topic


def test_the_grpc_port_accepts_and_answers_an_http2_preface(apache_proxy):
    host, port = split_address(apache_proxy.proxy_grpc_endpoint)
    assert host == "127.0.0.1"
    socket.create_connection((host, port), timeout=5).close()
    header = proxy_harness.http2_settings_answer(apache_proxy.proxy_grpc_endpoint)
    assert header is not None, "no HTTP/2 frame in answer to the preface"
    assert header[3] == HTTP2_SETTINGS, f"first frame is not SETTINGS: {header!r}"
    assert header[5:9] == b"\x00\x00\x00\x00", "SETTINGS belongs to stream 0"


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux /proc")
def test_the_proxy_listens_on_its_two_ports_only(apache_proxy):
    ports = {
        split_address(apache_proxy.proxy_remoting_addr)[1],
        split_address(apache_proxy.proxy_grpc_endpoint)[1],
    }
    listeners = listening_sockets(apache_proxy.process.proc.pid)
    # 5.5.0's proxy has no bind-address option: loopback through loopback.py's preload.
    assert sorted(listeners) == sorted(("127.0.0.1", port) for port in ports)


def test_routes_through_the_proxy_name_the_proxy_as_broker(apache_cluster, apache_proxy):
    topic = new_topic(apache_cluster)
    with RemotingConnection(apache_proxy.proxy_remoting_addr) as conn:
        reply = conn.call(GET_ROUTEINFO_BY_TOPIC, {"topic": topic})
    assert reply.code == 0, reply
    body = reply.body.decode("utf-8")
    assert f'"{apache_proxy.proxy_remoting_addr}"' in body, body
    assert apache_cluster.broker_addr not in body, "the proxy hides the broker's address"
    with RemotingConnection(apache_proxy.proxy_remoting_addr) as conn:
        unknown = conn.call(GET_ROUTEINFO_BY_TOPIC, {"topic": unique("NoSuchTopic")})
    assert unknown.code == 17, unknown  # TOPIC_NOT_EXIST: the proxy does not auto-create


def test_send_and_push_consume_through_the_proxy(apache_cluster, apache_proxy):
    topic = new_topic(apache_cluster)
    received = {}
    lock = threading.Lock()

    def on_message(msg):
        with lock:
            received.setdefault(msg.body, msg)
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = PushConsumer(unique("ProxyCG"))
    consumer.set_namesrv_addr(apache_proxy.proxy_remoting_addr)
    consumer.set_thread_count(2)
    consumer.subscribe(topic, on_message)
    consumer.start()
    producer = proxy_producer(apache_proxy)
    try:
        wait_for(
            lambda: len([q for q in consumer._native.pulling_queues() if q[0] == topic]) == 4,
            60,
            f"every queue of {topic} pulled",
        )
        sent = {}
        for i in range(8):
            body = b"sync-%d" % i
            result = producer.send_sync(message(topic, body, "TagA", "key-%d" % i, n=str(i)))
            assert result.status == SendStatus.OK
            sent[body] = result.msg_id
        result = producer.send_orderly(message(topic, b"orderly"), 1)
        assert result.status == SendStatus.OK
        sent[b"orderly"] = result.msg_id
        producer.send_oneway(message(topic, b"oneway"))
        sent[b"oneway"] = None
        wait_for(lambda: len(received) == len(sent), 60, "every message consumed via the proxy")
        assert set(received) == set(sent)
        for i in range(8):
            msg = received[b"sync-%d" % i]
            assert (msg.topic, msg.tags, msg.keys) == (topic, b"TagA", b"key-%d" % i)
            assert msg.get_property("n") == str(i).encode()
            assert msg.id == sent[msg.body]
    finally:
        producer.shutdown()
        consumer.shutdown()


def test_send_and_pull_through_the_proxy(apache_cluster, apache_proxy):
    topic = new_topic(apache_cluster)
    producer = proxy_producer(apache_proxy)
    try:
        bodies = [b"pull-%d" % i for i in range(12)]
        for body in bodies:
            assert producer.send_sync(message(topic, body, "TagP")).status == SendStatus.OK
    finally:
        producer.shutdown()
    consumer = FreshPullConsumer(unique("ProxyPullG"))
    consumer.set_namesrv_addr(apache_proxy.proxy_remoting_addr)
    consumer.start()
    try:
        pulled = [msg for msg in consumer.pull(topic) if msg.topic == topic]
    finally:
        consumer.shutdown()
    assert sorted(msg.body for msg in pulled) == sorted(bodies)
    assert {msg.tags for msg in pulled} == {b"TagP"}


def test_a_proxy_needs_a_5x_cluster(tmp_path):
    class FourNine:
        version = APACHE4_VERSION
        workdir = tmp_path

    with pytest.raises(ValueError, match="no proxy"):
        proxy_harness.ApacheProxy(FourNine())


def test_a_failed_message_comes_back_through_the_proxy(apache_cluster, apache_proxy):
    topic = new_topic(apache_cluster)
    deliveries = []

    def fail_first(msg):
        deliveries.append((msg.body, msg.reconsume_times))
        if msg.reconsume_times == 0:
            return ConsumeStatus.RECONSUME_LATER
        return ConsumeStatus.CONSUME_SUCCESS

    group = unique("ProxyRetryG")
    consumer = PushConsumer(group)
    consumer.set_namesrv_addr(apache_proxy.proxy_remoting_addr)
    consumer.subscribe(topic, fail_first)
    consumer.start()
    producer = proxy_producer(apache_proxy)
    try:
        wait_for(
            lambda: len([q for q in consumer._native.pulling_queues() if q[0] == topic]) == 4,
            60,
            f"every queue of {topic} pulled",
        )
        assert producer.send_sync(message(topic, b"retried")).status == SendStatus.OK
        # The broker creates the group's retry topic when the first message comes back; the
        # consumer pulls it once the proxy routes it.
        wait_for(lambda: (b"retried", 1) in deliveries, 90, "the retry through the proxy")
        assert any(q[0] == f"%RETRY%{group}" for q in consumer._native.pulling_queues())
        assert deliveries[0] == (b"retried", 0)
    finally:
        producer.shutdown()
        consumer.shutdown()
