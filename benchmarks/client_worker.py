"""One client benchmark case, run in its own process by bench.py.

The same file drives both clients: ours (run with our virtualenv's python) and the reference
C++ client, PyPI ``rocketmq==0.4.4`` (run with its own virtualenv's python). Both packages are
named ``rocketmq`` and expose the same ``rocketmq.client`` API, so the code below is identical
for the two; only the interpreter differs. That keeps the comparison fair: same loop, same
message, same broker.

Usage: ``python client_worker.py CASE 'JSON-ARGS'``. Prints one line ``RESULT {json}`` with the
figures and the process's peak RSS, then exits with ``os._exit`` (librocketmq's static
destructors are known to hang at interpreter exit).

Cases: ``send_sync`` (``threads``), ``send_async`` (``window`` in flight), ``send_batch``
(``batch`` messages per call), ``fill`` (send ``count`` messages with send_batch, as fast as
possible), ``push`` (drain ``count`` backlog messages into a no-op callback), ``pull`` (read
``count`` messages with ``PullConsumer.pull``), ``tail`` (a push consumer tails a topic while
one producer sends with send_batch; reports both rates).

Every loop is bounded by ``duration`` or ``timeout`` seconds.
"""

import itertools
import json
import os
import sys
import threading
import time

from rocketmq.client import Message, Producer, PullConsumer, PushConsumer
from rocketmq.ffi import _CConsumeStatus  # both packages have it (ours as a shim)

CONSUME_SUCCESS = _CConsumeStatus.CONSUME_SUCCESS


def peak_rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def peek(counter):
    """The value `next(counter)` would return, without consuming it."""
    return int(repr(counter)[len("count(") : -1])


def percentiles(samples):
    if not samples:
        return {}
    samples.sort()
    n = len(samples)

    def at(p):
        return samples[min(n - 1, int(round((n - 1) * p)))] * 1e6

    return {"p50_us": at(0.50), "p99_us": at(0.99), "p999_us": at(0.999)}


def make_message(topic, body):
    msg = Message(topic)
    msg.set_keys("bench")
    msg.set_tags("bench")
    # A body without NUL bytes: the C++ wheel's set_body passes a C string.
    msg.set_body(body)
    return msg


def start_producer(args, suffix=""):
    producer = Producer(args["group"] + suffix, timeout=10000)
    producer.set_namesrv_addr(args["namesrv"])
    producer.start()
    return producer


def warm_up(producer, topic, body):
    # Routes are fetched and connections opened on the first send; keep that out of timing.
    msg = make_message(topic, body)
    for _ in range(20):
        producer.send_sync(msg)


def case_send_sync(args):
    topic, body = args["topic"], b"x" * int(args["body"])
    threads = int(args.get("threads", 1))
    duration = float(args["duration"])
    producer = start_producer(args)
    warm_up(producer, topic, body)
    lat = [[] for _ in range(threads)]
    errors = [0] * threads
    deadline = time.perf_counter() + duration

    def worker(i):
        msg = make_message(topic, body)
        samples = lat[i]
        clock = time.perf_counter
        while True:
            t0 = clock()
            if t0 >= deadline:
                break
            try:
                producer.send_sync(msg)
            except Exception:  # noqa: BLE001 - counted, not fatal
                errors[i] += 1
                continue
            samples.append(clock() - t0)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(duration + 30)
    elapsed = time.perf_counter() - started
    producer.shutdown()
    samples = [s for per in lat for s in per]
    result = {"msgs": len(samples), "seconds": elapsed, "errors": sum(errors)}
    result.update(percentiles(samples))
    return result


def case_send_async(args):
    topic, body = args["topic"], b"x" * int(args["body"])
    window = int(args.get("window", 256))
    duration = float(args["duration"])
    producer = start_producer(args)
    warm_up(producer, topic, body)
    slots = threading.BoundedSemaphore(window)
    lock = threading.Lock()
    samples = []
    errors = [0]
    clock = time.perf_counter
    msgs = [make_message(topic, body) for _ in range(window)]

    def on_success(t0):
        def done(_result):
            elapsed = clock() - t0
            with lock:
                samples.append(elapsed)
            slots.release()

        return done

    def on_error(_exc):
        with lock:
            errors[0] += 1
        slots.release()

    started = clock()
    deadline = started + duration
    i = 0
    while clock() < deadline:
        if not slots.acquire(timeout=1.0):
            continue
        producer.send_async(msgs[i % window], on_success(clock()), on_error)
        i += 1
    # Wait (bounded) for every callback, so the count covers only answered sends.
    for _ in range(window):
        if not slots.acquire(timeout=10.0):
            break
    elapsed = clock() - started
    producer.shutdown()
    with lock:
        got = list(samples)
    result = {"msgs": len(got), "seconds": elapsed, "errors": errors[0], "submitted": i}
    result.update(percentiles(got))
    return result


