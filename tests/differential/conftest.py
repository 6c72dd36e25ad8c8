"""Fixtures of the differential tests: the same requests to our broker and to Apache's.

The suite runs only with ``ROCKETMQ_TEST_BROKER=apache`` (it needs Java and the cached Apache
jars); otherwise every test is skipped with that reason. One session holds one Apache name
server + broker (the shared cluster of tests/conftest.py) and one of our ``LocalBroker``\\ s,
configured alike where a comparison depends on it:

* both use 1 s delay levels (Apache has no sub-second levels), so retries and delayed messages
  arrive within seconds;
* both keep the default maximum message size (4 MiB, Java's ``maxMessageSize``), so the
  oversized-body case sends the same bytes to each;
* both auto-create topics from ``TBW102`` and subscription groups.

``sides`` gives the pair as ``wire.Side`` objects, ours first. Tests name their topics and
groups with ``unique`` so that nothing collides in the shared Apache cluster.
"""

from __future__ import annotations

import itertools
import os
import time

import pytest
from wire import GET_BROKER_CLUSTER_INFO, Side, fastjson_loads

_COUNTER = itertools.count()


def _apache_run() -> bool:
    return os.environ.get("ROCKETMQ_TEST_BROKER", "ours") == "apache"


@pytest.fixture(scope="session")
def _apache_required():
    if not _apache_run():
        pytest.skip(
            "differential tests compare with Apache RocketMQ's broker: run with "
            "ROCKETMQ_TEST_BROKER=apache (after `python3 scripts/apache_rocketmq.py prepare`)"
        )


@pytest.fixture(scope="session")
def ours(_apache_required, tmp_path_factory):
    from apache_cluster import ONE_SECOND_LEVELS

    from rocketmq.broker import LocalBroker

    with LocalBroker(
        store_dir=str(tmp_path_factory.mktemp("ours-store")),
        namesrv_port=0,
        broker_port=0,
        delay_levels=ONE_SECOND_LEVELS,
        segment_size=64 << 20,
    ) as broker:
        side = Side("ours", broker.namesrv_addr, broker.broker_addr)
        side.cluster_name, side.broker_name = registered_names(side)
        yield side
        side.close()


@pytest.fixture(scope="session")
def apache(_apache_required, apache_cluster):
    side = Side("apache", apache_cluster.namesrv_addr, apache_cluster.broker_addr)
    # Apache's name server may know other brokers of the harness too: take the names of ours.
    side.cluster_name = apache_cluster.cluster_name
    side.broker_name = apache_cluster.broker_name
    yield side
    side.close()


@pytest.fixture(scope="session")
def sides(ours, apache):
    """Both brokers, ours first."""
    return (ours, apache)


def registered_names(side: Side):
    """(cluster name, broker name) of the one broker registered in our side's name server."""
    info = fastjson_loads(side.namesrv(GET_BROKER_CLUSTER_INFO).body)
    ((cluster, (broker,)),) = info["clusterAddrTable"].items()
    return cluster, broker


@pytest.fixture
def unique():
    """``unique("Topic")`` -> a name no other test of this session uses."""

    def make(prefix: str) -> str:
        return f"{prefix}{os.getpid()}x{int(time.time())}x{next(_COUNTER)}"

    return make
