"""Fixtures of the Python client tests. The broker is the one under test (tests/conftest.py:
our LocalBroker by default, Apache RocketMQ's with ROCKETMQ_TEST_BROKER=apache)."""

import pytest
from clienttools import FAST_LEVELS


@pytest.fixture(scope="module")
def broker(broker_factory):
    """A name server + broker for the module: free ports, temporary store, fast retries."""
    with broker_factory(delay_levels=FAST_LEVELS, segment_size=64 << 20) as b:
        yield b
