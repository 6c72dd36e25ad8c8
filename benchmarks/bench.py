"""Benchmarks: our client and broker beside their baselines and beside Apache RocketMQ's
broker, all measured in the same run.

Run with the python of the virtualenv that has our package installed (``bash
benchmarks/run.sh`` sets everything up and calls this). Every client case runs in a fresh
process (``client_worker.py``) so its peak RSS is its own; the reference C++ client
(``rocketmq==0.4.4``) runs the very same worker code under its own virtualenv's python
(``--cpp-python``). The broker-alone cases use the Rust load generator in
``benchmarks/loadgen`` (``--loadgen``).

Two broker kinds (brokers.py): ours (``python -m rocketmq.broker``) and Apache RocketMQ's Java
name server and broker (the harness in tests/apache). Each case runs the same load on one,
then on the other (``--apache-first`` swaps the order), so every broker figure has Apache's
beside it from minutes apart at most. ``--no-apache`` measures ours only; ``--apache-only``
Apache's only. Without Java or Apache's jars, the Apache cells say so and the run goes on.

Bounded: every case has a duration and a hard timeout, brokers start within bounded waits,
and every process started here is stopped at the end.

Prints two tables: each figure of ours beside its baseline, and each load on our broker
beside Apache's broker, with the ratios. ``--json FILE`` also writes every raw figure.
"""

import argparse
import json
import sys
import time

from brokers import apache_unavailable, apache_version, queue_counts, start_broker
from measure import (
    CASE_TIMEOUT,
    flush_store,
    fresh_group,
    fsyncs_during,
    rate,
    raw_fdatasync_rate,
    run_loadgen,
    run_worker,
)
from report import Comparison, Table, load_average, log, machine_summary
from timers import timer_cases

KINDS = ("ours", "apache")


def cell(result, key):
    """A figure of a result dict; a string (why there is no result) passes through."""
    return result[key] if isinstance(result, dict) else result


CLIENTS = (("ours", "our client"), ("cpp", "C++ client"))
#: Messages every new broker gets before its first measured case, with single sends and with
#: batches of 32, so Apache's JIT has compiled the hot paths (the same load for ours).
WARM_UP_MESSAGES = 60000


def log_refusals(kind, result):
    """Logs the answers other than SUCCESS that the load generator got (code: count)."""
    if result.get("failed_requests"):
        log(
            "  %s broker refused %d requests: %s, first remark %r"
            % (
                kind,
                result["failed_requests"],
                json.dumps(result.get("failed_codes")),
                result.get("first_failure_remark"),
            )
        )


