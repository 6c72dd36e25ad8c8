"""Receive and ack messages with the RocketMQ 5.x API's SimpleConsumer.

    ROCKETMQ_ENDPOINT=127.0.0.1:8081 TOPIC=YourTopic GROUP=YourGroup COUNT=3 \\
        python examples/v5_simple_consumer.py

Receives until COUNT messages were acked (each receive waits up to 5 s for messages).
"""

import os
import time

from rocketmq import ClientConfiguration, Credentials, FilterExpression, SimpleConsumer

endpoint = os.environ.get("ROCKETMQ_ENDPOINT", "127.0.0.1:8081")
topic = os.environ.get("TOPIC", "TopicTest")
group = os.environ.get("GROUP", "GroupTest")
count = int(os.environ.get("COUNT", "3"))

config = ClientConfiguration(endpoint, Credentials())
consumer = SimpleConsumer(config, group, {topic: FilterExpression()}, await_duration=5)
consumer.startup()
try:
    acked = 0
    deadline = time.monotonic() + 60
    while acked < count and time.monotonic() < deadline:
        for msg in consumer.receive(32, 15):
            print(f"received {msg.message_id} {msg.body!r} attempt {msg.delivery_attempt}")
            consumer.ack(msg)
            acked += 1
    print(f"acked {acked} messages")
finally:
    consumer.shutdown()
