"""POP on both brokers, raw frames: the same POP_MESSAGE, ACK_MESSAGE and
CHANGE_MESSAGE_INVISIBLETIME requests to ours and to Apache's, answers compared field by field;
and the server-side assignment (QUERY_ASSIGNMENT, SET_MESSAGE_REQUEST_MODE) that switches a Java
push consumer to POP.

Compared: the POP answer's code and header (``invisibleTime``, ``restNum``,
``startOffsetInfo``, ``msgOffsetInfo``, ``orderCountInfo``, which keys are present), the
popped records (``compare.normalise``), the receipt handle built from the answer field by
field, the redelivery after the invisible time passed (reconsume count + 1, the POP retry
topic's name and retry mark), the answers to ack, to an ack of a stale handle, to a change of
invisible time and to a handle of an offset that does not exist, and the dead-letter queue
after the group's ``retryMaxTimes`` (set through UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).

Normalised, because they must differ (docs/compatibility.md "POP"): ``popTime`` (each broker's
clock: checked to lie within the request's round trip), ``reviveQid`` (Apache picks one of its
``reviveQueueNum`` revive queues: checked to be in range; ours may differ) and what
``compare.normalise`` drops. Each test asserts what is known of Apache's answers (so the
scenario itself is proved) and compares ours with them.
"""

from __future__ import annotations

import json
import time
from typing import Dict, List, Optional, Tuple

from compare import APACHE_ONLY_PROPERTIES, assert_same, both, normalise
from wire import (
    GET_MAX_OFFSET,
    NO_PERMISSION,
    SUCCESS,
    TOPIC_NOT_EXIST,
    Record,
    Side,
    decode_records,
    fastjson_loads,
    heartbeat_body,
    wait_until,
)

from remoting import Command

POP_MESSAGE = 200050
ACK_MESSAGE = 200051
CHANGE_MESSAGE_INVISIBLETIME = 200053
UPDATE_AND_CREATE_SUBSCRIPTIONGROUP = 200
QUERY_ASSIGNMENT = 400
SET_MESSAGE_REQUEST_MODE = 401
#: Apache's default reviveQueueNum: revive queue ids lie in 0..7.
REVIVE_QUEUES = 8
#: Java ResponseCode.NO_MESSAGE.
NO_MESSAGE = 208
#: Header keys of a POP answer that carry values both brokers must agree on.
POP_HEADER_KEYS = ("invisibleTime", "restNum", "startOffsetInfo", "msgOffsetInfo", "orderCountInfo")
REDELIVERY_SECONDS = 60


def pop(side: Side, group: str, topic: str, invisible_ms: int, max_msgs: int = 32) -> Command:
    return side.broker(
        POP_MESSAGE,
        {
            "consumerGroup": group,
            "topic": topic,
            "queueId": -1,
            "maxMsgNums": max_msgs,
            "invisibleTime": invisible_ms,
            "pollTime": 0,
            "bornTime": int(time.time() * 1000),
            "initMode": 0,
            "expType": "TAG",
            "exp": "*",
            "order": "false",
        },
    )


HANDLE_FIELDS = (
    "ckQueueOffset",
    "popTime",
    "invisibleTime",
    "reviveQid",
    "retryMark",
    "brokerName",
    "queueId",
    "queueOffset",
)


def handle_fields(reply: Command, record: Record, side: Side) -> Dict[str, object]:
    """The receipt handle of ``record``, by field: the ``POP_CK`` the broker put on it (Apache
    does for messages of a retry topic, whose topic it rewrites to the popped one), else the
    one a Java client builds from the POP answer."""
    given = record.properties.get("POP_CK")
    if given:
        values = given.split(" ")
        fields: Dict[str, object] = dict(zip(HANDLE_FIELDS, values))
        for name in ("ckQueueOffset", "popTime", "invisibleTime", "reviveQid", "queueId"):
            fields[name] = int(str(fields[name]))
        fields["queueOffset"] = int(str(fields["queueOffset"]))
        fields["given by the broker"] = True
        return fields
    kind = "1" if record.topic.startswith("%RETRY%") else "0"
    starts = dict(
        (" ".join(e.split(" ")[:2]), int(e.split(" ")[2]))
        for e in reply.ext_fields["startOffsetInfo"].split(";")
    )
    return {
        "ckQueueOffset": starts[f"{kind} {record.queue_id}"],
        "popTime": int(reply.ext_fields["popTime"]),
        "invisibleTime": int(reply.ext_fields["invisibleTime"]),
        "reviveQid": int(reply.ext_fields["reviveQid"]),
        "retryMark": kind,
        "brokerName": side.broker_name,
        "queueId": record.queue_id,
        "queueOffset": record.queue_offset,
        "given by the broker": False,
    }


