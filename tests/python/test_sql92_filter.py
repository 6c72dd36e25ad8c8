"""SQL92 subscriptions through the Python API, against our broker and Apache's
(ROCKETMQ_TEST_BROKER=apache, whose broker runs with enablePropertyFilter=true): push and pull
(thread and asyncio APIs) receive exactly the messages whose properties match; an invalid
expression raises InvalidFilterExpression with the broker's parse error at start(), at
subscribe() on a running consumer and at pull(); a long poll held on an SQL92 subscription
answers with the matching message; retries of an SQL92 subscription carry only messages that
matched.

Every topic has one queue, so that a sentinel message consumed after the others proves that
the broker looked at every earlier message of the queue (the assertion "nothing else arrived"
is then exact, not a wait).
"""

import asyncio
import os
import threading

import pytest
from clienttools import make_producer, message, pull_all, unique, wait_for

from rocketmq.admin import Admin
from rocketmq.asyncio import PullConsumer as AsyncPullConsumer
from rocketmq.client import (
    ConsumeStatus,
    InvalidFilterExpression,
    PullConsumer,
    PullConsumerFetchMessageFailed,
    PushConsumer,
    PushConsumerStartFailed,
)

pytestmark = pytest.mark.apache4_unsupported(
    "the 4.9 harness broker does not enable property filters"
)

#: n = 0..9; the expression below matches n = 5..9.
COUNT = 10
MATCHING = "n >= 5 AND kind = 'order'"
SENTINEL_N = 100
#: Wrong on purpose: the broker's parse error names where ("line 1, column ...").
INVALID = "n >== 5"


def one_queue_topic(broker, prefix):
    topic = unique(prefix)
    with Admin(broker.namesrv_addr) as admin:
        admin.create_topic(topic, 1)
    return topic


def send_numbered(broker, topic, numbers):
    producer = make_producer(broker)
    try:
        for n in numbers:
            producer.send_sync(message(topic, b"n%d" % n, tags="T", n=str(n), kind="order"))
    finally:
        producer.shutdown()


def expected_bodies(numbers):
    return sorted(b"n%d" % n for n in numbers if n >= 5)


def start_push(broker, topic, on_message, expression=MATCHING, group=None):
    consumer = PushConsumer(group or unique("SqlPushG"))
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.set_consume_from_first_offset()
    consumer.subscribe(topic, on_message, expression, expression_type="SQL92")
    consumer.start()
    return consumer


def test_push_receives_exactly_the_matching_messages(broker):
    topic = one_queue_topic(broker, "SqlPush")
    numbers = list(range(COUNT)) + [SENTINEL_N]
    send_numbered(broker, topic, numbers)
    got, lock = [], threading.Lock()

    def on_message(msg):
        with lock:
            got.append(msg.body)
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = start_push(broker, topic, on_message)
    try:
        wait_for(lambda: b"n%d" % SENTINEL_N in got, timeout=60, what="the sentinel")
    finally:
        consumer.shutdown()
    with lock:
        assert sorted(got) == expected_bodies(numbers)


def test_pull_receives_exactly_the_matching_messages(broker):
    topic = one_queue_topic(broker, "SqlPull")
    numbers = list(range(COUNT))
    send_numbered(broker, topic, numbers)
    # Every message is indexed before the filtered read (Apache indexes after answering).
    wait_for(lambda: len(pull_all(broker.namesrv_addr, topic)) == COUNT, what="the messages")
    consumer = PullConsumer(unique("SqlPullG"))
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.start()
    try:
        got = [m.body for m in consumer.pull(topic, MATCHING, expression_type="sql92")]
    finally:
        consumer.shutdown()
    assert sorted(got) == expected_bodies(numbers)
    # The positional signature of rocketmq 0.4 still reads tags.
    tagged = pull_all(broker.namesrv_addr, topic, "T || U")
    assert sorted(m.body for m in tagged) == sorted(b"n%d" % n for n in numbers)


def test_an_unknown_expression_type_names_the_allowed_ones():
    consumer = PushConsumer(unique("SqlBadTypeG"))
    with pytest.raises(ValueError, match="'TAG', 'SQL92'"):
        consumer.subscribe("T", lambda m: None, "a > 1", expression_type="XPATH")
    with pytest.raises(ValueError, match="'TAG', 'SQL92'"):
        next(PullConsumer(unique("SqlBadTypeG")).pull("T", "a > 1", 32, "JSON"))


