"""Bad and unusual requests: the same request to both brokers, the same code, and the key phrase
of Apache's remark in both remarks (the part a user reads and searches for; the rest of the
wording, such as Apache's FAQ link or our added hint, may differ).

Where the two brokers answer differently on purpose, the test asserts each side's answer as
docs/compatibility.md ("Differential tests") lists it, so the list fails when it goes stale.
"""

from __future__ import annotations

import json

import pytest
from compare import answer, assert_remark_says, both
from wire import (
    CONSUMER_SEND_MSG_BACK,
    GET_CONSUMER_LIST_BY_GROUP,
    INVALID_PARAMETER,
    MESSAGE_ILLEGAL,
    NO_PERMISSION,
    QUERY_NOT_FOUND,
    REQUEST_CODE_NOT_SUPPORTED,
    SUBSCRIPTION_NOT_EXIST,
    SUCCESS,
    SYSTEM_ERROR,
    TOPIC_NOT_EXIST,
    VIEW_MESSAGE_BY_ID,
    heartbeat_body,
)

#: Java's maxMessageSize default; both brokers of the session keep it.
MAX_MESSAGE_SIZE = 4 * 1024 * 1024

SEND_OK_FIELDS = {"msgId", "queueId", "queueOffset", "transactionId", "MSG_REGION", "TRACE_ON"}
SEND_REFUSED_FIELDS = {"MSG_REGION", "TRACE_ON"}

# (case, topic or None for a fresh one, send options, code, key phrase of Apache's remark)
SEND_CASES = [
    ("auto-create on: TBW102 template", None, {}, SUCCESS, None),
    (
        "auto-create off: template topic missing",
        None,
        {"default_topic": "NoSuchTemplateTopic"},
        TOPIC_NOT_EXIST,
        "not exist, apply first please!",
    ),
    (
        "topic name of 128 characters",
        "t" * 128,
        {},
        INVALID_PARAMETER,
        "is longer than topic max length: 127",
    ),
    ("topic name of 127 characters", "u" * 127, {}, SUCCESS, None),
    (
        "space in the topic name",
        "bad topic",
        {},
        INVALID_PARAMETER,
        "contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$",
    ),
    (
        "dot in the topic name",
        "bad.topic",
        {},
        INVALID_PARAMETER,
        "contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$",
    ),
    ("blank topic", "", {}, INVALID_PARAMETER, "The specified topic is blank."),
    ("the template topic TBW102 itself", "TBW102", {}, SUCCESS, None),
    (
        "the delay-level topic",
        "SCHEDULE_TOPIC_XXXX",
        {},
        NO_PERMISSION,
        "Sending message to topic[SCHEDULE_TOPIC_XXXX] is forbidden.",
    ),
    (
        "the half-message topic",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        {},
        NO_PERMISSION,
        "Sending message to topic[RMQ_SYS_TRANS_HALF_TOPIC] is forbidden.",
    ),
    ("a retry topic of an unknown group", "%RETRY%", {}, SUCCESS, None),
    (
        "body one byte over maxMessageSize",
        None,
        {"body": b"x" * (MAX_MESSAGE_SIZE + 1)},
        MESSAGE_ILLEGAL,
        f"msg body length limit {MAX_MESSAGE_SIZE}B",
    ),
    ("body of exactly maxMessageSize", None, {"body": b"y" * MAX_MESSAGE_SIZE}, SUCCESS, None),
    ("a producer group name with a space", None, {"group": "bad group"}, SUCCESS, None),
]


@pytest.mark.parametrize(
    "topic, options, code, phrase",
    [case[1:] for case in SEND_CASES],
    ids=[case[0] for case in SEND_CASES],
)
def test_send_refusals_agree(sides, unique, topic, options, code, phrase):
    if topic is None:
        topic = unique("DiffSend")
    elif topic == "%RETRY%":
        topic = "%RETRY%" + unique("DiffNoGroup")
    ours, apache = both(sides, lambda side: side.send(topic, **options))
    for side, reply in zip(sides, (ours, apache)):
        assert reply.code == code, f"{side.kind}: {reply.code} {reply.remark!r}"
        if phrase is not None:
            assert_remark_says(reply, phrase, side)
        expected = SEND_OK_FIELDS if code == SUCCESS else SEND_REFUSED_FIELDS
        assert set(reply.ext_fields) == expected, f"{side.kind}: {reply.ext_fields}"
        assert reply.ext_fields["MSG_REGION"] == "DefaultRegion"
        assert reply.ext_fields["TRACE_ON"] == "true"


@pytest.mark.parametrize("queue_nums, queues", [(4, 4), (16, 8)])
def test_auto_created_topics_take_their_queues_from_tbw102(sides, unique, queue_nums, queues):
    """min(requested, TBW102's 8 write queues), perm read|write, on both."""
    topic = unique("DiffAuto")
    ours, apache = both(sides, lambda side: side.send(topic, queue_nums=queue_nums).code)
    assert (ours, apache) == (SUCCESS, SUCCESS)
    routes = both(sides, lambda side: side.wait_for_route(topic)["queueDatas"])
    for side, queue_datas in zip(sides, routes):
        ((queue_data,),) = (queue_datas,)
        assert queue_data["readQueueNums"] == queues, side
        assert queue_data["writeQueueNums"] == queues, side
        assert queue_data["perm"] == 6, side
        assert queue_data["topicSysFlag"] == 0, side


