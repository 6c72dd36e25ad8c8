"""Retention's effect on a queue, on both brokers: after the same sends and a forced clean
(DELETE_EXPIRED_COMMITLOG with a reserved time of zero), the queue's min offset, its max
offset, the earliest store time, a search by time from 0, and pulls below, at and above the
new minimum.

Both sides use 16 MiB commit-log files and 1 MiB bodies (15 messages a file). Apache's
shared broker has other tests' messages in its files too, so where its files end in this
queue, and with it the new minimum, differs from ours: every answer is compared relative to
each side's own minimum. Ours is a LocalBroker of this module with
``file_reserved_time="0ms"``. Apache's is the session's shared broker: its
``fileReservedTime`` (hours) is set to 0 through UPDATE_BROKER_CONFIG for this test only and
set back to 72 afterwards (a broker of its own would cost a JVM start, 30-60 s). Apache runs
its clean service every 10 s (``cleanResourceInterval``), the first time a minute after it
started, and removes the files at its next run after the request, so its side waits
(bounded) for the minimum to move: up to 10 s in the full suite, up to a minute when this
file runs alone.
"""

from __future__ import annotations

import pytest
from compare import both
from wire import (
    GET_EARLIEST_MSG_STORETIME,
    GET_MAX_OFFSET,
    GET_MIN_OFFSET,
    PULL_OFFSET_MOVED,
    SEARCH_OFFSET_BY_TIMESTAMP,
    SUCCESS,
    Side,
    decode_records,
    wait_until,
)

UPDATE_BROKER_CONFIG = 25
DELETE_EXPIRED_COMMITLOG = 329
SEGMENT = 16 << 20
BODY = 1 << 20
MESSAGES = 40


@pytest.fixture(scope="module")
def ours_short_retention(_apache_required, tmp_path_factory):
    from apache_cluster import ONE_SECOND_LEVELS

    from rocketmq.broker import LocalBroker

    with LocalBroker(
        store_dir=str(tmp_path_factory.mktemp("ours-retention")),
        namesrv_port=0,
        broker_port=0,
        delay_levels=ONE_SECOND_LEVELS,
        segment_size=SEGMENT,
        file_reserved_time="0ms",
    ) as broker:
        side = Side("ours", broker.namesrv_addr, broker.broker_addr)
        yield side
        side.close()


def set_apache_reserved_hours(apache: Side, hours: int) -> None:
    reply = apache.broker(UPDATE_BROKER_CONFIG, {}, f"fileReservedTime={hours}\n".encode())
    assert reply.code == SUCCESS, reply.remark


def bound(side: Side, code: int, topic: str, **extra) -> int:
    reply = side.queue_bound(code, topic, 0, **extra)
    assert reply.code == SUCCESS, (side, reply.remark)
    return int(reply.ext_fields["offset" if code != GET_EARLIEST_MSG_STORETIME else "timestamp"])


def after_clean(side: Side, topic: str) -> dict:
    """Everything a client sees of the queue once its oldest files went, offsets written
    relative to the side's own new minimum (``min+1`` etc.)."""
    minimum = bound(side, GET_MIN_OFFSET, topic)
    below = side.pull(topic, 0, 0)
    just_below = side.pull(topic, 0, minimum - 1)
    at = side.pull(topic, 0, minimum, max_msgs=1)
    (first,) = decode_records(at.body)

    def rel(offset) -> str:
        if offset is None:
            return "absent"
        delta = int(offset) - minimum
        return "min" if delta == 0 else f"min{delta:+d}"

    return {
        "min is above 0": minimum > 0,
        "max": bound(side, GET_MAX_OFFSET, topic),
        "earliest store time is the first message's": bound(side, GET_EARLIEST_MSG_STORETIME, topic)
        == first.store_timestamp,
        "search from time 0": rel(bound(side, SEARCH_OFFSET_BY_TIMESTAMP, topic, timestamp=0)),
        "pull at 0": (
            below.code,
            below.remark,
            rel(below.ext_fields.get("nextBeginOffset")),
            rel(below.ext_fields.get("minOffset")),
        ),
        "pull at min - 1": (just_below.code, rel(just_below.ext_fields.get("nextBeginOffset"))),
        "pull at min": (
            at.code,
            rel(first.queue_offset),
            rel(at.ext_fields.get("nextBeginOffset")),
        ),
    }


def test_min_offsets_after_a_forced_clean(ours_short_retention, apache, unique):
    sides = (ours_short_retention, apache)
    topic = unique("DiffRetention")
    assert both(sides, lambda side: side.create_topic(topic, queues=1).code) == (0, 0)
    both(sides, lambda side: side.wait_for_route(topic))

    def fill(side: Side) -> None:
        for i in range(MESSAGES):
            reply = side.send(topic, queue_id=0, body=bytes([65 + i % 26]) * BODY)
            assert reply.code == SUCCESS, (side, reply.remark)
        side.wait_for_max_offset(topic, 0, MESSAGES)

    both(sides, fill)
    set_apache_reserved_hours(apache, 0)
    try:
        codes = both(sides, lambda side: side.broker(DELETE_EXPIRED_COMMITLOG).code)
        assert codes == (SUCCESS, SUCCESS)

        def moved(side: Side):
            return True if bound(side, GET_MIN_OFFSET, topic) > 0 else None

        both(sides, lambda side: wait_until(lambda: moved(side), 90, f"{side.kind}: files removed"))
    finally:
        set_apache_reserved_hours(apache, 72)

    ours, theirs = both(sides, lambda side: after_clean(side, topic))
    assert ours == theirs
    # What both agree on is what a client relies on.
    assert ours["min is above 0"]
    assert ours["max"] == MESSAGES
    assert ours["search from time 0"] == "min"
    assert ours["pull at 0"] == (PULL_OFFSET_MOVED, "OFFSET_TOO_SMALL", "min", "min")
    assert ours["pull at min - 1"] == (PULL_OFFSET_MOVED, "min")
    assert ours["pull at min"] == (SUCCESS, "min", "min+1")
    # Ours starts with an empty commit log: its files end every 15 messages of this queue.
    assert bound(ours_short_retention, GET_MIN_OFFSET, topic) % 15 == 0