def assert_parse_error(error):
    text = str(error)
    assert INVALID in text, text
    # Java's parser error: where it stopped and what it expected.
    assert "line 1" in text and "column" in text, text


def test_an_invalid_expression_fails_start_with_the_parse_error(broker):
    topic = one_queue_topic(broker, "SqlBad")
    consumer = PushConsumer(unique("SqlBadG"))
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.subscribe(topic, lambda m: None, INVALID, expression_type="SQL92")
    with pytest.raises(InvalidFilterExpression) as raised:
        consumer.start()
    assert isinstance(raised.value, PushConsumerStartFailed)
    assert isinstance(raised.value, ValueError)
    assert_parse_error(raised.value)
    consumer.shutdown()


def test_an_invalid_expression_fails_subscribe_on_a_running_consumer(broker):
    topic = one_queue_topic(broker, "SqlLive")
    send_numbered(broker, topic, [1, 7, SENTINEL_N])
    got, lock = [], threading.Lock()

    def on_message(msg):
        with lock:
            got.append(msg.body)

    consumer = PushConsumer(unique("SqlLiveG"))
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.set_consume_from_first_offset()
    consumer.subscribe(unique("SqlOther"), on_message)  # a topic without messages
    consumer.start()
    try:
        with pytest.raises(InvalidFilterExpression) as raised:
            consumer.subscribe(topic, on_message, INVALID, expression_type="SQL92")
        assert_parse_error(raised.value)
        # A valid one is taken at once by the running consumer.
        consumer.subscribe(topic, on_message, MATCHING, expression_type="SQL92")
        wait_for(lambda: b"n%d" % SENTINEL_N in got, timeout=60, what="the sentinel")
    finally:
        consumer.shutdown()
    with lock:
        assert sorted(got) == [b"n100", b"n7"]


def test_an_invalid_expression_fails_pull(broker):
    topic = one_queue_topic(broker, "SqlPullBad")
    consumer = PullConsumer(unique("SqlPullBadG"))
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.start()
    try:
        with pytest.raises(InvalidFilterExpression) as raised:
            list(consumer.pull(topic, INVALID, expression_type="SQL92"))
    finally:
        consumer.shutdown()
    assert isinstance(raised.value, PullConsumerFetchMessageFailed)
    assert_parse_error(raised.value)


def held_pull(consumer, topic, expression, offset, suspend_ms):
    """Starts one long poll; returns (done event, [ok, value])."""
    ((q_topic, broker_name, queue_id),) = consumer._native.fetch_subscribe_queues(topic)
    done, answer = threading.Event(), []

    def callback(ok, value):
        answer.extend((ok, value))
        done.set()

    consumer._native.pull_async(
        q_topic, broker_name, queue_id, expression, offset, 32, suspend_ms, callback, "SQL92"
    )
    return done, answer


def test_a_held_pull_answers_with_the_matching_message(broker):
    """Ours holds the pull through the non-matching messages and answers with the matching
    one. Apache's hold service also re-runs held pulls every 5 s when newer messages exist
    (matching or not), so there the pull is repeated from where the last answer left off,
    as a client does, until the matching message comes."""
    topic = one_queue_topic(broker, "SqlHeld")
    send_numbered(broker, topic, [0])  # the queue exists and has a route
    wait_for(lambda: len(pull_all(broker.namesrv_addr, topic)) == 1, what="the first message")
    consumer = PullConsumer(unique("SqlHeldG"))
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.start()
    try:
        done, answer = held_pull(consumer, topic, MATCHING, 1, 30_000)
        # Nothing at offset 1 yet: the pull is held. A quiet second lets the broker take the
        # request in before the appends (a pull that arrived after them would be answered at
        # once, past them, as Java's broker answers: that is not what this test is about).
        assert not done.wait(1), "a pull at the end of the queue was answered at once"
        send_numbered(broker, topic, [1, 2, 3])
        wait_for(lambda: len(pull_all(broker.namesrv_addr, topic)) == 4, what="non-matching")
        send_numbered(broker, topic, [6])
        delivered, offset, answers = [], 1, 0
        while True:
            assert done.wait(40), "the held pull never answered"
            ok, value = answer
            assert ok, value
            answers += 1
            _status, next_offset, _min, _max, msgs = value
            delivered.extend(m.body for m in msgs)
            if delivered or answers >= 10:
                break
            offset = next_offset
            done, answer = held_pull(consumer, topic, MATCHING, offset, 30_000)
    finally:
        consumer.shutdown()
    assert delivered == [b"n6"]
    if os.environ.get("ROCKETMQ_TEST_BROKER", "ours") in ("", "ours"):
        assert answers == 1, "our broker answered a held pull for a non-matching message"


