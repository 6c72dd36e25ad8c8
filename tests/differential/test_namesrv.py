"""Name server bodies: the route and cluster info of topics created the same way on each side,
and the membership of the topic list. Broker names and addresses are replaced by placeholders
(each side's own, checked against what its broker registered); every other member is compared.
"""

from __future__ import annotations

import pytest
from compare import assert_remark_says, assert_same, both
from wire import (
    GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
    GET_BROKER_CLUSTER_INFO,
    TOPIC_NOT_EXIST,
    Side,
    fastjson_loads,
    heartbeat_body,
)

#: Topics Apache's broker registers and ours does not (docs/compatibility.md): the
#: cluster-name and broker-name topics (``clusterTopicEnable``/``brokerTopicEnable``, used by
#: old admin tools to find brokers) and system topics of features ours does not have
#: (offset-moved events, self test, POP revive, broker sync, RocksDB transactions).
APACHE_ONLY_TOPICS = (
    "OFFSET_MOVED_EVENT",
    "SELF_TEST_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
)


def _placeholders(value, side: Side):
    """``value`` with the side's broker name and address replaced, recursively."""
    if isinstance(value, dict):
        return {_placeholders(k, side): _placeholders(v, side) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_placeholders(v, side) for v in value]
    if value == side.broker_name:
        return "<broker name>"
    if value == side.broker_addr:
        return "<broker address>"
    return value


@pytest.mark.parametrize("perm", [6, 4, 2])
def test_route_of_a_created_topic(sides, unique, perm):
    topic = unique("DiffRoute")
    assert both(sides, lambda side: side.create_topic(topic, queues=3, perm=perm).code) == (0, 0)
    routes = both(sides, lambda side: _placeholders(side.wait_for_route(topic), side))
    assert_same(*routes)
    assert routes[0]["queueDatas"] == [
        {
            "brokerName": "<broker name>",
            "perm": perm,
            "readQueueNums": 3,
            "topicSysFlag": 0,
            "writeQueueNums": 3,
        }
    ]
    assert routes[0]["brokerDatas"] == [
        {
            "brokerAddrs": {"0": "<broker address>"},
            "brokerName": "<broker name>",
            "cluster": "DefaultCluster",
            "enableActingMaster": False,
        }
    ]


def test_route_of_a_topic_created_by_a_send_and_of_a_retry_topic(sides, unique):
    topic = unique("DiffRouteSend")
    group = unique("DiffRouteGroup")
    assert both(sides, lambda side: side.send(topic).code) == (0, 0)
    body = heartbeat_body(unique("client"), group, topic)
    assert both(sides, lambda side: side.heartbeat(body).code) == (0, 0)
    for name in (topic, "%RETRY%" + group):
        routes = both(sides, lambda side, name=name: _placeholders(side.wait_for_route(name), side))
        assert_same(*routes, name)


def test_route_of_an_unknown_topic(sides, unique):
    topic = unique("DiffNoRoute")
    replies = both(sides, lambda side: side.route(topic))
    for side, reply in zip(sides, replies):
        assert reply.code == TOPIC_NOT_EXIST, side
        assert_remark_says(
            reply, f"No topic route info in name server for the topic: {topic}", side
        )


def test_cluster_info(sides):
    """The entry of each side's broker (Apache's name server may hold other brokers of the
    harness too, so only the broker under comparison is looked at)."""

    def entry(side: Side) -> dict:
        info = fastjson_loads(side.namesrv(GET_BROKER_CLUSTER_INFO).body)
        return _placeholders(
            {
                "members": sorted(info),
                "broker": info["brokerAddrTable"][side.broker_name],
                "in its cluster": side.broker_name in info["clusterAddrTable"][side.cluster_name],
            },
            side,
        )

    infos = both(sides, entry)
    assert_same(*infos)
    assert infos[0] == {
        "members": ["brokerAddrTable", "clusterAddrTable"],
        "broker": {
            "brokerAddrs": {"0": "<broker address>"},
            "brokerName": "<broker name>",
            "cluster": "DefaultCluster",
            "enableActingMaster": False,
        },
        "in its cluster": True,
    }


def test_topic_list_membership(sides, unique):
    topic = unique("DiffListed")
    group = unique("DiffListedGroup")
    assert both(sides, lambda side: side.send(topic).code) == (0, 0)
    body = heartbeat_body(unique("client"), group, topic)
    assert both(sides, lambda side: side.heartbeat(body).code) == (0, 0)
    for name in (topic, "%RETRY%" + group):
        both(sides, lambda side, name=name: side.wait_for_route(name))

    def topics(side: Side):
        reply = side.namesrv(GET_ALL_TOPIC_LIST_FROM_NAMESERVER)
        assert reply.code == 0, reply.remark
        return set(fastjson_loads(reply.body)["topicList"])

    ours, apache = both(sides, topics)
    for name in ("TBW102", "SCHEDULE_TOPIC_XXXX", "rmq_sys_wheel_timer", topic, "%RETRY%" + group):
        assert name in ours and name in apache, name
    apache_only = set(APACHE_ONLY_TOPICS) | {sides[1].cluster_name, sides[1].broker_name}
    assert apache_only <= apache
    assert not (set(APACHE_ONLY_TOPICS) | {sides[0].broker_name}) & ours