class Run:
    """One benchmark run: options, the broker kinds in run order, the two tables, raw data."""

    def __init__(self, opts):
        self.opts = opts
        self.table = Table()
        self.raw = {}
        self.missing = {}  # broker kind -> why it is not measured, as its cells say
        self.apache_note = ""
        if opts.no_apache:
            self.missing["apache"] = "skipped (--no-apache)"
        else:
            why = apache_unavailable()
            if why:
                log("Apache's broker is not measured: %s" % why)
                self.missing["apache"] = "unavailable"
                self.apache_note = "Apache's broker is unavailable: %s" % why
        if opts.apache_only:
            self.missing["ours"] = "not run (--apache-only)"
        self.order = tuple(reversed(KINDS)) if opts.apache_first else KINDS
        self.compare = Comparison("Apache %s broker" % apache_version())
        self.only = [word.strip() for word in opts.only.split(",") if word.strip()]

    @property
    def ours_measured(self):
        return "ours" not in self.missing

    @property
    def compared(self):
        return not self.opts.no_apache

    def selected(self, what):
        if self.only and not any(word in what for word in self.only):
            log("%s skipped (--only)" % what)
            return False
        return True

    def raw_key(self, kind, key):
        """Raw figures of our broker keep the keys of earlier runs; Apache's are prefixed."""
        return key if kind == "ours" else "apache/" + key

    def start(self, kind, flush, label):
        """A broker of `kind`, warmed up; or a string saying why there is none."""
        if kind in self.missing:
            return self.missing[kind]
        log("starting %s %s-flush broker (%s)" % (kind, flush, label))
        try:
            broker = start_broker(kind, flush, label)
        except Exception as e:  # noqa: BLE001 - reported in the cells, the run goes on
            log("%s broker did not start: %s" % (kind, e))
            return "FAILED to start"
        try:
            self.warm_up(broker)
        except Exception as e:  # noqa: BLE001 - the measured cases will show the problem
            log("warm-up of the %s broker failed: %s" % (kind, e))
        return broker

    def warm_up(self, broker):
        started = time.monotonic()
        for shape in (["--window", 16], ["--window", 2, "--batch", 32]):
            run_loadgen(
                self.opts.loadgen,
                broker.broker,
                ["--topic", "BenchWarmup", "--connections", 4, "--body", self.opts.body]
                + ["--total", WARM_UP_MESSAGES, "--duration", 25, "--warmup", 0]
                + shape,
            )
        log("  %s broker warmed up in %.1f s" % (broker.kind, time.monotonic() - started))

    def on_each(self, brokers, what, fn):
        """fn(broker) for each kind in run order: {kind: result, or a string saying why not}."""
        out = {}
        for kind in self.order:
            broker = brokers[kind]
            if isinstance(broker, str):
                out[kind] = broker
                continue
            try:
                out[kind] = fn(broker)
            except Exception as e:  # noqa: BLE001 - one failed cell, the run goes on
                log("%s on the %s broker FAILED: %s" % (what, kind, e))
                out[kind] = "FAILED"
        return out

    def case(self, what, fn):
        """Runs one case (fn) unless --only excludes it; an error fails its rows only."""
        if not self.selected(what):
            return
        started = time.monotonic()
        log("%s ..." % what)
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report and go on with the other cases
            log("%s FAILED: %s" % (what, e))
            self.table.add(what, "FAILED", str(e)[:60], None, "")
        log("%s done in %.1f s" % (what, time.monotonic() - started))

    def ours_row(self, name, unit, ours, base, base_name, lat=None, base_lat=None, target=None):
        """A row of the first table, if our broker was measured (a FAILED row if it failed)."""
        if not self.ours_measured:
            return
        if isinstance(ours, str):
            self.table.add(name, "FAILED", ours, None, "")
        else:
            self.table.add(name, unit, ours, base, base_name, lat, base_lat, target)

    def clients(self, brokers, case, extra, topic, prefix, timeout=CASE_TIMEOUT):
        """Our client, then the C++ client, with the same arguments, on each broker:
        {kind: {"ours": result, "cpp": result}}; a cell is a string when it has no result."""
        opts = self.opts
        pythons = {"ours": sys.executable, "cpp": opts.cpp_python}

        def on(broker):
            results = {}
            for who, _label in CLIENTS:
                args = dict(namesrv=broker.namesrv, topic=topic, group=fresh_group(prefix + who))
                args.update(body=opts.body, duration=opts.duration)
                args.update(extra)
                try:
                    results[who] = run_worker(pythons[who], case, args, timeout)
                except Exception as e:  # noqa: BLE001 - one failed cell
                    log("  %s on the %s broker FAILED: %s" % (who, broker.kind, e))
                    results[who] = "FAILED"
                    continue
                self.raw[self.raw_key(broker.kind, "%s/%s" % (prefix, who))] = results[who]
                log("  %s broker, %s: %s" % (broker.kind, who, json.dumps(results[who])))
            return results

        out = self.on_each(brokers, case, on)
        return {
            kind: res if isinstance(res, dict) else {who: res for who, _ in CLIENTS}
            for kind, res in out.items()
        }

    def compare_clients(self, name, unit, res, value, with_latency=True):
        for who, label in CLIENTS:
            o, a = res["ours"][who], res["apache"][who]
            if with_latency:
                self.compare.add(name, label, unit, value(o), value(a), o, a)
            else:
                self.compare.add(name, label, unit, value(o), value(a))