def test_send_to_a_queue_beyond_the_topics_queues(sides, unique):
    topic = unique("DiffQueues")
    assert both(sides, lambda side: side.create_topic(topic, queues=4).code) == (0, 0)
    both(sides, lambda side: side.wait_for_route(topic))
    for queue_id in (4, 99):
        replies = both(sides, lambda side, q=queue_id: side.send(topic, queue_id=q))
        for side, reply in zip(sides, replies):
            assert reply.code == INVALID_PARAMETER, (side, reply.remark)
            assert_remark_says(reply, f"request queueId[{queue_id}] is illegal", side)
    replies = both(sides, lambda side: side.send(topic, queue_id=3))
    assert [answer(r, "queueId", "queueOffset") for r in replies] == [
        {"code": 0, "queueId": "3", "queueOffset": "0"}
    ] * 2


def test_pull_refusals_agree(sides, unique):
    topic = unique("DiffPullRefusal")
    group = unique("DiffPullGroup")
    assert both(sides, lambda side: side.create_topic(topic, queues=4).code) == (0, 0)
    both(sides, lambda side: side.wait_for_route(topic))
    cases = [
        ("unknown topic", dict(topic=unique("DiffNoTopic")), TOPIC_NOT_EXIST, "not exist, apply "),
        (
            "group that never sent a heartbeat, no subscription in the request",
            dict(subscription=None),
            SUBSCRIPTION_NOT_EXIST,
            "the consumer's group info not exist",
        ),
        (
            "queue beyond the read queues",
            dict(queue_id=99),
            INVALID_PARAMETER,
            f"queueId[99] is illegal, topic:[{topic}] topicConfig.readQueueNums:[4]",
        ),
        (
            "illegal group name",
            dict(group="bad group"),
            26,
            "subscription group [bad group] does not exist",
        ),
        (
            # Its retry topic would be longer than a topic name may be.
            "group name of 121 characters",
            dict(group="g" * 121),
            26,
            f"subscription group [{'g' * 121}] does not exist",
        ),
        (
            "group name of 120 characters, no heartbeat",
            dict(group="h" * 120, subscription=None),
            SUBSCRIPTION_NOT_EXIST,
            "the consumer's group info not exist",
        ),
    ]
    for what, options, code, phrase in cases:
        args = dict(topic=topic, queue_id=0, offset=0, group=group)
        args.update(options)
        replies = both(sides, lambda side, args=args: side.pull(**args))
        for side, reply in zip(sides, replies):
            assert reply.code == code, f"{what}: {side.kind} {reply.code} {reply.remark!r}"
            assert_remark_says(reply, phrase, side)


def test_pull_with_a_heartbeat_that_subscribes_elsewhere(sides, unique):
    topic = unique("DiffSubElsewhere")
    group = unique("DiffSubGroup")
    assert both(sides, lambda side: side.create_topic(topic, queues=1).code) == (0, 0)
    body = heartbeat_body(unique("client"), group, unique("DiffOther"))
    assert both(sides, lambda side: side.heartbeat(body).code) == (0, 0)
    replies = both(sides, lambda side: side.pull(topic, 0, 0, group=group, subscription=None))
    for side, reply in zip(sides, replies):
        assert reply.code == SUBSCRIPTION_NOT_EXIST, (side, reply.remark)
        assert_remark_says(reply, "the consumer's subscription not exist", side)


def test_unknown_request_codes(sides):
    for call in ("broker", "namesrv"):
        replies = both(sides, lambda side, call=call: getattr(side, call)(9999))
        for side, reply in zip(sides, replies):
            assert reply.code == REQUEST_CODE_NOT_SUPPORTED, (call, side)
            assert reply.remark == " request type 9999 not supported", (call, side)


@pytest.mark.parametrize(
    "body, code",
    [
        (b"", SYSTEM_ERROR),
        (b"garbage", SYSTEM_ERROR),
        (b"{}", SUCCESS),
        (json.dumps({"clientID": "only-an-id"}).encode(), SUCCESS),
        (json.dumps({"clientID": "c", "consumerDataSet": [], "producerDataSet": []}).encode(), 0),
    ],
    ids=["empty", "not JSON", "empty object", "client id only", "empty sets"],
)
def test_heartbeats_with_odd_bodies(sides, body, code):
    """Codes agree; the remarks of the refusals are each broker's parser error (Java's names
    a fastjson exception or a NullPointerException), so they are not compared."""
    replies = both(sides, lambda side: side.heartbeat(body))
    assert [r.code for r in replies] == [code, code], [r.remark for r in replies]