def test_retries_of_an_sql92_subscription_are_still_filtered(broker):
    topic = one_queue_topic(broker, "SqlRetry")
    numbers = list(range(COUNT))
    send_numbered(broker, topic, numbers)
    seen, lock = [], threading.Lock()

    def on_message(msg):
        with lock:
            seen.append((msg.body, msg.reconsume_times))
        # Every first delivery fails: each matching message comes back once as a retry.
        return (
            ConsumeStatus.RECONSUME_LATER
            if msg.reconsume_times == 0
            else ConsumeStatus.CONSUME_SUCCESS
        )

    consumer = start_push(broker, topic, on_message)
    want = expected_bodies(numbers)
    try:
        wait_for(
            lambda: sorted(b for b, times in list(seen) if times > 0) == want,
            timeout=60,
            what="every matching message retried",
        )
    finally:
        consumer.shutdown()
    with lock:
        assert sorted({b for b, _ in seen}) == want


def test_asyncio_pull_and_stream_filter_by_sql92(broker):
    topic = one_queue_topic(broker, "SqlAsync")
    numbers = list(range(COUNT))
    send_numbered(broker, topic, numbers)
    wait_for(lambda: len(pull_all(broker.namesrv_addr, topic)) == COUNT, what="the messages")

    async def scenario():
        async with AsyncPullConsumer(
            unique("SqlAsyncG"), namesrv_addr=broker.namesrv_addr
        ) as reader:
            pulled = [m.body async for m in reader.pull(topic, MATCHING, expression_type="SQL92")]
            with pytest.raises(InvalidFilterExpression) as raised:
                async for _ in reader.pull(topic, INVALID, expression_type="SQL92"):
                    pass
        async with AsyncPullConsumer(
            unique("SqlAsyncG"), namesrv_addr=broker.namesrv_addr
        ) as follower:
            streamed = []
            stream = follower.stream(topic, MATCHING, expression_type="sql92", poll_seconds=5)
            async for batch in stream:
                streamed += [m.body for m in batch]
                if len(streamed) >= len(expected_bodies(numbers)):
                    break
            await stream.aclose()
        return pulled, raised.value, streamed

    pulled, error, streamed = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert sorted(pulled) == expected_bodies(numbers)
    assert_parse_error(error)
    assert sorted(streamed) == expected_bodies(numbers)


@pytest.mark.ours_broker_only("checks our broker's LocalBroker argument")
def test_a_broker_with_the_property_filter_off_refuses_sql92_and_still_filters_tags():
    from rocketmq.broker import LocalBroker

    with pytest.raises(TypeError, match="enable_property_filter must be True"):
        LocalBroker(enable_property_filter="no", namesrv_port=0, broker_port=0)
    with LocalBroker(enable_property_filter=False, namesrv_port=0, broker_port=0) as off:
        topic = one_queue_topic(off, "SqlOff")
        send_numbered(off, topic, range(3))
        consumer = PullConsumer(unique("SqlOffG"))
        consumer.set_namesrv_addr(off.namesrv_addr)
        consumer.start()
        try:
            with pytest.raises(InvalidFilterExpression, match="SQL92"):
                list(consumer.pull(topic, MATCHING, expression_type="SQL92"))
        finally:
            consumer.shutdown()
        tagged = pull_all(off.namesrv_addr, topic, "T")
    assert sorted(m.body for m in tagged) == [b"n0", b"n1", b"n2"]
