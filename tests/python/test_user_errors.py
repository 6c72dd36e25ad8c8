"""The errors a user can trigger from Python, as a table: each raises the documented
exception class, and its text says what went wrong and what to do (the words asserted here).

| cause                           | exception                    | the text names            |
|---------------------------------|------------------------------|---------------------------|
| wrong argument type             | TypeError                    | the argument, the types   |
| blank group                     | Producer/PushConsumer/       | "pass a group name"       |
|                                 | PullConsumerStartFailed      |                           |
| unknown topic, auto-create off  | ProducerSendSyncFailed       | "Create the topic first", |
|                                 |                              | autoCreateTopicEnable     |
| unknown topic, pull consumer    | PullConsumerFetchMQFailed    | "Check the topic name"    |
| topic whose queues are not     | ProducerSendSyncFailed       | "Check the permissions of |
| writable                        |                              | topic"                    |
| body over the producer's limit  | ProducerSendSyncFailed       | set_max_message_size      |
| body over the broker's limit    | ProducerSendSyncFailed       | "The broker refused",     |
| (the broker refuses it)         |                              | maxMessageSize            |
| name server unreachable         | ProducerSendSyncFailed,      | "Check that a RocketMQ    |
|                                 | PullConsumerFetchMQFailed    | name server is running"   |
"""

import json
import os
import socket
import struct
import threading

import pytest
from clienttools import unique

from rocketmq.admin import PERM_READ, Admin
from rocketmq.client import Message, Producer, PullConsumer, PushConsumer
from rocketmq.exceptions import (
    ProducerSendSyncFailed,
    ProducerStartFailed,
    PullConsumerFetchMQFailed,
    PullConsumerStartFailed,
    PushConsumerStartFailed,
)

from remoting import read_frame

TOPIC_NOT_EXIST = 17
GET_ROUTEINFO_BY_TOPIC = 105


def _message(topic, body=b"x"):
    msg = Message(topic)
    msg.set_body(body)
    return msg


def _set_body_to_float():
    Message("T").set_body(3.5)


def _timeout_as_text():
    Producer("g").set_timeout("3s")


def _tags_as_int():
    Message("T").set_tags(7)


WRONG_TYPES = [
    (lambda: Message(None), "topic must be str or bytes, got None"),
    (lambda: Message(42), "topic must be str or bytes, got int"),
    (lambda: Producer(3.0), "group_id must be str or bytes, got float"),
    (_set_body_to_float, "body must be str or bytes, got float"),
    (_timeout_as_text, "timeout must be an int, got str"),
    (_tags_as_int, "tags must be str or bytes, got int"),
]


@pytest.mark.parametrize("call, text", WRONG_TYPES)
def test_a_wrong_argument_type_is_a_type_error_naming_the_argument(call, text):
    with pytest.raises(TypeError) as raised:
        call()
    assert str(raised.value) == text


@pytest.mark.parametrize(
    "make, exception, example",
    [
        (Producer, ProducerStartFailed, "Producer('my-producers')"),
        (PullConsumer, PullConsumerStartFailed, "PullConsumer('my-consumers')"),
        (PushConsumer, PushConsumerStartFailed, "PushConsumer('my-consumers')"),
    ],
)
def test_a_blank_group_fails_at_start_saying_to_pass_a_group(make, exception, example):
    client = make("  ")
    if isinstance(client, PushConsumer):
        client.subscribe("T", lambda msg: None)
    with pytest.raises(exception) as raised:
        client.start()
    assert str(raised.value) == (f"the specified group is blank: pass a group name, e.g. {example}")