def async_cases(run, brokers, memory):
    """Client sends, consumes and the load generator, on one async-flush broker of each kind."""
    opts, raw = run.opts, run.raw
    kib, mb = opts.body / 1024.0, opts.body / 1e6
    count = opts.consume_count

    def send(name, case, extra, prefix, target=None, batch_mb=False):
        res = run.clients(brokers, case, extra, "BenchSend", prefix)
        o, c = res["ours"]["ours"], res["ours"]["cpp"]
        run.ours_row(name, "msg/s", rate(o), rate(c), "C++ client", o, c, target)
        run.compare_clients(name, "msg/s", res, rate)
        if batch_mb and isinstance(rate(o), float) and isinstance(rate(c), float):
            run.ours_row(name, "MB/s", rate(o) * mb, rate(c) * mb, "C++ client")

    run.case(
        "send_sync 1 thread",
        lambda: send(
            "send_sync 1 thread, %g KiB" % kib, "send_sync", {"threads": 1}, "sync1", ">= 2x C++"
        ),
    )
    run.case(
        "send_sync 8 threads",
        lambda: send("send_sync 8 threads", "send_sync", {"threads": 8}, "sync8"),
    )
    run.case(
        "send_async",
        lambda: send("send_async, 256 in flight", "send_async", {"window": 256}, "async"),
    )
    run.case(
        "send_batch",
        lambda: send(
            "send_batch 32 x %g KiB" % kib, "send_batch", {"batch": 32}, "batch", batch_mb=True
        ),
    )

    # ---- consume cases: a backlog of `count` messages drained by one new consumer group ----
    def fill_consume_topic():
        def fill(broker):
            r = run_worker(
                sys.executable,
                "fill",
                dict(
                    namesrv=broker.namesrv,
                    topic="BenchConsume",
                    group=fresh_group("fill"),
                    body=opts.body,
                    count=count,
                    batch=32,
                    timeout=25,
                ),
            )
            if r["msgs"] < count:
                raise RuntimeError("filled only %d of %d messages" % (r["msgs"], count))
            return r

        run.on_each(brokers, "fill", fill)

    def consume(case, name, target=None):
        extra = {"count": count, "timeout": 25}
        res = run.clients(brokers, case, extra, "BenchConsume", case)
        for kind in KINDS:
            for who, _ in CLIENTS:
                r = res[kind][who]
                if isinstance(r, dict) and not r.get("complete"):
                    log("  %s broker, %s consumed only %d of %d" % (kind, who, r["msgs"], count))
                if case == "push" and isinstance(r, dict):
                    memory.setdefault("consumer/" + kind, {})[who] = r["peak_rss_kib"]
        o, c = res["ours"]["ours"], res["ours"]["cpp"]
        run.ours_row(name, "msg/s", rate(o), rate(c), "C++ client", target=target)
        run.compare_clients(name, "msg/s", res, rate, with_latency=False)

    # Named after both consume cases, so that `--only push` or `--only pull` fills first.
    run.case("fill %d messages for the push and pull consume cases" % count, fill_consume_topic)
    run.case("push consume", lambda: consume("push", "push consume, no-op callback", ">= 200k"))
    run.case("pull consume", lambda: consume("pull", "pull consume (PullConsumer.pull)"))

    # ---- broker alone, async flush: the Rust load generator ----
    def loadgen_case(key, name, shape):
        """The same load against each broker and against the load generator's null broker
        (decodes and answers, stores nothing): the baseline is the ceiling of the load
        generator, loopback TCP and the frame codec on this machine."""
        common = ["--body", opts.body, "--duration", opts.duration + 1, "--warmup", 1] + shape

        def on(broker):
            r = run_loadgen(opts.loadgen, broker.broker, common)
            run.raw[run.raw_key(broker.kind, "loadgen/async/" + key)] = r
            log("  %s broker: %s" % (broker.kind, json.dumps(r)))
            log_refusals(broker.kind, r)
            return r

        res = run.on_each(brokers, name, on)
        null = None
        if run.ours_measured:
            null = run_loadgen(opts.loadgen, None, common)
            raw["loadgen/null/" + key] = null
            log("  null broker: %s" % json.dumps(null))
        o, a = res["ours"], res["apache"]
        msgs = "msgs_per_s"
        run.ours_row(
            name,
            "msg/s",
            cell(o, msgs),
            cell(null, msgs),
            "null broker, same load",
            o,
            null,
            ">= 300k",
        )
        run.compare.add(name, "load generator", "msg/s", cell(o, msgs), cell(a, msgs), o, a)
        if "--batch" in shape:
            mb_name = name.split(", 8 conn")[0]
            run.ours_row(
                mb_name,
                "MB/s",
                cell(o, "mb_per_s"),
                cell(null, "mb_per_s"),
                "null broker, same load",
            )
        return res

    run.case(
        "loadgen async flush, single messages",
        lambda: memory.update(
            single=loadgen_case(
                "single",
                "broker alone, async flush, 16 conn x 32 pipelined",
                ["--connections", 16, "--window", 32],
            )
        ),
    )
    run.case(
        "loadgen async flush, batches",
        lambda: loadgen_case(
            "batch",
            "broker alone, async flush, batches of 32, 8 conn x 4",
            ["--connections", 8, "--window", 4, "--batch", 32],
        ),
    )

    def queues(broker):
        return {t: queue_counts(broker.namesrv, t) for t in ("BenchSend", "BenchConsume")}

    memory["broker"] = run.on_each(brokers, "memory", lambda b: b.memory_kib())
    run.raw["queues"] = run.on_each(brokers, "queue counts", queues)
    log("queues (write, read) per topic: %s" % json.dumps(run.raw["queues"]))


