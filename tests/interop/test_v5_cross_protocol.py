"""Cross-protocol delivery between RocketMQ 5 gRPC clients and remoting clients on one broker:
messages the official 5.x Python client sends over gRPC are consumed by our remoting
PushConsumer and pulled by the reference C++ client; messages our remoting Producer and the
C++ client send are received over gRPC by the official client's SimpleConsumer. Ids, tags,
keys, user properties and bodies must cross unchanged.

Against our broker (default run: its gRPC endpoint and its name server) and Apache's (with
``ROCKETMQ_TEST_BROKER=apache``: the proxy's gRPC endpoint and the cluster's name server, so
the remoting clients talk to the broker directly). One broker per module, fresh topics.
"""

from __future__ import annotations

import threading

import pytest
from clienttools import message, unique, wait_for
from cpp_client import CppProducer, make_message, pull_all
from official_v5 import expect_served, official_python, run_flow, v5_target

from rocketmq.client import ConsumeStatus, Producer, PushConsumer, SendStatus

pytestmark = [
    pytest.mark.apache4_unsupported("RocketMQ 5 gRPC: Apache 4.9 has no proxy"),
    pytest.mark.timeout(240),
]

PROPERTIES = {"seq": "0", "text": "h\u00e9llo \u4e16\u754c"}


@pytest.fixture(scope="module")
def target(request, tmp_path_factory):
    with v5_target(request, tmp_path_factory) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def python():
    return official_python()


def grpc_specs(count: int):
    return [
        {
            "body": f"grpc-{i}",
            "tag": "TagG",
            "keys": f"key-{i}",
            "properties": dict(PROPERTIES, seq=str(i)),
        }
        for i in range(count)
    ]


def test_grpc_sent_messages_reach_remoting_consumers(request, target, python, tmp_path):
    expect_served(request, target, "normal")
    topic = target.topic("normal")
    specs = grpc_specs(4)
    received = {}
    lock = threading.Lock()

    def on_message(msg):
        with lock:
            received.setdefault(msg.body, msg)
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = PushConsumer(unique("V5CrossPush"))
    consumer.set_namesrv_addr(target.namesrv_addr)
    consumer.subscribe(topic, on_message)
    consumer.start()
    try:
        args = {"endpoint": target.endpoint, "topic": topic, "messages": specs}
        sent = {
            r["body"]: r["message_id"]
            for r in run_flow(python, "send", args, tmp_path / "h").events("sent")
        }
        assert len(sent) == len(specs)
        wait_for(lambda: len(received) == len(specs), 60, "our PushConsumer got every gRPC send")
    finally:
        consumer.shutdown()
    for i, spec in enumerate(specs):
        msg = received[spec["body"].encode()]
        assert (msg.topic, msg.tags, msg.keys) == (topic, b"TagG", f"key-{i}".encode())
        assert msg.get_property("seq") == str(i).encode()
        assert msg.get_property("text") == PROPERTIES["text"].encode()
        assert msg.id == sent[spec["body"]], "the 5.x message id is the remoting unique id"

    pulled = pull_all(target.namesrv_addr, tmp_path / "cpp", unique("V5CrossCpp"), topic)
    by_body = {bytes.fromhex(m["body_hex"]).decode(): m for m in pulled}
    assert sorted(by_body) == sorted(spec["body"] for spec in specs)
    for i, spec in enumerate(specs):
        m = by_body[spec["body"]]
        assert (m["tags"], m["keys"]) == ("TagG", f"key-{i}")
        assert m["properties"]["seq"] == str(i)
        assert m["id"] == sent[spec["body"]]


def test_remoting_sent_messages_reach_a_grpc_consumer(request, target, python, tmp_path):
    expect_served(request, target, "normal")
    topic = target.topic("normal")
    sent = {}
    producer = Producer(unique("V5CrossPG"))
    producer.set_namesrv_addr(target.namesrv_addr)
    producer.start()
    try:
        for i in range(3):
            body = f"ours-{i}".encode()
            result = producer.send_sync(message(topic, body, "TagO", f"ours-key-{i}", seq=str(i)))
            assert result.status == SendStatus.OK
            sent[body.hex()] = (result.msg_id, "TagO", f"ours-key-{i}", str(i))
    finally:
        producer.shutdown()
    cpp = CppProducer(target.namesrv_addr, tmp_path / "cpp")
    try:
        specs = [make_message(topic, seq, tags="TagC") for seq in range(100, 103)]
        results = cpp.send(specs, mode="sync")
        assert cpp.finish() == 0, cpp.diagnostics()
    finally:
        cpp.kill()
    for spec, result in zip(specs, results):
        assert result.get("status") == 0, result
        seq = spec["properties"]["seq"]
        sent[spec["body_hex"]] = (result["msg_id"], "TagC", spec["keys"], seq)

    group = unique("V5CrossGrpc")
    args = {"endpoint": target.endpoint, "topic": topic, "group": group, "count": len(sent)}
    run = run_flow(python, "receive", args, tmp_path / "h")
    received = {r["body_hex"]: r for r in run.events("received")}
    assert sorted(received) == sorted(sent), "every remoting send received once over gRPC"
    assert len(run.events("received")) == len(sent)
    for body_hex, (msg_id, tag, keys, seq) in sent.items():
        r = received[body_hex]
        assert r["message_id"] == msg_id
        assert (r["topic"], r["tag"]) == (topic, tag)
        assert r["keys"] == sorted(keys.split(" "))
        assert r["properties"]["seq"] == seq
