"""rocketmq.asyncio: awaited sends against the bundled broker, without blocking the event
loop (failures, cancellation, the in-flight bound), and push consumers with coroutine
callbacks run on the loop (redelivery after a failure)."""

import asyncio
import threading

import pytest
from clienttools import make_producer, message, pull_all, unique

from rocketmq.asyncio import Producer
from rocketmq.asyncio import PushConsumer as AsyncPushConsumer
from rocketmq.client import SendStatus
from rocketmq.exceptions import ProducerSendAsyncFailed


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_send_and_send_many_store_every_message_in_order(broker):
    topic = unique("Aio")

    async def main():
        async with Producer(unique("PG"), namesrv_addr=broker.namesrv_addr) as producer:
            first = await producer.send(message(topic, b"first"))
            bodies = [b"many-%d" % i for i in range(500)]
            results = await producer.send_many(message(topic, b) for b in bodies)
            return first, bodies, results

    first, bodies, results = run(main())
    assert first.status == SendStatus.OK and first.msg_id
    assert len(results) == 500 and all(r.status == SendStatus.OK for r in results)
    assert len({r.msg_id for r in results} | {first.msg_id}) == 501
    stored = {m.id: m.body for m in pull_all(broker.namesrv_addr, topic)}
    assert stored[first.msg_id] == b"first"
    # send_many returns results in the order of its messages.
    assert [stored[r.msg_id] for r in results] == bodies


def test_the_event_loop_keeps_running_while_sends_are_in_flight(broker):
    topic = unique("AioLoop")

    async def main():
        ticks = 0
        stop = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0)

        async with Producer(
            unique("PG"), namesrv_addr=broker.namesrv_addr, max_in_flight=64
        ) as producer:
            await producer.send(message(topic, b"warm-up"))
            tick_task = asyncio.ensure_future(ticker())
            results = await producer.send_many(message(topic, b"x") for _ in range(2000))
            stop.set()
            await tick_task
        return ticks, results

    ticks, results = run(main())
    assert len(results) == 2000 and all(r.status == SendStatus.OK for r in results)
    # The loop ran other work meanwhile: the sends waited for slots without blocking it.
    assert ticks > 100, ticks


def test_failures_raise_and_release_their_slot(broker):
    async def main():
        producer = Producer(unique("PG"), namesrv_addr=broker.namesrv_addr, max_in_flight=1)
        with pytest.raises(ProducerSendAsyncFailed, match="start"):
            await producer.send(message("T", b"x"))  # not started yet
        await producer.start()
        try:
            with pytest.raises(TypeError):
                await producer.send("not a message")
            # An invalid topic fails in the library; with one slot, the next send proceeds
            # only if the failed one gave its slot back.
            with pytest.raises(ProducerSendAsyncFailed):
                await producer.send(message("bad topic name", b"x"))
            ok = await producer.send(message(unique("AioOk"), b"x"))
            assert ok.status == SendStatus.OK
        finally:
            await producer.shutdown()

    run(main())


def test_a_cancelled_send_still_completes_and_frees_its_slot(broker):
    topic = unique("AioCancel")

    async def main():
        async with Producer(
            unique("PG"), namesrv_addr=broker.namesrv_addr, max_in_flight=1
        ) as producer:
            await producer.send(message(topic, b"warm-up"))
            task = asyncio.ensure_future(producer.send(message(topic, b"cancelled")))
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The only slot comes back when the cancelled send finishes.
            return await asyncio.wait_for(producer.send(message(topic, b"after")), 30)

    after = run(main())
    assert after.status == SendStatus.OK
    bodies = sorted(m.body for m in pull_all(broker.namesrv_addr, topic))
    assert b"after" in bodies and b"warm-up" in bodies


def test_configuration_and_argument_errors():
    with pytest.raises(ValueError, match="max_in_flight"):
        Producer("PG", max_in_flight=0)
    with pytest.raises(TypeError, match="max_in_flight"):
        Producer("PG", max_in_flight="8")
    producer = Producer("PG")
    producer.set_namesrv_addr("127.0.0.1:9876")  # the set_* methods of the thread API
    producer.set_timeout(5000)
    with pytest.raises(AttributeError):
        producer.send_sync  # noqa: B018 - the blocking calls are not part of this API


def test_coroutine_callbacks_consume_on_the_loop_and_failures_are_redelivered(broker):
    topic = unique("AioPush")
    sent = [b"m-%d" % i for i in range(30)]
    producer = make_producer(broker)
    try:
        for body in sent:
            producer.send_sync(message(topic, body))
    finally:
        producer.shutdown()

    async def main():
        loop_thread = threading.get_ident()
        deliveries = []
        failed_once = set()

        async def on_message(msg):
            assert threading.get_ident() == loop_thread
            await asyncio.sleep(0.001)
            deliveries.append((msg.body, msg.reconsume_times))
            if msg.body == b"m-7" and msg.body not in failed_once:
                failed_once.add(msg.body)
                raise RuntimeError("fail the first delivery")
            return None

        consumer = AsyncPushConsumer(unique("CG"), namesrv_addr=broker.namesrv_addr)
        consumer.subscribe(topic, on_message)
        async with consumer:
            for _ in range(3000):
                consumed = {b for b, _ in deliveries}
                if set(sent) <= consumed and any(b == b"m-7" and r >= 1 for b, r in deliveries):
                    break
                await asyncio.sleep(0.01)
        return deliveries

    deliveries = run(main())
    assert set(sent) <= {b for b, _ in deliveries}
    retried = [r for b, r in deliveries if b == b"m-7"]
    assert retried[0] == 0 and max(retried) >= 1, retried


def test_async_consumer_arguments():
    consumer = AsyncPushConsumer("CG")
    with pytest.raises(TypeError, match="coroutine"):
        consumer.subscribe("T", lambda msg: None)
    consumer.set_thread_count(2)  # the set_* methods of the thread API
    with pytest.raises(AttributeError):
        consumer.start_consuming  # noqa: B018


def test_send_many_raises_the_first_failure_and_frees_every_slot(broker):
    topic = unique("AioMany")

    async def main():
        async with Producer(
            unique("PG"), namesrv_addr=broker.namesrv_addr, max_in_flight=8
        ) as producer:
            assert await producer.send_many([]) == []
            with pytest.raises(TypeError):
                await producer.send_many([message(topic, b"ok"), "not a message"])
            mixed = [message(topic, b"ok-%d" % i) for i in range(20)]
            mixed[13] = message("bad topic name", b"x")
            with pytest.raises(ProducerSendAsyncFailed):
                await producer.send_many(mixed)
            # Every slot came back: 8 more sends in one group go through.
            return await producer.send_many(message(topic, b"after") for _ in range(8))

    after = run(main())
    assert len(after) == 8 and all(r.status == SendStatus.OK for r in after)