def sync_flush_cases(run, single_async):
    """The load generator against a sync-flush broker of each kind, fsync syscalls counted."""
    opts, dur = run.opts, run.opts.duration

    def on_kind(kind):
        S = run.start(kind, "sync", "sync")
        if isinstance(S, str):
            return S
        try:
            base = raw_fdatasync_rate(S.store_dir, 1.0) if kind == "ours" else None
            # Warm-up run so the topic exists and the page cache is primed.
            run_loadgen(
                opts.loadgen, S.broker, ["--connections", 4, "--duration", 1] + ["--warmup", 0.5]
            )
            reader = fsyncs_during(S.pid, dur)
            r = run_loadgen(
                opts.loadgen,
                S.broker,
                ["--connections", 16, "--window", 32, "--body", opts.body]
                + ["--duration", dur, "--warmup", 0],
            )
            counts = reader() if reader else None
            run.raw[run.raw_key(kind, "loadgen/sync/single")] = r
            run.raw[run.raw_key(kind, "sync_fsyncs")] = counts
            log("  %s broker: %s fsyncs %s" % (kind, json.dumps(r), counts))
            syncs = sum(counts.values()) / dur if counts else "perf unavailable"
            return {"r": r, "syncs": syncs, "raw_fsync": base}
        finally:
            S.stop()

    res = {}
    for kind in run.order:
        try:
            res[kind] = on_kind(kind)
        except Exception as e:  # noqa: BLE001 - one failed cell
            log("sync flush on the %s broker FAILED: %s" % (kind, e))
            res[kind] = "FAILED"
    o, a = res.get("ours"), res.get("apache")
    name = "broker alone, sync flush, 16 conn x 32 pipelined"
    r_o, r_a = cell(o, "r"), cell(a, "r")
    single = single_async if isinstance(single_async, dict) else None
    msgs = "msgs_per_s"
    run.ours_row(
        name,
        "msg/s",
        cell(r_o, msgs),
        cell(single, msgs),
        "async flush (same load)",
        r_o,
        single,
        ">= 30k",
    )
    run.compare.add(name, "load generator", "msg/s", cell(r_o, msgs), cell(r_a, msgs), r_o, r_a)
    syncs = {kind: cell(v, "syncs") for kind, v in res.items()}
    if isinstance(o, dict):
        run.raw["fdatasync_raw_per_s"] = o["raw_fsync"]
        run.ours_row(
            "fsync-family syscalls/s under sync flush",
            "syncs/s",
            syncs["ours"],
            o["raw_fsync"],
            "raw 4 KiB append+fdatasync loop",
        )
    run.compare.add(
        "fsync-family syscalls/s under sync flush",
        "load generator",
        "syncs/s",
        syncs.get("ours"),
        syncs.get("apache"),
    )

    def per_sync(v):
        if isinstance(v, dict) and isinstance(v["syncs"], float) and v["syncs"]:
            return v["r"]["msgs_per_s"] / v["syncs"]
        return v if isinstance(v, str) else None

    if isinstance(o, dict) and per_sync(o) is not None:
        run.ours_row("messages per fsync (group commit size)", "msgs", per_sync(o), None, "")
    run.compare.add(
        "messages per fsync (group commit size)", "load generator", "msgs", per_sync(o), per_sync(a)
    )


