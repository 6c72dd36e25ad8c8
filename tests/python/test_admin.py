"""rocketmq.admin against the broker under test (ours, or Apache's with
ROCKETMQ_TEST_BROKER=apache): cluster info, topic creation and routes, and the errors a
user can cause."""

import socket
import uuid

import pytest
from clienttools import make_producer, message, pull_all

from rocketmq.admin import PERM_READ, PERM_WRITE, Admin, AdminError, QueueRoute


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_cluster_info_lists_the_broker_and_its_master_address(broker):
    with Admin(broker.namesrv_addr) as admin:
        info = admin.cluster_info()
        masters = admin.master_brokers()
        assert masters == admin.master_brokers(wait=5)
    assert broker.broker_addr in masters.values()
    (name,) = [n for n, a in masters.items() if a == broker.broker_addr]
    assert info["brokers"][name]["addrs"][0] == broker.broker_addr
    cluster = info["brokers"][name]["cluster"]
    assert name in info["clusters"][cluster]


def test_a_created_topic_is_routed_with_its_queues_and_takes_messages(broker):
    topic = unique("admin-topic")
    with Admin(broker.namesrv_addr) as admin:
        assert admin.topic_route(topic) is None
        names = admin.create_topic(topic, queues=3)
        route = admin.topic_route(topic)
    assert names and route is not None
    assert {r.broker_name for r in route} == set(names)
    assert all(r == QueueRoute(r.broker_name, 3, 3, PERM_READ | PERM_WRITE) for r in route)
    producer = make_producer(broker)
    try:
        for body in (b"one", b"two", b"three"):
            producer.send_sync(message(topic, body))
    finally:
        producer.shutdown()
    got = pull_all(broker.namesrv_addr, topic)
    assert sorted(m.body for m in got) == [b"one", b"three", b"two"]
    assert {m.queue_id for m in got} <= {0, 1, 2}


def test_read_and_write_queue_counts_and_perm_are_kept_apart(broker):
    topic = unique("admin-perm")
    with Admin(broker.namesrv_addr) as admin:
        admin.create_topic(topic, read_queues=4, write_queues=2, perm=PERM_READ)
        route = admin.topic_route(topic)
    assert route is not None
    assert {(r.read_queues, r.write_queues, r.perm) for r in route} == {(4, 2, PERM_READ)}


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"queues": 0}, "queues must be an int of 1 or more"),
        ({"queues": "4"}, "queues must be an int of 1 or more"),
        ({"perm": "rw"}, "perm must be PermName bits"),
    ],
)
def test_bad_arguments_say_what_to_pass(broker, kwargs, words):
    with Admin(broker.namesrv_addr) as admin:
        with pytest.raises(TypeError, match=words):
            admin.create_topic(unique("admin-bad"), **kwargs)


def test_a_blank_topic_is_refused_before_anything_is_sent(broker):
    with Admin(broker.namesrv_addr) as admin:
        with pytest.raises(AdminError, match="blank"):
            admin.create_topic("  ")


def test_an_unreachable_name_server_is_named_with_what_to_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        addr = "127.0.0.1:%d" % s.getsockname()[1]
    with Admin(addr, timeout=2) as admin:
        with pytest.raises(AdminError) as err:
            admin.cluster_info()
    assert addr in str(err.value)
    assert "name server runs there" in str(err.value)


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match="host:port"):
        Admin("  ")
    with pytest.raises(TypeError, match="namesrv_addr must be str or bytes"):
        Admin(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="timeout must be a positive number"):
        Admin("127.0.0.1:9876", timeout=0)


def test_search_offset_finds_the_first_message_stored_at_or_after_a_time(broker):
    topic = unique("admin-search")
    with Admin(broker.namesrv_addr) as admin:
        admin.create_topic(topic, queues=1)
        producer = make_producer(broker)
        try:
            for i in range(20):
                producer.send_sync(message(topic, b"m%d" % i))
        finally:
            producer.shutdown()
        stored = sorted(pull_all(broker.namesrv_addr, topic), key=lambda m: m.queue_offset)
        assert [m.queue_offset for m in stored] == list(range(20))
        for probe in (stored[0], stored[7], stored[19]):
            expected = min(
                m.queue_offset for m in stored if m.store_timestamp >= probe.store_timestamp
            )
            assert admin.search_offset(topic, 0, probe.store_timestamp) == expected
        with pytest.raises(AdminError, match="no readable queue 9"):
            admin.search_offset(topic, 9, stored[0].store_timestamp)
        with pytest.raises(TypeError, match="timestamp_ms must be an int"):
            admin.search_offset(topic, 0, 1.5)  # type: ignore[arg-type]


def test_start_and_shutdown_follow_the_java_admin_lifecycle(broker):
    admin = Admin(broker.namesrv_addr)
    assert admin.start() is admin
    assert admin.master_brokers(wait=30)
    admin.shutdown()
    with pytest.raises(AdminError, match="create a new Admin"):
        admin.start()
    with pytest.raises(AdminError, match="create a new Admin"):
        with admin:
            pass
