"""Interop: the reference C++ client (librocketmq in PyPI rocketmq==0.4.4) obeys
RESET_CONSUMER_CLIENT_OFFSET from our broker: a live C++ push consumer group moved back with
Admin.reset_offset_by_time consumes the messages since then again.

Our broker sends C++ clients (heartbeat language CPP) the array form of the body
(``ResetOffsetBodyForC``), as Apache's 4.x broker does.
"""

from __future__ import annotations

import pytest
from cpp_client import CppProducer, CppPushConsumer, make_message, probe_until
from driver_records import SHORT_DELAY_LEVELS, create_topic

from rocketmq.admin import Admin
from rocketmq.broker import LocalBroker

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def broker(tmp_path):
    with LocalBroker(
        store_dir=tmp_path / "store",
        namesrv_port=0,
        broker_port=0,
        delay_levels=SHORT_DELAY_LEVELS,
    ) as running:
        yield running


def test_a_live_cpp_consumer_moved_back_to_the_start_consumes_everything_again(
    broker, home, cleanup
):
    topic, group = "InteropReset", "CG_reset"
    producer = CppProducer(broker.namesrv_addr, home / "producer")
    cleanup(producer)
    create_topic(producer, topic)
    consumer = CppPushConsumer(broker.namesrv_addr, home / "consumer", group, topic)
    cleanup(consumer)
    probe_until(producer, [consumer], topic, lambda seen: len(seen.get(0, [])) == 4)
    sent = {seq: make_message(topic, seq) for seq in range(40)}
    results = producer.send(list(sent.values()), mode="sync")
    assert all(r.get("status") == 0 for r in results), results
    consumer.wait_until(lambda: set(consumer.seqs()) >= set(sent), 120, "the first round")

    with Admin(broker.namesrv_addr) as admin:
        table = admin.reset_offset_by_time(topic, group, 0)
    assert set(table.values()) == {0}

    def twice():
        seqs = consumer.seqs()
        return all(seqs.count(seq) >= 2 for seq in sent)

    consumer.wait_until(twice, 120, "every message consumed a second time")

    # Stop only once the client has nothing left in hand: the group's committed offsets reach
    # the end of every queue, so every message (the probes too) went through the listener.
    # librocketmq 0.4.4 can abort in shutdown ("boost::thread_interrupted") when it stops
    # with consumption under way.
    with Admin(broker.namesrv_addr) as admin:

        def all_committed():
            rows = admin.consume_stats(group, topic)
            return bool(rows) and all(row.lag == 0 for row in rows)

        consumer.wait_until(all_committed, 60, "the group's offsets committed to the end")
    consumer.stop()