def backlog_cases(run):
    """send_batch + a tailing push consumer on an empty broker and on one holding N messages."""
    opts, n = run.opts, run.opts.backlog

    def measure(kind, label):
        B = run.start(kind, "async", "backlog-" + label)
        if isinstance(B, str):
            return B
        try:
            if label == "backlog":
                # Stored on another topic: the store as a whole holds N messages.
                per_request = 32
                started = time.monotonic()
                stored, fills = 0, []
                # Bounded by time too: at least 5,000 msg/s (Apache's broker filled at
                # 20-55k msg/s on this loaded machine, ours at 90-200k).
                fill_limit = max(60.0, n / 5000.0)
                # A broker may refuse a few requests under load (Apache answers SYSTEM_BUSY
                # when its flow control trips): send the rest again, at most twice.
                for _ in range(3):
                    r = run_loadgen(
                        opts.loadgen,
                        B.broker,
                        ["--topic", "BenchBacklogFill", "--connections", 8, "--window", 4]
                        + ["--batch", per_request, "--body", opts.body, "--total", n - stored]
                        + ["--duration", fill_limit, "--warmup", 0],
                        timeout=fill_limit + 15,
                    )
                    fills.append(r)
                    log_refusals(kind, r)
                    stored += r["ok_requests"] * per_request
                    if stored >= n:
                        break
                run.raw[run.raw_key(kind, "backlog/fill")] = fills
                log("  stored %d messages in %.1f s" % (stored, time.monotonic() - started))
                if stored < n:
                    raise RuntimeError("stored only %d of %d" % (stored, n))
            took = flush_store(B.store_dir)
            log("  %s, %s: store written back in %.1f s before measuring" % (kind, label, took))
            args = dict(namesrv=B.namesrv, topic="BenchTail", group=fresh_group("tail"))
            args.update(body=opts.body, duration=opts.duration, batch=32)
            # The tail waits up to 30 s for the consumer to catch up after sending.
            t = run_worker(sys.executable, "tail", args, timeout=opts.duration + 40)
            run.raw[run.raw_key(kind, "backlog/tail/" + label)] = t
            log("  %s, %s: %s" % (kind, label, json.dumps(t)))
            return t
        finally:
            B.stop()

    res = {}
    for kind in run.order:
        res[kind] = {}
        for label in ("empty", "backlog"):
            try:
                res[kind][label] = measure(kind, label)
            except Exception as e:  # noqa: BLE001 - one failed cell
                log("backlog (%s) on the %s broker FAILED: %s" % (label, kind, e))
                res[kind][label] = "FAILED"
    e, b = res["ours"]["empty"], res["ours"]["backlog"]

    def tail(r):
        return rate(r, "consumed", "consume_seconds")

    send_name, tail_name = "send_batch with %d stored" % n, "tail consume with %d stored" % n
    run.ours_row(send_name, "msg/s", rate(b), rate(e), "empty broker", b, e, "within 10%")
    run.ours_row(tail_name, "msg/s", tail(b), tail(e), "empty broker", None, None, "within 10%")
    for label, send, consume in (
        ("empty", "send_batch, empty broker", "tail consume, empty broker"),
        ("backlog", send_name, tail_name),
    ):
        o, a = res["ours"][label], res["apache"][label]
        run.compare.add(send, "our client", "msg/s", rate(o), rate(a), o, a)
        run.compare.add(consume, "our client", "msg/s", tail(o), tail(a))


