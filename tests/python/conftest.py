"""Fixtures of the Python client tests."""

import pytest
from clienttools import FAST_LEVELS

from rocketmq.broker import LocalBroker


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A name server + broker for the module: free ports, temporary store, fast retries."""
    with LocalBroker(
        store_dir=str(tmp_path_factory.mktemp("store")),
        namesrv_port=0,
        broker_port=0,
        delay_levels=FAST_LEVELS,
        segment_size=64 << 20,
    ) as b:
        yield b
