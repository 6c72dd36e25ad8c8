"""What the benchmarks measure with, process by process: client cases in fresh worker
processes (``client_worker.py``), the Rust load generator, ``perf stat`` for fsync-family
syscalls, a raw fdatasync loop, and the write-back of a store before a measurement.

Every helper is bounded: a worker or load-generator run has a hard timeout, and ``perf`` is
waited for at most its duration plus 10 s.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "client_worker.py")
CASE_TIMEOUT = 30.0  # hard limit per case, start-up included
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


def rate(result, key="msgs", seconds="seconds"):
    """Messages per second of a result; a string (why there is no result) passes through."""
    if isinstance(result, str):
        return result
    if not result or not result.get(seconds):
        return None
    return result[key] / result[seconds]
