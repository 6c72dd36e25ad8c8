"""One scenario client, written only against the API that our `rocketmq` package and the
reference wheel (PyPI rocketmq==0.4.4, librocketmq 1.2.3) share, so that the same file runs
under either interpreter. pytest (test_scenarios.py) starts it as a subprocess.

Usage: ``python scenario_driver.py SUBCOMMAND 'JSON-ARGS'``. Every result is one stdout line,
``KEYWORD <json>``, so library noise on stdout cannot be mistaken for a result. The first line
is ``READY {"impl": "ours"|"reference"}`` (pull: ``RESULT`` directly, with "impl").

* ``producer {"namesrv", "group"}``: then one JSON request per stdin line, ``{"mode": "sync" |
  "oneway" | "async" | "orderly" | "sharding_key" | "batch", "messages": [spec...],
  "batch_size": n}``, each answered by ``RESULT {"results": [...]}`` with one ``{"status",
  "msg_id", "offset"}`` or ``{"error"}`` per message. Exits at end of input.
  A spec is ``{"topic", "tags", "keys", "body", "properties": {...}, "arg": int (orderly),
  "sharding_key": str}``. ``sharding_key`` needs ``send_orderly_with_sharding_key``, which only
  our package has.
* ``stream {"namesrv", "group", "topic", "duration", "send_timeout_ms"}``: prints ``READY``,
  then send_sync one message after another (property ``seq`` = 0, 1, ...) until end of input
  on stdin or ``duration`` seconds; each acknowledged send prints ``ACK {"seq", "msg_id",
  "offset"}``, each failed one ``FAIL {"seq", "error"}``; at the end ``DONE {"acked",
  "failed"}``. For scenarios that do something to the broker while a producer is busy.
* ``push {"namesrv", "group", "topic", "expression", "orderly", "broadcasting", "fail",
  "timeout"}``: prints ``READY``, then ``MSG {...}`` per delivery, until end of input on stdin
  (or the timeout); then shuts down and prints ``DONE {"deliveries": n}``. ``fail`` is
  ``"reconsume_later"`` or ``"raise"``: the first delivery of every message (by its ``seq``
  property) returns ConsumeStatus.RECONSUME_LATER, or raises. Only our package can express
  either reliably (the reference ignores the return value, and a raise leaves the status that
  C sees undefined), so the tests use ``fail`` with our package only.
* ``pull {"namesrv", "group", "topic", "expression", "max_num", "offset_file"}``: one pass of
  the ``PullConsumer.pull`` generator; prints ``RESULT {"messages": [...], ...}``. With
  ``offset_file`` the consumer is a subclass that keeps its offsets in that JSON file instead
  of the class attribute ``offset_table`` (the documented way to persist pull offsets).

Bodies are UTF-8 text without NUL bytes: the reference's RecvMessage.body stops at the first
NUL (byte-exact bodies are the interop tests' subject, not this suite's).
"""

import json
import os
import sys
import threading
import time
from pathlib import Path

# The helpers shared with the interop driver (stdlib only): result lines on a descriptor of
# their own, result and error records.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
from driverlib import emit, error_of, flush, result_of, text, wait_for_end_of_input  # noqa: E402

import rocketmq.client
from rocketmq.client import Message, MessageModel, Producer, PullConsumer, PushConsumer

# Our package names the received-message class ReceivedMessage (Apache 2.0 spelling) besides
# RecvMessage; the reference wheel only has RecvMessage. The tests check this so that a run
# meant for one implementation can never silently use the other.
IMPL = "ours" if hasattr(rocketmq.client, "ReceivedMessage") else "reference"

# User properties the scenarios set; consumers report them.
PROPERTY_NAMES = ("seq", "probe", "stream", "key", "note")


def describe(msg):
    """What a consumer reports about one delivered message (public properties only)."""
    properties = {}
    for name in PROPERTY_NAMES:
        value = msg.get_property(name)
        if value:
            properties[name] = text(value)
    return {
        "id": msg.id,
        "topic": msg.topic,
        "tags": text(msg.tags),
        "keys": text(msg.keys),
        "body": text(msg.body),
        "properties": properties,
        "queue_id": msg.queue_id,
        "queue_offset": msg.queue_offset,
        "reconsume_times": msg.reconsume_times,
        "at": time.time(),
    }


