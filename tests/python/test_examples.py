"""The examples, run as users run them, against the bundled broker."""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script, env, timeout=60):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        env=env,
        timeout=timeout,
        capture_output=True,
        text=True,
    )


@pytest.mark.ours_broker_only("quickstart.py starts its own LocalBroker")
def test_quickstart_prints_whole_lines_in_order():
    proc = run("quickstart.py", dict(os.environ))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    # Every line whole: the broker line, ten sends, ten receipts by key, the verdict.
    patterns = (
        [r"broker running; name server at 127\.0\.0\.1:\d+"]
        + [r"sent [0-9A-F]{32} OK queue offset \d+"] * 10
        + [r"received [0-9A-F]{32} key-%d demo b'hello %d'" % (i, i) for i in range(10)]
        + [r"round trip OK: sent and received 10 messages"]
    )
    assert len(lines) == len(patterns), proc.stdout
    for line, pattern in zip(lines, patterns):
        assert re.fullmatch(pattern, line), (pattern, proc.stdout)


def test_the_three_original_samples(broker):
    env = dict(os.environ, NAMESRV_ADDR=broker.namesrv_addr, TOPIC="SampleTopic", COUNT="3")
    proc = run("producer_send_msg.py", env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("send message right") == 3, proc.stdout

    proc = run("pull_consumer.py", env)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "test_message" in line]
    assert len(lines) == 3, proc.stdout

    push = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "push_consumer.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    # A reader thread, so that the wait below is bounded even if the script prints nothing.
    # The sample prints from several consumer threads, so two bodies may share a line: count
    # the bodies, not the lines.
    reader = threading.Thread(
        target=lambda: seen.extend(
            body for line in push.stdout for body in re.findall(r"test_id_\d+", line)
        ),
        daemon=True,
    )
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while len(set(seen)) < 3 and time.monotonic() < deadline and push.poll() is None:
            time.sleep(0.05)
        assert sorted(set(seen)) == ["test_id_0", "test_id_1", "test_id_2"], seen
    finally:
        push.kill()
        push.wait(10)