def test_heartbeat_of_an_illegal_group_is_accepted_by_both(sides, unique):
    body = heartbeat_body(unique("client"), "bad group", unique("DiffT"))
    assert both(sides, lambda side: side.heartbeat(body).code) == (0, 0)


def test_consumer_offsets(sides, unique):
    topic = unique("DiffOffsets")
    group = unique("DiffOffsetGroup")
    assert both(sides, lambda side: side.create_topic(topic, queues=2).code) == (0, 0)
    both(sides, lambda side: side.wait_for_route(topic))
    assert both(sides, lambda side: side.send(topic, queue_id=0).code) == (0, 0)
    both(sides, lambda side: side.wait_for_max_offset(topic, 0, 1))

    # A group without an offset on a queue whose first message is still there: 0 on both.
    replies = both(sides, lambda side: side.query_offset(group, topic, 0))
    assert [(r.code, r.ext_fields.get("offset")) for r in replies] == [(0, "0")] * 2
    # ... unless the client says not to take 0.
    replies = both(sides, lambda side: side.query_offset(group, topic, 0, setZeroIfNotFound=False))
    for side, reply in zip(sides, replies):
        assert reply.code == QUERY_NOT_FOUND, side
        assert_remark_says(
            reply, "Not found, do not set to zero, maybe this group boot first", side
        )

    # Known difference: an empty queue, or a topic that does not exist. Apache: not found;
    # ours: 0, so that a consumer starting before the first send never skips it.
    for what, args in (("empty queue", (topic, 1)), ("unknown topic", (unique("DiffNo"), 0))):
        ours, apache = both(sides, lambda side, args=args: side.query_offset(group, *args))
        assert (ours.code, ours.ext_fields.get("offset")) == (0, "0"), what
        assert apache.code == QUERY_NOT_FOUND, what

    # Known difference: committing for a group the broker has never seen. Apache refuses it
    # (SUBSCRIPTION_GROUP_NOT_EXIST: groups are created by heartbeats and pulls); ours keeps it.
    ours, apache = both(sides, lambda side: side.update_offset(group, topic, 0, 1))
    assert ours.code == SUCCESS
    assert apache.code == 26 and f"Group {group} not exist!" in apache.remark

    # Update then query, for a group that sent a heartbeat.
    body = heartbeat_body(unique("client"), group, topic)
    assert both(sides, lambda side: side.heartbeat(body).code) == (0, 0)
    assert both(sides, lambda side: side.update_offset(group, topic, 1, 5).code) == (0, 0)
    replies = both(sides, lambda side: side.query_offset(group, topic, 1))
    assert [(r.code, r.ext_fields.get("offset")) for r in replies] == [(0, "5")] * 2

    for what, args, code, phrase in (
        ("unknown topic", (group, unique("DiffNo"), 0, 1), TOPIC_NOT_EXIST, "not exist!"),
        ("illegal group", ("bad group", topic, 0, 1), 26, "Group bad group not exist!"),
    ):
        replies = both(sides, lambda side, args=args: side.update_offset(*args))
        for side, reply in zip(sides, replies):
            assert reply.code == code, (what, side, reply.remark)
            assert_remark_says(reply, phrase, side)


def test_requests_about_missing_things(sides, unique):
    group = unique("DiffNobody")
    cases = [
        (
            GET_CONSUMER_LIST_BY_GROUP,
            {"consumerGroup": group},
            f"no consumer for this group, {group}",
        ),
        (
            CONSUMER_SEND_MSG_BACK,
            {"offset": 1 << 40, "group": group, "delayLevel": 0},
            f"look message by offset failed, {1 << 40}",
        ),
        (VIEW_MESSAGE_BY_ID, {"offset": 1 << 40}, f"can not find message by the offset, {1 << 40}"),
    ]
    for code, fields, phrase in cases:
        replies = both(sides, lambda side, code=code, fields=fields: side.broker(code, fields))
        for side, reply in zip(sides, replies):
            assert reply.code == SYSTEM_ERROR, (code, side, reply.remark)
            assert_remark_says(reply, phrase, side)


def test_topic_permissions(sides, unique):
    """A read-only topic still takes sends (Java's broker does not check the topic's write bit
    on send: clients skip unwritable queues by the route); a write-only one refuses pulls."""
    read_only, write_only = unique("DiffReadOnly"), unique("DiffWriteOnly")
    for topic, perm in ((read_only, 4), (write_only, 2)):
        assert both(sides, lambda side, t=topic, p=perm: side.create_topic(t, perm=p).code) == (
            0,
            0,
        )
    replies = both(sides, lambda side: side.send(read_only, queue_id=0))
    assert [r.code for r in replies] == [SUCCESS, SUCCESS], [r.remark for r in replies]
    replies = both(sides, lambda side: side.pull(write_only, 0, 0))
    for side, reply in zip(sides, replies):
        assert reply.code == NO_PERMISSION, (side, reply.remark)
        assert_remark_says(reply, f"the topic[{write_only}] pulling message is forbidden", side)
