"""Interop: Apache's Java push consumer (rocketmq-client 5.x over remoting) in POP mode.

RocketMQ 5 switches a remoting push consumer to POP on the broker's side: the group's request
mode for the topic is set to POP (SET_MESSAGE_REQUEST_MODE, what `mqadmin setConsumeMode`
sends) and the consumer runs with clientRebalance=false, so it asks the broker for its queues
(QUERY_ASSIGNMENT), pops them and acks every message it consumed; a failed message has its
invisible time changed and comes back (tests/drivers/java PopPushCommand).

Runs against the broker under test (tests/conftest.py `broker_factory`): ours by default,
Apache's with ROCKETMQ_TEST_BROKER=apache. What is asserted: every message sent is delivered
through POP (each delivery carries the receipt handle POP_CK built from the broker's answer),
each acked message exactly once, and each message whose first delivery failed once more with a
higher reconsume count. The failed messages come back only after their 10 s delay, longer than
the 5 s invisible time of everything popped with them, so an ack the broker lost would show as a
second delivery before the test ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest
from clienttools import make_producer, message, unique
from driver_records import by_seq
from java_client import JavaConsumer

pytestmark = pytest.mark.timeout(240)

POP_MESSAGE = 200050
REQUEST_CODE_NOT_SUPPORTED = 3
MESSAGES = 40
FAIL_FIRST = [3, 17, 29]


class JavaPopPushConsumer(JavaConsumer):
    """DefaultMQPushConsumer in POP mode (the driver's `poppush`)."""

    def __init__(
        self,
        namesrv: str,
        home: Path,
        group: str,
        topic: str,
        fail_first: List[int],
        invisible_ms: int,
    ) -> None:
        args: Dict[str, object] = {
            "namesrv": namesrv,
            "group": group,
            "topic": topic,
            "fail_first": [str(seq) for seq in fail_first],
            "invisible_ms": invisible_ms,
            "properties": ["seq"],
            "timeout": 200,
        }
        super().__init__("poppush", args, home)
        self.wait_for("READY", timeout=90)


@pytest.fixture
def broker(broker_factory):
    # Apache: a cluster of this module's own. Apache 5.5.0's broker shared with the earlier
    # suites was seen leaving POPs of concurrent consumers unanswered for 30 s and then
    # running out of direct memory, failing the suites after it.
    with broker_factory(fresh=True) as running:
        yield running


def test_java_push_consumer_in_pop_mode_acks_once_and_gets_failures_again(broker, home, cleanup):
    topic, group = unique("JavaPop"), unique("CG_java_pop")
    producer = make_producer(broker)
    try:
        for seq in range(MESSAGES):
            producer.send_sync(message(topic, b"pop-%d" % seq, seq=str(seq)))
    finally:
        producer.shutdown()

    consumer = JavaPopPushConsumer(
        broker.namesrv_addr, home / "pop", group, topic, FAIL_FIRST, invisible_ms=5000
    )
    cleanup(consumer)

    def everything_consumed() -> bool:
        seen = by_seq(consumer.messages())
        return len(seen) == MESSAGES and all(
            any(not d["failed"] for d in copies) for copies in seen.values()
        )

    consumer.wait_until(everything_consumed, 150, "every message acked once")
    consumer.stop()

    deliveries = by_seq(consumer.messages())
    assert sorted(deliveries) == list(range(MESSAGES))
    for seq, copies in deliveries.items():
        assert all(d["pop_ck"] for d in copies), f"seq {seq} was not popped: {copies}"
        assert all(d["topic"] == topic for d in copies), copies
        if seq in FAIL_FIRST:
            assert [d["failed"] for d in copies] == [True, False], f"seq {seq}: {copies}"
            assert copies[1]["reconsume_times"] > copies[0]["reconsume_times"], copies
        else:
            assert len(copies) == 1, f"acked seq {seq} delivered {len(copies)} times"
            assert not copies[0]["failed"] and copies[0]["reconsume_times"] == 0, copies
