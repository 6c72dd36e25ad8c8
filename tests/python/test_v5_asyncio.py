"""The 5.x API for asyncio (``rocketmq.v5.aio``) against a RocketMQ 5 endpoint (v5tools): an
awaited send, receive and ack, and a transaction committed, while the event loop keeps
running other tasks."""

from __future__ import annotations

import asyncio

import pytest
from v5tools import v5_endpoint_fixture  # noqa: F401 (fixture)

from rocketmq import (
    ClientConfiguration,
    Credentials,
    FilterExpression,
    Message,
    TransactionChecker,
    TransactionResolution,
)
from rocketmq.v5.aio import Producer, SimpleConsumer

pytestmark = pytest.mark.timeout(180)


class NeverAsked(TransactionChecker):
    def check(self, message):
        return TransactionResolution.ROLLBACK


def test_send_receive_ack_and_a_transaction_are_awaited(v5_endpoint):
    normal = v5_endpoint.topic()
    tx_topic = v5_endpoint.topic("TRANSACTION")
    group = v5_endpoint.group()
    config = ClientConfiguration(v5_endpoint.endpoint, Credentials())

    def message(topic, body):
        m = Message()
        m.topic = topic
        m.body = body
        return m

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        async with Producer(config, topics=[normal, tx_topic], checker=NeverAsked()) as p:
            receipts = await asyncio.gather(
                *(p.send(message(normal, b"a%d" % i)) for i in range(5))
            )
            assert len({r.message_id for r in receipts}) == 5
            tx = p.begin_transaction()
            await p.send_transactional(message(tx_topic, b"half"), tx)
            await p.commit(tx)
        subs = {normal: FilterExpression(), tx_topic: FilterExpression()}
        async with SimpleConsumer(config, group, subs, await_duration=5) as c:
            bodies = []
            for _ in range(40):
                if len(bodies) >= 6:
                    break
                for m in await c.receive(8, 30):
                    bodies.append(m.body)
                    await c.ack(m)
            # Nothing is left, so this receive long-polls; the loop keeps running meanwhile
            # (no await between its end and the check, so only a concurrent tick counts).
            tick_task = asyncio.ensure_future(ticker())
            await asyncio.sleep(0)
            before = ticks
            assert await c.receive(1, 10) == []
            ran_meanwhile = ticks > before
            tick_task.cancel()
        return sorted(bodies), ran_meanwhile

    bodies, ran_meanwhile = asyncio.run(main())
    assert bodies == [b"a0", b"a1", b"a2", b"a3", b"a4", b"half"]
    assert ran_meanwhile, "the event loop was blocked during a receive"
