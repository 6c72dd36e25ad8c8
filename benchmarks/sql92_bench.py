"""The SQL92 filter benchmark: pull throughput with an SQL92 filter that matches half of a
backlog, beside the same backlog read with a tag filter that matches the same half. Run by
benchmarks/run.sh (or alone, from benchmarks/):

    python sql92_bench.py [--messages N] [--rounds R] [--body B] [--broker ours|apache]

The backlog: N messages on a one-queue topic, every other one tagged ``Even`` with the user
property ``parity = 'even'`` (the others ``Odd`` / ``'odd'``), sent in batches of 32 by our
Python client. Each round reads the whole backlog twice with ``PullConsumer.pull`` (a fresh
consumer, from offset 0, 32 messages per pull): once with the SQL92 filter ``parity = 'even'``
and once with the tag filter ``Even``, alternating which goes first; the best msg/s of each
(messages delivered, i.e. N/2, over the time of the read) and the ratio SQL92 / tag are
printed. Both reads must deliver exactly the N/2 even messages, or the row says FAILED.

``--broker ours`` (default) measures our broker (a ``python -m rocketmq.broker`` process);
``--broker apache`` Apache RocketMQ's broker (started through tests/apache as bench.py does,
with its property filter on), to check the benchmark itself and to compare. A broker that
refuses SQL92 subscriptions makes the SQL92 cell say so (the tag row is still measured).

Everything listens on 127.0.0.1 with ephemeral ports and temporary stores, removed at the end.
"""

from __future__ import annotations

import argparse
import sys
import time

from brokers import apache_unavailable, start_broker

from rocketmq.admin import Admin
from rocketmq.client import InvalidFilterExpression, Message, Producer, PullConsumer

TOPIC = "BenchSql92"
SQL92 = "parity = 'even'"
TAG = "Even"
BATCH = 32


def log(text):
    print(text, file=sys.stderr, flush=True)


def fill(namesrv, messages, body):
    """N messages, alternately even and odd, in batches of 32."""
    with Admin(namesrv) as admin:
        admin.create_topic(TOPIC, 1)
    producer = Producer("BenchSql92Fill")
    producer.set_namesrv_addr(namesrv)
    producer.start()
    try:
        batch = []
        for i in range(messages):
            m = Message(TOPIC)
            m.set_body(body)
            even = i % 2 == 0
            m.set_tags("Even" if even else "Odd")
            m.set_property("parity", "even" if even else "odd")
            batch.append(m)
            if len(batch) == BATCH or i == messages - 1:
                producer.send_batch(batch)
                batch = []
    finally:
        producer.shutdown()


def read_all(namesrv, expression, expression_type, round_no):
    """(matched messages, seconds) of one read of the whole backlog from offset 0."""
    consumer = PullConsumer("BenchSql92Read%d%s" % (round_no, expression_type))
    consumer.set_namesrv_addr(namesrv)
    consumer.start()
    try:
        consumer.offset_table = {}
        start = time.perf_counter()
        count = sum(1 for _ in consumer.pull(TOPIC, expression, BATCH, expression_type))
        return count, time.perf_counter() - start
    finally:
        consumer.shutdown()


def wait_indexed(namesrv, messages, timeout=60.0):
    """Until a tag read sees every even message (Apache indexes after answering a send)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count, _ = read_all(namesrv, "*", "TAG", -1)
        if count >= messages:
            return
    raise RuntimeError("the backlog was not readable within %.0f s" % timeout)


def measure(opts):
    broker = start_broker(opts.broker, "async", "sql92")
    best = {"SQL92": 0.0, "TAG": 0.0}
    refused = None
    try:
        log("filling %d messages of %d bytes" % (opts.messages, opts.body))
        fill(broker.namesrv, opts.messages, b"x" * opts.body)
        wait_indexed(broker.namesrv, opts.messages)
        want = (opts.messages + 1) // 2
        for round_no in range(opts.rounds):
            order = (("SQL92", SQL92), ("TAG", TAG))
            for kind, expression in order if round_no % 2 == 0 else order[::-1]:
                if kind == "SQL92" and refused is not None:
                    continue
                try:
                    count, seconds = read_all(broker.namesrv, expression, kind, round_no)
                except InvalidFilterExpression as e:
                    # The broker's reason, without the advice that follows it.
                    refused = str(e).split(". Fix the expression")[0]
                    log("  SQL92 refused: %s" % refused)
                    continue
                if count != want:
                    raise RuntimeError(
                        "%s read delivered %d messages, not %d" % (kind, count, want)
                    )
                rate = count / seconds
                log(
                    "  round %d %s: %d messages in %.2f s, %.0f msg/s"
                    % (round_no, kind, count, seconds, rate)
                )
                best[kind] = max(best[kind], rate)
    finally:
        broker.stop()
    return best, refused


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--body", type=int, default=1024)
    parser.add_argument("--broker", choices=("ours", "apache"), default="ours")
    opts = parser.parse_args()
    if opts.broker == "apache" and apache_unavailable():
        print("SQL92 pull: Apache's broker unavailable: %s" % apache_unavailable())
        return
    try:
        best, refused = measure(opts)
    except Exception as e:  # noqa: BLE001 - a failed case is a FAILED row, as in bench.py
        print("SQL92 pull (%s broker): FAILED: %s" % (opts.broker, e))
        return
    print()
    print(
        "SQL92 filter pull, %s broker, %d messages of %d bytes, half matching (best of %d)"
        % (opts.broker, opts.messages, opts.body, opts.rounds)
    )
    print("| Row | msg/s delivered | baseline (tag filter, same half) | ratio |")
    print("|---|---|---|---|")
    if refused is not None:
        print("| pull, SQL92 `%s` | unavailable: %s | %.0f | - |" % (SQL92, refused, best["TAG"]))
    else:
        ratio = best["SQL92"] / best["TAG"] if best["TAG"] else float("nan")
        print(
            "| pull, SQL92 `%s` | %.0f | %.0f | %.2f |" % (SQL92, best["SQL92"], best["TAG"], ratio)
        )


if __name__ == "__main__":
    main()
