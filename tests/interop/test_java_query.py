"""Apache's Java admin client (DefaultMQAdminExt, as `mqadmin queryMsgByKey` / `queryMsgById`)
queries our broker's message index: a key returns exactly the messages sent with it, and a
unique message id (what the Java producer's SendResult.getMsgId returns) the message itself."""

from __future__ import annotations

import pytest
from cpp_client import assert_same_content, make_message
from java_client import JavaAdmin, JavaProducer

from rocketmq.broker import LocalBroker

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def broker(tmp_path):
    with LocalBroker(store_dir=tmp_path / "store", namesrv_port=0, broker_port=0) as running:
        yield running


def test_java_admin_queries_by_key_and_views_by_unique_id(broker, home, cleanup):
    topic = "JavaQuery"
    producer = JavaProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    sent = {seq: make_message(topic, seq) for seq in range(6)}
    results = producer.send(list(sent.values()))
    assert all(r.get("status") == 0 for r in results), results
    admin = JavaAdmin(broker.namesrv_addr, home / "admin")
    cleanup(admin)

    # make_message gives message seq the keys "key-<seq> other-<seq>".
    found = admin.ask("query_key", topic=topic, key="key-4")
    assert "error" not in found, found
    assert len(found["messages"]) == 1, found
    assert_same_content(found["messages"][0], sent[4])
    others = admin.ask("query_key", topic=topic, key="other-1")
    assert [m["properties"]["seq"] for m in others["messages"]] == ["1"], others

    for seq in (0, 5):
        viewed = admin.ask("view", topic=topic, msg_id=results[seq]["msg_id"])
        assert "error" not in viewed, viewed
        assert_same_content(viewed, sent[seq])
    assert admin.finish() == 0
