"""One RocketMQ 5 client case, run in a fresh process by ``v5_bench.py``. Written against the
official 5.x Python API only (``from rocketmq import Producer, SimpleConsumer, ...``), so the
same file runs on the official ``rocketmq-python-client`` (its own virtualenv) and on this
package: the interpreter decides which client is measured.

    python v5_worker.py CASE '{"endpoint": "127.0.0.1:PORT", "topic": ..., ...}'

Cases: ``send`` (one thread, one send at a time), ``send_async`` (one thread, up to
``window`` futures in flight), ``receive_ack`` (a SimpleConsumer receiving 32 at a time and
acking each message, until ``messages`` were received). Prints ``RESULT {json}`` with the
measured ``seconds`` (start-up excluded) and ``messages``.
"""

import json
import logging
import sys
import time
from concurrent.futures import wait

from rocketmq import ClientConfiguration, Credentials, FilterExpression, Message, Producer

#: How long one case may take in all; the bench process also kills a worker after its own limit.
CASE_DEADLINE = 300.0


def config(args):
    return ClientConfiguration(args["endpoint"], Credentials())


def message(args, body):
    msg = Message()
    msg.topic = args["topic"]
    msg.body = body
    msg.tag = "bench"
    return msg


def case_send(args):
    producer = Producer(config(args), (args["topic"],))
    producer.startup()
    try:
        body = b"x" * args["body"]
        producer.send(message(args, body))  # warm-up: route and connection
        started = time.perf_counter()
        for _ in range(args["messages"]):
            producer.send(message(args, body))
        return time.perf_counter() - started
    finally:
        producer.shutdown()


def case_send_async(args):
    producer = Producer(config(args), (args["topic"],))
    producer.startup()
    try:
        body = b"x" * args["body"]
        producer.send(message(args, body))
        window = args.get("window", 64)
        started = time.perf_counter()
        pending = set()
        for _ in range(args["messages"]):
            if len(pending) >= window:
                done, pending = wait(pending, timeout=CASE_DEADLINE, return_when="FIRST_COMPLETED")
                for future in done:
                    future.result()
            pending.add(producer.send_async(message(args, body)))
        done, pending = wait(pending, timeout=CASE_DEADLINE)
        if pending:
            raise RuntimeError("%d sends never completed" % len(pending))
        for future in done:
            future.result()
        return time.perf_counter() - started
    finally:
        producer.shutdown()


def case_receive_ack(args):
    from rocketmq import SimpleConsumer

    consumer = SimpleConsumer(
        config(args), args["group"], {args["topic"]: FilterExpression()}, await_duration=5
    )
    consumer.startup()
    try:
        seen = set()
        deadline = time.monotonic() + CASE_DEADLINE
        started = time.perf_counter()
        while len(seen) < args["messages"] and time.monotonic() < deadline:
            for msg in consumer.receive(32, 30) or []:
                consumer.ack(msg)
                seen.add(msg.message_id)
        if len(seen) < args["messages"]:
            raise RuntimeError("received %d of %d" % (len(seen), args["messages"]))
        return time.perf_counter() - started
    finally:
        consumer.shutdown()


def main():
    logging.basicConfig(level=logging.WARNING)
    case, args = sys.argv[1], json.loads(sys.argv[2])
    seconds = {"send": case_send, "send_async": case_send_async, "receive_ack": case_receive_ack}[
        case
    ](args)
    print("RESULT " + json.dumps({"seconds": seconds, "messages": args["messages"]}), flush=True)


if __name__ == "__main__":
    main()
