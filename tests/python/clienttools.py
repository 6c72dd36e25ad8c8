"""Helpers shared by the client tests: unique names, bounded waits, messages, readers."""

import os
import time

from rocketmq.client import Message, Producer, PullConsumer

#: 18 short delay levels, so that retries come back in a fraction of a second.
FAST_LEVELS = " ".join(["200ms"] * 18)

_counter = [0]


def unique(prefix):
    """A name no other test of this process uses."""
    _counter[0] += 1
    return "%s_%d_%d" % (prefix, os.getpid(), _counter[0])


def wait_for(cond, timeout=30.0, what="condition"):
    """Polls `cond` until it is true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.02)


def make_producer(broker, group=None, **kw):
    """A started producer on `broker`'s name server."""
    p = Producer(group or unique("PG"), **kw)
    p.set_namesrv_addr(broker.namesrv_addr)
    p.start()
    return p


def message(topic, body, tags=None, keys=None, **props):
    m = Message(topic)
    m.set_body(body)
    if tags:
        m.set_tags(tags)
    if keys:
        m.set_keys(keys)
    for k, v in props.items():
        m.set_property(k, v)
    return m


class FreshPullConsumer(PullConsumer):
    """Reads from the start: PullConsumer.offset_table is shared by every instance (as in
    the original), so each reader gets a table of its own."""

    def __init__(self, group):
        super().__init__(group)
        self.offset_table = {}


def pull_all(namesrv_addr, topic, expression="*"):
    """Every message of `topic` now, read with a fresh pull consumer."""
    c = FreshPullConsumer(unique("PullG"))
    c.set_namesrv_addr(namesrv_addr)
    c.start()
    try:
        return list(c.pull(topic, expression))
    finally:
        c.shutdown()
