"""GET_CONSUME_STATS (208) and INVOKE_BROKER_TO_RESET_OFFSET (222) after the same sends,
heartbeats, commits and pulls on both brokers: the answer codes, the body shapes (maps keyed
by MessageQueue objects, as fastjson writes them) and every per-queue value.

Compared as they are: per queue ``brokerOffset``, ``consumerOffset``, ``pullOffset``; the
reset offset table; the committed offsets afterwards. Made comparable: the broker name in a
MessageQueue key becomes ``<broker>`` when it is the side's; ``lastTimestamp`` is checked on
each side to be the store time of the message before the consumer offset (0 when there is
none), since the clocks differ; ``consumeTps`` is checked to be a number, since Apache
samples its rate statistics on its own schedule.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from compare import assert_same, both
from wire import (
    HEART_BEAT,
    PULL_NOT_FOUND,
    SUCCESS,
    SYSTEM_ERROR,
    TOPIC_NOT_EXIST,
    decode_records,
    heartbeat_body,
    wait_until,
)

from remoting import RemotingConnection

GET_CONSUME_STATS = 208
INVOKE_BROKER_TO_RESET_OFFSET = 222
#: Messages sent to queue 0, then to queue 1 (each stored at its own millisecond).
PLAN = [(0, b"a"), (0, b"b"), (0, b"c"), (1, b"d")]

_QUEUE_KEY = re.compile(r"(?<=[{,])(\{[^{}]*\}):")


def queue_keyed(body: bytes, side) -> dict:
    """A fastjson body with MessageQueue object keys: each key becomes
    ``"<topic>/<broker>/<queueId>"`` (the side's broker name as ``<broker>``)."""

    def key(match: re.Match) -> str:
        mq = json.loads(match.group(1))
        broker = "<broker>" if mq["brokerName"] == side.broker_name else mq["brokerName"]
        return json.dumps(f"{mq['topic']}/{broker}/{mq['queueId']}") + ":"

    return json.loads(_QUEUE_KEY.sub(key, body.decode()))


@pytest.fixture(scope="module")
def filled(sides):
    """A topic of 2 queues on each side holding PLAN, and each side's store times per queue."""
    topic = f"DiffStats{int(time.time() * 1000)}"
    assert both(sides, lambda side: side.create_topic(topic, queues=2).code) == (0, 0)
    both(sides, lambda side: side.wait_for_route(topic))

    def fill(side):
        last = 0
        for queue_id, body in PLAN:
            # A distinct store millisecond for each message, so searches by time are exact.
            wait_until(
                lambda after=last: True if time.time() * 1000 > after + 2 else None,
                5,
                "the clock to pass",
            )
            reply = side.send(topic, queue_id=queue_id, body=body)
            assert reply.code == SUCCESS, reply
            last = time.time() * 1000
        side.wait_for_max_offset(topic, 0, 3)
        side.wait_for_max_offset(topic, 1, 1)
        return {
            q: [r.store_timestamp for r in decode_records(side.pull(topic, q, 0).body)]
            for q in (0, 1)
        }

    times = both(sides, fill)
    return topic, dict(zip(("ours", "apache"), times))


def online(side, group, topic, client):
    reply = side.heartbeat(heartbeat_body(client, group, topic))
    assert reply.code == SUCCESS, (side, reply)


def stats_of(side, group, asked, topic, store_times):
    """GET_CONSUME_STATS for ``group`` (on topic ``asked``, or every topic when None), with
    ``lastTimestamp`` of ``topic``'s queues checked against that side's store times."""
    fields = {"consumerGroup": group}
    if asked is not None:
        fields["topic"] = asked
    reply = side.broker(GET_CONSUME_STATS, fields)
    if reply.code != SUCCESS:
        return {"code": reply.code, "remark": reply.remark}
    body = queue_keyed(reply.body, side)
    assert isinstance(body.pop("consumeTps"), (int, float)), body
    table = {}
    for key, wrapper in body.pop("offsetTable").items():
        queue_topic, _, queue_id = key.split("/")
        last = wrapper.pop("lastTimestamp")
        if queue_topic == topic:
            consumed = wrapper["consumerOffset"]
            times = store_times.get(int(queue_id), [])
            expected = times[consumed - 1] if 0 < consumed <= len(times) else 0
            wrapper["lastTimestamp is the last consumed store time"] = last == expected
        table[key] = wrapper
    return {"code": reply.code, "rest of the body": body, "offsetTable": table}


def test_consume_stats_agree_after_commits_and_pulls(sides, filled, unique):
    topic, times = filled
    group = unique("DiffStatsG")

    def step(side):
        online(side, group, topic, unique("client"))
        mine = times[side.kind]
        before = stats_of(side, group, topic, topic, mine)
        assert side.update_offset(group, topic, 0, 2).code == SUCCESS
        # A pull answer's next offset is the group's pull offset on that queue.
        assert side.pull(topic, 0, 2, group=group).code == SUCCESS
        assert side.pull(topic, 1, 1, group=group).code == PULL_NOT_FOUND
        return {
            "before": before,
            "after": stats_of(side, group, topic, topic, mine),
            "every topic of the group": stats_of(side, group, None, topic, mine),
        }

    ours, apache = both(sides, step)
    assert_same(ours, apache, "consume stats")
    queue0 = ours["after"]["offsetTable"][f"{topic}/<broker>/0"]
    assert (queue0["brokerOffset"], queue0["consumerOffset"], queue0["pullOffset"]) == (3, 2, 3)
    assert queue0["lastTimestamp is the last consumed store time"]


def test_reset_offset_answers_agree_with_and_without_a_consumer_online(sides, filled, unique):
    topic, times = filled
    live, offline = unique("DiffResetLive"), unique("DiffResetOff")
    missing = unique("DiffNoTopic")

    def reset(side, group, timestamp, **one_queue):
        fields = {"topic": topic, "group": group, "timestamp": timestamp, "isForce": True}
        reply = side.broker(INVOKE_BROKER_TO_RESET_OFFSET, {**fields, **one_queue})
        if reply.code != SUCCESS:
            return {"code": reply.code, "remark": reply.remark}
        return {"code": reply.code, **queue_keyed(reply.body, side)}

    def committed(side, group):
        return [side.query_offset(group, topic, q).ext_fields.get("offset") for q in (0, 1)]

    def step(side):
        mine = times[side.kind]
        online(side, live, topic, unique("client"))
        # A consumer that comes and goes: its group exists, nobody is online when it is reset.
        gone = RemotingConnection(side.broker_addr, timeout=20)
        try:
            body = heartbeat_body(unique("client"), offline, topic)
            assert gone.call(HEART_BEAT, {}, body).code == SUCCESS
        finally:
            gone.close()
        for group in (live, offline):
            assert side.update_offset(group, topic, 0, 3).code == SUCCESS
            assert side.update_offset(group, topic, 1, 1).code == SUCCESS
        # Back to the second message of queue 0 (queue 1's only message is later).
        return {
            "live, to a time": reset(side, live, mine[0][1]),
            "live, committed after": committed(side, live),
            "offline, to the start": reset(side, offline, 0),
            "offline, committed after": committed(side, offline),
            "one queue, to an offset": reset(side, live, 0, queueId=0, offset=2),
            "one queue, committed after": committed(side, live),
            "one queue, beyond its end": reset(side, live, 0, queueId=0, offset=9),
            "live, to the end": reset(side, live, -1),
            "live, committed at the end": committed(side, live),
            "unknown topic": reset_unknown(side, live, missing),
        }

    ours, apache = both(sides, step)
    assert_same(ours, apache, "reset offset")
    assert ours["live, to a time"]["offsetTable"] == {
        f"{topic}/<broker>/0": 1,
        f"{topic}/<broker>/1": 0,
    }
    assert ours["live, committed after"] == ["1", "0"]
    assert ours["offline, committed after"] == ["0", "0"]
    assert ours["one queue, to an offset"]["offsetTable"] == {f"{topic}/<broker>/0": 2}
    assert ours["one queue, committed after"] == ["2", "0"]
    assert ours["one queue, beyond its end"]["code"] == SYSTEM_ERROR
    assert ours["live, committed at the end"] == ["3", "1"]
    assert ours["unknown topic"]["code"] == TOPIC_NOT_EXIST


def reset_unknown(side, group, topic):
    reply = side.broker(
        INVOKE_BROKER_TO_RESET_OFFSET,
        {"topic": topic, "group": group, "timestamp": 0, "isForce": True},
    )
    return {"code": reply.code, "remark": reply.remark}
