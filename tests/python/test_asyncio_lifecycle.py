"""rocketmq.asyncio under cancellation, event-loop shutdown and load.

* A cancelled ``await producer.send(...)`` is either not stored (it was still waiting for a
  slot, or the send failed) or stored exactly once and reported to ``on_cancelled_send``.
* An event loop that shuts down (the end of ``asyncio.run``) while a push consumer's
  callbacks and a pull consumer's stream run: no hang, no crash, both consumers shut down
  and their threads gone, within a bound.
* Back-pressure: a producer never has more than ``max_in_flight`` sends in the library; a
  push consumer runs at most ``max_in_flight`` slow coroutine callbacks at once; a slow
  stream reader makes the stream ask for no more than one batch per queue ahead of it.
"""

import asyncio
import gc
import time
import weakref

import pytest
from asynctools import run, threads, until
from clienttools import make_producer, message, pull_all, unique, wait_for

from rocketmq.asyncio import Producer, PullConsumer, PushConsumer
from rocketmq.client import SendResult, SendStatus
from rocketmq.exceptions import ProducerSendAsyncFailed, ProducerSendOrderlyFailed


def test_a_cancelled_send_is_not_stored_or_stored_once_and_reported(broker):
    topic = unique("AioCancel")
    reports = []

    async def main():
        producer = Producer(
            unique("PG"),
            namesrv_addr=broker.namesrv_addr,
            max_in_flight=4,
            on_cancelled_send=lambda msg, outcome: reports.append((msg.body, outcome)),
        )
        async with producer:
            await producer.send(message(topic, b"warm-up"))
            # One cancelled for sure after it reached the library.
            # One step of the loop runs the new task up to its wait for the outcome: the send
            # is in the library, and its outcome cannot have been handed back yet.
            handed = asyncio.ensure_future(producer.send(message(topic, b"handed-over")))
            await asyncio.sleep(0)
            assert producer.in_flight == 1
            handed.cancel()
            # Many more, cancelled at different points: waiting for a slot, or in flight.
            tasks = [
                asyncio.ensure_future(producer.send(message(topic, b"c-%d" % i)))
                for i in range(120)
            ]
            for i, task in enumerate(tasks):
                if i % 3 == 0:
                    task.cancel()
                if i % 10 == 0:
                    await asyncio.sleep(0)
            outcomes = await asyncio.gather(handed, *tasks, return_exceptions=True)
            # Every outcome came back (the reports of cancelled sends included).
            await until(lambda: producer.in_flight == 0, what="every outcome")
        bodies = [b"handed-over"] + [b"c-%d" % i for i in range(120)]
        return dict(zip(bodies, outcomes))

    outcomes = run(main())
    acknowledged = {b for b, o in outcomes.items() if isinstance(o, SendResult)}
    cancelled = {b for b, o in outcomes.items() if isinstance(o, asyncio.CancelledError)}
    assert acknowledged | cancelled == set(outcomes), "no other outcome"
    reported = dict(reports)
    assert len(reported) == len(reports), "each cancelled send is reported at most once"
    assert b"handed-over" in reported and set(reported) <= cancelled
    reported_stored = {b for b, o in reported.items() if isinstance(o, SendResult)}
    # Sends cancelled while waiting for a slot were never sent, and not reported.
    assert cancelled - set(reported)
    stored = [m.body for m in pull_all(broker.namesrv_addr, topic)]
    assert len(stored) == len(set(stored)), "nothing stored twice"
    assert set(stored) == acknowledged | reported_stored | {b"warm-up"}
    assert all(o.status == SendStatus.OK for o in reported.values() if isinstance(o, SendResult))


def consumer_threads():
    """The thread ids of the push consumers' dispatcher threads (rocketmq-consume-N)."""
    return {tid for tid, name in threads().items() if name.startswith("rocketmq-consum")}


def test_a_loop_that_shuts_down_stops_running_consumers(broker):
    topic = unique("AioLoopEnd")
    producer = make_producer(broker)
    try:
        for i in range(20):
            producer.send_sync(message(topic, b"m-%d" % i))
    finally:
        producer.shutdown()
    clients = {}

    async def main():
        push = PushConsumer(unique("CG"), namesrv_addr=broker.namesrv_addr)
        push.set_thread_count(2)
        started = []

        async def never_finishes(msg):
            started.append(msg.body)
            await asyncio.sleep(3600)

        push.subscribe(topic, never_finishes)
        await push.start()
        pull = PullConsumer(unique("PullG"), namesrv_addr=broker.namesrv_addr)
        await pull.start()
        batches = []

        async def read():
            async for batch in pull.stream(topic, poll_seconds=30):
                batches.append(batch)

        asyncio.ensure_future(read())
        await until(lambda: started and batches, what="callbacks and a stream running")
        clients.update(push=push, pull=pull, threads=consumer_threads())
        assert clients["threads"], "the push consumer's threads run"
        # Returns with both consumers running, a callback awaiting and a long poll held.

    began = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - began < 60
    assert clients["push"]._consumer._native is None, "the push consumer was shut down"
    assert clients["pull"]._consumer._native is None, "the pull consumer was shut down"
    wait_for(
        lambda: not clients["threads"] & consumer_threads(),
        timeout=30,
        what="the consumer threads to end",
    )