def handle_text(fields: Dict[str, object]) -> str:
    return " ".join(
        str(fields[k])
        for k in (
            "ckQueueOffset",
            "popTime",
            "invisibleTime",
            "reviveQid",
            "retryMark",
            "brokerName",
            "queueId",
            "queueOffset",
        )
    )


def ack(side: Side, group: str, topic: str, fields: Dict[str, object]) -> Command:
    return side.broker(
        ACK_MESSAGE,
        {
            "consumerGroup": group,
            "topic": topic,
            "queueId": fields["queueId"],
            "extraInfo": handle_text(fields),
            "offset": fields["queueOffset"],
        },
    )


def change_invisible(
    side: Side, group: str, topic: str, fields: Dict[str, object], invisible_ms: int
) -> Command:
    return side.broker(
        CHANGE_MESSAGE_INVISIBLETIME,
        {
            "consumerGroup": group,
            "topic": topic,
            "queueId": fields["queueId"],
            "extraInfo": handle_text(fields),
            "offset": fields["queueOffset"],
            "invisibleTime": invisible_ms,
        },
    )


def timed_pop(side: Side, group: str, topic: str, invisible_ms: int) -> Tuple[Command, dict]:
    """A POP, its answer's comparable header (``popTime`` checked against the round trip and
    normalised, ``reviveQid`` checked to be a revive queue and normalised)."""
    before = int(time.time() * 1000)
    reply = pop(side, group, topic, invisible_ms)
    after = int(time.time() * 1000)
    header: Dict[str, object] = {"code": reply.code, "keys": sorted(reply.ext_fields)}
    for key in POP_HEADER_KEYS:
        header[key] = reply.ext_fields.get(key)
    if "popTime" in reply.ext_fields:
        pop_time = int(reply.ext_fields["popTime"])
        # A second of slack: the two clocks are the same machine's, read a moment apart.
        assert before - 1000 <= pop_time <= after + 1000, (side, pop_time, before, after)
    if "reviveQid" in reply.ext_fields:
        assert 0 <= int(reply.ext_fields["reviveQid"]) < REVIVE_QUEUES, (side, reply.ext_fields)
    return reply, header


def prepared_topic(side: Side, topic: str, count: int) -> None:
    """``topic`` with one queue holding ``count`` messages (indexed, so a POP sees them)."""
    assert side.create_topic(topic, queues=1).code == SUCCESS
    for n in range(count):
        sent = side.send(topic, body=b"pop-%d" % n, queue_id=0, properties={"TAGS": "T"})
        assert sent.code == SUCCESS, (side, sent.remark)
    wait_until(
        lambda: (
            int(side.queue_bound(GET_MAX_OFFSET, topic, 0).ext_fields.get("offset", 0)) >= count
            or None
        ),
        30,
        f"{side.kind}: {count} messages indexed",
    )


def stored_count(side: Side, topic: str) -> int:
    """Messages in queue 0 of ``topic`` on the side's broker (0 when it has no such topic)."""
    reply = side.queue_bound(GET_MAX_OFFSET, topic, 0)
    return int(reply.ext_fields.get("offset", 0)) if reply.code == SUCCESS else 0


def compare(sides, observe, check_apache, comparable=lambda found: found) -> None:
    """Runs ``observe`` on both brokers, checks what is known of Apache's answers, then
    compares what ``comparable`` keeps of each."""
    found_ours, found_apache = both(sides, observe)
    check_apache(found_apache)
    assert_same(comparable(found_ours), comparable(found_apache), "POP")


def test_pop_answer_records_and_receipt_handle(sides, unique):
    topic, group = unique("DiffPop"), unique("DiffPopGroup")

    def observe(side: Side) -> dict:
        prepared_topic(side, topic, 3)
        reply, header = timed_pop(side, group, topic, 60000)
        records = decode_records(reply.body)
        handles = [handle_fields(reply, r, side) for r in records]
        for h in handles:
            h["popTime"] = "<pop time>"
            h["reviveQid"] = "<revive queue>"
            h["brokerName"] = "<broker>"
        empty, empty_header = timed_pop(side, group, topic, 60000)
        return {
            "answer": header,
            "records": [normalise(r, side) for r in records],
            "handles": handles,
            "second pop (all invisible)": empty_header,
        }

    def check_apache(found: dict) -> None:
        assert found["answer"]["code"] == SUCCESS
        assert found["answer"]["msgOffsetInfo"] == "0 0 0,1,2"
        assert found["answer"]["startOffsetInfo"] == "0 0 0"
        assert [h["queueOffset"] for h in found["handles"]] == [0, 1, 2]
        assert found["second pop (all invisible)"]["code"] != SUCCESS

    compare(sides, observe, check_apache)


