"""Benchmarks: our client and broker beside their baselines, measured in the same run.

Run with the python of the virtualenv that has our package installed (``bash
benchmarks/run.sh`` sets everything up and calls this). Every client case runs in a fresh
process (``client_worker.py``) so its peak RSS is its own; the reference C++ client
(``rocketmq==0.4.4``) runs the very same worker code under its own virtualenv's python
(``--cpp-python``). Brokers are ``python -m rocketmq.broker`` processes on 127.0.0.1 with
ephemeral ports and temporary store directories. The broker-alone cases use the Rust load
generator in ``benchmarks/loadgen`` (``--loadgen``).

Bounded: every case has a duration and a hard timeout (at most 30 s per case), the whole
default run takes about 3 minutes, and every process started here is stopped at the end.

Prints a table: figure, ours, baseline (which one is named in the row), ratio ours/baseline,
and latency percentiles. ``--json FILE`` also writes every raw figure.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "client_worker.py")
CASE_TIMEOUT = 30.0  # hard limit per case, start-up included


def log(text):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), text))
    sys.stderr.flush()


def proc_status_kib(pid, field):
    """A ``kB`` field of /proc/PID/status (``VmHWM`` = peak RSS, ``RssAnon`` = heap etc.)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Broker:
    """A name server + broker process (``python -m rocketmq.broker``) on ephemeral ports."""

    def __init__(self, flush="async", label="broker"):
        self.label = label
        self.store_dir = tempfile.mkdtemp(prefix="rocketmq-bench-%s-" % label)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rocketmq.broker",
                "--store-dir",
                self.store_dir,
                "--namesrv-port",
                "0",
                "--broker-port",
                "0",
                "--flush",
                flush,
                "--log-level",
                "error",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=HERE,
        )
        self.namesrv = self.broker = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (self.namesrv is None or self.broker is None):
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.match(r"name server listening on (\S+)", line)
            if m:
                self.namesrv = m.group(1)
            m = re.match(r"broker listening on (\S+)", line)
            if m:
                self.broker = m.group(1)
        if self.namesrv is None or self.broker is None:
            self.stop()
            raise RuntimeError("the %s did not start" % label)

    @property
    def pid(self):
        return self.proc.pid

    def memory_kib(self):
        """(peak RSS, current anonymous RSS). The peak includes the mmapped commit-log pages
        the broker touched (file-backed, reclaimable page cache); RssAnon is its own memory."""
        return proc_status_kib(self.pid, "VmHWM"), proc_status_kib(self.pid, "RssAnon")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.store_dir, ignore_errors=True)


_group_seq = [0]


def fresh_group(prefix):
    _group_seq[0] += 1
    return "%s%d_%d" % (prefix, os.getpid(), _group_seq[0])


def run_worker(python, case, args, timeout=CASE_TIMEOUT):
    """Runs one client case in a new process; returns its RESULT dict (raises on failure)."""
    cmd = [python, WORKER, case, json.dumps(args)]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE, check=False
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError("%s timed out after %.0f s" % (case, timeout)) from None
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(
        "%s (%s) gave no result; exit %s; stderr tail: %s"
        % (case, python, out.returncode, out.stderr[-800:])
    )


