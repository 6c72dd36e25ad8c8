"""Two brokers under one name server, one killed while a producer sends: sends fail over
to the survivor and every acknowledged message is consumed."""

import threading
import time

import pytest
from clienttools import pull_all, wait_for

from rocketmq.broker import LocalBroker
from rocketmq.client import Message, Producer
from rocketmq.exceptions import ProducerSendSyncFailed


@pytest.mark.ours_broker_only("kills and restarts LocalBroker instances")
def test_sends_fail_over_when_a_broker_dies(tmp_path):
    first = LocalBroker(store_dir=str(tmp_path / "a"), namesrv_port=0, broker_port=0)
    second = LocalBroker(
        store_dir=str(tmp_path / "b"),
        namesrv_port=0,
        broker_port=0,
        broker_name="broker-b",
        namesrv_addr=first.namesrv_addr,
    )
    assert second.namesrv_addr == first.namesrv_addr
    topic = "FailoverTopic"
    producer = Producer("failover-producers")
    producer.set_namesrv_addr(first.namesrv_addr)
    producer.start()
    acked, failed = [], []
    try:
        # Create the topic on both brokers: auto-creation happens on the first send to each.
        deadline = time.monotonic() + 20
        brokers_used = set()
        while brokers_used != {"broker-a", "broker-b"}:
            assert time.monotonic() < deadline, "the topic never reached both brokers"
            m = Message(topic)
            m.set_body(b"warmup")
            producer.send_sync(m)
            brokers_used = set(b for _, b in _routes(first.namesrv_addr, topic))

        stop = threading.Event()

        def send_loop():
            # Runs until the test stops it (bounded by a deadline, never by a count: a fast
            # machine would otherwise run out of messages before the kill is seen).
            i = 0
            give_up = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < give_up:
                m = Message(topic)
                m.set_body(b"m%d" % i)
                try:
                    acked.append(producer.send_sync(m).msg_id)
                except ProducerSendSyncFailed as e:
                    failed.append(str(e))
                i += 1

        sender = threading.Thread(target=send_loop)
        sender.start()
        wait_for(lambda: len(acked) >= 200, 60, "sends before the kill")
        second.kill()
        killed_at = len(acked)
        wait_for(lambda: len(acked) >= killed_at + 300, 60, "sends after the kill")
        stop.set()
        sender.join(60)
        assert not sender.is_alive()
        # The producer fails over: at most a few sends in flight at the kill may fail.
        assert len(failed) <= 5, failed[:5]

        # Everything acknowledged by the survivor is there; restart the dead broker on its
        # store and everything it acknowledged is there too.
        second = LocalBroker(
            store_dir=str(tmp_path / "b"),
            namesrv_port=0,
            broker_port=0,
            broker_name="broker-b",
            namesrv_addr=first.namesrv_addr,
        )
        ids = set()
        deadline = time.monotonic() + 30
        while not set(acked) <= ids:
            assert time.monotonic() < deadline, "acknowledged messages missing: %d" % len(
                set(acked) - ids
            )
            ids = {m.id for m in pull_all(first.namesrv_addr, topic)}
    finally:
        producer.shutdown()
        second.shutdown()
        first.shutdown()


def _routes(namesrv, topic):
    """(queue id, broker name) of the topic's readable queues, via a pull consumer."""
    from rocketmq import _rocketmq

    client = _rocketmq.NativePullClient(group="route-probe", name_servers_list=namesrv)
    try:
        return [(q, b) for _, b, q in client.fetch_subscribe_queues(topic)]
    except _rocketmq.ClientError:
        return []
    finally:
        client.shutdown()
