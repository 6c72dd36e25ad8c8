"""Normal messages with the RocketMQ 5.x API: a Producer sends with ``send`` and
``send_async`` (tag, keys, user properties), a SimpleConsumer subscribed by tag receives and
acks them; a message of another tag is sent too and must not reach it.

Arguments: endpoint, topic, group, count. Records: sent (body, message_id, offset),
received (every field the tests compare), acked, done."""

from flow_io import arguments, deadline, receive_and_ack, record

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
consumer = SimpleConsumer(
    config, args["group"], {topic: FilterExpression("TagA")}, await_duration=5
)
producer = Producer(config, (topic,))
consumer.startup()
producer.startup()
try:
    for i in range(args["count"]):
        message = Message()
        message.topic = topic
        message.body = f"normal-{i}".encode("utf-8")
        message.tag = "TagA"
        message.keys = f"key-{i}"
        message.add_property("seq", str(i))
        message.add_property("text", "h\u00e9llo \u4e16\u754c")
        if i % 2 == 0:
            receipt = producer.send(message)
        else:
            receipt = producer.send_async(message).result(timeout=30)
        record("sent", body=f"normal-{i}", message_id=receipt.message_id, offset=receipt.offset)
    other = Message()
    other.topic = topic
    other.body = b"other-tag"
    other.tag = "TagB"
    receipt = producer.send(other)
    record("sent", body="other-tag", message_id=receipt.message_id, offset=receipt.offset)
    receive_and_ack(consumer, args["count"], deadline(args.get("seconds", 60)))
finally:
    producer.shutdown()
    consumer.shutdown()
record("done")
