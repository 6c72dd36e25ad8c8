"""QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33) for the same messages on both brokers: the
answer code, the presence of the index position fields (indexLastUpdateTimestamp,
indexLastUpdatePhyoffset), which records come back and in which order (the newest ``maxNum``
matches, answered in commit-log order), and the records themselves.

Both brokers answer a key query with the messages that carry the key as a ``KEYS`` word or as
their ``UNIQ_KEY``, whichever kind was asked (Java's index holds both in one key space; its
clients filter the answer). Known difference (docs/compatibility.md): Apache's index keeps
store times to the second relative to each index file's start, ours to the millisecond, so
bounds that fall within a second of a message may select differently; the cases here keep
their bounds far from every message.
"""

from __future__ import annotations

import random
import time

import pytest
from compare import assert_remark_says, assert_same, both, normalise
from wire import QUERY_NOT_FOUND, SUCCESS, SYSTEM_ERROR, VIEW_MESSAGE_BY_ID, decode_records

QUERY_MESSAGE = 12
#: Java's Long.MAX_VALUE: "no upper bound" as mqadmin sends it.
NO_END = 2**63 - 1
#: (body, KEYS) of the messages sent to the topic, in order.
MESSAGES = [("m0", "alpha common"), ("m1", "beta common"), ("m2", "alpha"), ("m3", "gamma")]


def query(side, topic, key, max_num=32, begin=0, end=NO_END, unique=False):
    fields = {
        "topic": topic,
        "key": key,
        "maxNum": max_num,
        "beginTimestamp": begin,
        "endTimestamp": end,
    }
    if unique:
        fields["_UNIQUE_KEY_QUERY"] = "true"
    return side.broker(QUERY_MESSAGE, fields)


def summary(reply):
    """What both brokers must agree on in a QUERY_MESSAGE answer."""
    records = decode_records(reply.body) if reply.code == SUCCESS else []
    return {
        "code": reply.code,
        "bodies": [r.body.decode() for r in records],
        "position fields": sorted(
            f
            for f in ("indexLastUpdateTimestamp", "indexLastUpdatePhyoffset")
            if f in reply.ext_fields
        ),
    }


@pytest.fixture(scope="module")
def keyed(sides):
    """A topic of 2 queues holding MESSAGES on each side (the same unique keys on both), and a
    second topic holding a message with key "alpha": (topic, unique keys, when sent)."""
    stamp = int(time.time() * 1000)
    topic, other = f"DiffQuery{stamp}", f"DiffQueryOther{stamp}"
    base = random.getrandbits(96) << 16
    uniq = ["%032X" % (base + i) for i in range(len(MESSAGES))]
    for t in (topic, other):
        assert both(sides, lambda side, t=t: side.create_topic(t, queues=2).code) == (0, 0)
        both(sides, lambda side, t=t: side.wait_for_route(t))
    sent_at = int(time.time() * 1000)

    def fill(side):
        replies = [
            side.send(
                topic,
                queue_id=i % 2,
                body=body.encode(),
                properties={"KEYS": keys, "UNIQ_KEY": uniq[i]},
            )
            for i, (body, keys) in enumerate(MESSAGES)
        ]
        replies.append(side.send(other, queue_id=0, body=b"x", properties={"KEYS": "alpha"}))
        assert [r.code for r in replies] == [SUCCESS] * len(replies), side
        # Apache builds its index after the send is answered: wait until the last is found.
        side_wait = time.monotonic() + 30
        while query(side, topic, "gamma").code != SUCCESS:
            assert time.monotonic() < side_wait, f"{side.kind}: the index never found gamma"
            time.sleep(0.05)

    both(sides, fill)
    return topic, uniq, sent_at


# (case, key or unique key index, unique flag, maxNum, bounds) -> code, bodies in answer order
CASES = [
    ("a key two messages carry", "alpha", False, 32, None, SUCCESS, ["m0", "m2"]),
    ("one word of several keys", "common", False, 32, None, SUCCESS, ["m0", "m1"]),
    ("maxNum 1: the newest", "common", False, 1, None, SUCCESS, ["m1"]),
    ("a key no message has", "delta", False, 32, None, QUERY_NOT_FOUND, []),
    ("a unique key, unique query", 3, True, 32, None, SUCCESS, ["m3"]),
    ("a unique key, key query", 1, False, 32, None, SUCCESS, ["m1"]),
    ("a key, unique query", "gamma", True, 32, None, SUCCESS, ["m3"]),
    ("bounds after every message", "alpha", False, 32, "future", QUERY_NOT_FOUND, []),
    ("bounds before every message", "alpha", False, 32, "past", QUERY_NOT_FOUND, []),
    ("bounds around every message", "alpha", False, 32, "around", SUCCESS, ["m0", "m2"]),
]


@pytest.mark.parametrize(
    "key, unique, max_num, bounds, code, bodies",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_query_message_answers_agree(sides, keyed, key, unique, max_num, bounds, code, bodies):
    topic, uniq, sent_at = keyed
    name = uniq[key] if isinstance(key, int) else key
    hour = 3_600_000
    begin, end = {
        None: (0, NO_END),
        "future": (sent_at + hour, NO_END),
        "past": (0, sent_at - hour),
        "around": (sent_at - hour, sent_at + hour),
    }[bounds]
    ours, apache = both(sides, lambda side: query(side, topic, name, max_num, begin, end, unique))
    assert_same(summary(ours), summary(apache), f"QUERY_MESSAGE {name!r}")
    expected = {
        "code": code,
        "bodies": bodies,
        "position fields": ["indexLastUpdatePhyoffset", "indexLastUpdateTimestamp"],
    }
    assert summary(ours) == expected
    if code == QUERY_NOT_FOUND:
        for side, reply in zip(sides, (ours, apache)):
            assert_remark_says(reply, "can not find message", side)


def test_found_records_are_the_stored_messages(sides, keyed):
    topic, _, _ = keyed
    ours, apache = both(sides, lambda side: query(side, topic, "alpha"))
    records = [
        [normalise(r, side) for r in decode_records(reply.body)]
        for side, reply in zip(sides, (ours, apache))
    ]
    assert_same(records[0], records[1], "records of QUERY_MESSAGE alpha")


def test_view_message_by_id_answers_agree(sides, keyed):
    topic, _, _ = keyed

    def view(side):
        found = decode_records(query(side, topic, "gamma").body)
        assert len(found) == 1, side
        at = side.broker(VIEW_MESSAGE_BY_ID, {"offset": found[0].physical_offset})
        past = side.broker(VIEW_MESSAGE_BY_ID, {"offset": 1 << 50})
        return at, past

    (ours_at, ours_past), (apache_at, apache_past) = both(sides, view)
    assert (ours_at.code, apache_at.code) == (SUCCESS, SUCCESS)
    viewed = [
        [normalise(r, side) for r in decode_records(reply.body)]
        for side, reply in zip(sides, (ours_at, apache_at))
    ]
    assert_same(viewed[0], viewed[1], "VIEW_MESSAGE_BY_ID record")
    assert [r["body"] for r in viewed[0]] == [b"m3"]
    assert (ours_past.code, apache_past.code) == (SYSTEM_ERROR, SYSTEM_ERROR)
    for side, reply in zip(sides, (ours_past, apache_past)):
        assert_remark_says(reply, "can not find message by the offset", side)
