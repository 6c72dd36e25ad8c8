"""Send and receive through the bundled broker: nothing to install but this package.

    python examples/quickstart.py

The consumer's callback runs on the consumer's threads; it only hands each message over, and
this script's main thread does all the printing, so every line comes out whole and in order.
"""

import queue

from rocketmq.broker import LocalBroker
from rocketmq.client import ConsumeStatus, Message, Producer, PushConsumer

COUNT = 10

with LocalBroker(namesrv_port=0, broker_port=0) as broker:
    print("broker running; name server at", broker.namesrv_addr)

    arrivals = queue.Queue()

    def on_message(msg):
        arrivals.put(msg)  # from a consumer thread: no printing here
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
    received = []
    try:
        while len(received) < COUNT:
            received.append(arrivals.get(timeout=30))
    except queue.Empty:
        raise SystemExit("only %d of %d messages arrived" % (len(received), COUNT)) from None
    finally:
        consumer.shutdown()
    # The topic has several queues, so arrival order is not send order: print by key.
    for msg in sorted(received, key=lambda m: int(m.keys.decode().split("-")[1])):
        print("received", msg.id, msg.keys.decode(), msg.tags.decode(), msg.body)
    print("round trip OK: sent and received %d messages" % COUNT)
