"""The official RocketMQ 5.x Python client (PyPI rocketmq-python-client, pinned in
official_v5.py, in its own virtualenv) runs the flows of its example scripts
(tests/interop/v5_flows) against a gRPC endpoint: our broker's in the default run, Apache's
proxy with ``ROCKETMQ_TEST_BROKER=apache`` (which proves the flow scripts themselves).

Flows: normal send (sync and async) and tag-filtered receive; FIFO send and ordered
consumption per message group; delay (timer) messages; transactions committed, rolled back
and checked back; SimpleConsumer receive, ack and change of invisible duration; PushConsumer
with a retried message. The checks are in v5_flow_checks.py (shared with the Java 5.x client).
One broker per module; every topic and group is fresh, and the flows run side by side
(they share nothing), so the module takes the time of the slowest.
"""

from __future__ import annotations

import pytest
from official_v5 import all_flows_started, expect_served, flow_argv, official_python, v5_target
from v5_flow_checks import CHECKS

pytestmark = [
    pytest.mark.apache4_unsupported("RocketMQ 5 gRPC: Apache 4.9 has no proxy"),
    pytest.mark.timeout(240),
]


@pytest.fixture(scope="module")
def target(request, tmp_path_factory):
    with v5_target(request, tmp_path_factory) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def flow_runs(target, tmp_path_factory):
    """Every flow started at once under the official client's interpreter."""
    python = official_python()

    def command(flow, args, home):
        return flow_argv(python, flow, args)

    with all_flows_started(target, command, tmp_path_factory, "v5py") as runs:
        yield runs


@pytest.mark.parametrize("flow", sorted(CHECKS))
def test_official_client_flow(request, target, flow_runs, flow):
    expect_served(request, target, flow)
    topic, process = flow_runs[flow]
    CHECKS[flow](process.result().records, topic)
