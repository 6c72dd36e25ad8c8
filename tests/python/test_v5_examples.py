"""The 5.x examples (examples/v5_*.py), run as users run them, against a RocketMQ 5 endpoint
(v5tools): what the producer sends, the simple consumer and the push consumer receive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from v5tools import v5_endpoint_fixture  # noqa: F401 (fixture)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.timeout(240)


def run(script: str, env: dict) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        env=env,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("consumer", ["v5_simple_consumer.py", "v5_push_consumer.py"])
def test_the_examples_send_and_consume(v5_endpoint, consumer):
    env = dict(
        os.environ,
        ROCKETMQ_ENDPOINT=v5_endpoint.endpoint,
        TOPIC=v5_endpoint.topic(),
        GROUP=v5_endpoint.group(),
        COUNT="3",
    )
    out = run("v5_producer.py", env)
    assert out.count("send message") == 3 and "send_async success" in out, out
    out = run(consumer, env)
    # Three sent by send() and one by send_async().
    assert out.splitlines()[-1] in (
        "acked 3 messages",
        "acked 4 messages",
        "consumed 3 messages",
        "consumed 4 messages",
    ), out


@pytest.mark.ours_broker_only("v5_quickstart.py starts its own LocalBroker")
def test_the_v5_quickstart_round_trips():
    out = run("v5_quickstart.py", dict(os.environ))
    lines = out.splitlines()
    assert lines[0].startswith("broker running; gRPC endpoint at 127.0.0.1:"), out
    assert sum(line.startswith("sent ") for line in lines) == 3, out
    assert sum(line.startswith("received ") for line in lines) == 3, out
    assert lines[-1] == "round trip OK: sent and received 3 messages", out
