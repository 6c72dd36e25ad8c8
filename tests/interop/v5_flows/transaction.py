"""Transactional messages with the RocketMQ 5.x API: a Producer with a TransactionChecker
sends four half messages to a TRANSACTION topic; it commits the first and rolls back the
second itself, and leaves the other two open, so the server checks them back through the
telemetry stream, and the checker answers COMMIT for one and ROLLBACK for the other. Then a
SimpleConsumer must receive exactly the two committed ones.

Arguments: endpoint, topic, group. Records: sent (body, message_id, transaction_id),
ended (body, resolution), checked (body, message_id, answer), received, acked, done."""

import threading

from flow_io import arguments, before, deadline, receive_and_ack, record, text

from rocketmq import (
    ClientConfiguration,
    Credentials,
    FilterExpression,
    Message,
    Producer,
    SimpleConsumer,
    TransactionChecker,
    TransactionResolution,
)

ANSWERS = {
    "check-commit": TransactionResolution.COMMIT,
    "check-rollback": TransactionResolution.ROLLBACK,
}


class Checker(TransactionChecker):
    def __init__(self):
        self.checked = set()
        self.lock = threading.Lock()

    def check(self, message: Message) -> TransactionResolution:
        body = text(message.body)
        answer = ANSWERS.get(body, TransactionResolution.TRANSACTION_RESOLUTION_UNSPECIFIED)
        record(
            "checked",
            body=body,
            message_id=message.message_id,
            answer=TransactionResolution.Name(answer),
        )
        with self.lock:
            self.checked.add(body)
        return answer


args = arguments()
config = ClientConfiguration(args["endpoint"], Credentials())
topic = args["topic"]
checker = Checker()
consumer = SimpleConsumer(config, args["group"], {topic: FilterExpression()}, await_duration=3)
producer = Producer(config, (topic,), checker=checker)
consumer.startup()
producer.startup()
try:
    for body in ("commit", "rollback", "check-commit", "check-rollback"):
        transaction = producer.begin_transaction()
        message = Message()
        message.topic = topic
        message.body = body.encode("utf-8")
        message.tag = "TagT"
        message.keys = f"key-{body}"
        receipt = producer.send(message, transaction)
        record(
            "sent", body=body, message_id=receipt.message_id, transaction_id=receipt.transaction_id
        )
        if body == "commit":
            transaction.commit()
            record("ended", body=body, resolution="COMMIT")
        elif body == "rollback":
            transaction.rollback()
            record("ended", body=body, resolution="ROLLBACK")
    limit = deadline(args.get("seconds", 60))
    receive_and_ack(consumer, 2, limit)
    while len(checker.checked) < 2 and before(limit):
        receive_and_ack(consumer, 1, deadline(1))
    # Both check-backs answered; one more receive: a rolled-back message must not come.
    receive_and_ack(consumer, 1, deadline(2))
finally:
    producer.shutdown()
    consumer.shutdown()
record("done")