def case_send_batch(args):
    topic, body = args["topic"], b"x" * int(args["body"])
    batch = int(args.get("batch", 32))
    duration = float(args["duration"])
    producer = start_producer(args)
    warm_up(producer, topic, body)
    msgs = [make_message(topic, body) for _ in range(batch)]
    samples = []
    errors = 0
    clock = time.perf_counter
    started = clock()
    deadline = started + duration
    while True:
        t0 = clock()
        if t0 >= deadline:
            break
        try:
            producer.send_batch(msgs)
        except Exception:  # noqa: BLE001 - counted, not fatal
            errors += 1
            continue
        samples.append(clock() - t0)
    elapsed = clock() - started
    producer.shutdown()
    result = {"msgs": len(samples) * batch, "calls": len(samples), "seconds": elapsed}
    result["errors"] = errors
    result.update(percentiles(samples))
    return result


def case_fill(args):
    topic, body = args["topic"], b"x" * int(args["body"])
    count, batch = int(args["count"]), int(args.get("batch", 32))
    timeout = float(args.get("timeout", 120))
    producer = start_producer(args)
    msgs = [make_message(topic, body) for _ in range(batch)]
    sent = 0
    started = time.perf_counter()
    while sent < count and time.perf_counter() - started < timeout:
        n = min(batch, count - sent)
        producer.send_batch(msgs[:n])
        sent += n
    elapsed = time.perf_counter() - started
    producer.shutdown()
    return {"msgs": sent, "seconds": elapsed}


def case_push(args):
    """Drains `count` stored messages into a callback that does nothing but count."""
    topic, count = args["topic"], int(args["count"])
    timeout = float(args.get("timeout", 60))
    consumer = PushConsumer(args["group"])
    consumer.set_namesrv_addr(args["namesrv"])
    if args.get("thread_count"):
        consumer.set_thread_count(int(args["thread_count"]))
    if args.get("batch_max_size"):
        consumer.set_message_batch_max_size(int(args["batch_max_size"]))
    counter = itertools.count(1)
    marks = {}
    clock = time.perf_counter

    def on_message(_msg):
        n = next(counter)  # atomic under the GIL
        if n == 1:
            marks["first"] = clock()
        elif n == count:
            marks["last"] = clock()
        return CONSUME_SUCCESS

    consumer.subscribe(topic, on_message)
    started = clock()
    consumer.start()
    deadline = started + timeout
    while "last" not in marks and clock() < deadline:
        time.sleep(0.005)
    delivered = peek(counter) - 1
    end = marks.get("last", clock())
    first = marks.get("first", end)
    consumer.shutdown()
    return {
        "msgs": delivered,
        "complete": "last" in marks,
        "seconds": max(end - first, 1e-9),
        "startup_s": first - started,
    }


def case_pull(args):
    topic, count = args["topic"], int(args["count"])
    timeout = float(args.get("timeout", 60))
    consumer = PullConsumer(args["group"])
    consumer.set_namesrv_addr(args["namesrv"])
    consumer.start()
    consumer.offset_table = {}  # the class attribute is shared; start from 0 in this process
    got = 0
    started = time.perf_counter()
    deadline = started + timeout
    while got < count and time.perf_counter() < deadline:
        before = got
        for _msg in consumer.pull(topic, "*", int(args.get("max_num", 32))):
            got += 1
        if got == before:
            time.sleep(0.01)
    elapsed = time.perf_counter() - started
    consumer.shutdown()
    return {"msgs": got, "seconds": elapsed, "complete": got >= count}


def case_tail(args):
    """One producer sends with send_batch for `duration` s while a push consumer tails the topic."""
    topic, body = args["topic"], b"x" * int(args["body"])
    batch, duration = int(args.get("batch", 32)), float(args["duration"])
    consumer = PushConsumer(args["group"] + "Tail")
    consumer.set_namesrv_addr(args["namesrv"])
    counter = itertools.count(1)

    def on_message(_msg):
        next(counter)  # atomic under the GIL
        return CONSUME_SUCCESS

    consumer.subscribe(topic, on_message)
    producer = start_producer(args)
    warm_up(producer, topic, body)  # creates the topic
    consumer.start()
    clock = time.perf_counter
    # Wait (bounded) until the consumer has caught up with the warm-up messages.
    limit = clock() + 20
    while clock() < limit:
        if peek(counter) - 1 >= 20:
            break
        time.sleep(0.01)
    base = peek(counter)
    msgs = [make_message(topic, body) for _ in range(batch)]
    sent = 0
    samples = []
    started = clock()
    deadline = started + duration
    while True:
        t0 = clock()
        if t0 >= deadline:
            break
        producer.send_batch(msgs)
        samples.append(clock() - t0)
        sent += batch
    send_elapsed = clock() - started
    # Tail consumer: how long until everything sent has been consumed (bounded).
    limit = clock() + 30
    while peek(counter) - base < sent and clock() < limit:
        time.sleep(0.002)
    consumed = peek(counter) - base
    consume_elapsed = clock() - started
    producer.shutdown()
    consumer.shutdown()
    result = {
        "msgs": sent,
        "seconds": send_elapsed,
        "consumed": consumed,
        "consume_seconds": consume_elapsed,
    }
    result.update(percentiles(samples))
    return result


CASES = {
    "send_sync": case_send_sync,
    "send_async": case_send_async,
    "send_batch": case_send_batch,
    "fill": case_fill,
    "push": case_push,
    "pull": case_pull,
    "tail": case_tail,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.exit("usage: client_worker.py %s JSON-ARGS" % "|".join(CASES))
    result = CASES[sys.argv[1]](json.loads(sys.argv[2]))
    result["peak_rss_kib"] = peak_rss_kib()
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
