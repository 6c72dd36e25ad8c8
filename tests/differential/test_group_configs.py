"""Subscription-group configs and topic attributes, the same requests to both brokers:
UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200), GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201),
DELETE_SUBSCRIPTIONGROUP (207), GET_SUBSCRIPTIONGROUP_CONFIG (352), the pull refusal of a
group with ``consumeEnable=false``, the dead-letter rule of a group's ``retryMaxTimes``, and
UPDATE_AND_CREATE_TOPIC's ``attributes`` (``message.type``) as GET_ALL_TOPIC_CONFIG (21) reports
them.

Where the two brokers answer differently on purpose, the test asserts each side's answer as
docs/compatibility.md ("Subscription groups and topic attributes") lists it, so the list fails
when it goes stale.
"""

from __future__ import annotations

import json

from compare import assert_remark_says, both, differences
from wire import (
    INVALID_PARAMETER,
    NO_PERMISSION,
    SUCCESS,
    SYSTEM_ERROR,
    UPDATE_AND_CREATE_TOPIC,
    Side,
    decode_records,
    fastjson_loads,
    wait_until,
)

UPDATE_AND_CREATE_SUBSCRIPTIONGROUP = 200
GET_ALL_SUBSCRIPTIONGROUP_CONFIG = 201
DELETE_SUBSCRIPTIONGROUP = 207
GET_SUBSCRIPTIONGROUP_CONFIG = 352
GET_ALL_TOPIC_CONFIG = 21
SUBSCRIPTION_GROUP_NOT_EXIST = 26

#: Groups both brokers create at start (Java's SubscriptionGroupManager).
SYSTEM_GROUPS = {
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PULL",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
    "CID_RMQ_SYS_TRANS",
}


def create_group(side: Side, config: dict):
    return side.broker(UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {}, json.dumps(config).encode())


def group_table(side: Side) -> dict:
    reply = side.broker(GET_ALL_SUBSCRIPTIONGROUP_CONFIG)
    assert reply.code == SUCCESS, (side, reply.remark)
    assert reply.ext_fields.get("totalGroupNum", "").isdigit(), (side, reply.ext_fields)
    return fastjson_loads(reply.body)


def test_create_get_list_and_delete_are_answered_alike(sides, unique):
    group = unique("DiffSG")
    config = {"groupName": group, "retryMaxTimes": 3, "consumeMessageOrderly": True}
    assert both(sides, lambda s: create_group(s, config).code) == (SUCCESS, SUCCESS)

    def get(side: Side) -> dict:
        reply = side.broker(GET_SUBSCRIPTIONGROUP_CONFIG, {"group": group})
        assert reply.code == SUCCESS, (side, reply.remark)
        return fastjson_loads(reply.body)

    ours, apache = both(sides, get)
    assert differences(ours, apache) == []
    assert (ours["retryMaxTimes"], ours["consumeMessageOrderly"]) == (3, True)

    def listed(side: Side) -> dict:
        table = group_table(side)
        assert set(table) >= {"subscriptionGroupTable", "dataVersion"}, (side, set(table))
        groups = table["subscriptionGroupTable"]
        assert SYSTEM_GROUPS <= set(groups), (side, SYSTEM_GROUPS - set(groups))
        return groups[group]

    ours, apache = both(sides, listed)
    assert differences(ours, apache) == []

    # Delete with cleanOffset: both forget the group; asked again, both answer success.
    def delete(side: Side, clean: bool) -> int:
        return side.broker(
            DELETE_SUBSCRIPTIONGROUP, {"groupName": group, "cleanOffset": str(clean).lower()}
        ).code

    assert both(sides, lambda s: delete(s, True)) == (SUCCESS, SUCCESS)
    gone = both(sides, lambda s: group in group_table(s)["subscriptionGroupTable"])
    assert gone == (False, False)
    assert both(sides, lambda s: delete(s, True)) == (SUCCESS, SUCCESS)

    # Without cleanOffset, Apache 5.5.0 re-creates the group with the defaults within the
    # delete (it looks the group up again); ours leaves it deleted.
    assert both(sides, lambda s: create_group(s, config).code) == (SUCCESS, SUCCESS)
    assert both(sides, lambda s: delete(s, False)) == (SUCCESS, SUCCESS)
    ours, apache = both(sides, lambda s: group_table(s)["subscriptionGroupTable"].get(group))
    assert ours is None
    assert apache is not None and apache["retryMaxTimes"] == 16


def test_get_of_unknown_and_illegal_groups(sides, unique):
    group = unique("DiffSGAuto")

    def get(side: Side, name: str):
        return side.broker(GET_SUBSCRIPTIONGROUP_CONFIG, {"group": name})

    # A legal name is created with the defaults (autoCreateSubscriptionGroup=true).
    ours, apache = both(sides, lambda s: get(s, group))
    assert (ours.code, apache.code) == (SUCCESS, SUCCESS)
    assert differences(fastjson_loads(ours.body), fastjson_loads(apache.body)) == []
    for name in ("bad group", "g" * 121):
        ours, apache = both(sides, lambda s, name=name: get(s, name))
        assert (ours.code, apache.code) == (SUBSCRIPTION_GROUP_NOT_EXIST,) * 2, name
        for side, reply in zip(sides, (ours, apache)):
            assert_remark_says(reply, "No group in this broker", side)


def test_refused_group_configs(sides):
    cases = [
        ("bad group", "contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"),
        ("g" * 121, "is longer than group max length: 120"),
    ]
    for name, phrase in cases:
        ours, apache = both(sides, lambda s, name=name: create_group(s, {"groupName": name}))
        assert (ours.code, apache.code) == (INVALID_PARAMETER, INVALID_PARAMETER), name
        for side, reply in zip(sides, (ours, apache)):
            assert_remark_says(reply, phrase, side)
    bad = both(sides, lambda s: s.broker(UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {}, b"{not json"))
    assert (bad[0].code, bad[1].code) == (SYSTEM_ERROR, SYSTEM_ERROR)