def run_loadgen(loadgen, broker_addr, extra, timeout=CASE_TIMEOUT):
    """Runs the load generator against `broker_addr` (None: its in-process null broker)."""
    target = ["--broker", broker_addr] if broker_addr else ["--null-broker"]
    cmd = [loadgen] + target + [str(x) for x in extra]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError("loadgen failed: %s" % out.stderr[-800:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def fsyncs_during(pid, seconds):
    """Starts `perf stat` counting fsync-family syscalls of `pid`; returns a reader."""
    perf = shutil.which("perf")
    if perf is None:
        return None
    events = "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync,syscalls:sys_enter_msync"
    out = tempfile.NamedTemporaryFile(prefix="bench-perf-", suffix=".txt", delete=False)
    out.close()
    proc = subprocess.Popen(
        [perf, "stat", "-x", ",", "-e", events, "-p", str(pid), "-o", out.name, "--"]
        + ["sleep", "%.2f" % seconds],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def read():
        try:
            proc.wait(seconds + 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        counts = {}
        try:
            with open(out.name) as f:
                for line in f:
                    parts = line.strip().split(",")
                    if len(parts) >= 3 and parts[0].isdigit():
                        counts[parts[2].split(":")[-1]] = int(parts[0])
        finally:
            os.unlink(out.name)
        return counts or None

    return read


def raw_fdatasync_rate(directory, seconds=1.0):
    """4 KiB append + fdatasync in a loop on the disk that holds `directory`: syncs/s."""
    path = os.path.join(directory, "bench-fdatasync.tmp")
    block = b"\0" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            os.write(fd, block)
            os.fdatasync(fd)
            n += 1
        return n / (time.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(path)


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def machine_summary():
    """nproc, CPU model and memory, as the README records them."""
    model, mem = "unknown CPU", "unknown memory"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1024.0 / 1024.0)
                    break
    except OSError:
        pass
    return "machine: %d CPUs (nproc), %s, %s RAM" % (os.cpu_count() or 0, model, mem)


def flush_store(store_dir):
    """fdatasync every file of a broker's store directory: writes back what the fill left
    dirty, so the measured case does not share the disk and CPU with that writeback. Only the
    broker's own files (a machine-wide sync would also wait for unrelated jobs)."""
    started = time.monotonic()
    for root, _dirs, files in os.walk(store_dir):
        for name in files:
            try:
                fd = os.open(os.path.join(root, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fdatasync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)
    return time.monotonic() - started


class Table:
    def __init__(self):
        self.rows = []
        self.raw = {}

    def add(self, name, unit, ours, base, base_name, lat=None, base_lat=None, target=None):
        self.rows.append((name, unit, ours, base, base_name, lat, base_lat, target))

    def render(self):
        def num(v):
            if v is None:
                return "n/a"
            if isinstance(v, str):
                return v
            if abs(v) >= 100:
                return "{:,.0f}".format(v)
            return "{:.2f}".format(v)

        def lat(d):
            if not d or "p50_us" not in d:
                return ""
            return "%s/%s/%s" % tuple(num(d[k] / 1000.0) for k in ("p50_us", "p99_us", "p999_us"))

        header = (
            "case",
            "unit",
            "ours",
            "baseline",
            "ratio",
            "baseline is",
            "ours p50/p99/p999 ms",
            "baseline p50/p99/p999 ms",
            "target",
        )
        lines = []
        for name, unit, ours, base, base_name, ol, bl, target in self.rows:
            ratio = ""
            if isinstance(ours, (int, float)) and isinstance(base, (int, float)) and base:
                ratio = "%.2fx" % (ours / base)
            lines.append(
                (name, unit, num(ours), num(base), ratio, base_name, lat(ol), lat(bl), target or "")
            )
        widths = [max(len(str(r[i])) for r in [header] + lines) for i in range(len(header))]
        md = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"]
        md.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in lines:
            md.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
        return "\n".join(md)


def rate(result, key="msgs", seconds="seconds"):
    if not result or not result.get(seconds):
        return None
    return result[key] / result[seconds]


# Case names to run (substrings, from --only); empty: every case.
ONLY = []


def safe(table, what, fn):
    """Runs one case; a failing case becomes a row saying so instead of ending the run."""
    if ONLY and not any(word in what for word in ONLY):
        log("%s skipped (--only)" % what)
        return
    started = time.monotonic()
    log("%s ..." % what)
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - report and go on with the other cases
        log("%s FAILED: %s" % (what, e))
        table.add(what, "FAILED", str(e)[:60], None, "")
    log("%s done in %.1f s" % (what, time.monotonic() - started))


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
    opts = ap.parse_args()
    ONLY.extend(word.strip() for word in opts.only.split(",") if word.strip())
    if opts.duration > 20:
        ap.error("--duration must be at most 20 s (each case is bounded to 30 s)")

    table = Table()
    raw = table.raw
    cpp = opts.cpp_python
    ours = sys.executable
    body, dur = opts.body, opts.duration
    kib = body / 1024.0
    mb = body / 1e6
    run_started = time.monotonic()
    load_at_start = load_average()
    log("%s; load average %s" % (machine_summary(), load_at_start))

    def pair(case, extra, topic, prefix):
        """Runs `case` with our client, then with the C++ client; same broker, same args."""
        results = {}
        for who, python in (("ours", ours), ("cpp", cpp)):
            args = dict(namesrv=A.namesrv, topic=topic, group=fresh_group(prefix + who))
            args.update(body=body, duration=dur)
            args.update(extra)
            results[who] = run_worker(python, case, args)
            raw["%s/%s" % (prefix, who)] = results[who]
            log("  %s: %s" % (who, json.dumps(results[who])))
        return results["ours"], results["cpp"]

    broker_rss_async = None
    consume_rss = {}
    count = opts.consume_count
    log("starting the async-flush broker")
    A = Broker("async", "async")
    try:
        # ---- client send cases: ours vs the C++ client, same broker ----
        def send_sync_1():
            o, c = pair("send_sync", {"threads": 1}, "BenchSend", "sync1")
            table.add(
                "send_sync 1 thread, %g KiB" % kib,
                "msg/s",
                rate(o),
                rate(c),
                "C++ client",
                o,
                c,
                ">= 2x C++",
            )

        def send_sync_8():
            o, c = pair("send_sync", {"threads": 8}, "BenchSend", "sync8")
            table.add("send_sync 8 threads", "msg/s", rate(o), rate(c), "C++ client", o, c)

        def send_async():
            o, c = pair("send_async", {"window": 256}, "BenchSend", "async")
            table.add("send_async, 256 in flight", "msg/s", rate(o), rate(c), "C++ client", o, c)

        def send_batch():
            o, c = pair("send_batch", {"batch": 32}, "BenchSend", "batch")
            table.add(
                "send_batch 32 x %g KiB" % kib,
                "msg/s",
                rate(o),
                rate(c),
                "C++ client",
                o,
                c,
            )
            table.add(
                "send_batch 32 x %g KiB" % kib,
                "MB/s",
                rate(o) * mb,
                rate(c) * mb,
                "C++ client",
            )

        safe(table, "send_sync 1 thread", send_sync_1)
        safe(table, "send_sync 8 threads", send_sync_8)
        safe(table, "send_async", send_async)
        safe(table, "send_batch", send_batch)

        # ---- consume cases: a backlog of consume_count messages drained by one consumer ----

        def fill_consume_topic():
            r = run_worker(
                ours,
                "fill",
                dict(
                    namesrv=A.namesrv,
                    topic="BenchConsume",
                    group=fresh_group("fill"),
                    body=body,
                    count=count,
                    batch=32,
                    timeout=25,
                ),
            )
            if r["msgs"] < count:
                raise RuntimeError("filled only %d of %d messages" % (r["msgs"], count))

        def push():
            results = {}
            for who, python in (("ours", ours), ("cpp", cpp)):
                r = run_worker(
                    python,
                    "push",
                    dict(
                        namesrv=A.namesrv,
                        topic="BenchConsume",
                        group=fresh_group("push" + who),
                        count=count,
                        timeout=25,
                    ),
                )
                raw["push/" + who] = r
                log("  %s: %s" % (who, json.dumps(r)))
                if not r["complete"]:
                    log("  %s consumed only %d of %d" % (who, r["msgs"], count))
                results[who] = r
                consume_rss[who] = r["peak_rss_kib"]
            table.add(
                "push consume, no-op callback",
                "msg/s",
                rate(results["ours"]),
                rate(results["cpp"]),
                "C++ client",
                target=">= 200k",
            )

        def pull():
            results = {}
            for who, python in (("ours", ours), ("cpp", cpp)):
                r = run_worker(
                    python,
                    "pull",
                    dict(
                        namesrv=A.namesrv,
                        topic="BenchConsume",
                        group=fresh_group("pull" + who),
                        count=count,
                        timeout=25,
                    ),
                )
                raw["pull/" + who] = r
                log("  %s: %s" % (who, json.dumps(r)))
                results[who] = r
            table.add(
                "pull consume (PullConsumer.pull)",
                "msg/s",
                rate(results["ours"]),
                rate(results["cpp"]),
                "C++ client",
            )

        safe(table, "fill %d messages for the consume cases" % count, fill_consume_topic)
        safe(table, "push consume", push)
        safe(table, "pull consume", pull)

        # ---- broker alone, async flush: the Rust load generator ----
        loadgen_async = {}

        def loadgen_case(key, name, shape):
            """The same load against the broker and against the load generator's null broker
            (decodes and answers, stores nothing): the baseline is the ceiling of the load
            generator, loopback TCP and the frame codec on this machine."""
            common = ["--body", body, "--duration", dur + 1, "--warmup", 1] + shape
            r = run_loadgen(opts.loadgen, A.broker, common)
            null = run_loadgen(opts.loadgen, None, common)
            raw["loadgen/async/" + key] = r
            raw["loadgen/null/" + key] = null
            loadgen_async[key] = r
            log("  broker: %s" % json.dumps(r))
            log("  null broker: %s" % json.dumps(null))
            table.add(
                name,
                "msg/s",
                r["msgs_per_s"],
                null["msgs_per_s"],
                "null broker, same load",
                r,
                null,
                ">= 300k",
            )
            return r, null

        def loadgen_single():
            loadgen_case(
                "single",
                "broker alone, async flush, 16 conn x 32 pipelined",
                ["--connections", 16, "--window", 32],
            )

        def loadgen_batch():
            r, null = loadgen_case(
                "batch",
                "broker alone, async flush, batches of 32, 8 conn x 4",
                ["--connections", 8, "--window", 4, "--batch", 32],
            )
            table.add(
                "broker alone, async flush, batches of 32",
                "MB/s",
                r["mb_per_s"],
                null["mb_per_s"],
                "null broker, same load",
            )

        safe(table, "loadgen async flush, single messages", loadgen_single)
        safe(table, "loadgen async flush, batches", loadgen_batch)
        broker_rss_async = A.memory_kib()
    finally:
        A.stop()

    # ---- broker alone, sync flush (group commit) and fsyncs per second ----
    def sync_flush():
        S = Broker("sync", "sync")
        try:
            base_fsync = raw_fdatasync_rate(S.store_dir, 1.0)
            raw["fdatasync_raw_per_s"] = base_fsync
            # Warm-up run so the topic exists and the page cache is primed.
            run_loadgen(
                opts.loadgen, S.broker, ["--connections", 4, "--duration", 1, "--warmup", 0.5]
            )
            reader = fsyncs_during(S.pid, dur)
            r = run_loadgen(
                opts.loadgen,
                S.broker,
                [
                    "--connections",
                    16,
                    "--window",
                    32,
                    "--body",
                    body,
                    "--duration",
                    dur,
                    "--warmup",
                    0,
                ],
            )
            counts = reader() if reader else None
            raw["loadgen/sync/single"] = r
            raw["sync_fsyncs"] = counts
            log("  %s fsyncs %s" % (json.dumps(r), counts))
            single = loadgen_async.get("single")
            table.add(
                "broker alone, sync flush, 16 conn x 32 pipelined",
                "msg/s",
                r["msgs_per_s"],
                single["msgs_per_s"] if single else None,
                "async flush (same load)",
                r,
                single,
                ">= 30k",
            )
            if counts:
                syncs = sum(counts.values()) / dur
                table.add(
                    "fsync-family syscalls/s under sync flush",
                    "syncs/s",
                    syncs,
                    base_fsync,
                    "raw 4 KiB append+fdatasync loop",
                )
                if syncs:
                    table.add(
                        "messages per fsync (group commit size)",
                        "msgs",
                        r["msgs_per_s"] / syncs,
                        None,
                        "",
                    )
            else:
                table.add(
                    "fsyncs/s under sync flush",
                    "syncs/s",
                    "perf unavailable",
                    base_fsync,
                    "raw 4 KiB append+fdatasync loop",
                )
        finally:
            S.stop()

    safe(table, "sync flush", sync_flush)

    # ---- backlog: send + tail consume on an empty broker vs one holding N messages ----
    def backlog():
        results = {}
        for label in ("empty", "backlog"):
            B = Broker("async", "backlog-" + label)
            try:
                if label == "backlog":
                    # Stored on another topic: the store as a whole holds N messages.
                    per_request = 32
                    started = time.monotonic()
                    r = run_loadgen(
                        opts.loadgen,
                        B.broker,
                        [
                            "--topic",
                            "BenchBacklogFill",
                            "--connections",
                            8,
                            "--window",
                            4,
                            "--batch",
                            per_request,
                            "--body",
                            body,
                            "--total",
                            opts.backlog,
                            "--duration",
                            600,
                            "--warmup",
                            0,
                        ],
                        timeout=max(CASE_TIMEOUT, opts.backlog / 20000.0),
                    )
                    stored = r["ok_requests"] * per_request
                    raw["backlog/fill"] = r
                    log("  stored %d messages in %.1f s" % (stored, time.monotonic() - started))
                    if stored < opts.backlog:
                        raise RuntimeError("stored only %d of %d" % (stored, opts.backlog))
                took = flush_store(B.store_dir)
                log("  %s: store written back in %.1f s before measuring" % (label, took))
                t = run_worker(
                    ours,
                    "tail",
                    dict(
                        namesrv=B.namesrv,
                        topic="BenchTail",
                        group=fresh_group("tail"),
                        body=body,
                        duration=dur,
                        batch=32,
                    ),
                )
                raw["backlog/tail/" + label] = t
                log("  %s: %s" % (label, json.dumps(t)))
                results[label] = t
            finally:
                B.stop()
        e, b = results["empty"], results["backlog"]
        table.add(
            "send_batch with %d stored" % opts.backlog,
            "msg/s",
            rate(b),
            rate(e),
            "empty broker",
            b,
            e,
            "within 10%",
        )
        table.add(
            "tail consume with %d stored" % opts.backlog,
            "msg/s",
            rate(b, "consumed", "consume_seconds"),
            rate(e, "consumed", "consume_seconds"),
            "empty broker",
            None,
            None,
            "within 10%",
        )

    safe(table, "backlog", backlog)

    # ---- peak memory ----
    if broker_rss_async:
        peak, anon = broker_rss_async
        table.add(
            "broker peak RSS incl. mapped commit log (async cases)",
            "MiB",
            peak / 1024.0 if peak else None,
            None,
            "",
        )
        table.add(
            "broker anonymous RSS at the end (heap; Python included)",
            "MiB",
            anon / 1024.0 if anon else None,
            None,
            "",
        )
    if consume_rss:
        table.add(
            "push consumer peak RSS (%d msg backlog)" % count,
            "MiB",
            consume_rss.get("ours", 0) / 1024.0,
            consume_rss.get("cpp", 0) / 1024.0,
            "C++ client",
        )

    print()
    print(
        "RocketMQ benchmarks: %g KiB bodies, %g s per case, whole run %.0f s"
        % (kib, dur, time.monotonic() - run_started)
    )
    print(machine_summary())
    print("load average at start: %s; at end: %s" % (load_at_start, load_average()))
    print(table.render())
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(raw, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