class RoutelessNameServer:
    """A name server that knows no topic, not even the auto-create template TBW102: what an
    Apache name server answers when the broker runs with autoCreateTopicEnable=false."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.addr = "127.0.0.1:%d" % self._listener.getsockname()[1]
        self.asked = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:  # the accept timeout, or the listener closed by close()
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            while not self._stop.is_set():
                try:
                    request = read_frame(conn, timeout=10)
                except (OSError, TimeoutError, ValueError):
                    return
                self.asked.append((request.code, request.ext_fields.get("topic")))
                header = {
                    "code": TOPIC_NOT_EXIST,
                    "flag": 1,
                    "opaque": request.opaque,
                    "language": "JAVA",
                    "version": 401,
                    "remark": "No topic route info in name server for the topic",
                    "extFields": {},
                }
                head = json.dumps(header).encode()
                conn.sendall(struct.pack(">II", 4 + len(head), len(head)) + head)

    def close(self):
        self._stop.set()
        self._listener.close()
        self._thread.join(5)


@pytest.fixture
def routeless_name_server():
    server = RoutelessNameServer()
    yield server
    server.close()


def _producer(namesrv_addr, **settings):
    producer = Producer(unique("errors-producer"), **settings)
    producer.set_namesrv_addr(namesrv_addr)
    producer.start()
    return producer


def test_an_unknown_topic_with_auto_create_off_says_to_create_it(routeless_name_server):
    producer = _producer(routeless_name_server.addr)
    try:
        with pytest.raises(ProducerSendSyncFailed) as raised:
            producer.send_sync(_message("NoSuchTopic"))
    finally:
        producer.shutdown()
    text = str(raised.value)
    assert "the topic does not exist and auto-creation is off" in text, text
    assert 'rocketmq.admin.Admin(namesrv).create_topic("NoSuchTopic")' in text, text
    assert "mqadmin updateTopic -t NoSuchTopic" in text, text
    assert "autoCreateTopicEnable=true" in text, text
    asked_topics = {topic for code, topic in routeless_name_server.asked if code == 105}
    assert asked_topics == {"NoSuchTopic", "TBW102"}, routeless_name_server.asked


def test_pulling_an_unknown_topic_says_to_check_or_create_it(broker):
    consumer = PullConsumer(unique("errors-pull"))
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.start()
    try:
        with pytest.raises(PullConsumerFetchMQFailed) as raised:
            list(consumer.pull(unique("NeverCreated")))
    finally:
        consumer.shutdown()
    text = str(raised.value)
    assert "the name server does not know this topic" in text, text
    assert "Check the topic name. Create the topic first" in text, text


def test_sending_to_a_read_only_topic_says_to_check_its_permissions(broker):
    topic = unique("ReadOnly")
    with Admin(broker.namesrv_addr) as admin:
        admin.create_topic(topic, queues=2, perm=PERM_READ)
    producer = _producer(broker.namesrv_addr)
    try:
        with pytest.raises(ProducerSendSyncFailed) as raised:
            producer.send_sync(_message(topic))
    finally:
        producer.shutdown()
    text = str(raised.value)
    assert "the route has no writable queue" in text, text
    assert f"Check the permissions of topic {topic} (mqadmin updateTopicPerm)" in text, text


def test_a_body_over_the_producers_limit_names_the_setting(broker):
    producer = _producer(broker.namesrv_addr, max_message_size=1024)
    try:
        with pytest.raises(ProducerSendSyncFailed) as raised:
            producer.send_sync(_message(unique("Big"), b"x" * 2048))
    finally:
        producer.shutdown()
    assert "the message body is 2048 bytes; the maximum is 1024 (set_max_message_size)" in str(
        raised.value
    )


def test_a_body_the_broker_refuses_says_what_the_broker_allows(broker):
    # Both brokers refuse bodies over 4 MiB; random bytes stay that large when compressed.
    producer = _producer(broker.namesrv_addr, max_message_size=8 << 20)
    topic = unique("TooBig")
    try:
        producer.send_sync(_message(topic))  # creates the topic
        with pytest.raises(ProducerSendSyncFailed) as raised:
            producer.send_sync(_message(topic, os.urandom((4 << 20) + 4096)))
    finally:
        producer.shutdown()
    text = str(raised.value)
    assert "answered code 13" in text, text
    assert "The broker refused the message: keep the body within the broker's maximum" in text
    assert "maxMessageSize" in text, text


def _closed_port_address():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "127.0.0.1:%d" % s.getsockname()[1]


def test_an_unreachable_name_server_is_named_with_what_to_check():
    addr = _closed_port_address()
    producer = _producer(addr)
    try:
        with pytest.raises(ProducerSendSyncFailed) as raised:
            producer.send_sync(_message("AnyTopic"))
    finally:
        producer.shutdown()
    text = str(raised.value)
    assert f"cannot connect to {addr}" in text, text
    assert f"Check that a RocketMQ name server is running at {addr}" in text, text
    assert "set_namesrv_addr() (or NAMESRV_ADDR)" in text, text

    consumer = PullConsumer(unique("errors-pull"))
    consumer.set_namesrv_addr(addr)
    consumer.start()
    try:
        with pytest.raises(PullConsumerFetchMQFailed) as raised:
            list(consumer.pull("AnyTopic"))
    finally:
        consumer.shutdown()
    assert f"Check that a RocketMQ name server is running at {addr}" in str(raised.value)