def test_a_group_that_may_not_consume_is_refused_its_pulls(sides, unique):
    topic = unique("DiffSGTopic")
    group = unique("DiffSGOff")
    assert both(sides, lambda s: s.create_topic(topic, queues=1).code) == (SUCCESS, SUCCESS)
    config = {"groupName": group, "consumeEnable": False}
    assert both(sides, lambda s: create_group(s, config).code) == (SUCCESS, SUCCESS)
    ours, apache = both(sides, lambda s: s.pull(topic, 0, 0, group=group))
    assert (ours.code, apache.code) == (NO_PERMISSION, NO_PERMISSION)
    for side, reply in zip(sides, (ours, apache)):
        assert_remark_says(reply, f"subscription group no permission, {group}", side)


def test_the_groups_retry_max_times_sends_a_failure_to_the_dead_letter_queue(sides, unique):
    topic = unique("DiffSGRetry")
    group = unique("DiffSGNoRetry")
    assert both(sides, lambda s: s.create_topic(topic, queues=1).code) == (SUCCESS, SUCCESS)
    config = {"groupName": group, "retryMaxTimes": 0}
    assert both(sides, lambda s: create_group(s, config).code) == (SUCCESS, SUCCESS)

    def run(side: Side) -> list:
        assert side.send(topic, queue_id=0).code == SUCCESS
        side.wait_for_max_offset(topic, 0, 1)
        (record,) = decode_records(side.pull(topic, 0, 0).body)
        reply = side.send_back(group, record)
        assert reply.code == SUCCESS, (side, reply.remark)

        def dead():
            got = side.pull(f"%DLQ%{group}", 0, 0, group=group)
            return decode_records(got.body) if got.code == SUCCESS else None

        records = wait_until(dead, 30, f"{side.kind}: the dead letter of {group}")
        return [(r.topic, r.reconsume_times, r.body) for r in records]

    ours, apache = both(sides, run)
    assert differences(ours, apache) == []
    # The dead letter counts the failure that sent it there, as a retry would.
    assert ours == [(f"%DLQ%{group}", 1, b"hello")]


def create_topic_with(side: Side, topic: str, attributes):
    fields = {
        "topic": topic,
        "defaultTopic": "TBW102",
        "readQueueNums": 2,
        "writeQueueNums": 2,
        "perm": 6,
        "topicFilterType": "SINGLE_TAG",
        "topicSysFlag": 0,
        "order": "false",
    }
    if attributes is not None:
        fields["attributes"] = attributes
    return side.broker(UPDATE_AND_CREATE_TOPIC, fields)


def attributes_of(side: Side, topic: str):
    reply = side.broker(GET_ALL_TOPIC_CONFIG)
    assert reply.code == SUCCESS, (side, reply.remark)
    config = fastjson_loads(reply.body)["topicConfigTable"].get(topic)
    return None if config is None else config.get("attributes", {})


def test_topic_message_type_is_set_kept_and_refused_alike(sides, unique):
    topic = unique("DiffFifo")
    steps = [
        ("create as FIFO", "+message.type=FIFO", SUCCESS, None, {"message.type": "FIFO"}),
        ("update naming nothing", None, SUCCESS, None, {"message.type": "FIFO"}),
        ("change to DELAY", "+message.type=DELAY", SUCCESS, None, {"message.type": "DELAY"}),
        ("value not in the set", "+message.type=LIFO", SYSTEM_ERROR, "value is not in set", None),
        ("unknown key", "+colour=red", SYSTEM_ERROR, "unsupported key: colour", None),
        (
            "no sign",
            "message.type=FIFO",
            SYSTEM_ERROR,
            "add/alter attribute format is wrong: message.type",
            None,
        ),
        (
            "unchangeable key",
            "+queue.type=SimpleCQ",
            SYSTEM_ERROR,
            "attempt to update an unchangeable attribute. key: queue.type",
            None,
        ),
        ("delete it", "-message.type", SUCCESS, None, {}),
    ]
    expected_now = None
    for case, attributes, code, phrase, after in steps:
        ours, apache = both(sides, lambda s, a=attributes: create_topic_with(s, topic, a))
        assert (ours.code, apache.code) == (code, code), case
        if phrase:
            for side, reply in zip(sides, (ours, apache)):
                assert_remark_says(reply, phrase, side)
        expected_now = after if after is not None else expected_now
        seen = both(sides, lambda s: attributes_of(s, topic))
        assert seen == (expected_now, expected_now), case

    fresh = unique("DiffFifoNew")
    ours, apache = both(sides, lambda s: create_topic_with(s, fresh, "-message.type"))
    assert (ours.code, apache.code) == (SYSTEM_ERROR, SYSTEM_ERROR)
    for side, reply in zip(sides, (ours, apache)):
        assert_remark_says(reply, "only add attribute is supported while creating topic", side)
    assert both(sides, lambda s: attributes_of(s, fresh)) == (None, None)


def test_mixed_message_type(sides, unique):
    """Apache 5.5.0 refuses MIXED unless enableMixedMessageType=true; ours accepts it."""
    topic = unique("DiffMixed")
    ours, apache = both(sides, lambda s: create_topic_with(s, topic, "+message.type=MIXED"))
    assert ours.code == SUCCESS
    assert apache.code == INVALID_PARAMETER
    assert_remark_says(apache, "MIXED message type is not supported.", sides[1])
