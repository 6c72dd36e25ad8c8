"""The 5.x API for asyncio: the same clients, awaited instead of blocking a thread.

    from rocketmq import ClientConfiguration, Credentials, FilterExpression, Message
    from rocketmq.v5.aio import Producer, SimpleConsumer

    async with Producer(config, topics=["OrderEvents"]) as producer:
        receipt = await producer.send(msg)
    async with SimpleConsumer(config, "readers", {"OrderEvents": FilterExpression()}) as c:
        for m in await c.receive(16, 30):
            await c.ack(m)

Constructors take the arguments of the synchronous classes (``rocketmq.v5.producer`` and
``rocketmq.v5.simple_consumer``), whose objects are reachable as ``.sync``.

What must stay true: nothing blocks the event loop. ``send`` and ``ack`` complete through the
native clients' callback thread (no thread of the loop's executor waits); ``startup``,
``shutdown``, ``receive`` and ``change_invisible_duration`` run in the loop's default executor,
where they wait in native code without the GIL.
"""

from __future__ import annotations

import asyncio
from typing import Any, List

from rocketmq.v5 import producer as _producer
from rocketmq.v5 import simple_consumer as _simple
from rocketmq.v5.model import Message, SendReceipt

__all__ = ["Producer", "SimpleConsumer"]


async def _in_executor(fn, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


class Producer:
    """``rocketmq.v5.Producer`` for asyncio."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sync = _producer.Producer(*args, **kwargs)

    async def __aenter__(self) -> "Producer":
        await self.startup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def startup(self) -> None:
        await _in_executor(self.sync.startup)

    async def shutdown(self) -> None:
        await _in_executor(self.sync.shutdown)

    async def send(self, message: Message) -> SendReceipt:
        return await asyncio.wrap_future(self.sync.send_async(message))

    async def send_transactional(
        self, message: Message, transaction: _producer.Transaction
    ) -> SendReceipt:
        """Sends `message` as the half message of `transaction` (``begin_transaction()``)."""
        return await _in_executor(self.sync.send, message, transaction)

    def begin_transaction(self) -> _producer.Transaction:
        return self.sync.begin_transaction()

    async def commit(self, transaction: _producer.Transaction) -> None:
        await _in_executor(transaction.commit)

    async def rollback(self, transaction: _producer.Transaction) -> None:
        await _in_executor(transaction.rollback)


class SimpleConsumer:
    """``rocketmq.v5.SimpleConsumer`` for asyncio."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sync = _simple.SimpleConsumer(*args, **kwargs)

    async def __aenter__(self) -> "SimpleConsumer":
        await self.startup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def startup(self) -> None:
        await _in_executor(self.sync.startup)

    async def shutdown(self) -> None:
        await _in_executor(self.sync.shutdown)

    async def receive(self, max_message_num: int, invisible_duration: float) -> List[Message]:
        return await _in_executor(self.sync.receive, max_message_num, invisible_duration)

    async def ack(self, message: Message) -> None:
        await asyncio.wrap_future(self.sync.ack_async(message))

    async def change_invisible_duration(self, message: Message, invisible_duration: float) -> None:
        await asyncio.wrap_future(
            self.sync.change_invisible_duration_async(message, invisible_duration)
        )