def memory_rows(run, memory):
    def mib(v):
        return v / 1024.0 if isinstance(v, (int, float)) else v

    brokers = memory.get("broker")
    if brokers:

        def pick(kind, i):
            v = brokers[kind]
            return v if isinstance(v, str) else mib(v[i])

        names = (
            "broker peak RSS incl. mapped commit log (async cases)",
            "broker anonymous RSS at the end (heap; Python or JVM included)",
        )
        for i, name in enumerate(names):
            run.ours_row(name, "MiB", pick("ours", i), None, "")
            run.compare.add(name, "", "MiB", pick("ours", i), pick("apache", i))
    consumer = memory.get("consumer/ours")
    if consumer:
        run.ours_row(
            "push consumer peak RSS (%d msg backlog)" % run.opts.consume_count,
            "MiB",
            mib(consumer.get("ours", 0)),
            mib(consumer.get("cpp", 0)),
            "C++ client",
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpp-python", required=True, help="python of the rocketmq==0.4.4 venv")
    ap.add_argument("--loadgen", required=True, help="the rocketmq-loadgen binary")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per timed case")
    ap.add_argument("--body", type=int, default=1024, help="message body size in bytes")
    ap.add_argument(
        "--consume-count", type=int, default=200000, help="backlog drained by push/pull cases"
    )
    ap.add_argument(
        "--backlog",
        type=int,
        default=1000000,
        help="messages stored before the backlog case (large run: 30000000)",
    )
    ap.add_argument("--json", help="also write every raw figure to this file")
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated words: run only the cases whose name contains one (for profiling)",
    )
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--no-apache", action="store_true", help="measure our broker only")
    which.add_argument(
        "--apache-only", action="store_true", help="measure Apache's broker only (no ratios)"
    )
    ap.add_argument(
        "--apache-first",
        action="store_true",
        help="run each case on Apache's broker first (alternate between runs to cancel drift)",
    )
    opts = ap.parse_args()
    if opts.duration > 20:
        ap.error("--duration must be at most 20 s (each case is bounded to 30 s)")

    run = Run(opts)
    run_started = time.monotonic()
    load_at_start = load_average()
    log("%s; load average %s" % (machine_summary(), load_at_start))

    memory = {}
    brokers = {}
    try:
        for kind in run.order:
            brokers[kind] = run.start(kind, "async", "async")
        async_cases(run, brokers, memory)
    finally:
        for broker in brokers.values():
            if not isinstance(broker, str):
                broker.stop()
    if run.selected("sync flush"):
        sync_flush_cases(run, memory.get("single", {}).get("ours"))
    if run.selected("backlog"):
        backlog_cases(run)
    if run.selected("timer"):
        run.case("timer messages", lambda: timer_cases(run))
    memory_rows(run, memory)

    print()
    print(
        "RocketMQ benchmarks: %g KiB bodies, %g s per case, whole run %.0f s"
        % (opts.body / 1024.0, opts.duration, time.monotonic() - run_started)
    )
    print(machine_summary())
    print("load average at start: %s; at end: %s" % (load_at_start, load_average()))
    if run.ours_measured:
        print(run.table.render())
    if run.compared:
        print()
        print(
            "Same load, same client, our broker against Apache's (each case on %s first):"
            % ("Apache's" if opts.apache_first else "ours")
        )
        if run.apache_note:
            print(run.apache_note)
        print(run.compare.render())
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(run.raw, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
