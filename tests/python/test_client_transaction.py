"""TransactionMQProducer against the bundled broker (check-backs every 200 ms, after 300 ms):
commit, rollback, UNKNOWN settled by the checker, callback errors, and send failures."""

import logging
import threading
import time
from collections import Counter

import pytest
from clienttools import unique, wait_for

import rocketmq.client
from rocketmq.client import (
    Message,
    Producer,
    PushConsumer,
    ReceivedMessage,
    SendStatus,
    TransactionMQProducer,
    TransactionStatus,
)
from rocketmq.exceptions import (
    ProducerException,
    ProducerSendTransactionFailed,
    RocketMQException,
)


@pytest.fixture(scope="module")
def broker(broker_factory):
    with broker_factory(transaction_check_interval_ms=200, transaction_timeout_ms=300) as b:
        yield b


def message(topic, body):
    m = Message(topic)
    m.set_keys("k-" + body)
    m.set_tags("TagT")
    m.set_body(body)
    return m


class Checker:
    """Answers check-backs from a table of body -> status (or an exception to raise)."""

    def __init__(self, answers):
        self.answers = answers
        self.lock = threading.Lock()
        self.calls = []  # (body, ReceivedMessage, thread id)

    def __call__(self, msg):
        with self.lock:
            self.calls.append((msg.body.decode(), msg, threading.get_ident()))
        answer = self.answers.get(msg.body.decode(), TransactionStatus.ROLLBACK)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def checked(self, body):
        with self.lock:
            return [c for c in self.calls if c[0] == body]


def test_outcomes_of_local_transactions_and_check_backs(broker, caplog):
    caplog.set_level(logging.ERROR, logger="rocketmq")
    topic = unique("TxTopic")
    checker = Checker(
        {
            "unknown-commit": TransactionStatus.COMMIT,
            "raises-commit": TransactionStatus.COMMIT,
            "invalid-commit": 0,  # plain ints are accepted
            "unknown-rollback": TransactionStatus.ROLLBACK,
            "checker-raises": RuntimeError("checker failed on purpose"),
        }
    )
    producer = TransactionMQProducer(unique("TxGroup"), checker)
    assert isinstance(producer, Producer)
    producer.set_name_server_address(broker.namesrv_addr)
    producer.start()

    received = Counter()
    lock = threading.Lock()

    def on_message(msg):
        with lock:
            received[msg.body.decode()] += 1

    consumer = PushConsumer(unique("TxConsumers"))
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.set_consume_from_first_offset()
    try:
        # A plain send through the transactional producer creates the topic.
        assert producer.send_sync(message(topic, "plain")).status == SendStatus.OK
        consumer.subscribe(topic, on_message)
        consumer.start()
        wait_for(lambda: received["plain"] == 1, what="the plain message")

        caller = threading.get_ident()
        user_args = object()
        executed = []

        def local_execute(msg, args):
            body = msg.body.decode()
            executed.append((body, msg, args, threading.get_ident()))
            if body == "raises-commit":
                raise ValueError("local transaction failed on purpose")
            if body == "invalid-commit":
                return None
            if body == "commit":
                return TransactionStatus.COMMIT
            if body == "rollback":
                return TransactionStatus.ROLLBACK
            return TransactionStatus.UNKNOWN

        bodies = [
            "commit",
            "rollback",
            "unknown-commit",
            "raises-commit",
            "invalid-commit",
            "unknown-rollback",
            "checker-raises",
        ]
        results = {}
        for body in bodies:
            r = producer.send_message_in_transaction(message(topic, body), local_execute, user_args)
            assert r.status == SendStatus.OK
            results[body] = r

        # local_execute ran once per message, on this thread, with a view of the outgoing
        # message and the user's argument unchanged.
        assert [e[0] for e in executed] == bodies
        for body, view, args, thread in executed:
            assert isinstance(view, ReceivedMessage)
            assert args is user_args
            assert thread == caller
            assert view.topic == topic
            assert view.id == results[body].msg_id
            assert view.keys == b"k-" + body.encode()
            assert view.tags == b"TagT"
            assert view.get_property("TRAN_MSG") == b"true"

        settled = ["unknown-commit", "raises-commit", "invalid-commit", "unknown-rollback"]
        wait_for(
            lambda: (
                all(received[b] == 1 for b in ("commit", "unknown-commit", "raises-commit"))
                and received["invalid-commit"] == 1
                and all(checker.checked(b) for b in settled)
                and len(checker.checked("checker-raises")) >= 2
            ),
            what="commits, check-backs, and a repeated check of the failing checker",
        )
        # Absence can only be observed over a window: a few more check passes.
        time.sleep(1.0)
        with lock:
            got = dict(received)
        assert got == {
            "plain": 1,
            "commit": 1,
            "unknown-commit": 1,
            "raises-commit": 1,
            "invalid-commit": 1,
        }

        # Only undecided messages were checked back, on a library thread, with the message.
        for body in ("commit", "rollback", "plain"):
            assert not checker.checked(body), body
        # (A check whose answer is still on its way when the next pass runs is asked again,
        # as with the Java broker; the outcome stays the first decision.)
        for body in settled:
            for _, msg, thread in checker.checked(body):
                assert thread != caller
                assert msg.topic == topic
                assert msg.id == results[body].msg_id
                assert msg.keys == b"k-" + body.encode()
                assert msg.get_property("PGROUP") == producer._group.encode()

        # Callback errors were logged with their traceback.
        texts = "\n".join(r.getMessage() for r in caplog.records)
        assert "local transaction failed on purpose" in caplog.text
        assert "checker failed on purpose" in caplog.text
        assert "returned None" in texts
    finally:
        consumer.shutdown()
        producer.shutdown()


def test_transactional_send_failures(broker):
    checker = Checker({})
    calls = []

    def local_execute(msg, args):
        calls.append(msg)
        return TransactionStatus.COMMIT

    producer = TransactionMQProducer(unique("TxFail"), checker)
    # Not started.
    with pytest.raises(ProducerSendTransactionFailed):
        producer.send_message_in_transaction(message(unique("T"), "x"), local_execute)
    assert issubclass(ProducerSendTransactionFailed, ProducerException)
    assert issubclass(ProducerSendTransactionFailed, RocketMQException)

    # No name server answers: the half-message send fails; no local transaction.
    producer.set_namesrv_addr("127.0.0.1:1")
    producer.set_timeout(500)
    producer.start()
    try:
        with pytest.raises(ProducerSendTransactionFailed):
            producer.send_message_in_transaction(message(unique("T"), "x"), local_execute)
        with pytest.raises(TypeError):
            producer.send_message_in_transaction("not a message", local_execute)
    finally:
        producer.shutdown()
    assert calls == []
    with pytest.raises(TypeError):
        TransactionMQProducer(unique("TxFail"), "not callable")


def test_constructor_and_exports(broker):
    assert "TransactionMQProducer" in rocketmq.client.__all__
    p = TransactionMQProducer(
        unique("TxCtor"), Checker({}), user_args=42, timeout=1234, max_message_size=1000
    )
    assert p._timeout == 1234
    assert p._max_message_size == 1000
    assert p._orderly is False
    p.set_name_server_address(broker.namesrv_addr)
    with p:
        topic = unique("T")
        r = p.send_message_in_transaction(
            message(topic, "ctx"), lambda m, a: TransactionStatus.ROLLBACK
        )
        assert r.status == SendStatus.OK
        assert r.msg_id
    # A group can be used again after shutdown.
    again = TransactionMQProducer(p._group, Checker({}))
    again.set_name_server_address(broker.namesrv_addr)
    again.start()
    again.shutdown()
