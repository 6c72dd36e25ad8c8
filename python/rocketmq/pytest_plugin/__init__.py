"""pytest fixtures for code that uses RocketMQ, registered as the pytest plugin ``rocketmq``
(entry point ``pytest11``; installed with this package, disabled with ``-p no:rocketmq``).

Fixtures (their names all start with ``rocketmq_``):

* ``rocketmq_broker`` (session): a started :class:`~rocketmq.broker.LocalBroker` on free ports,
  its store under pytest's temporary directory, delay levels of 1 s; one per pytest-xdist
  worker. With an external name server set (``--rocketmq-namesrv``, ``ROCKETMQ_NAMESRV_ADDR``
  or ini ``rocketmq_namesrv``) nothing is started and it is an :class:`ExternalCluster`.
  Both have ``namesrv_addr``, ``broker_addr`` and ``grpc_endpoint`` (the broker's RocketMQ 5
  gRPC endpoint, on a free port; for an external cluster the one set with
  ``--rocketmq-grpc-endpoint``, ``ROCKETMQ_GRPC_ENDPOINT`` or ini ``rocketmq_grpc_endpoint``,
  else ``None``).
* ``rocketmq_grpc_endpoint`` (session): that gRPC endpoint, ``"host:port"``, for 5.x clients
  (``ClientConfiguration(endpoints)``); a test asking for it fails saying what to set when
  the external cluster has none.
* ``rocketmq_namesrv_addr`` (session): that cluster's name server address.
* ``rocketmq_topic``: a new topic (4 queues; an indirect parameter sets another count),
  created on every master broker before the test.
* ``rocketmq_group``: a new group name.
* ``rocketmq_producer``: a started :class:`~rocketmq.client.Producer` of a new group on that
  name server, shut down after the test.
* ``rocketmq_consume``: ``rocketmq_consume(topic, count=3, timeout=10) -> list of
  ReceivedMessage``, read from the first offset with a group of its own; raises
  :class:`ConsumeTimeout` (an ``AssertionError`` and a ``TimeoutError``) listing what came
  when fewer than ``count`` arrive.

Settings (``options``), each an option and an ini key: ``--rocketmq-namesrv`` /
``rocketmq_namesrv``, ``--rocketmq-delay-levels`` / ``rocketmq_delay_levels``,
``--rocketmq-store-dir`` / ``rocketmq_store_dir``, ``--rocketmq-grpc-endpoint`` /
``rocketmq_grpc_endpoint``. ``factories`` makes more fixtures.

What must stay true: the plugin defines no fixture outside the ``rocketmq_`` prefix and no
hook but ``pytest_addoption``, so loading it changes nothing for a suite that does not ask for
its fixtures; nothing is started until a fixture is requested.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Protocol

import pytest

from rocketmq.admin import AdminError
from rocketmq.client import ReceivedMessage

from . import factories
from .clusters import ExternalCluster, unique_name
from .consume import ConsumeTimeout, consume
from .options import add_options

__all__ = [
    "AdminError",
    "ConsumeFunction",
    "ConsumeTimeout",
    "ExternalCluster",
    "factories",
    "rocketmq_broker",
    "rocketmq_consume",
    "rocketmq_grpc_endpoint",
    "rocketmq_group",
    "rocketmq_namesrv_addr",
    "rocketmq_producer",
    "rocketmq_topic",
]


class ConsumeFunction(Protocol):
    """The type of the ``rocketmq_consume`` fixture's value."""

    def __call__(
        self,
        topic: str,
        count: int = 3,
        timeout: float = 10.0,
        expression: str = "*",
        group: Optional[str] = None,
    ) -> List[ReceivedMessage]:
        """Messages of ``topic`` once ``count`` arrived (see :func:`consume.consume`)."""


def pytest_addoption(parser: Any) -> None:
    """The plugin's options and ini keys (``options.SETTINGS``)."""
    add_options(parser)


rocketmq_broker = factories.rocketmq_broker_factory()

rocketmq_topic = factories.rocketmq_topic_factory()


@pytest.fixture(scope="session")
def rocketmq_namesrv_addr(rocketmq_broker: Any) -> str:
    """The name server address of ``rocketmq_broker`` (the plugin's broker, or the external
    cluster's)."""
    return str(rocketmq_broker.namesrv_addr)


@pytest.fixture(scope="session")
def rocketmq_grpc_endpoint(rocketmq_broker: Any) -> str:
    """The RocketMQ 5 gRPC endpoint of ``rocketmq_broker``, ``"host:port"``."""
    endpoint = getattr(rocketmq_broker, "grpc_endpoint", None)
    if not endpoint:
        pytest.fail(
            "the RocketMQ cluster of this run has no gRPC endpoint: give its proxy with "
            "--rocketmq-grpc-endpoint HOST:PORT (or ROCKETMQ_GRPC_ENDPOINT, or the ini key "
            "rocketmq_grpc_endpoint), or let the plugin start a broker",
            pytrace=False,
        )
    return str(endpoint)


@pytest.fixture
def rocketmq_group(request: Any) -> str:
    """A group name no other test uses."""
    return unique_name("rocketmq_group", request.node.name)


@pytest.fixture
def rocketmq_producer(rocketmq_namesrv_addr: str, request: Any) -> Iterator[Any]:
    """A started Producer of a new group on ``rocketmq_namesrv_addr``; shut down after."""
    from rocketmq.client import Producer

    producer = Producer(unique_name("rocketmq_producer", request.node.name))
    producer.set_namesrv_addr(rocketmq_namesrv_addr)
    producer.start()
    try:
        yield producer
    finally:
        producer.shutdown()


@pytest.fixture
def rocketmq_consume(rocketmq_namesrv_addr: str) -> ConsumeFunction:
    """``rocketmq_consume(topic, count=3, timeout=10, expression="*", group=None)``: the
    messages of ``topic`` from its first offset once ``count`` arrived; raises
    ConsumeTimeout (an AssertionError) listing what came when fewer arrive in time."""

    def consume_from_topic(
        topic: str,
        count: int = 3,
        timeout: float = 10.0,
        expression: str = "*",
        group: Optional[str] = None,
    ) -> List[ReceivedMessage]:
        return consume(rocketmq_namesrv_addr, topic, count, timeout, expression, group)

    return consume_from_topic
