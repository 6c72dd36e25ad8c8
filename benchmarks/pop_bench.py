"""The POP benchmark: POP receive + ack throughput against PULL on the same backlog. Run by
benchmarks/run.sh (or alone, from benchmarks/):

    python pop_bench.py [--broker ours|apache] [--messages N] [--consumers C] [--rounds R]

One broker (ours by default, ``--broker apache`` for Apache RocketMQ's, both started through
``brokers.py`` with the benchmark configuration) holds a backlog of ``--messages`` messages
(1 KiB bodies, sent in batches of 32 to a 4-queue topic). Each round reads the whole backlog
twice, with groups of their own:

* PULL: ``--consumers`` threads, each pulling its share of the queues from the first offset
  to the end (the pull client of ``rocketmq.client.PullConsumer``, 32 per pull);
* POP: ``--consumers`` threads of one group, each with its own ``PopConsumer``
  (``rocketmq._rocketmq``, private), receiving 32 at a time with a 60 s invisible time and
  acking each batch with one BATCH_ACK before the next receive. Like the PULL readers they
  do not long-poll: a consumer stops at its first empty answer (everything was handed out).

Rows: the best msg/s of each over the rounds and POP / PULL (target: at least 0.5). Every
message must be read exactly once by each; a duplicate or a missing one fails the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from brokers import apache_unavailable, start_broker

from rocketmq import _rocketmq
from rocketmq.client import Message, Producer

TOPIC_QUEUES = 4
BATCH = 32
INVISIBLE_MS = 60_000
#: How long one read of the backlog may take before the run is declared stuck.
READ_TIMEOUT = 600
#: Java ResponseCode.REQUEST_CODE_NOT_SUPPORTED.
REQUEST_CODE_NOT_SUPPORTED = 3


def log(text):
    print(text, file=sys.stderr, flush=True)


def fill(namesrv, topic, messages, body):
    producer = Producer("bench-pop-fill")
    producer.set_namesrv_addr(namesrv)
    producer.start()
    try:
        for first in range(0, messages, BATCH):
            batch = []
            for n in range(first, min(first + BATCH, messages)):
                m = Message(topic)
                m.set_body(body)
                m.set_property("n", str(n))
                batch.append(m)
            producer.send_batch(batch)
    finally:
        producer.shutdown()


def pull_read(namesrv, topic, group, messages, consumers):
    """Seconds to pull the backlog with `consumers` threads, each reading its share of the
    queues from the first offset to the end, 32 per pull (the pull client of
    rocketmq.client.PullConsumer)."""
    seen = set()
    lock = threading.Lock()
    errors = []
    probe = _rocketmq.NativePullClient(group=group, name_servers_list=namesrv)
    queues = probe.fetch_subscribe_queues(topic)
    probe.shutdown()

    def run(mine):
        client = _rocketmq.NativePullClient(group=group, name_servers_list=namesrv)
        try:
            client.fetch_subscribe_queues(topic)  # caches the route the pulls go by
            for queue_topic, broker_name, queue_id in mine:
                offset = 0
                while True:
                    status, offset, _, _, msgs = client.pull(
                        queue_topic, broker_name, queue_id, "*", offset, BATCH
                    )
                    if status != 0:
                        break
                    with lock:
                        seen.update(m.id for m in msgs)
        except BaseException as error:
            errors.append(error)
        finally:
            client.shutdown()

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(queues[i::consumers],)) for i in range(consumers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(READ_TIMEOUT)
    elapsed = time.perf_counter() - started
    if errors or any(t.is_alive() for t in threads) or len(seen) != messages:
        raise RuntimeError("pull read %d of %d: %r" % (len(seen), messages, errors[:3]))
    return elapsed


def pop_refusal(namesrv, topic):
    """Why the broker cannot be measured with POP (it does not serve POP_MESSAGE), or None."""
    consumer = _rocketmq.PopConsumer("bench-pop-probe", topic, name_servers_list=namesrv)
    consumer.start()
    try:
        consumer.receive(max_num=1, invisible_ms=1000)
    except _rocketmq.ClientError as error:
        if "answered code %d:" % REQUEST_CODE_NOT_SUPPORTED in str(error):
            return "the broker does not serve POP_MESSAGE (%s)" % error
        raise
    finally:
        consumer.shutdown()
    return None


def pop_read(namesrv, topic, group, messages, consumers):
    """Seconds to receive and ack the backlog with `consumers` POP consumers of one group."""
    seen = set()
    lock = threading.Lock()
    errors = []
    deadline = time.monotonic() + READ_TIMEOUT

    def run():
        consumer = _rocketmq.PopConsumer(group, topic, name_servers_list=namesrv)
        consumer.start()
        try:
            while time.monotonic() < deadline:
                # No long poll, as the PULL side reads without suspending: an empty answer
                # means every message was handed out (the rest are in flight with the other
                # consumers, invisible for a minute), so this consumer is done.
                batch = consumer.receive(max_num=BATCH, invisible_ms=INVISIBLE_MS, await_ms=0)
                if not batch:
                    return
                consumer.ack_batch([p.receipt_handle for p in batch])
                # One id per message, as the PULL side reads it; the duplicate check is
                # done on the batch as a set.
                ids = {p.message.id for p in batch}
                with lock:
                    if len(ids) != len(batch) or not seen.isdisjoint(ids):
                        raise RuntimeError("received twice: %s" % sorted(ids & seen)[:3])
                    seen.update(ids)
        except BaseException as error:
            errors.append(error)
        finally:
            consumer.shutdown()

    started = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(consumers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(READ_TIMEOUT)
    elapsed = time.perf_counter() - started
    if errors or any(t.is_alive() for t in threads) or len(seen) != messages:
        raise RuntimeError("pop read %d of %d: %r" % (len(seen), messages, errors[:3]))
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--broker", choices=("ours", "apache"), default="ours")
    ap.add_argument("--messages", type=int, default=50_000, help="messages in the backlog")
    ap.add_argument("--consumers", type=int, default=2, help="reader threads of each kind")
    ap.add_argument("--rounds", type=int, default=2, help="reads of the backlog per kind")
    ap.add_argument("--body", type=int, default=1024, help="message body size in bytes")
    ap.add_argument("--json", help="also write the raw figures to this file")
    opts = ap.parse_args()

    if opts.broker == "apache":
        why = apache_unavailable()
        if why:
            print("\n## POP against PULL (apache)\n\nnot run: %s" % why)
            return
    broker = start_broker(opts.broker, "async", "pop")
    try:
        topic = "BenchPop"
        create = getattr(getattr(broker, "cluster", None), "create_topic", None)
        if create is not None:
            create(topic, queues=TOPIC_QUEUES)
        log("pop benchmark (%s): filling %d messages" % (opts.broker, opts.messages))
        fill(broker.namesrv, topic, opts.messages, b"x" * opts.body)
        why = pop_refusal(broker.namesrv, topic)
        if why:
            print("\n## POP against PULL (%s)\n\nnot run: %s" % (opts.broker, why))
            return
        figures = {"pull": [], "pop": []}
        for round_no in range(opts.rounds):
            for kind, read in (("pull", pull_read), ("pop", pop_read)):
                group = "bench-%s-%d" % (kind, round_no)
                seconds = read(broker.namesrv, topic, group, opts.messages, opts.consumers)
                rate = opts.messages / seconds
                figures[kind].append(rate)
                log("  %s round %d: %.0f msg/s" % (kind, round_no, rate))
    finally:
        broker.stop()
    best = {kind: max(rates) for kind, rates in figures.items()}
    ratio = best["pop"] / best["pull"] if best["pull"] else float("nan")
    rows = [
        ("backlog (messages x body bytes)", "%d x %d" % (opts.messages, opts.body)),
        ("PULL msg/s, %d reader threads" % opts.consumers, "%.0f" % best["pull"]),
        ("POP receive + ack msg/s, %d consumers" % opts.consumers, "%.0f" % best["pop"]),
        ("POP / PULL (target >= 0.5)", "%.3f" % ratio),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n## POP against PULL (%s)\n" % opts.broker)
    for name, value in rows:
        print("%s  %s" % (name.ljust(width), value))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"broker": opts.broker, "rates": figures, "ratio": ratio}, f, indent=2)


if __name__ == "__main__":
    main()
