"""PushConsumer.set_max_cache_message_size_in_mb: argument checks, and a consumer with a
small byte limit still consumes messages larger than the limit."""

import threading

import pytest
from clienttools import message, unique, wait_for

from rocketmq.client import Producer, PushConsumer


def test_cache_size_in_mb_is_validated():
    c = PushConsumer(unique("G"))
    for bad in (0, -1, 1025):
        with pytest.raises(ValueError):
            c.set_max_cache_message_size_in_mb(bad)
    for bad in ("10", 1.5, None, True):
        with pytest.raises(TypeError):
            c.set_max_cache_message_size_in_mb(bad)
    assert c._max_cached_mb_per_queue == 100
    c.set_max_cache_message_size_in_mb(1)
    c.set_max_cache_message_size_in_mb(1024)
    assert c._max_cached_mb_per_queue == 1024


def test_messages_larger_than_the_byte_limit_are_consumed(broker):
    topic = unique("CacheMbT")
    p = Producer(unique("PG"))
    p.set_namesrv_addr(broker.namesrv_addr)
    p.start()
    got = []
    done = threading.Event()
    want = 6

    def on_message(msg):
        if len(msg.body) > 1 << 20:
            got.append(len(msg.body))
        if len(got) >= want:
            done.set()

    try:
        p.send_sync(message(topic, b"create the topic"))
        c = PushConsumer(unique("G"))
        c.set_namesrv_addr(broker.namesrv_addr)
        c.set_instance_name(unique("member"))
        c.set_max_cache_message_size_in_mb(1)
        c.subscribe(topic, on_message)
        c.start()
        try:
            wait_for(
                lambda: len([q for q in c._native.pulling_queues() if q[0] == topic]) == 4,
                what="pulling",
            )
            big = b"x" * ((1 << 20) + 1024)
            for _ in range(want):
                p.send_sync(message(topic, big))
            assert done.wait(30), "got %d of %d messages over the limit" % (len(got), want)
            assert got == [len(big)] * want
        finally:
            c.shutdown()
    finally:
        p.shutdown()
