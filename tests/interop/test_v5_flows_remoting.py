"""The flow scripts of the official 5.x client's examples (tests/interop/v5_flows) run on this
package's 5.x API without a proxy: the endpoint they are given is ``remoting://<name
server>``, so the same unchanged scripts speak remoting to the brokers (ours by default,
Apache's with ``ROCKETMQ_TEST_BROKER=apache``), with the checks of the gRPC runs
(v5_flow_checks.py)."""

from __future__ import annotations

import dataclasses
import sys

import pytest
from official_v5 import all_flows_started, flow_argv, v5_target
from v5_flow_checks import CHECKS

pytestmark = [
    pytest.mark.apache4_unsupported("RocketMQ 5 flows: Apache 4.9 has no POP or timer messages"),
    pytest.mark.timeout(240),
]


@pytest.fixture(scope="module")
def target(request, tmp_path_factory):
    with v5_target(request, tmp_path_factory) as grpc_target:
        yield dataclasses.replace(grpc_target, endpoint=f"remoting://{grpc_target.namesrv_addr}")


@pytest.fixture(scope="module")
def flow_runs(target, tmp_path_factory):
    """Every flow started at once under this interpreter, over remoting."""

    def command(flow, args, home):
        return flow_argv(sys.executable, flow, args)

    with all_flows_started(target, command, tmp_path_factory, "v5remoting") as runs:
        yield runs


@pytest.mark.parametrize("flow", sorted(CHECKS))
def test_our_5x_api_runs_the_official_flow_over_remoting(target, flow_runs, flow):
    topic, process = flow_runs[flow]
    CHECKS[flow](process.result().records, topic)
