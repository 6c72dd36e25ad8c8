"""FIFO messages with the RocketMQ 5.x API: a Producer sends a sequence in each of several
message groups to a FIFO topic; a SimpleConsumer of an orderly (FIFO) group receives them,
acking one message at a time, and must see each group's sequence in order.

Arguments: endpoint, topic, group (an orderly group), groups, per_group. Records: sent
(body, message_group, message_id), received, acked, done."""

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
total = args["groups"] * args["per_group"]
try:
    for seq in range(args["per_group"]):
        for g in range(args["groups"]):
            message = Message()
            message.topic = topic
            message.body = f"fifo-{g}-{seq}".encode("utf-8")
            message.message_group = f"order-{g}"
            message.add_property("seq", str(seq))
            receipt = producer.send(message)
            record(
                "sent",
                body=f"fifo-{g}-{seq}",
                message_group=f"order-{g}",
                message_id=receipt.message_id,
            )
    received = 0
    limit = deadline(args.get("seconds", 60))
    while received < total and before(limit):
        for message in receive(consumer, 1, 15):
            record("received", **received_fields(message))
            consumer.ack(message)
            record("acked", body=text(message.body))
            received += 1
finally:
    producer.shutdown()
    consumer.shutdown()
record("done")
