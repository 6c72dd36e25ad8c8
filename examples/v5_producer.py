"""Send messages with the RocketMQ 5.x API (the official rocketmq-python-client's names).

    ROCKETMQ_ENDPOINT=127.0.0.1:8081 TOPIC=YourTopic python examples/v5_producer.py

ROCKETMQ_ENDPOINT is a RocketMQ 5 gRPC endpoint: Apache's proxy, a managed service, or the
bundled broker's (``rocketmq-broker --grpc-port 8081``). The topic must exist there.
"""

import os

from rocketmq import ClientConfiguration, Credentials, Message, Producer

endpoint = os.environ.get("ROCKETMQ_ENDPOINT", "127.0.0.1:8081")
topic = os.environ.get("TOPIC", "TopicTest")
count = int(os.environ.get("COUNT", "3"))

config = ClientConfiguration(endpoint, Credentials())
with Producer(config, topics=[topic]) as producer:
    for i in range(count):
        msg = Message()
        msg.topic = topic
        msg.body = f"hello {i}".encode()
        msg.tag = "rocketmq-send-message"
        msg.keys = f"key-{i}"
        msg.add_property("send-by", "v5_producer.py")
        receipt = producer.send(msg)
        print(f"send message {i} success, message_id: {receipt.message_id}")
    future = producer.send_async(msg)
    print(f"send_async success, message_id: {future.result(timeout=10).message_id}")
