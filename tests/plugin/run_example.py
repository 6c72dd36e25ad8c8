"""Runs the pytest plugin's example test file (examples/test_pytest_plugin.py) against one
kind of cluster, as CI does (scripts/test.sh):

    python tests/plugin/run_example.py bundled    # the plugin starts its own broker
    python tests/plugin/run_example.py process    # a separate `python -m rocketmq.broker`
    python tests/plugin/run_example.py apache     # Apache RocketMQ's name server and broker

``process`` and ``apache`` start the cluster here, pass its name server with
``--rocketmq-namesrv``, and stop it afterwards. Exit status: pytest's.

What must stay true: everything listens on 127.0.0.1 with free ports; every wait is bounded;
whatever is started here is stopped here, also when pytest fails or is interrupted.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "test_pytest_plugin.py"
#: Bound of the broker program's start (it prints its addresses once listening).
START_TIMEOUT = 60.0
#: Bound of the example run itself.
PYTEST_TIMEOUT = 600.0


def run_example(extra: List[str]) -> int:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(EXAMPLE), *extra]
    print("+", " ".join(command), flush=True)
    env = {k: v for k, v in os.environ.items() if k != "ROCKETMQ_NAMESRV_ADDR"}
    started = time.monotonic()
    status = subprocess.run(command, cwd=ROOT, env=env, timeout=PYTEST_TIMEOUT).returncode
    print(f"example run took {time.monotonic() - started:.1f} s", flush=True)
    return status


def _read_lines(stream, lines: "queue.Queue[Optional[str]]") -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def with_broker_process() -> int:
    """Starts `python -m rocketmq.broker` on free ports, runs the example against it, stops it."""
    store = tempfile.mkdtemp(prefix="rocketmq-plugin-example-")
    command = [
        sys.executable, "-m", "rocketmq.broker",
        "--store-dir", store,
        "--namesrv-port", "0",
        "--broker-port", "0",
        "--segment-size", str(64 << 20),
        "--delay-levels", " ".join(["1s"] * 18),
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[Optional[str]] = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        namesrv = None
        deadline = time.monotonic() + START_TIMEOUT
        seen = []
        while namesrv is None:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise SystemExit(
                    f"rocketmq-broker printed no address in {START_TIMEOUT} s"
                ) from None
            if line is None:
                raise SystemExit("rocketmq-broker exited at start:\n" + "".join(seen))
            seen.append(line)
            if line.startswith("name server listening on "):
                namesrv = line.split()[-1]
        print(f"rocketmq-broker (pid {proc.pid}) name server at {namesrv}", flush=True)
        return run_example(["--rocketmq-namesrv", namesrv])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(store, ignore_errors=True)


def with_apache() -> int:
    """Starts Apache RocketMQ's name server and broker (tests/apache/apache_cluster.py, jars
    prepared by `scripts/apache_rocketmq.py prepare`), runs the example against them."""
    for helpers in ("apache", "python"):
        sys.path.insert(0, str(ROOT / "tests" / helpers))
    from apache_cluster import ApacheCluster

    with tempfile.TemporaryDirectory(prefix="rocketmq-plugin-apache-") as workdir:
        with ApacheCluster(Path(workdir), graceful_stop=False) as cluster:
            print(f"Apache RocketMQ name server at {cluster.namesrv_addr}", flush=True)
            status = run_example(["--rocketmq-namesrv", cluster.namesrv_addr])
            if status != 0:
                print(cluster.log_tail(), flush=True)
            return status


def main(argv: List[str]) -> int:
    modes = {
        "bundled": lambda: run_example([]),
        "process": with_broker_process,
        "apache": with_apache,
    }
    if len(argv) != 1 or argv[0] not in modes:
        print(f"usage: run_example.py {{{'|'.join(modes)}}}", file=sys.stderr)
        return 2
    return modes[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
