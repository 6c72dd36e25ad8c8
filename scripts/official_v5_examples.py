"""Runs the official 5.x Python client's example scripts on this package: each script of a
checkout's ``python/example`` folder (apache/rocketmq-clients), with only its endpoint
changed, against a bundled broker's gRPC endpoint.

    python scripts/official_v5_examples.py PATH/TO/rocketmq-clients/python/example

The scripts are not part of this repository (nor of the PyPI package), so this is a command
to run by hand on a checkout, not a test. Each script runs under this interpreter (which must
import this package as ``rocketmq``) in a temporary directory with HOME pointing there, the
text ``"foobar.com:8080"`` replaced by the broker's endpoint; it passes when its output shows
what it was written to do (sends answered, messages consumed or acked, the transaction
checker asked) and never "raise exception". Scripts that wait for Enter get it once that
output is there; the simple consumer's endless loop is stopped once it acked what was sent.
Lite-topic scripts are reported as not supported (this package serves no lite topics).

What must stay true: every script is bounded by ``--timeout`` and killed past it; the broker
listens on 127.0.0.1 only and its store is a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

ENDPOINT_TEXT = '"foobar.com:8080"'
SENT = "send message success"


@dataclass
class Example:
    """One script and what its output must show."""

    name: str
    #: Whether the output so far is complete (then Enter is sent, or the script is stopped).
    done: Callable[[str], bool]
    #: Send Enter once done (the script waits in ``input()``); else stop it (endless loop).
    enter: bool = False
    stop: bool = False
    unsupported: Optional[str] = None
    topics: List[str] = field(default_factory=list)


def count(text: str, what: str) -> int:
    return len(re.findall(re.escape(what), text))


EXAMPLES = [
    Example("normal_producer_example", lambda o: count(o, SENT) >= 10),
    Example("async_producer_example", lambda o: count(o, SENT) >= 10, enter=True),
    Example(
        "transaction_producer_example",
        lambda o: count(o, SENT) >= 1 and "do TestChecker check" in o,
        enter=True,
    ),
    Example("fifo_producer_example", lambda o: count(o, SENT) >= 9),
    Example("delay_producer_example", lambda o: count(o, SENT) >= 1),
    Example("priority_producer_example", lambda o: count(o, SENT) >= 10),
    # 10 + 10 + the committed transaction message, on "topic".
    Example("push_consumer_example", lambda o: count(o, "consume message") >= 21, enter=True),
    Example("normal_producer_example", lambda o: count(o, SENT) >= 10),
    Example("simple_consumer_example", lambda o: count(o, "ack message") >= 10, stop=True),
    Example("lite_producer_example", lambda o: False, unsupported="lite topics"),
    Example("lite_push_consumer_example", lambda o: False, unsupported="lite topics"),
]


def prepare(namesrv_addr: str) -> None:
    from rocketmq.admin import Admin

    with Admin(namesrv_addr, timeout=30) as admin:
        admin.create_topic("topic", 4)
        admin.create_topic("delay-topic", 4, message_type="DELAY")
        admin.create_topic("fifo-test-topic", 4, message_type="FIFO")
        admin.create_topic("priority-topic", 4, message_type="PRIORITY")
        admin.create_subscription_group("consumer-group")


def run_one(path: Path, endpoint: str, home: Path, ex: Example, timeout: float) -> tuple:
    text = path.read_text(encoding="utf-8")
    if ENDPOINT_TEXT not in text:
        return False, f"{path.name} has no {ENDPOINT_TEXT} to replace", ""
    script = home / path.name
    script.write_text(text.replace(ENDPOINT_TEXT, f'"{endpoint}"'), encoding="utf-8")
    env = dict(os.environ, HOME=str(home), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=home,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out: List[str] = []
    reader = threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")))
    reader.start()
    deadline = time.monotonic() + timeout
    finished_by_us = False
    while proc.poll() is None and time.monotonic() < deadline:
        if ex.done("".join(out)) and (ex.enter or ex.stop):
            if ex.enter:
                proc.stdin.write("\n")
                proc.stdin.flush()
            else:
                proc.terminate()
            finished_by_us = True
            break
        time.sleep(0.1)
    try:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(timeout=5)
        return False, f"still running after {timeout:.0f} s", "".join(out)
    reader.join(timeout=5)
    output = "".join(out)
    if "raise exception" in output:
        return False, "the script reported an exception", output
    if not ex.done(output):
        return False, "its output does not show the work done", output
    if proc.returncode != 0 and not (ex.stop and finished_by_us):
        return False, f"exit status {proc.returncode}", output
    return True, "", output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("example_dir", type=Path, help="python/example of rocketmq-clients")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per script")
    parser.add_argument("--verbose", action="store_true", help="print every script's output")
    args = parser.parse_args()
    from rocketmq.broker import LocalBroker

    failed = 0
    with tempfile.TemporaryDirectory(prefix="rocketmq-examples-") as tmp:
        broker = LocalBroker(
            store_dir=str(Path(tmp) / "store"),
            namesrv_port=0,
            broker_port=0,
            grpc_port=0,
            transaction_check_interval_ms=1000,
            transaction_timeout_ms=1000,
        )
        with broker:
            prepare(broker.namesrv_addr)
            for ex in EXAMPLES:
                path = args.example_dir / f"{ex.name}.py"
                if ex.unsupported:
                    print(f"{ex.name:32} not supported ({ex.unsupported})")
                    continue
                if not path.exists():
                    print(f"{ex.name:32} missing from {args.example_dir}")
                    failed += 1
                    continue
                home = Path(tempfile.mkdtemp(dir=tmp))
                started = time.monotonic()
                ok, why, output = run_one(path, broker.grpc_endpoint, home, ex, args.timeout)
                took = time.monotonic() - started
                print(f"{ex.name:32} {'passed' if ok else 'FAILED'} ({took:.1f} s) {why}")
                if not ok or args.verbose:
                    print("  | " + "\n  | ".join(output.splitlines()[-30:]))
                failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
