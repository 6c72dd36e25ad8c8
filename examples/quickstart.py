"""Send and receive through the bundled broker: nothing to install but this package.

    python examples/quickstart.py
"""

import threading

from rocketmq.broker import LocalBroker
from rocketmq.client import ConsumeStatus, Message, Producer, PushConsumer

COUNT = 10

with LocalBroker(namesrv_port=0, broker_port=0) as broker:
    print("broker running; name server at", broker.namesrv_addr)

    received = []
    all_received = threading.Event()

    def on_message(msg):
        received.append(msg)
        print("received", msg.id, msg.tags, msg.body)
        if len(received) >= COUNT:
            all_received.set()
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = PushConsumer("quickstart-consumers")
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.subscribe("QuickStart", on_message)

    producer = Producer("quickstart-producers")
    producer.set_namesrv_addr(broker.namesrv_addr)
    with producer:
        for i in range(COUNT):
            msg = Message("QuickStart")
            msg.set_tags("demo")
            msg.set_keys("key-%d" % i)
            msg.set_body("hello %d" % i)
            result = producer.send_sync(msg)
            print("sent", result.msg_id, result.status.name, "queue offset", result.offset)

    # A new group starts from the first message of a young topic, so it sees all ten.
    consumer.start()
    if not all_received.wait(timeout=30):
        raise SystemExit("only %d of %d messages arrived" % (len(received), COUNT))
    consumer.shutdown()
    print("round trip OK: sent and received %d messages" % COUNT)
