"""The message index benchmark: what the index costs the send path, and what a key query costs
among many stored messages. Run by benchmarks/run.sh (or alone, from benchmarks/):

    python index_bench.py --loadgen PATH [--messages N] [--duration S] [--rounds R]

Rows:
* send throughput of our broker (async flush, the load generator's single-message load, 16
  connections x 32 pipelined) with the index on and off, best of ``--rounds`` alternating runs,
  and the ratio (target: the index costs at most 10%);
* key query latency with ``--messages`` messages stored (the load generator fills them, each
  with a unique id, so the index holds one entry per message) plus 2 x ``PROBES`` messages with
  keys of their own sent before and after the fill: Admin.query_messages_by_key and
  Admin.view_message by unique id for each probe, end to end through the Python client
  (p50, p99, max); and how long the index took to cover the fill after it ended.

Every broker runs as its own process (``python -m rocketmq.broker``) on 127.0.0.1 with ephemeral
ports and a temporary store, and is stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time

from measure import run_loadgen

from rocketmq.admin import Admin
from rocketmq.client import Message, Producer

#: Probe messages with keys of their own, sent before and again after the fill.
PROBES = 100
START_TIMEOUT = 60
#: The load of the throughput rows (bench.py's "broker alone, async flush" single-message load).
SEND_SHAPE = ["--connections", 16, "--window", 32]
#: The load that fills the store for the query rows (batches: fast to fill).
FILL_SHAPE = ["--connections", 4, "--window", 8, "--batch", 32]


def log(text):
    print(text, file=sys.stderr, flush=True)


class IndexedBroker:
    """Our broker as a process with the index on or off."""

    def __init__(self, index: bool):
        self.store_dir = tempfile.mkdtemp(prefix="rocketmq-index-bench-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rocketmq.broker", "--store-dir", self.store_dir]
            + ["--namesrv-port", "0", "--broker-port", "0", "--flush", "async"]
            + ["--message-index", "true" if index else "false", "--log-level", "error"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.namesrv = self.broker = None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and (self.namesrv is None or self.broker is None):
            line = self.proc.stdout.readline()
            if not line:
                break
            for name, pattern in (("namesrv", "name server"), ("broker", "broker")):
                m = re.match(pattern + r" listening on (\S+)", line)
                if m:
                    setattr(self, name, m.group(1))
        if self.namesrv is None or self.broker is None:
            self.stop()
            raise RuntimeError("our broker did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()
        shutil.rmtree(self.store_dir, ignore_errors=True)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def throughput(opts):
    """Best msg/s with the index on and off over alternating rounds."""
    best = {True: 0.0, False: 0.0}
    for round_no in range(opts.rounds):
        for index in (True, False) if round_no % 2 == 0 else (False, True):
            broker = IndexedBroker(index)
            try:
                r = run_loadgen(
                    opts.loadgen,
                    broker.broker,
                    ["--body", opts.body, "--duration", opts.duration + 1, "--warmup", 1]
                    + SEND_SHAPE,
                )
            finally:
                broker.stop()
            log("  index %s: %s" % ("on" if index else "off", json.dumps(r)))
            best[index] = max(best[index], float(r.get("msgs_per_s", 0.0)))
    return best


def send_probes(producer, topic, tag):
    ids = {}
    for i in range(PROBES):
        m = Message(topic)
        m.set_keys("probe-%s-%d" % (tag, i))
        m.set_body(b"probe")
        ids["probe-%s-%d" % (tag, i)] = producer.send_sync(m).msg_id
    return ids


def query_latency(opts):
    broker = IndexedBroker(True)
    topic = "BenchIndex"
    producer = Producer("bench-index-probes")
    producer.set_namesrv_addr(broker.namesrv)
    producer.start()
    try:
        probes = send_probes(producer, topic, "first")
        started = time.monotonic()
        fill = run_loadgen(
            opts.loadgen,
            broker.broker,
            ["--topic", topic, "--body", opts.body, "--total", opts.messages, "--warmup", 0]
            + ["--duration", 3600]
            + FILL_SHAPE,
            timeout=7200,
        )
        filled_in = time.monotonic() - started
        log("  fill: %s" % json.dumps(fill))
        probes.update(send_probes(producer, topic, "last"))
        with Admin(broker.namesrv, timeout=60) as admin:
            covered_from = time.monotonic()
            deadline = covered_from + 600
            last = "probe-last-%d" % (PROBES - 1)
            while not admin.query_messages_by_key(topic, last):
                if time.monotonic() > deadline:
                    raise RuntimeError("the index never covered the fill")
                time.sleep(0.05)
            lag = time.monotonic() - covered_from
            by_key, by_id = [], []
            for key, msg_id in probes.items():
                t = time.perf_counter()
                found = admin.query_messages_by_key(topic, key)
                by_key.append((time.perf_counter() - t) * 1000)
                assert [m.id for m in found] == [msg_id], (key, found)
                t = time.perf_counter()
                assert admin.view_message(msg_id, topic).id == msg_id
                by_id.append((time.perf_counter() - t) * 1000)
    finally:
        producer.shutdown()
        broker.stop()
    return {
        "messages": opts.messages,
        "fill_s": filled_in,
        "index_lag_after_fill_s": lag,
        "query_by_key_ms": {p: percentile(by_key, p) for p in (50, 99, 100)},
        "view_by_unique_id_ms": {p: percentile(by_id, p) for p in (50, 99, 100)},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loadgen", required=True, help="the rocketmq-loadgen binary")
    ap.add_argument(
        "--messages", type=int, default=1_000_000, help="messages stored for the query rows"
    )
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per throughput run")
    ap.add_argument(
        "--rounds", type=int, default=2, help="throughput runs per setting (0: skip those rows)"
    )
    ap.add_argument("--body", type=int, default=128, help="message body size in bytes")
    ap.add_argument("--json", help="also write the raw figures to this file")
    opts = ap.parse_args()

    log("index benchmark: send throughput with the index on and off")
    best = throughput(opts) if opts.rounds > 0 else None
    log("index benchmark: key queries among %d stored messages" % opts.messages)
    q = query_latency(opts)
    rows = []
    if best is not None:
        ratio = best[True] / best[False] if best[False] else float("nan")
        rows += [
            ("send msg/s, index on (async flush, 16 conn x 32)", "%.0f" % best[True]),
            ("send msg/s, index off (same load)", "%.0f" % best[False]),
            ("index on / off (target >= 0.90)", "%.3f" % ratio),
        ]
    rows += [
        ("stored messages for the query rows", "%d" % q["messages"]),
        ("index lag after the fill, s", "%.2f" % q["index_lag_after_fill_s"]),
    ]
    for name in ("query_by_key_ms", "view_by_unique_id_ms"):
        lat = q[name]
        rows.append(
            (
                name.replace("_", " ") + " p50 / p99 / max",
                "%.2f / %.2f / %.2f" % (lat[50], lat[99], lat[100]),
            )
        )
    width = max(len(r[0]) for r in rows)
    print("\n## Message index\n")
    for name, value in rows:
        print("%s  %s" % (name.ljust(width), value))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"throughput": best, "query": q}, f, indent=2, default=str)


if __name__ == "__main__":
    main()
