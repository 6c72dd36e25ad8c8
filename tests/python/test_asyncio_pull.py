"""rocketmq.asyncio.PullConsumer: ``pull`` reads what is there and ends, offsets advancing;
``stream`` waits for new messages with one long poll per queue held by the broker (no
polling loop), yields them in batches in queue order, and never blocks the event loop."""

import asyncio
import time

import pytest
from asynctools import run, until
from clienttools import make_producer, message, unique

from rocketmq.asyncio import PullConsumer
from rocketmq.exceptions import PullConsumerFetchMessageFailed


class CountingNative:
    """Wraps a native pull client and counts the pulls started through it."""

    def __init__(self, native):
        self._native = native
        self.pulls = 0

    def pull_async(self, *args):
        self.pulls += 1
        return self._native.pull_async(*args)

    def __getattr__(self, name):
        return getattr(self._native, name)


def test_pull_reads_every_message_once_then_ends(broker):
    topic = unique("AioPull")
    producer = make_producer(broker)
    try:
        first = {producer.send_sync(message(topic, b"a-%d" % i)).msg_id for i in range(40)}

        async def read(consumer):
            return [m async for m in consumer.pull(topic, max_num=8)]

        async def main():
            async with PullConsumer(unique("PullG"), namesrv_addr=broker.namesrv_addr) as c:
                one = await read(c)
                two = await read(c)
                later = {producer.send_sync(message(topic, b"b-%d" % i)).msg_id for i in range(5)}
                # Apache's broker makes a stored message pullable a moment after it answers
                # the send (its consume queues are dispatched in the background): read on
                # until all five came, bounded.
                three = []
                deadline = time.monotonic() + 10
                while len(three) < len(later) and time.monotonic() < deadline:
                    three += await read(c)
                return one, two, later, three, dict(c.offset_table)

        one, two, later, three, offsets = run(main())
    finally:
        producer.shutdown()
    assert sorted(m.id for m in one) == sorted(first)
    assert two == []
    assert sorted(m.id for m in three) == sorted(later)
    assert sum(offsets.values()) == 45
    # Within a queue, in queue order.
    for queue_id in {m.queue_id for m in one}:
        offs = [m.queue_offset for m in one if m.queue_id == queue_id]
        assert offs == sorted(offs)


def test_stream_long_polls_and_yields_batches_as_they_arrive(broker):
    topic = unique("AioStream")
    producer = make_producer(broker)
    producer.send_sync(message(topic, b"create"))

    async def main():
        consumer = PullConsumer(unique("StreamG"), namesrv_addr=broker.namesrv_addr)
        await consumer.start()
        counting = CountingNative(consumer._consumer._native)
        consumer._consumer._native = counting
        received = []
        ticks = 0

        async def consume():
            async for batch in consumer.stream(topic, poll_seconds=30):
                assert isinstance(batch, list) and batch
                received.extend(batch)

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.ensure_future(consume())
        tick_task = asyncio.ensure_future(ticker())
        try:
            await until(lambda: received, what="the message already there")
            queues = len(await consumer._queues(counting, topic))
            # One pull per queue, and one more for the queue that had a message.
            await until(lambda: counting.pulls >= queues + 1, what="a pull per queue")
            # Idle: every queue's pull is held by the broker (30 s), none is repeated.
            before, ticks_before = counting.pulls, ticks
            await asyncio.sleep(1.0)
            assert counting.pulls == before == queues + 1, (counting.pulls, queues)
            assert ticks - ticks_before > 20, "the loop ran while the pulls were held"
            # A message sent now is answered by the held pull, long before its 30 s end.
            loop = asyncio.get_running_loop()
            sent = await loop.run_in_executor(
                None, lambda: producer.send_sync(message(topic, b"new")).msg_id
            )
            await until(lambda: sent in {m.id for m in received}, timeout=15, what="new")
        finally:
            task.cancel()
            tick_task.cancel()
            await asyncio.gather(task, tick_task, return_exceptions=True)
            await consumer.shutdown()
        return received

    try:
        received = run(main())
    finally:
        producer.shutdown()
    assert sorted(m.body for m in received) == [b"create", b"new"]


def test_shutdown_ends_a_stream_waiting_at_the_broker(broker):
    topic = unique("AioStreamEnd")
    producer = make_producer(broker)
    try:
        producer.send_sync(message(topic, b"x"))
    finally:
        producer.shutdown()

    async def main():
        consumer = PullConsumer(unique("StreamG"), namesrv_addr=broker.namesrv_addr)
        await consumer.start()
        batches = []

        async def consume():
            async for batch in consumer.stream(topic, poll_seconds=30):
                batches.append(batch)

        task = asyncio.ensure_future(consume())
        await until(lambda: batches, what="the first batch")
        await consumer.shutdown()
        # The held pulls end with the consumer: the stream ends, long before 30 s.
        await asyncio.wait_for(task, 10)
        return batches

    assert [m.body for b in run(main()) for m in b] == [b"x"]


def test_pull_errors_say_what_to_do(broker):
    async def main():
        consumer = PullConsumer(unique("PullG"), namesrv_addr=broker.namesrv_addr)
        with pytest.raises(PullConsumerFetchMessageFailed, match="start"):
            async for _ in consumer.pull("T"):
                pass
        with pytest.raises(ValueError, match="poll_seconds"):
            await consumer.start()
            try:
                async for _ in consumer.stream("T", poll_seconds=0):
                    pass
            finally:
                await consumer.shutdown()
        with pytest.raises(AttributeError):
            consumer.pull_sync  # noqa: B018 - only the set_* methods are delegated
        consumer.set_instance_name("other")  # the set_* methods of the thread API

    run(main())


def test_offsets_go_through_the_overridable_hooks(broker):
    topic = unique("AioHooks")
    producer = make_producer(broker)
    try:
        sent = {producer.send_sync(message(topic, b"h-%d" % i)).msg_id for i in range(12)}
    finally:
        producer.shutdown()
    store = {}

    class KeptElsewhere(PullConsumer):
        def get_message_queue_offset(self, mq):
            return store.get((mq.topic, mq.brokerName, mq.queueId), 0)

        def set_message_queue_offset(self, mq, offset):
            store[(mq.topic, mq.brokerName, mq.queueId)] = offset

    async def read():
        async with KeptElsewhere(unique("PullG"), namesrv_addr=broker.namesrv_addr) as c:
            ids = [m.id async for m in c.pull(topic)]
            return ids, dict(c.offset_table)

    first, table = run(read())
    assert set(first) == sent and table == {}, "the hooks, not offset_table, kept them"
    assert sum(store.values()) == 12
    again, _ = run(read())  # another instance, same hooks: nothing read twice
    assert again == []
