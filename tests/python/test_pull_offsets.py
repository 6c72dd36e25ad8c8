"""PullConsumer offsets: each instance has a table of its own unless a subclass or the user set
the class attribute (then shared, as in rocketmq 0.4), and ``offset_store="broker"`` commits
consumed offsets to the broker so that a restarted consumer of the group resumes where the
last one stopped, seeing again only what was not committed. The same for the asyncio
PullConsumer."""

import pytest
from asynctools import run
from clienttools import make_producer, message, unique

from rocketmq.asyncio import PullConsumer as AsyncPullConsumer
from rocketmq.client import PullConsumer


def send_bodies(broker, topic, count, prefix="m"):
    producer = make_producer(broker)
    try:
        return {
            producer.send_sync(message(topic, b"%s-%d" % (prefix.encode(), i))).msg_id
            for i in range(count)
        }
    finally:
        producer.shutdown()


def started(consumer_class, broker, group, **kw):
    c = consumer_class(group, **kw)
    c.set_namesrv_addr(broker.namesrv_addr)
    c.start()
    return c


def read_ids(consumer, topic, limit=None):
    """Ids read by ``consumer.pull(topic)``; stops after ``limit`` (closing the generator)."""
    ids = []
    gen = consumer.pull(topic)
    try:
        for msg in gen:
            ids.append(msg.id)
            if limit is not None and len(ids) == limit:
                break
    finally:
        gen.close()
    return ids


def test_each_instance_has_an_offset_table_of_its_own(broker):
    topic = unique("OwnTable")
    sent = send_bodies(broker, topic, 12)
    first = started(PullConsumer, broker, unique("PullG"))
    second = started(PullConsumer, broker, unique("PullG"))
    try:
        assert first.offset_table is not second.offset_table
        assert set(read_ids(first, topic)) == sent
        # The second instance starts from its own (empty) table, not from the first's.
        assert set(read_ids(second, topic)) == sent
        assert read_ids(first, topic) == [] and read_ids(second, topic) == []
    finally:
        first.shutdown()
        second.shutdown()
    # The class attribute is still there (0.4.x code reads it) and was not written to.
    assert PullConsumer.offset_table == {}


def test_a_class_table_set_by_a_subclass_or_the_user_is_shared(broker, monkeypatch):
    topic = unique("SharedTable")
    sent = send_bodies(broker, topic, 8)

    class SharedPull(PullConsumer):
        offset_table = {}

    a = started(SharedPull, broker, unique("PullG"))
    b = started(SharedPull, broker, unique("PullG"))
    try:
        assert a.offset_table is b.offset_table is SharedPull.offset_table
        assert set(read_ids(a, topic)) == sent
        assert read_ids(b, topic) == [], "b continues from the table a advanced"
    finally:
        a.shutdown()
        b.shutdown()

    shared = {}
    monkeypatch.setattr(PullConsumer, "offset_table", shared)
    c = started(PullConsumer, broker, unique("PullG"))
    d = started(PullConsumer, broker, unique("PullG"))
    try:
        assert c.offset_table is shared and d.offset_table is shared
        assert set(read_ids(c, topic)) == sent
        assert read_ids(d, topic) == []
        assert sum(shared.values()) == len(sent)
    finally:
        c.shutdown()
        d.shutdown()


def test_offset_store_argument_is_checked():
    with pytest.raises(ValueError, match="'memory'.*'broker'"):
        PullConsumer("G", offset_store="redis")
    with pytest.raises(ValueError, match="offset_store"):
        AsyncPullConsumer("G", offset_store="file")
    assert PullConsumer("G").offset_store == "memory"
    assert PullConsumer("G", offset_store="broker").offset_store == "broker"


def test_a_restarted_consumer_resumes_from_the_offsets_committed_on_the_broker(broker):
    topic, group = unique("Resume"), unique("ResumeG")
    sent = send_bodies(broker, topic, 30)

    first = started(PullConsumer, broker, group, offset_store="broker")
    try:
        # The caller takes 12 messages and stops at the 12th: 11 were consumed.
        taken = read_ids(first, topic, limit=12)
    finally:
        first.shutdown()
    assert len(taken) == 12

    second = started(PullConsumer, broker, group, offset_store="broker")
    try:
        rest = read_ids(second, topic)
    finally:
        second.shutdown()
    # Exactly what was not committed comes again: the 12th message and everything after.
    assert set(rest) == sent - set(taken[:11])
    assert len(rest) == len(set(rest))

    third = started(PullConsumer, broker, group, offset_store="broker")
    try:
        assert read_ids(third, topic) == [], "everything was committed"
        more = send_bodies(broker, topic, 5, prefix="later")
        assert set(read_ids(third, topic)) == more
    finally:
        third.shutdown()

    # Another group has offsets of its own on the broker.
    other = started(PullConsumer, broker, unique("OtherG"), offset_store="broker")
    try:
        assert set(read_ids(other, topic)) == sent | more
    finally:
        other.shutdown()


def test_asyncio_pull_consumer_resumes_from_the_broker_too(broker):
    topic, group = unique("AioResume"), unique("AioResumeG")
    sent = send_bodies(broker, topic, 20)

    async def read(limit=None):
        consumer = AsyncPullConsumer(group, namesrv_addr=broker.namesrv_addr, offset_store="broker")
        ids = []
        async with consumer:
            it = consumer.pull(topic)
            try:
                async for msg in it:
                    ids.append(msg.id)
                    if len(ids) == limit:
                        break
            finally:
                await it.aclose()
        return ids

    async def main():
        taken = await read(limit=7)
        rest = await read()
        again = await read()
        return taken, rest, again

    taken, rest, again = run(main())
    assert len(taken) == 7
    assert set(rest) == sent - set(taken[:6])
    assert again == []


def test_asyncio_stream_commits_the_batches_the_caller_came_back_from(broker):
    topic, group = unique("AioStreamResume"), unique("AioStreamG")
    sent = send_bodies(broker, topic, 16)

    async def session(enough):
        """Reads batches until ``enough(batches)``; returns them as lists of ids."""
        consumer = AsyncPullConsumer(group, namesrv_addr=broker.namesrv_addr, offset_store="broker")
        batches = []
        async with consumer:
            it = consumer.stream(topic, poll_seconds=5)
            try:
                async for batch in it:
                    batches.append([m.id for m in batch])
                    if enough(batches):
                        break
            finally:
                await it.aclose()
        return batches

    async def main():
        first = await session(lambda batches: len(batches) == 2)
        left = len(sent) - len(first[0])
        second = await session(lambda batches: sum(map(len, batches)) >= left)
        return first, second

    first, second = run(main())
    again = [i for batch in second for i in batch]
    # The caller came back from the first batch only: the second batch comes again, the
    # first does not, and nothing comes twice.
    assert set(again) == sent - set(first[0])
    assert set(first[1]) <= set(again)
    assert len(again) == len(set(again))
