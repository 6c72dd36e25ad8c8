"""Consumer groups' configs, topic message types and FIFO message groups through
rocketmq.admin and the producer, against the broker under test (ours, or Apache's with
ROCKETMQ_TEST_BROKER=apache): create, get, list and delete a subscription group; create a
topic with a RocketMQ 5 message type; messages of one ``__SHARDINGKEY`` all on the queue
Apache's proxy would pick for that group."""

import json
import os
import uuid

import pytest
from clienttools import make_producer, message, pull_all

from rocketmq.admin import MESSAGE_TYPES, Admin, SubscriptionGroup

from remoting import RemotingConnection

GET_ALL_TOPIC_CONFIG = 21


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def java_string_hash(text: str) -> int:
    """Java's String.hashCode (over UTF-16 units, 32-bit wrapping)."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i : i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def guava_consistent_hash(value: int, buckets: int) -> int:
    """Guava's Hashing.consistentHash(long, int), written from its published algorithm."""
    state = value & 0xFFFFFFFFFFFFFFFF
    candidate = 0
    for _ in range(10_000):
        state = (2862933555777941757 * state + 1) & 0xFFFFFFFFFFFFFFFF
        high = state >> 33
        high = high - (1 << 31) if high >= 1 << 31 else high
        unit = (high + 1) / 2.0**31
        nxt = int((candidate + 1) / unit)
        if 0 <= nxt < buckets:
            candidate = nxt
        else:
            return candidate
    raise AssertionError("consistent hash did not settle")


def broker_kind() -> str:
    return os.environ.get("ROCKETMQ_TEST_BROKER", "ours") or "ours"


def topic_attributes(broker, topic: str) -> dict:
    with RemotingConnection(broker.broker_addr) as conn:
        reply = conn.call(GET_ALL_TOPIC_CONFIG)
    assert reply.code == 0, reply.remark
    table = json.loads(reply.body)["topicConfigTable"]
    return table[topic].get("attributes") or {}


def test_the_python_oracle_agrees_with_guava_values():
    # Values computed with Guava 32.0.1, the one Apache RocketMQ 5.5.0 ships.
    assert java_string_hash("order-1") == -1207111310
    assert [guava_consistent_hash(-1207111310, n) for n in (2, 4, 16)] == [0, 3, 3]
    assert java_string_hash("\u00e9t\u00e9-\u4e2d") == 218881470
    assert guava_consistent_hash(218881470, 16) == 10


def test_create_get_list_and_delete_a_subscription_group(broker):
    group = unique("SG")
    with Admin(broker.namesrv_addr) as admin:
        assert admin.get_subscription_group(group) is None
        names = admin.create_subscription_group(
            group, consume_message_orderly=True, retry_max_times=3
        )
        assert names
        got = admin.get_subscription_group(group)
        # Apache 4.9's group config has no consumeMessageOrderly (a RocketMQ 5 field).
        orderly_kept = broker_kind() != "apache4"
        assert got == SubscriptionGroup(
            group_name=group,
            consume_message_orderly=orderly_kept,
            retry_max_times=3,
            attributes=got.attributes if got else {},
        )
        listed = {g.group_name: g for g in admin.list_subscription_groups()}
        assert listed[group] == got
        # Java's system groups are there too.
        assert "TOOLS_CONSUMER" in listed
        # Creating again replaces the config.
        admin.create_subscription_group(group, consume_enable=False, consume_broadcast_enable=False)
        again = admin.get_subscription_group(group)
        assert again is not None
        assert (again.consume_enable, again.consume_broadcast_enable) == (False, False)
        assert (again.consume_message_orderly, again.retry_max_times) == (False, 16)
        # clean_offset=True: Apache 5.5.0 re-creates a group deleted without it (see
        # Admin.delete_subscription_group).
        assert admin.delete_subscription_group(group, clean_offset=True) == names
        assert admin.get_subscription_group(group) is None
        assert group not in {g.group_name for g in admin.list_subscription_groups()}
        # Deleting what is not there succeeds.
        admin.delete_subscription_group(group, clean_offset=True)


def test_group_arguments_are_checked_before_anything_is_sent(broker):
    with Admin(broker.namesrv_addr) as admin:
        with pytest.raises(TypeError, match="retry_max_times must be an int"):
            admin.create_subscription_group("G", retry_max_times="3")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="retry_max_times must be 0"):
            admin.create_subscription_group("G", retry_max_times=-5)
        with pytest.raises(TypeError, match="consume_enable must be True or False"):
            admin.create_subscription_group("G", consume_enable=1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="NORMAL, FIFO, DELAY, TRANSACTION, PRIORITY, MIXED"):
            admin.create_topic(unique("T"), message_type="LIFO")
    assert MESSAGE_TYPES == ("NORMAL", "FIFO", "DELAY", "TRANSACTION", "PRIORITY", "MIXED")


@pytest.mark.apache4_unsupported("Apache 4.9 has no topic attributes")
def test_a_topic_keeps_its_message_type_across_updates(broker):
    topic = unique("fifo-topic")
    with Admin(broker.namesrv_addr) as admin:
        admin.create_topic(topic, queues=2, message_type="fifo")
        assert topic_attributes(broker, topic) == {"message.type": "FIFO"}
        # An update without a message type keeps it; one with a type changes it.
        admin.create_topic(topic, queues=4)
        assert topic_attributes(broker, topic) == {"message.type": "FIFO"}
        admin.create_topic(topic, queues=4, message_type="Delay")
        assert topic_attributes(broker, topic) == {"message.type": "DELAY"}
        plain = unique("plain-topic")
        admin.create_topic(plain, queues=1)
        assert topic_attributes(broker, plain) == {}


def test_messages_of_one_message_group_land_on_the_proxys_queue(broker):
    topic = unique("fifo-send")
    queues = 8
    groups = [f"group-{i}" for i in range(6)]
    with Admin(broker.namesrv_addr) as admin:
        admin.create_topic(topic, queues=queues)
    producer = make_producer(broker)
    try:
        for round_ in range(5):
            for g in groups:
                body = f"{g}:{round_}".encode()
                producer.send_sync(message(topic, body, **{"__SHARDINGKEY": g}))
    finally:
        producer.shutdown()
    got = pull_all(broker.namesrv_addr, topic)
    assert len(got) == len(groups) * 5
    by_group = {}
    for m in got:
        g, _ = m.body.decode().split(":")
        by_group.setdefault(g, set()).add(m.queue_id)
    # One broker: its write queues sorted by id are the proxy's list.
    expected = {g: {guava_consistent_hash(java_string_hash(g), queues)} for g in groups}
    assert by_group == expected
    # Each group's messages keep their send order within the queue.
    for g in groups:
        mine = sorted(
            (m for m in got if m.body.startswith(f"{g}:".encode())), key=lambda m: m.queue_offset
        )
        assert [m.body.decode() for m in mine] == [f"{g}:{r}" for r in range(5)]
