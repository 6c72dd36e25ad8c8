"""rocketmq.asyncio producers beyond send/send_many: orderly sends (sharding key, selector
functions and coroutines), batches, one-way sends, and transactions whose local transaction
and check-back are coroutines."""

import asyncio
import logging
import threading
import types

import pytest
from asynctools import run
from clienttools import message, pull_all, unique, wait_for

from rocketmq.asyncio import Producer, TransactionMQProducer
from rocketmq.client import SendStatus, TransactionStatus
from rocketmq.exceptions import (
    ProducerSendOnewayFailed,
    ProducerSendOrderlyFailed,
    ProducerSendTransactionFailed,
)


def test_orderly_batch_and_oneway_sends(broker):
    topic = unique("AioOrder")

    async def pick_last(count, msg, arg):
        await asyncio.sleep(0)
        assert msg.topic == topic and arg == "last"
        return count - 1

    async def main():
        async with Producer(unique("PG"), namesrv_addr=broker.namesrv_addr) as producer:
            await producer.send(message(topic, b"create"))
            keyed = [
                await producer.send_orderly_with_sharding_key(
                    message(topic, b"k-%d" % i), "order-42"
                )
                for i in range(10)
            ]
            by_arg = await producer.send_orderly(message(topic, b"arg"), 5)
            by_coroutine = await producer.send_orderly(
                message(topic, b"last"), "last", queue_selector=pick_last
            )
            with pytest.raises(ProducerSendOrderlyFailed, match="expected an int"):
                await producer.send_orderly(
                    message(topic, b"bad"), 0, queue_selector=lambda n, m, a: n
                )
            with pytest.raises(ProducerSendOrderlyFailed, match="selector raised"):
                await producer.send_orderly(
                    message(topic, b"bad"), 0, queue_selector=lambda n, m, a: 1 // 0
                )
            batch = await producer.send_batch([message(topic, b"b-%d" % i) for i in range(6)])
            with pytest.raises(ValueError, match="empty"):
                await producer.send_batch([])
            await producer.send_oneway(message(topic, b"oneway"))
            with pytest.raises(ProducerSendOnewayFailed):
                await producer.send_oneway(message("bad topic name", b"x"))
            assert producer.in_flight == 0
            queues = producer._producer._native.queue_count(topic)
            return keyed, by_arg, by_coroutine, batch, queues

    keyed, by_arg, by_coroutine, batch, queues = run(main())
    assert {r.status for r in keyed + [by_arg, by_coroutine, batch]} == {SendStatus.OK}
    assert len(batch.msg_id.split(",")) == 6

    read = []

    def oneway_stored():  # the one-way send has no answer: read until it is there
        read[:] = pull_all(broker.namesrv_addr, topic)
        return any(m.body == b"oneway" for m in read)

    wait_for(oneway_stored, timeout=30, what="the one-way message")
    msgs = list(read)
    bodies = {m.body: m for m in msgs}
    assert b"oneway" in bodies and b"bad" not in bodies
    # One key, one queue, in send order.
    keyed_msgs = sorted((m for m in msgs if m.body.startswith(b"k-")), key=lambda m: m.queue_offset)
    assert len({m.queue_id for m in keyed_msgs}) == 1
    assert [m.body for m in keyed_msgs] == [b"k-%d" % i for i in range(10)]
    assert bodies[b"last"].queue_id == queues - 1
    assert bodies[b"arg"].queue_id == 5 % queues
    assert sorted(m.body for m in msgs if m.body.startswith(b"b-")) == [
        b"b-%d" % i for i in range(6)
    ]


@pytest.fixture(scope="module")
def tx_broker(broker_factory):
    with broker_factory(transaction_check_interval_ms=200, transaction_timeout_ms=300) as b:
        yield b


def test_transactions_with_coroutine_local_transactions_and_check_backs(tx_broker, caplog):
    caplog.set_level(logging.ERROR, logger="rocketmq")
    topic = unique("AioTx")

    async def main():
        loop_thread = threading.get_ident()
        checked = []

        async def check(msg):
            assert threading.get_ident() == loop_thread, "check-backs run on the loop"
            checked.append(msg.body)
            await asyncio.sleep(0)
            return TransactionStatus.COMMIT if msg.body == b"unknown-commit" else 1

        local_runs = []

        async def local(msg, arg):
            assert threading.get_ident() == loop_thread
            local_runs.append((msg.body, arg, msg.topic, msg.id))
            await asyncio.sleep(0)
            if msg.body == b"raises":
                raise RuntimeError("local transaction failed on purpose")
            return {
                b"commit": TransactionStatus.COMMIT,
                b"rollback": TransactionStatus.ROLLBACK,
            }.get(msg.body, TransactionStatus.UNKNOWN)

        producer = TransactionMQProducer(unique("TxG"), check, namesrv_addr=tx_broker.namesrv_addr)
        async with producer:
            results = {}
            for body in (b"commit", b"rollback", b"unknown-commit", b"raises"):
                results[body] = await producer.send_message_in_transaction(
                    message(topic, body), local, "arg"
                )
            # A plain function works too.
            results[b"plain"] = await producer.send_message_in_transaction(
                message(topic, b"plain"), lambda m, a: TransactionStatus.COMMIT
            )
            with pytest.raises(ProducerSendTransactionFailed):
                await producer.send_message_in_transaction(message("bad topic", b"x"), local)
            with pytest.raises(TypeError, match="local_execute"):
                await producer.send_message_in_transaction(message(topic, b"x"), None)

            def stored():
                return {m.body for m in pull_all(tx_broker.namesrv_addr, topic)}

            loop = asyncio.get_running_loop()
            seen = set()

            async def settled():
                seen.update(await loop.run_in_executor(None, stored))
                return {b"commit", b"unknown-commit", b"plain"} <= seen and {
                    b"unknown-commit",
                    b"raises",
                } <= set(checked)

            for _ in range(600):
                if await settled():
                    break
                await asyncio.sleep(0.05)
        return results, local_runs, checked, seen

    results, local_runs, checked, stored = run(main(), timeout=60)
    assert all(r.status == SendStatus.OK for r in results.values())
    assert [(b, a) for b, a, _, _ in local_runs] == [
        (b"commit", "arg"),
        (b"rollback", "arg"),
        (b"unknown-commit", "arg"),
        (b"raises", "arg"),
    ]
    assert all(t == topic and i for _, _, t, i in local_runs)
    # Committed ones are delivered; rolled back and UNKNOWN-then-rolled-back ones are not.
    assert stored == {b"commit", b"unknown-commit", b"plain"}
    assert b"commit" not in checked and b"rollback" not in checked


def test_a_check_back_whose_loop_is_gone_is_unknown(tx_broker):
    async def never(msg):
        raise AssertionError("not called")

    half = types.SimpleNamespace(id="0A000001", body=b"x")
    producer = TransactionMQProducer(unique("TxG"), never, namesrv_addr=tx_broker.namesrv_addr)
    # Not started on a loop: the check-back cannot run there and answers UNKNOWN.
    assert producer._checker(half) == TransactionStatus.UNKNOWN

    async def main():
        await producer.start()
        await producer.shutdown()

    run(main())
    assert producer._checker(half) == TransactionStatus.UNKNOWN  # that loop is closed
