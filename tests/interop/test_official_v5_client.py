"""The official RocketMQ 5.x Python client (PyPI rocketmq-python-client, pinned in
official_v5.py, in its own virtualenv) runs the flows of its example scripts
(tests/interop/v5_flows) against a gRPC endpoint: our broker's in the default run, Apache's
proxy with ``ROCKETMQ_TEST_BROKER=apache`` (which proves the flow scripts themselves).

Flows: normal send (sync and async) and tag-filtered receive; FIFO send and ordered
consumption per message group; delay (timer) messages; transactions committed, rolled back
and checked back; SimpleConsumer receive, ack and change of invisible duration; PushConsumer
with a retried message. The checks are in v5_flow_checks.py (shared with the Java 5.x client).
One broker per module; every topic and group is fresh.
"""

from __future__ import annotations

import pytest
from official_v5 import expect_served, official_python, run_flow, v5_target
from v5_flow_checks import CHECKS, FLOW_ARGS

pytestmark = [
    pytest.mark.apache4_unsupported("RocketMQ 5 gRPC: Apache 4.9 has no proxy"),
    pytest.mark.timeout(240),
]


@pytest.fixture(scope="module")
def target(request, tmp_path_factory):
    with v5_target(request, tmp_path_factory) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def python():
    return official_python()


@pytest.mark.parametrize("flow", sorted(CHECKS))
def test_official_client_flow(request, target, python, flow, tmp_path):
    expect_served(request, target, flow)
    topic = target.topic(flow)
    args = dict(FLOW_ARGS[flow], endpoint=target.endpoint, topic=topic, group=target.group(flow))
    run = run_flow(python, flow, args, tmp_path / "home")
    CHECKS[flow](run.records, topic)
