"""Delay (timer) messages with the RocketMQ 5.x API: a Producer sends messages to a DELAY
topic with ``delivery_timestamp`` a few seconds ahead; a SimpleConsumer receives them, and
each received record carries the time it arrived, which the test compares with the
delivery time asked for.

Arguments: endpoint, topic, group, count, delay_ms. Records: sent (body, message_id,
delivery_timestamp, sent_ms), received (with received_ms and delivery_timestamp), acked,
done."""

import time

from flow_io import arguments, before, deadline, receive, received_fields, record, text

from rocketmq import (
    ClientConfiguration,
    Credentials,
    FilterExpression,
    Message,
    Producer,
    SimpleConsumer,
)

args = arguments()
config = ClientConfiguration(args["endpoint"], Credentials())
topic = args["topic"]
consumer = SimpleConsumer(config, args["group"], {topic: FilterExpression()}, await_duration=5)
producer = Producer(config, (topic,))
consumer.startup()
producer.startup()
try:
    for i in range(args["count"]):
        now_ms = int(time.time() * 1000)
        # The 5.x Python API takes the delivery time in whole seconds since the epoch.
        due_s = (now_ms + args["delay_ms"]) // 1000 + 1
        message = Message()
        message.topic = topic
        message.body = f"delay-{i}".encode("utf-8")
        message.delivery_timestamp = due_s
        receipt = producer.send(message)
        record(
            "sent",
            body=f"delay-{i}",
            message_id=receipt.message_id,
            sent_ms=now_ms,
            delivery_timestamp=due_s * 1000,
        )
    received = 0
    limit = deadline(args.get("seconds", 60))
    while received < args["count"] and before(limit):
        for message in receive(consumer, 16, 15):
            record(
                "received",
                delivery_timestamp=message.delivery_timestamp,
                **received_fields(message),
            )
            consumer.ack(message)
            record("acked", body=text(message.body))
            received += 1
finally:
    producer.shutdown()
    consumer.shutdown()
record("done")
