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
def test_quickstart_round_trip():
    proc = run("quickstart.py", dict(os.environ))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "round trip OK" in proc.stdout
    # Callbacks print from several threads, so their lines may interleave: count the bodies
    # (each printed in one piece), not the lines.
    bodies = re.findall(r"b'hello (\d+)'", proc.stdout)
    assert sorted(int(b) for b in bodies) == list(range(10)), proc.stdout


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