def test_a_producer_hands_at_most_max_in_flight_sends_to_the_library(broker):
    topic = unique("AioBound")

    async def main():
        most = 0
        async with Producer(
            unique("PG"), namesrv_addr=broker.namesrv_addr, max_in_flight=8
        ) as producer:
            await producer.send(message(topic, b"warm-up"))
            sends = [asyncio.ensure_future(producer.send(message(topic, b"x"))) for _ in range(300)]
            while not all(s.done() for s in sends):
                most = max(most, producer.in_flight)
                await asyncio.sleep(0)
            results = await asyncio.gather(*sends)
        return most, results

    most, results = run(main())
    assert all(r.status == SendStatus.OK for r in results)
    assert 1 <= most <= 8, most


def test_slow_coroutine_callbacks_run_at_most_max_in_flight_at_once(broker):
    topic = unique("AioSlow")
    producer = make_producer(broker)
    try:
        sent = {producer.send_sync(message(topic, b"s-%d" % i)).msg_id for i in range(24)}
    finally:
        producer.shutdown()

    async def main():
        running, most, done = 0, 0, set()

        async def slow(msg):
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.02)
            running -= 1
            done.add(msg.id)

        consumer = PushConsumer(unique("CG"), namesrv_addr=broker.namesrv_addr, max_in_flight=3)
        consumer.set_thread_count(2)
        consumer.set_consume_from_first_offset()
        consumer.subscribe(topic, slow)
        async with consumer:
            await until(lambda: sent <= done, what="every message consumed")
        return most

    assert 1 <= run(main()) <= 3
    with pytest.raises(ValueError, match="max_in_flight"):
        PushConsumer("CG", max_in_flight=0)


def test_a_slow_stream_reader_is_not_pulled_ahead_of(broker):
    topic = unique("AioSlowStream")
    producer = make_producer(broker)
    try:
        for i in range(60):
            producer.send_sync(message(topic, b"s-%d" % i))
    finally:
        producer.shutdown()

    async def main():
        consumer = PullConsumer(unique("PullG"), namesrv_addr=broker.namesrv_addr)
        ahead, received, batches = 0, 0, 0
        async with consumer:
            native = consumer._consumer._native
            queues = len(await consumer._queues(native, topic))
            pulls = [0]
            original = native

            class Counting:
                def pull_async(self, *args):
                    pulls[0] += 1
                    return original.pull_async(*args)

                def __getattr__(self, name):
                    return getattr(original, name)

            consumer._consumer._native = Counting()
            it = consumer.stream(topic, max_num=3, poll_seconds=5)
            try:
                async for batch in it:
                    received += len(batch)
                    batches += 1
                    ahead = max(ahead, pulls[0] - batches)
                    await asyncio.sleep(0.01)  # a slow reader
                    if received >= 60:
                        break
            finally:
                await it.aclose()
            consumer._consumer._native = original
        return queues, ahead, received

    queues, ahead, received = run(main())
    assert received == 60
    # Pulls started beyond the batches handed over: at most one per queue.
    assert ahead <= queues, (ahead, queues)


def test_errors_of_a_producer_not_started():
    async def main():
        producer = Producer("PG")
        with pytest.raises(ProducerSendOrderlyFailed, match="start"):
            await producer.send_orderly(message("T", b"x"), 1)
        with pytest.raises(ProducerSendAsyncFailed, match="start"):
            await producer.send(message("T", b"x"))
        with pytest.raises(TypeError, match="on_cancelled_send"):
            Producer("PG", on_cancelled_send=42)

    run(main())


def test_finished_event_loops_are_not_kept_alive(broker):
    loops = []

    async def main():
        topic = unique("AioLoops")
        loops.append(weakref.ref(asyncio.get_running_loop()))
        async with Producer(unique("PG"), namesrv_addr=broker.namesrv_addr) as producer:
            await producer.send(message(topic, b"x"))
        async with PullConsumer(unique("PullG"), namesrv_addr=broker.namesrv_addr) as consumer:
            assert [m.body async for m in consumer.pull(topic)] == [b"x"]

    run(main())
    run(main())
    gc.collect()
    assert [ref() for ref in loops] == [None, None]