def _pop_until_found(side: Side, group: str, topic: str, invisible_ms: int) -> Command:
    def probe() -> Optional[Command]:
        reply = pop(side, group, topic, invisible_ms)
        return reply if reply.code == SUCCESS else None

    return wait_until(probe, REDELIVERY_SECONDS, f"{side.kind}: a POP of {topic} finds a message")


def test_redelivery_after_expiry_goes_through_the_retry_topic(sides, unique):
    topic, group = unique("DiffPopRetry"), unique("DiffPopRetryGroup")

    def observe(side: Side) -> dict:
        prepared_topic(side, topic, 1)
        first = pop(side, group, topic, 1000)
        assert first.code == SUCCESS, (side, first.code, first.remark)
        again = _pop_until_found(side, group, topic, 60000)
        (record,) = decode_records(again.body)
        fields = handle_fields(again, record, side)
        retry_topic = f"%RETRY%{group}_{topic}"
        acked = ack(side, group, retry_topic if fields["retryMark"] == "1" else topic, fields)
        return {
            "redelivered": {
                "topic": record.topic,
                "reconsumeTimes": record.reconsume_times,
                "retryMark": fields["retryMark"],
                "handle given by the broker": fields["given by the broker"],
                "startOffsetInfo": again.ext_fields.get("startOffsetInfo"),
                "RETRY_TOPIC": record.properties.get("RETRY_TOPIC"),
                "property names": sorted(
                    n for n in record.properties if n not in APACHE_ONLY_PROPERTIES
                ),
                "body": record.body,
            },
            "messages in the retry topic named V1, V2": (
                stored_count(side, retry_topic),
                stored_count(side, f"%RETRY%{group}+{topic}"),
            ),
            "ack": acked.code,
        }

    def check_apache(found: dict) -> None:
        redelivered = found["redelivered"]
        # Apache rewrites a retry message's topic to the popped one and puts its POP_CK on it.
        assert redelivered["topic"] == topic, redelivered
        assert redelivered["handle given by the broker"], redelivered
        assert redelivered["reconsumeTimes"] == 1
        assert redelivered["retryMark"] == "1"
        assert redelivered["startOffsetInfo"].startswith("1 0 "), redelivered
        assert redelivered["RETRY_TOPIC"] is None, redelivered
        assert found["messages in the retry topic named V1, V2"] == (1, 0), found
        assert found["ack"] == SUCCESS

    compare(sides, observe, check_apache)


def test_ack_stale_handles_and_invisible_time_changes(sides, unique):
    topic, group = unique("DiffPopAck"), unique("DiffPopAckGroup")

    def observe(side: Side) -> dict:
        prepared_topic(side, topic, 2)
        reply = pop(side, group, topic, 60000)
        assert reply.code == SUCCESS, (side, reply.remark)
        first, second = (handle_fields(reply, r, side) for r in decode_records(reply.body))
        answers: Dict[str, object] = {}
        answers["ack"] = ack(side, group, topic, first).code
        again = ack(side, group, topic, first)
        answers["ack again (stale)"] = (again.code, again.remark)
        changed = change_invisible(side, group, topic, second, 1000)
        answers["change invisible"] = changed.code
        answers["change answer keys"] = sorted(changed.ext_fields)
        answers["change invisibleTime"] = changed.ext_fields.get("invisibleTime")
        beyond = dict(first, queueOffset=1000, ckQueueOffset=1000)
        answers["ack of an offset past the queue end"] = ack(side, group, topic, beyond).code
        old = ack(side, group, topic, second)
        answers["old handle after the change"] = (old.code, old.remark)
        return answers

    def check_apache(found: dict) -> None:
        assert found["ack"] == SUCCESS
        assert found["change invisible"] == SUCCESS
        assert found["change invisibleTime"] == "1000"
        assert found["ack of an offset past the queue end"] == NO_MESSAGE
        # Apache accepts an ack of a spent handle and changes nothing.
        assert found["ack again (stale)"][0] == SUCCESS
        assert found["old handle after the change"][0] == SUCCESS

    def stale_answers_apart(found: dict) -> dict:
        """The two stale-handle answers may differ as documented: ours refuses a spent handle
        (issue 11) where Apache accepts it; a refusal must say why."""
        rest = dict(found)
        for key in ("ack again (stale)", "old handle after the change"):
            code, remark = rest.pop(key)
            assert code == SUCCESS or remark, f"{key}: refused without a reason ({code})"
        return rest

    compare(sides, observe, check_apache, comparable=stale_answers_apart)


