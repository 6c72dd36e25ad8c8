"""ReceivedMessage, the native message view the consumers hand out: every field, property
lookups, text and bytes forms, pickling, and that a message stays valid after the callback."""

import pickle
import threading

import pytest
from clienttools import make_producer, message, unique, wait_for

from rocketmq._messages import MESSAGE_FIELDS
from rocketmq.client import (
    ConsumeStatus,
    MessageProperty,
    PushConsumer,
    ReceivedMessage,
    RecvMessage,
)


def consume_one(broker, topic, group):
    kept = []
    done = threading.Event()

    def callback(msg):
        kept.append(msg)
        done.set()
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = PushConsumer(group)
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.subscribe(topic, callback)
    consumer.start()
    try:
        wait_for(done.is_set, what="one delivery")
    finally:
        consumer.shutdown()
    return kept[0]


def test_a_kept_message_has_every_field_after_the_consumer_is_gone(broker):
    topic = unique("RM")
    producer = make_producer(broker)
    try:
        msg = message(topic, "héllo".encode(), tags="TagA", keys="k1 k2", p="v")
        msg.set_delay_time_level(0)
        sent = producer.send_sync(msg)
    finally:
        producer.shutdown()
    got = consume_one(broker, topic, unique("CG"))

    assert type(got) is ReceivedMessage and RecvMessage is ReceivedMessage
    assert got.topic == topic
    assert got.body == "héllo".encode() and bytes(got) == got.body and str(got) == "héllo"
    assert got.body_length == len("héllo".encode())
    assert got.tags == b"TagA" and got.keys == b"k1 k2"
    assert got.id == sent.msg_id and len(got.offset_msg_id) == 32
    assert got.queue_id >= 0 and got.queue_offset == 0 and got.commit_log_offset >= 0
    assert got.reconsume_times == 0 and got.store_size > len(got.body)
    assert 0 < got.born_timestamp <= got.store_timestamp
    assert got.prepared_transaction_offset == 0
    assert got.born_host.startswith("127.0.0.1:") and got.store_host == broker.broker_addr
    assert got.delay_time_level == 0

    props = got.properties
    assert props["p"] == "v" and props["TAGS"] == "TagA"
    props["p"] = "changed"  # a copy: the message itself does not change
    assert got.properties["p"] == "v"
    assert got.get_property("p") == b"v" == got["p"] == got[b"p"]
    assert got.get_property(MessageProperty.TAGS) == b"TagA"
    assert got.get_property("missing") == b""
    with pytest.raises(TypeError, match="property name"):
        got.get_property(3)
    assert "ReceivedMessage" in repr(got) and topic in repr(got)

    with pytest.raises(AttributeError):
        got.topic = "other"

    copy = pickle.loads(pickle.dumps(got))
    assert type(copy) is ReceivedMessage
    assert copy.fields() == got.fields()
    assert (copy.id, copy.body, copy.properties) == (got.id, got.body, got.properties)


def test_a_body_that_is_not_utf8_raises_on_str_only():
    view = ReceivedMessage(
        fields=("T", b"", b"", b"\xff\xfe", "id", "", 0, 0, 0, 0, 0, 0, 0, 0, {}, "", "")
    )
    assert bytes(view) == b"\xff\xfe"
    with pytest.raises(UnicodeDecodeError):
        str(view)


def test_the_field_tuple_is_checked():
    with pytest.raises(ValueError, match="17 fields"):
        ReceivedMessage(fields=("T", b""))
    with pytest.raises(TypeError):
        ReceivedMessage(
            fields=("T", b"", b"", "not bytes", "id", "", 0, 0, 0, 0, 0, 0, 0, 0, {}, "", "")
        )
    view = ReceivedMessage(
        fields=("T", b"TagX", b"K", b"b", "id", "", 1, 2, 3, 4, 5, 6, 7, 8, {"DELAY": "3"}, "", "")
    )
    assert view.tags == b"TagX" and view.properties["TAGS"] == "TagX"
    assert (view.queue_id, view.queue_offset, view.reconsume_times) == (1, 2, 4)
    assert view.delay_time_level == 3 and view.born_host == "" and view.store_host == ""


def test_the_field_tuple_is_passed_by_name_and_pickles_at_every_protocol():
    fields = ("T", b"TagX", b"K", b"b", "id", "oid", 1, 2, 3, 4, 5, 6, 7, 8, {"p": "v"}, "h", "s")
    with pytest.raises(TypeError):
        ReceivedMessage(fields)
    view = ReceivedMessage(fields=fields)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(view, protocol=protocol))
        assert type(copy) is ReceivedMessage
        assert copy.fields() == view.fields()


def test_message_fields_name_the_getters_in_tuple_order():
    fields = ("T", b"TagX", b"K", b"b", "id", "oid", 1, 2, 3, 4, 5, 6, 7, 8, {"p": "v"}, "h", "s")
    view = ReceivedMessage(fields=fields)
    assert len(MESSAGE_FIELDS) == len(fields)
    for name, value in zip(MESSAGE_FIELDS, view.fields()):
        assert getattr(view, name) == value, name
