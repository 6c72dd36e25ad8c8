"""Timer messages (RocketMQ 5) on both brokers: the answers to timer sends (held, refused
beyond the maximum, malformed, in the past, together with a delay level) and every field and
property of the delivered copies after ``compare.normalise``.

Times differ by nature between two runs, so the timer properties that carry one
(``TIMER_DELIVER_MS``, ``TIMER_OUT_MS``, ``TIMER_ENQUEUE_MS``, ``TIMER_DEQUEUE_MS``,
``__STARTDELIVERTIME``) are compared by presence, and each delivery by whether it came at its
time (within Apache's 1 s precision, which rounds a deliver time down to the second).

Known differences asserted here (docs/compatibility.md): ``__STARTDELIVERTIME`` is honoured by
ours and ignored by Apache's broker (delivered at once); a copy the broker delivered (timer or
delay level) carries ``WAIT=false`` on ours and the producer's ``WAIT`` on Apache's, which also
keeps a delay level's ``DELAY``.
"""

from __future__ import annotations

import time

from compare import assert_remark_says, assert_same, both, normalise
from wire import Side

#: Properties holding a time: compared by presence only.
TIME_PROPERTIES = (
    "TIMER_DELIVER_MS",
    "TIMER_OUT_MS",
    "TIMER_ENQUEUE_MS",
    "TIMER_DEQUEUE_MS",
    "__STARTDELIVERTIME",
)
WAIT_SECONDS = 30
APACHE_PRECISION_MS = 1000


def _without_times(fields: dict) -> dict:
    props = fields["properties"]
    for name in TIME_PROPERTIES:
        if name in props:
            props[name] = "<time>"
    return fields


def test_timer_sends_and_deliveries(sides, unique):
    topic = unique("DiffTimer")
    assert both(sides, lambda side: side.create_topic(topic, queues=1).code) == (0, 0)
    both(sides, lambda side: side.wait_for_route(topic))

    def run(side: Side) -> dict:
        now = int(time.time() * 1000)
        sends = {
            "past": ({"TIMER_DELIVER_MS": str(now - 10_000)}, now),
            "at": ({"TIMER_DELIVER_MS": str(now + 2_500)}, now + 2_500),
            "sec": ({"TIMER_DELAY_SEC": "2"}, now + 2_000),
            "level": ({"DELAY": "1", "TIMER_DELAY_SEC": "20"}, now + 1_000),
        }
        answers = {}
        for name, (props, _) in sends.items():
            reply = side.send(
                topic, queue_id=0, body=name.encode(), properties={"TAGS": name, **props}
            )
            answers[name] = {"code": reply.code, "queueId": reply.ext_fields.get("queueId")}
        far = side.send(
            topic, queue_id=0, properties={"TIMER_DELIVER_MS": str(now + 4 * 86_400_000)}
        )
        assert_remark_says(far, "max delay 259200000ms", side)
        malformed = side.send(topic, queue_id=0, properties={"TIMER_DELIVER_MS": "soon"})
        delivered = side.pull_records(topic, 0, len(sends), WAIT_SECONDS)
        by_name = {r.body.decode(): r for r in delivered}
        return {
            "answers": answers,
            "beyond the maximum": far.code,
            "malformed": malformed.code,
            "delivered": sorted(by_name),
            "not early": {
                name: by_name[name].store_timestamp >= at - APACHE_PRECISION_MS
                for name, (_, at) in sends.items()
            },
            "past came at once": by_name["past"].store_timestamp - now < 1_000,
            "copies": {
                name: _without_times(normalise(r, side, keep_queue_offset=False))
                for name, r in by_name.items()
            },
        }

    ours, apache = both(sides, run)
    # Known difference (as for delay levels): a copy the broker delivered carries WAIT=false
    # on ours, the producer's WAIT on Apache's; Apache also keeps the level's DELAY.
    for name in ("at", "sec", "level"):
        assert apache["copies"][name]["properties"].pop("WAIT") == "true"
        assert ours["copies"][name]["properties"].pop("WAIT") == "false"
    assert apache["copies"]["level"]["properties"].pop("DELAY") == "1"
    assert_same(ours, apache)
    assert ours["answers"] == {name: {"code": 0, "queueId": "0"} for name in ours["answers"]}
    assert (ours["beyond the maximum"], ours["malformed"]) == (13, 13)
    assert ours["not early"] == {"past": True, "at": True, "sec": True, "level": True}
    assert ours["copies"]["at"]["properties"] == {
        "TAGS": "at",
        "UNIQ_KEY": "<uniq key>",
        "CLUSTER": "<cluster>",
        "TIMER_DELIVER_MS": "<time>",
        "TIMER_OUT_MS": "<time>",
        "TIMER_ENQUEUE_MS": "<time>",
        "TIMER_DEQUEUE_MS": "<time>",
        "REAL_TOPIC": topic,
        "REAL_QID": "0",
    }


def test_start_deliver_time_is_honoured_by_ours_only(sides, unique):
    topic = unique("DiffStartDeliver")
    assert both(sides, lambda side: side.create_topic(topic, queues=1).code) == (0, 0)
    both(sides, lambda side: side.wait_for_route(topic))

    def run(side: Side) -> int:
        at = int(time.time() * 1000) + 2_000
        reply = side.send(topic, queue_id=0, properties={"__STARTDELIVERTIME": str(at)})
        assert reply.code == 0, reply.remark
        (record,) = side.pull_records(topic, 0, 1, WAIT_SECONDS)
        return record.store_timestamp - at

    ours, apache = both(sides, run)
    assert ours >= 0, "ours holds the message until __STARTDELIVERTIME"
    assert apache < -1_000, "Apache's broker ignores __STARTDELIVERTIME (delivered at once)"
