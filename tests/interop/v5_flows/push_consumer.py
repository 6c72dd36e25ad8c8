"""PushConsumer with the RocketMQ 5.x API: a MessageListener consumes messages sent by a
Producer; it answers FAILURE to the first delivery of one message, which must come back with
a higher delivery attempt, and SUCCESS to everything else.

Arguments: endpoint, topic, group, count. Records: sent, consumed (every field the tests
compare, plus the listener's answer), done."""

import threading
import time

from flow_io import arguments, before, deadline, received_fields, record, text

from rocketmq import (
    ClientConfiguration,
    ConsumeResult,
    Credentials,
    FilterExpression,
    Message,
    MessageListener,
    Producer,
    PushConsumer,
)


class Listener(MessageListener):
    def __init__(self):
        self.succeeded = set()
        self.lock = threading.Lock()

    def consume(self, message: Message) -> ConsumeResult:
        body = text(message.body)
        fail = body == "push-0" and message.delivery_attempt == 1
        answer = ConsumeResult.FAILURE if fail else ConsumeResult.SUCCESS
        record("consumed", answer=answer.name, **received_fields(message))
        if not fail:
            with self.lock:
                self.succeeded.add(body)
        return answer


args = arguments()
config = ClientConfiguration(args["endpoint"], Credentials())
topic = args["topic"]
listener = Listener()
consumer = PushConsumer(
    config, args["group"], listener, {topic: FilterExpression()}, consumption_thread_count=4
)
producer = Producer(config, (topic,))
consumer.startup()
producer.startup()
try:
    for i in range(args["count"]):
        message = Message()
        message.topic = topic
        message.body = f"push-{i}".encode("utf-8")
        message.tag = "TagP"
        receipt = producer.send(message)
        record("sent", body=f"push-{i}", message_id=receipt.message_id)
    limit = deadline(args.get("seconds", 60))
    while len(listener.succeeded) < args["count"] and before(limit):
        time.sleep(0.1)
finally:
    producer.shutdown()
    consumer.shutdown()
record("done")
