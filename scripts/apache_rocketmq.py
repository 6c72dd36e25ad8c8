#!/usr/bin/env python3
"""Apache RocketMQ for the tests, from the command line (the pytest fixtures use the same code,
tests/apache/apache_cluster.py and apache_proxy.py).

  python3 scripts/apache_rocketmq.py prepare [--version V]
      Resolves every Apache RocketMQ release the test suite uses (5.5.0 with its proxy, and the
      last 4.9.x), or only V, from Maven Central with Maven (once) into
      $XDG_CACHE_HOME/rocketmq-tests/apache-<version> (~/.cache/... by default) and prints the
      directories of their jars. Later runs find the cache and do nothing.

  python3 scripts/apache_rocketmq.py run [--version V] [--proxy] [--workdir DIR] [--seconds N]
      Starts Apache's name server and a broker of release V (default 5.5.0) on 127.0.0.1 with
      free ports and a temporary store, with --proxy (5.x only) also the proxy in front of them,
      prints the addresses, and stops them after N seconds (default 3600), on Ctrl-C or on
      SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "apache"), str(ROOT / "tests" / "python")]

import apache_cluster  # noqa: E402
import apache_proxy  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="download the releases into the cache (once)")
    prepare.add_argument(
        "--version", help=f"only this release (default: all of {apache_cluster.SUITE_VERSIONS})"
    )
    run = commands.add_parser("run", help="run a name server and a broker on 127.0.0.1")
    run.add_argument(
        "--version",
        default=apache_cluster.APACHE_VERSION,
        help=f"release to run (default {apache_cluster.APACHE_VERSION}; "
        f"{apache_cluster.APACHE4_VERSION} for 4.x)",
    )
    run.add_argument("--proxy", action="store_true", help="also run the proxy (5.x)")
    run.add_argument("--workdir", type=Path, help="store and logs (default: a temp directory)")
    run.add_argument("--seconds", type=float, default=3600, help="stop after this long")
    args = parser.parse_args()

    if args.command == "prepare":
        for version in [args.version] if args.version else apache_cluster.SUITE_VERSIONS:
            lib = apache_cluster.prepare_artifacts(version)
            print(f"Apache RocketMQ {version}: {lib}")
        return 0

    if args.proxy and apache_cluster.is_4x(args.version):
        parser.error(f"--proxy needs a 5.x release; {args.version} has no proxy")
    apache_cluster.prepare_artifacts(args.version)
    # SIGTERM stops like Ctrl-C: the exception unwinds through the `with` blocks, which stop
    # the processes. (A handler that sets a threading.Event can deadlock: it runs on the main
    # thread, which may hold the Event's lock at that moment.)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="apache-rocketmq-") as tmp:
        workdir = args.workdir or Path(tmp)
        with apache_cluster.ApacheCluster(workdir, version=args.version) as cluster:
            print(f"Apache RocketMQ {cluster.version}", flush=True)
            print(f"name server {cluster.namesrv_addr}", flush=True)
            print(f"broker {cluster.broker_name} {cluster.broker_addr}", flush=True)
            print(f"logs {cluster.log_dir}", flush=True)
            if args.proxy:
                with apache_proxy.ApacheProxy(cluster) as proxy:
                    print(f"proxy remoting {proxy.proxy_remoting_addr}", flush=True)
                    print(f"proxy gRPC {proxy.proxy_grpc_endpoint}", flush=True)
                    print(f"proxy logs {proxy.log_dir}", flush=True)
                    _wait(args.seconds)
            else:
                _wait(args.seconds)
    return 0


def _wait(seconds: float) -> None:
    try:
        time.sleep(seconds)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