def build_message(spec):
    msg = Message(spec["topic"])
    if spec.get("keys"):
        msg.set_keys(spec["keys"])
    if spec.get("tags"):
        msg.set_tags(spec["tags"])
    msg.set_body(spec.get("body", ""))
    for key, value in (spec.get("properties") or {}).items():
        msg.set_property(key, value)
    return msg


def send_async_all(producer, specs, timeout):
    """send_async every message; waits (bounded) until every callback has fired."""
    done = threading.Event()
    outcomes = [None] * len(specs)
    remaining = [len(specs)]
    lock = threading.Lock()

    def finish(index, outcome):
        with lock:
            if outcomes[index] is None:
                remaining[0] -= 1
            outcomes[index] = outcome
            if remaining[0] == 0:
                done.set()

    keep = []  # the reference frees a Message in __del__: keep them until the callbacks ran
    for index, spec in enumerate(specs):
        msg = build_message(spec)
        keep.append(msg)
        try:
            producer.send_async(
                msg,
                lambda res, i=index: finish(i, result_of(res)),
                lambda exc, i=index: finish(i, error_of(exc)),
            )
        except Exception as exc:
            finish(index, error_of(exc))
    if specs and not done.wait(timeout):
        for index, outcome in enumerate(outcomes):
            if outcome is None:
                outcomes[index] = {"error": "no async callback within %ss" % timeout}
    return outcomes


def run_request(producer, request):
    mode = request["mode"]
    specs = request["messages"]
    if mode == "async":
        return send_async_all(producer, specs, float(request.get("timeout", 60)))
    if mode == "batch":
        results = []
        size = int(request.get("batch_size", 10))
        for start in range(0, len(specs), size):
            chunk = [build_message(spec) for spec in specs[start : start + size]]
            try:
                outcome = result_of(producer.send_batch(chunk))
            except Exception as exc:
                outcome = error_of(exc)
            results.extend([outcome] * len(chunk))
        return results
    results = []
    for spec in specs:
        msg = build_message(spec)
        try:
            if mode == "sync":
                results.append(result_of(producer.send_sync(msg)))
            elif mode == "oneway":
                producer.send_oneway(msg)
                results.append({"status": 0, "msg_id": "", "offset": -1})
            elif mode == "orderly":
                # The default queue selector of both: the int argument modulo the queue count.
                results.append(result_of(producer.send_orderly(msg, int(spec["arg"]))))
            elif mode == "sharding_key":
                sent = producer.send_orderly_with_sharding_key(msg, spec["sharding_key"])
                results.append(result_of(sent))
            else:
                raise ValueError("unknown send mode %r" % mode)
        except Exception as exc:
            results.append(error_of(exc))
    return results


def run_producer(args):
    # The reference's librocketmq refuses bodies over 128 KiB by default; the scenarios stay
    # far below, but both take the keyword arguments.
    producer = Producer(args["group"], timeout=int(args.get("send_timeout_ms", 10000)))
    producer.set_namesrv_addr(args["namesrv"])
    producer.start()
    try:
        emit("READY", {"impl": IMPL})
        for line in sys.stdin:
            if line.strip():
                emit("RESULT", {"results": run_request(producer, json.loads(line))})
    finally:
        producer.shutdown()


def run_stream(args):
    producer = Producer(args["group"], timeout=int(args.get("send_timeout_ms", 3000)))
    producer.set_namesrv_addr(args["namesrv"])
    producer.start()
    stop = threading.Event()

    def wait_for_end_of_input():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_end_of_input, daemon=True).start()
    deadline = time.monotonic() + float(args.get("duration", 120))
    acked = failed = 0
    seq = 0
    try:
        emit("READY", {"impl": IMPL})
        while not stop.is_set() and time.monotonic() < deadline:
            msg = build_message(
                {"topic": args["topic"], "body": "stream %d" % seq, "properties": {"seq": str(seq)}}
            )
            try:
                outcome = result_of(producer.send_sync(msg))
            except Exception as exc:
                outcome = None
                failed += 1
                emit("FAIL", {"seq": seq, "error": error_of(exc)["error"], "at": time.time()})
            if outcome is not None:
                acked += 1
                emit("ACK", dict(outcome, seq=seq, at=time.time()))
            seq += 1
    finally:
        producer.shutdown()
    emit("DONE", {"acked": acked, "failed": failed})


