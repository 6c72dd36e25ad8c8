"""Apache's Java 5.x client (org.apache.rocketmq:rocketmq-client-java, gRPC; the driver in
tests/drivers/java5, built with Maven into ~/.m2 and cached) runs the same six flows as the
official Python client (v5_flows: normal, FIFO, delay, transaction with check-back, simple
consumer, push consumer), printing the same records, checked by the same code
(v5_flow_checks.py): against our broker's gRPC endpoint in the default run, against Apache's
proxy with ``ROCKETMQ_TEST_BROKER=apache``. One broker per module; fresh topics and groups;
the flows run side by side.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from official_v5 import all_flows_started, expect_served, v5_target
from v5_flow_checks import CHECKS

pytestmark = [
    pytest.mark.apache4_unsupported("RocketMQ 5 gRPC: Apache 4.9 has no proxy"),
    pytest.mark.timeout(240),
]

DRIVER_DIR = Path(__file__).resolve().parent.parent / "drivers" / "java5"
# Small heaps and a quick start: several JVMs share a small machine.
JVM_OPTIONS = ["-Xmx256m", "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]


@functools.lru_cache(maxsize=None)
def driver_classpath() -> str:
    """Builds the driver if its sources changed (a no-op otherwise); its class path."""
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            pytest.fail(f"the Java 5.x client tests need `{tool}` (Java 17 and Maven) on PATH")
    build = subprocess.run(
        ["bash", str(DRIVER_DIR / "build.sh")], capture_output=True, text=True, timeout=1200
    )
    if build.returncode != 0:
        pytest.fail(f"building the Java 5.x driver failed:\n{build.stderr[-5000:]}")
    return build.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def target(request, tmp_path_factory):
    with v5_target(request, tmp_path_factory) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def flow_runs(target, tmp_path_factory):
    """Every flow started at once, one JVM each."""
    classpath = driver_classpath()

    def command(flow, args, home):
        argv = ["java", *JVM_OPTIONS, f"-Duser.home={home}", "-cp", classpath]
        return argv + ["rocketmq.java5driver.Main", flow, json.dumps(args)]

    with all_flows_started(target, command, tmp_path_factory, "java5") as runs:
        yield runs


@pytest.mark.parametrize("flow", sorted(CHECKS))
def test_java5_client_flow(request, target, flow_runs, flow):
    expect_served(request, target, flow)
    topic, process = flow_runs[flow]
    CHECKS[flow](process.result().records, topic)
