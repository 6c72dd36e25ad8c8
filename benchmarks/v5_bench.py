"""The RocketMQ 5 client benchmark: this package's 5.x API against the official
``rocketmq-python-client``, on the same gRPC endpoint (our broker's), in the same run. Run by
benchmarks/run.sh (or alone, from benchmarks/):

    python v5_bench.py --official-python PATH [--messages N] [--rounds R]

``PATH`` is a Python with ``rocketmq-python-client`` installed (its own virtualenv: both
packages are named ``rocketmq``); this process's Python has ours. Each case runs in fresh
worker processes (``v5_worker.py``, the same file for both clients), alternating the two
clients round by round:

* ``Producer.send``, one thread, one message at a time (target: ours at least 3x);
* ``Producer.send_async``, one thread, 64 sends in flight (target: ours at least 10x);
* ``SimpleConsumer`` receive (32 at a time) + ack of each message, over a backlog sent
  beforehand, one group per run so each reads all of it.

Rows: the best msg/s of each client and ours / official. Bodies are 1 KiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from rocketmq.admin import Admin
from rocketmq.broker import LocalBroker
from rocketmq.client import Message, Producer

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "v5_worker.py")
WORKER_TIMEOUT = 360.0
TOPIC = "BenchV5"
FILL_BATCH = 32


def log(text):
    print(text, file=sys.stderr, flush=True)


def run_worker(python, case, args):
    """Runs one case in a new process of `python`; returns the measured msg/s."""
    cmd = [python, WORKER, case, json.dumps(args)]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT, cwd=HERE, check=False
        )
    except subprocess.TimeoutExpired:
        why = "%s on %s timed out after %.0f s" % (case, python, WORKER_TIMEOUT)
        raise RuntimeError(why) from None
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
            return result["messages"] / result["seconds"]
    raise RuntimeError(
        "%s on %s gave no result; exit %s; stderr tail: %s"
        % (case, python, out.returncode, out.stderr[-1500:])
    )


def fill(namesrv, messages, body):
    producer = Producer("bench-v5-fill")
    producer.set_namesrv_addr(namesrv)
    producer.start()
    try:
        for first in range(0, messages, FILL_BATCH):
            batch = []
            for _ in range(first, min(first + FILL_BATCH, messages)):
                m = Message(TOPIC)
                m.set_body(body)
                m.set_tags("bench")
                batch.append(m)
            producer.send_batch(batch)
    finally:
        producer.shutdown()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official-python", required=True, help="Python with rocketmq-python-client")
    ap.add_argument(
        "--messages",
        type=int,
        default=20000,
        help="messages per measured case (enough for ours' fastest case to run about 0.3 s)",
    )
    ap.add_argument("--rounds", type=int, default=2, help="runs of each case per client")
    ap.add_argument("--body", type=int, default=1024, help="message body size in bytes")
    ap.add_argument("--json", help="also write the raw figures to this file")
    opts = ap.parse_args()
    clients = (("official", opts.official_python), ("ours", sys.executable))
    cases = (
        ("send", "Producer.send, 1 thread", 3.0),
        ("send_async", "Producer.send_async, 64 in flight", 10.0),
        ("receive_ack", "SimpleConsumer receive + ack", None),
    )
    figures = {case: {name: [] for name, _ in clients} for case, _, _ in cases}
    with tempfile.TemporaryDirectory(prefix="bench-v5-") as store:
        with (
            LocalBroker(namesrv_port=0, broker_port=0, grpc_port=0, store_dir=store) as broker,
            Admin(broker.namesrv_addr) as admin,
        ):
            admin.create_topic(TOPIC, 4)
            base = {"endpoint": broker.grpc_endpoint, "topic": TOPIC, "body": opts.body}
            base["messages"] = opts.messages
            fill(broker.namesrv_addr, opts.messages, b"x" * opts.body)
            started = time.monotonic()
            for round_no in range(opts.rounds):
                for case, _, _ in cases:
                    for name, python in clients:
                        args = dict(base, group="bench-v5-%s-%d" % (name, round_no))
                        rate = run_worker(python, case, args)
                        figures[case][name].append(rate)
                        log("  %s %s round %d: %.0f msg/s" % (name, case, round_no, rate))
            log("v5 benchmark: %.0f s" % (time.monotonic() - started))
    rows = [("messages per case x body bytes", "%d x %d" % (opts.messages, opts.body))]
    for case, title, target in cases:
        official = max(figures[case]["official"])
        ours = max(figures[case]["ours"])
        goal = " (target >= %g)" % target if target else ""
        rows.append(("%s: official msg/s" % title, "%.0f" % official))
        rows.append(("%s: ours msg/s" % title, "%.0f" % ours))
        rows.append(("%s: ours / official%s" % (title, goal), "%.2f" % (ours / official)))
    width = max(len(r[0]) for r in rows)
    print("\n## RocketMQ 5 clients: ours against rocketmq-python-client (our gRPC endpoint)\n")
    for name, value in rows:
        print("%s  %s" % (name.ljust(width), value))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
