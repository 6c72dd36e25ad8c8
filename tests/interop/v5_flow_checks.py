"""What each RocketMQ 5.x flow must show, checked on the records a flow printed: the Python
flow scripts (tests/interop/v5_flows) and the Java 5.x driver (tests/drivers/java5) print the
same records, so their tests share these checks.

``FLOW_ARGS`` are the arguments of each flow besides endpoint, topic and group. What must
stay true: every check compares against what was sent (ids, bodies, order, times), none
passes on an empty run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Callable, Dict, List

FLOW_ARGS: Dict[str, Dict[str, Any]] = {
    "normal": {"count": 6},
    "fifo": {"groups": 3, "per_group": 5},
    "delay": {"count": 2, "delay_ms": 3000},
    "transaction": {},
    # The Apache proxy's minimum invisible duration for a receive is 10 s.
    "simple_consumer": {"invisible_s": 10, "retry_s": 2},
    "push_consumer": {"count": 5},
}


def _events(records: List[Dict[str, Any]], event: str) -> List[Dict[str, Any]]:
    return [r for r in records if r["event"] == event]


def _ids(records: List[Dict[str, Any]]) -> Dict[str, str]:
    return {r["body"]: r["message_id"] for r in _events(records, "sent")}


def check_normal(records: List[Dict[str, Any]], topic: str) -> None:
    count = FLOW_ARGS["normal"]["count"]
    sent = _ids(records)
    wanted = {f"normal-{i}" for i in range(count)}
    assert set(sent) == wanted | {"other-tag"}, sent
    received = _events(records, "received")
    bodies = Counter(r["body"] for r in received)
    assert set(bodies) == wanted, f"the TagA subscription got {sorted(bodies)}"
    assert all(n == 1 for n in bodies.values()), f"delivered twice: {bodies}"
    for r in received:
        i = int(r["body"].split("-")[1])
        assert r["topic"] == topic
        assert r["tag"] == "TagA"
        assert r["keys"] == [f"key-{i}"]
        assert r["properties"] == {"seq": str(i), "text": "h\u00e9llo \u4e16\u754c"}
        assert r["message_id"] == sent[r["body"]], "the id received is not the id sent"
        assert r["delivery_attempt"] == 1
        assert r["born_host"], "a received message names the host it was born on"
    assert sorted(r["body"] for r in _events(records, "acked")) == sorted(wanted)


def check_fifo(records: List[Dict[str, Any]], topic: str) -> None:
    groups, per_group = FLOW_ARGS["fifo"]["groups"], FLOW_ARGS["fifo"]["per_group"]
    sent = _ids(records)
    assert len(sent) == groups * per_group
    order: Dict[str, List[int]] = defaultdict(list)
    for r in _events(records, "received"):
        assert r["topic"] == topic
        assert r["message_id"] == sent[r["body"]]
        _, g, seq = r["body"].split("-")
        assert r["message_group"] == f"order-{g}"
        order[r["message_group"]].append(int(seq))
    assert sorted(order) == [f"order-{g}" for g in range(groups)]
    for group, seqs in order.items():
        assert seqs == list(range(per_group)), f"{group} consumed out of order: {seqs}"


def check_delay(records: List[Dict[str, Any]], topic: str) -> None:
    sent = {r["body"]: r for r in _events(records, "sent")}
    assert len(sent) == FLOW_ARGS["delay"]["count"]
    received = _events(records, "received")
    assert sorted(r["body"] for r in received) == sorted(sent)
    for r in received:
        due = sent[r["body"]]["delivery_timestamp"]
        assert r["message_id"] == sent[r["body"]]["message_id"]
        assert r["delivery_timestamp"] == due, "the delivery time comes back as sent"
        # A second of slack for the timer wheel's tick; without the delay the message would
        # arrive three seconds before its time.
        assert r["received_ms"] >= due - 1000, f"{r['body']} delivered before its time"


def check_transaction(records: List[Dict[str, Any]], topic: str) -> None:
    sent = _ids(records)
    assert set(sent) == {"commit", "rollback", "check-commit", "check-rollback"}
    checked = {r["body"]: r["answer"] for r in _events(records, "checked")}
    assert checked.get("check-commit") == "COMMIT", f"check-backs seen: {checked}"
    assert checked.get("check-rollback") == "ROLLBACK", f"check-backs seen: {checked}"
    received = Counter(r["body"] for r in _events(records, "received"))
    assert received == Counter({"commit": 1, "check-commit": 1}), received
    for r in _events(records, "received"):
        assert r["message_id"] == sent[r["body"]]
        assert r["tag"] == "TagT" and r["keys"] == [f"key-{r['body']}"]


def check_simple_consumer(records: List[Dict[str, Any]], topic: str) -> None:
    sent = _ids(records)
    received = _events(records, "received")
    seen = [(r["body"], r["delivery_attempt"]) for r in received]
    assert (
        seen.count(("acked-at-once", 1)) == 1
        and len([s for s in seen if s[0] == "acked-at-once"]) == 1
    ), f"an acked message came back: {seen}"
    first = [r for r in received if r["body"] == "comes-back" and r["delivery_attempt"] == 1]
    again = [r for r in received if r["body"] == "comes-back" and r["delivery_attempt"] == 2]
    assert len(first) == 1 and len(again) == 1, seen
    assert again[0]["message_id"] == first[0]["message_id"] == sent["comes-back"]
    retry_ms = FLOW_ARGS["simple_consumer"]["retry_s"] * 1000
    waited = again[0]["received_ms"] - first[0]["received_ms"]
    assert waited >= retry_ms - 500, f"back after {waited} ms, invisible for {retry_ms} ms"
    # Back after the changed duration, not the receive's own (10 s).
    assert waited < FLOW_ARGS["simple_consumer"]["invisible_s"] * 1000, waited
    assert _events(records, "changed") == [
        {"event": "changed", "body": "comes-back", "seconds": retry_ms // 1000}
    ]
    assert sorted(r["body"] for r in _events(records, "acked")) == ["acked-at-once", "comes-back"]


def check_push_consumer(records: List[Dict[str, Any]], topic: str) -> None:
    count = FLOW_ARGS["push_consumer"]["count"]
    sent = _ids(records)
    consumed = _events(records, "consumed")
    succeeded = Counter(r["body"] for r in consumed if r["answer"] == "SUCCESS")
    assert succeeded == Counter({f"push-{i}": 1 for i in range(count)}), succeeded
    failed = [r for r in consumed if r["answer"] == "FAILURE"]
    assert [(r["body"], r["delivery_attempt"]) for r in failed] == [("push-0", 1)]
    retried = [r for r in consumed if r["body"] == "push-0" and r["answer"] == "SUCCESS"]
    assert retried[0]["delivery_attempt"] == 2, "a failed message comes back as attempt 2"
    for r in consumed:
        assert r["message_id"] == sent[r["body"]] and r["tag"] == "TagP"


CHECKS: Dict[str, Callable[[List[Dict[str, Any]], str], None]] = {
    "normal": check_normal,
    "fifo": check_fifo,
    "delay": check_delay,
    "transaction": check_transaction,
    "simple_consumer": check_simple_consumer,
    "push_consumer": check_push_consumer,
}
