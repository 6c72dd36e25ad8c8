"""asyncio API: sends, pulls and transactions that are awaited instead of blocking a thread,
and consumer callbacks that are coroutines.

    from rocketmq.asyncio import Producer, PullConsumer, PushConsumer
    from rocketmq.client import Message

    async with Producer("my-producers", namesrv_addr="127.0.0.1:9876") as producer:
        result = await producer.send(msg)               # a SendResult, or raises
        results = await producer.send_many(messages)    # concurrently, results in order
        await producer.send_orderly_with_sharding_key(msg, "order-42")
        await producer.send_batch([msg1, msg2])
        await producer.send_oneway(msg)

    async with PullConsumer("my-readers", namesrv_addr="127.0.0.1:9876") as consumer:
        async for msg in consumer.pull("OrderEvents"):      # what is there, then it ends
            ...
        async for batch in consumer.stream("OrderEvents"):  # long polling, for ever
            ...

    async def on_message(msg):                          # runs on the event loop
        ...                                             # None: consumed; raise: redelivered

    consumer = PushConsumer("my-consumers", namesrv_addr="127.0.0.1:9876")
    consumer.subscribe("OrderEvents", on_message)
    async with consumer:
        ...

Nothing blocks the event loop: every call starts on the library's own threads, and its
outcome comes back to the loop; outcomes that arrive together resolve their futures in one
loop callback. At most ``max_in_flight`` sends of a producer run at once; further sends wait
(asynchronously) for a slot. ``TransactionMQProducer.send_message_in_transaction`` awaits a
local transaction that may be a coroutine function, and runs the broker's check-backs on the
loop. Configure a client with the same ``set_*`` methods as its ``rocketmq.client`` twin
before ``start()``. A consumer still running when its loop shuts down (the end of
``asyncio.run``) is shut down with it.

What must stay true: the public names below stay importable from ``rocketmq.asyncio``.
"""

from ._producer import Producer, TransactionMQProducer
from ._pull import PullConsumer
from ._push import PushConsumer

__all__ = ["Producer", "PullConsumer", "PushConsumer", "TransactionMQProducer"]
