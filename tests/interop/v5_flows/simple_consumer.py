"""SimpleConsumer receive, ack and change of invisible duration with the RocketMQ 5.x API:
two messages are sent and received; the first is acked, the second has its invisible
duration changed to a few seconds and is not acked, so it comes back with a higher
delivery attempt and is acked then; the first never comes back.

Arguments: endpoint, topic, group, invisible_s (for receive), retry_s (the changed invisible
duration). Records: sent, received, acked, changed (body, seconds), done."""

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
consumer = SimpleConsumer(config, args["group"], {topic: FilterExpression()}, await_duration=3)
producer = Producer(config, (topic,))
consumer.startup()
producer.startup()
try:
    for body in ("acked-at-once", "comes-back"):
        message = Message()
        message.topic = topic
        message.body = body.encode("utf-8")
        receipt = producer.send(message)
        record("sent", body=body, message_id=receipt.message_id)
    returned = False
    limit = deadline(args.get("seconds", 60))
    while not returned and before(limit):
        for message in receive(consumer, 16, args["invisible_s"]):
            body = text(message.body)
            record("received", **received_fields(message))
            if body == "comes-back" and message.delivery_attempt == 1:
                consumer.change_invisible_duration(message, args["retry_s"])
                record("changed", body=body, seconds=args["retry_s"])
            else:
                consumer.ack(message)
                record("acked", body=body)
                returned = returned or body == "comes-back"
finally:
    producer.shutdown()
    consumer.shutdown()
record("done")
