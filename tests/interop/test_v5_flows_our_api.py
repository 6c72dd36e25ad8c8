"""The flow scripts of the official 5.x client's examples (tests/interop/v5_flows, plain
``from rocketmq import Producer, SimpleConsumer, ...`` code) run unchanged on this package's own
RocketMQ 5.x API, under the interpreter running pytest: the drop-in check. Against the same
endpoints as test_official_v5_client.py (ours by default, Apache's proxy with
``ROCKETMQ_TEST_BROKER=apache``), with the same checks (v5_flow_checks.py).

Skipped while this package has no 5.x API (``rocketmq.SimpleConsumer`` and friends).
"""

from __future__ import annotations

import importlib
import sys

import pytest
from official_v5 import all_flows_started, expect_served, flow_argv, v5_target
from v5_flow_checks import CHECKS

pytestmark = [
    pytest.mark.apache4_unsupported("RocketMQ 5 gRPC: Apache 4.9 has no proxy"),
    pytest.mark.timeout(240),
]

API_NAMES = ("Producer", "SimpleConsumer", "PushConsumer", "ClientConfiguration", "Message")


def our_api_missing() -> list:
    package = importlib.import_module("rocketmq")
    return [name for name in API_NAMES if not hasattr(package, name)]


@pytest.fixture(scope="module")
def target(request, tmp_path_factory):
    missing = our_api_missing()
    if missing:
        pytest.skip(f"this package has no RocketMQ 5.x API yet (rocketmq lacks {missing})")
    with v5_target(request, tmp_path_factory) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def flow_runs(target, tmp_path_factory):
    """Every flow started at once under this interpreter (this package's 5.x API)."""

    def command(flow, args, home):
        return flow_argv(sys.executable, flow, args)

    with all_flows_started(target, command, tmp_path_factory, "v5ours") as runs:
        yield runs


@pytest.mark.parametrize("flow", sorted(CHECKS))
def test_our_5x_api_runs_the_official_flow(request, target, flow_runs, flow):
    expect_served(request, target, flow)
    topic, process = flow_runs[flow]
    CHECKS[flow](process.result().records, topic)
