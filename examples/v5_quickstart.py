"""The RocketMQ 5.x API against the bundled broker's gRPC endpoint: nothing to install but
this package.

    python examples/v5_quickstart.py

Sends three messages with the 5.x Producer, receives and acks them with a SimpleConsumer.
"""

from rocketmq import (
    ClientConfiguration,
    Credentials,
    FilterExpression,
    Message,
    Producer,
    SimpleConsumer,
)
from rocketmq.broker import LocalBroker

COUNT = 3

with LocalBroker(namesrv_port=0, broker_port=0, grpc_port=0) as broker:
    print("broker running; gRPC endpoint at", broker.grpc_endpoint)
    config = ClientConfiguration(broker.grpc_endpoint, Credentials())

    with Producer(config, topics=["QuickStartV5"]) as producer:
        for i in range(COUNT):
            msg = Message()
            msg.topic = "QuickStartV5"
            msg.body = f"hello {i}".encode()
            msg.keys = f"key-{i}"
            print("sent", producer.send(msg).message_id)

    subscription = {"QuickStartV5": FilterExpression()}
    with SimpleConsumer(config, "quickstart-v5", subscription, await_duration=5) as consumer:
        received = 0
        for _ in range(10):
            for msg in consumer.receive(COUNT, 30):
                print("received", msg.message_id, sorted(msg.keys), msg.body)
                consumer.ack(msg)
                received += 1
            if received >= COUNT:
                break
    print(f"round trip OK: sent and received {received} messages")
