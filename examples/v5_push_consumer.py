"""Consume with the RocketMQ 5.x API's PushConsumer: the listener runs on consumption threads.

    ROCKETMQ_ENDPOINT=127.0.0.1:8081 TOPIC=YourTopic GROUP=YourGroup COUNT=3 \\
        python examples/v5_push_consumer.py

Stops once COUNT messages were consumed (or after 60 s).
"""

import os
import threading

from rocketmq import (
    ClientConfiguration,
    ConsumeResult,
    Credentials,
    FilterExpression,
    MessageListener,
    PushConsumer,
)

endpoint = os.environ.get("ROCKETMQ_ENDPOINT", "127.0.0.1:8081")
topic = os.environ.get("TOPIC", "TopicTest")
group = os.environ.get("GROUP", "GroupTest")
count = int(os.environ.get("COUNT", "3"))


class Listener(MessageListener):
    def __init__(self):
        self.lock = threading.Lock()
        self.consumed = 0
        self.done = threading.Event()

    def consume(self, message):
        print(f"consumed {message.message_id} {message.body!r}", flush=True)
        with self.lock:
            self.consumed += 1
            if self.consumed >= count:
                self.done.set()
        return ConsumeResult.SUCCESS


listener = Listener()
config = ClientConfiguration(endpoint, Credentials())
with PushConsumer(config, group, listener, {topic: FilterExpression()}):
    listener.done.wait(60)
print(f"consumed {listener.consumed} messages")