def run_push(args):
    model = MessageModel.BROADCASTING if args.get("broadcasting") else MessageModel.CLUSTERING
    consumer = PushConsumer(args["group"], orderly=bool(args.get("orderly")), message_model=model)
    consumer.set_namesrv_addr(args["namesrv"])
    fail = args.get("fail")
    failed_seqs = set()
    lock = threading.Lock()
    deliveries = [0]

    def on_message(msg):
        try:
            record = describe(msg)
        except Exception as exc:  # never raise into the reference's ctypes callback
            emit("ERROR", {"error": error_of(exc)["error"]})
            return None
        seq = record["properties"].get("seq")
        with lock:
            deliveries[0] += 1
            # Probes and the warm-up message (negative seq) are never failed.
            failing = bool(fail) and seq is not None and int(seq) >= 0 and seq not in failed_seqs
            if failing:
                failed_seqs.add(seq)
        record["failed"] = failing
        emit("MSG", record)
        if failing and fail == "raise":
            raise RuntimeError("scenario: failing the first delivery of seq %s" % seq)
        if failing:
            from rocketmq.client import ConsumeStatus  # our package only (see module doc)

            return ConsumeStatus.RECONSUME_LATER
        return None

    consumer.subscribe(args["topic"], on_message, args.get("expression", "*"))
    consumer.start()
    emit("READY", {"impl": IMPL})
    wait_for_end_of_input(float(args.get("timeout", 150)))
    consumer.shutdown()
    emit("DONE", {"deliveries": deliveries[0]})


class FileOffsetPullConsumer(PullConsumer):
    """Keeps pull offsets in a JSON file, like a user keeping them in Redis: overrides the two
    offset hooks and never touches the class attribute ``offset_table``."""

    def __init__(self, group_id, path):
        super().__init__(group_id)
        self.path = path
        self.calls = {"get": 0, "set": 0}
        try:
            with open(path) as f:
                self.offsets = json.load(f)
        except FileNotFoundError:
            self.offsets = {}

    @staticmethod
    def key(mq):
        # mq is the library's message-queue object: topic and brokerName are bytes.
        return "%s@%s@%d" % (text(mq.topic), text(mq.brokerName), mq.queueId)

    def get_message_queue_offset(self, mq):
        self.calls["get"] += 1
        return int(self.offsets.get(self.key(mq), 0))

    def set_message_queue_offset(self, mq, offset):
        self.calls["set"] += 1
        self.offsets[self.key(mq)] = int(offset)
        with open(self.path + ".tmp", "w") as f:
            json.dump(self.offsets, f)
        os.replace(self.path + ".tmp", self.path)


def run_pull(args):
    if args.get("offset_file"):
        consumer = FileOffsetPullConsumer(args["group"], args["offset_file"])
    else:
        consumer = PullConsumer(args["group"])
    consumer.set_namesrv_addr(args["namesrv"])
    consumer.start()
    try:
        messages = [
            describe(msg)
            for msg in consumer.pull(
                args["topic"], args.get("expression", "*"), int(args.get("max_num", 32))
            )
        ]
    finally:
        consumer.shutdown()
    emit(
        "RESULT",
        {
            "impl": IMPL,
            "messages": messages,
            "offsets": getattr(consumer, "offsets", None),
            "calls": getattr(consumer, "calls", None),
            "offset_table_size": len(PullConsumer.offset_table),
        },
    )


def main():
    if os.environ.get("SCENARIO_LOG_LEVEL"):
        # Our package logs through the `rocketmq` logger; the tests' failure reports show it.
        import logging

        logging.basicConfig(
            level=os.environ["SCENARIO_LOG_LEVEL"].upper(),
            format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s",
        )
    if len(sys.argv) != 3:
        sys.exit("usage: scenario_driver.py producer|stream|push|pull JSON-ARGS")
    command, args = sys.argv[1], json.loads(sys.argv[2])
    started = time.monotonic()
    commands = {"producer": run_producer, "stream": run_stream, "push": run_push, "pull": run_pull}
    commands[command](args)
    sys.stderr.write(
        "scenario_driver %s (%s) took %.1fs\n" % (command, IMPL, time.monotonic() - started)
    )
    flush()
    sys.stdout.flush()
    sys.stderr.flush()
    if IMPL == "reference":
        # The clients were shut down explicitly above. The wheel's __del__ methods would shut
        # them down again, and librocketmq's static destructors are known to hang at exit.
        os._exit(0)


if __name__ == "__main__":
    main()