def test_retry_max_times_and_the_dead_letter_queue(sides, unique):
    """A group with retryMaxTimes=1 (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP) whose message is
    never acked. Apache's broker keeps handing it out with a growing reconsume count and never
    moves it to ``%DLQ%<group>`` itself (its clients do: the proxy, or a Java pop-mode consumer,
    send it back or ack it once the count passes the maximum); ours, as issue 11 asks, moves it
    to the dead-letter queue once the maximum is passed (docs/compatibility.md "POP")."""
    topic, group = unique("DiffPopDlq"), unique("DiffPopDlqGroup")
    config = (
        '{"groupName":"%s","consumeEnable":true,"consumeFromMinEnable":true,'
        '"consumeBroadcastEnable":true,"retryQueueNums":1,"retryMaxTimes":1,'
        '"brokerId":0,"whichBrokerWhenConsumeSlowly":1,"notifyConsumerIdsChangedEnable":true}'
        % group
    ).encode()
    dlq = f"%DLQ%{group}"

    def observe(side: Side) -> dict:
        made = side.broker(UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {}, config)
        assert made.code == SUCCESS, (side, made.code, made.remark)
        prepared_topic(side, topic, 1)
        deliveries: List[int] = []

        def third_delivery_or_dead() -> Optional[bool]:
            reply = pop(side, group, topic, 1000)
            if reply.code == SUCCESS:
                deliveries.extend(r.reconsume_times for r in decode_records(reply.body))
            return True if len(deliveries) >= 3 or stored_count(side, dlq) else None

        wait_until(third_delivery_or_dead, REDELIVERY_SECONDS, f"{side.kind}: 3 deliveries or DLQ")
        return {"deliveries": deliveries, "dead letters": stored_count(side, dlq)}

    ours, apache = sides
    found = observe(apache)
    assert found == {"deliveries": [0, 1, 2], "dead letters": 0}, found
    found_ours = observe(ours)
    assert found_ours["deliveries"] == [0, 1], found_ours
    (dead,) = ours.pull_records(dlq, 0, 1, 30)
    assert dead.body == b"pop-0" and dead.reconsume_times >= 1, dead


def test_server_side_assignment_in_pull_and_pop_mode(sides, unique):
    """QUERY_ASSIGNMENT (400) and SET_MESSAGE_REQUEST_MODE (401), what a Java push consumer with
    clientRebalance=false and `mqadmin setConsumeMode` send: the assignment of a registered
    member in the default PULL mode, the refusals of 401 (a retry topic, an unknown topic),
    and the assignment once the pair is in POP mode (every queue of the broker, id -1)."""
    topic, group = unique("DiffAssign"), unique("DiffAssignGroup")
    client_id = unique("client")

    def assignments(side: Side) -> object:
        body = json.dumps(
            {
                "clientId": client_id,
                "consumerGroup": group,
                "messageModel": "CLUSTERING",
                "strategyName": "AVG",
                "topic": topic,
            }
        ).encode()
        reply = side.broker(QUERY_ASSIGNMENT, {}, body)
        assert reply.code == SUCCESS, (side, reply.code, reply.remark)
        found = fastjson_loads(reply.body).get("messageQueueAssignments")
        if found is None:
            return None
        rows = []
        for a in found:
            queue = a["messageQueue"]
            assert queue["brokerName"] == side.broker_name, (side, a)
            rows.append((queue["topic"], queue["queueId"], a.get("mode")))
        return sorted(rows)

    def set_mode(side: Side, mode_topic: str, mode: str) -> Tuple[int, Optional[str]]:
        body = json.dumps(
            {"consumerGroup": group, "mode": mode, "popShareQueueNum": 0, "topic": mode_topic}
        ).encode()
        reply = side.broker(SET_MESSAGE_REQUEST_MODE, {}, body)
        return reply.code, reply.remark

    def observe(side: Side) -> dict:
        assert side.create_topic(topic, queues=4).code == SUCCESS
        side.wait_for_route(topic)
        assert side.heartbeat(heartbeat_body(client_id, group, topic)).code == SUCCESS
        found: Dict[str, object] = {"pull mode": assignments(side)}
        found["401 on a retry topic"] = set_mode(side, f"%RETRY%{group}", "POP")[0]
        found["401 on an unknown topic"] = set_mode(side, unique("NoSuchTopic"), "POP")[0]
        found["401 to POP"] = set_mode(side, topic, "POP")[0]
        found["pop mode"] = assignments(side)
        return found

    def check_apache(found: dict) -> None:
        assert found["pull mode"] == [(topic, q, "PULL") for q in range(4)], found
        assert found["pop mode"] == [(topic, -1, "POP")], found
        assert found["401 on a retry topic"] == NO_PERMISSION
        assert found["401 on an unknown topic"] == TOPIC_NOT_EXIST

    found_ours, found_apache = both(sides, observe)
    check_apache(found_apache)
    assert_same(found_ours, found_apache, "assignment")
