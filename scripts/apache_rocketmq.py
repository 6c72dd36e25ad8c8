#!/usr/bin/env python3
"""Apache RocketMQ for the tests, from the command line (the pytest fixtures use the same code,
tests/apache/apache_cluster.py).

  python3 scripts/apache_rocketmq.py prepare
      Resolves the pinned Apache RocketMQ release from Maven Central with Maven (once) into
      $XDG_CACHE_HOME/rocketmq-tests/apache-<version> (~/.cache/... by default) and prints the
      directory of its jars. Later runs find the cache and do nothing.

  python3 scripts/apache_rocketmq.py run [--workdir DIR] [--seconds N]
      Starts Apache's name server and a broker on 127.0.0.1 with free ports and a temporary
      store, prints the name server's address, and stops them after N seconds (default 3600),
      on Ctrl-C or on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "apache"), str(ROOT / "tests" / "python")]

import apache_cluster  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help="download the pinned release into the cache (once)")
    run = commands.add_parser("run", help="run a name server and a broker on 127.0.0.1")
    run.add_argument("--workdir", type=Path, help="store and logs (default: a temp directory)")
    run.add_argument("--seconds", type=float, default=3600, help="stop after this long")
    args = parser.parse_args()

    if args.command == "prepare":
        lib = apache_cluster.prepare_artifacts()
        print(f"Apache RocketMQ {apache_cluster.APACHE_VERSION}: {lib}")
        return 0

    apache_cluster.prepare_artifacts()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="apache-rocketmq-") as tmp:
        workdir = args.workdir or Path(tmp)
        with apache_cluster.ApacheCluster(workdir) as cluster:
            print(f"name server {cluster.namesrv_addr}", flush=True)
            print(f"broker {cluster.broker_name} {cluster.broker_addr}", flush=True)
            print(f"logs {cluster.log_dir}", flush=True)
            try:
                stop.wait(args.seconds)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
