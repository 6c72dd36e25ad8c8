"""Factories that make more fixtures like the plugin's own (the pytest-redis /
pytest-postgresql convention)::

    from rocketmq.pytest_plugin import factories

    slow_broker = factories.rocketmq_broker_factory(delay_levels="1s 5s 10s")
    wide_topic = factories.rocketmq_topic_factory(queues=16, broker="slow_broker")

What must stay true: a factory's argument wins over the command line, which wins over the
environment, the ini file and the default (``options.resolve``); a broker fixture is session
scoped (one broker per pytest-xdist worker) and listens on free ports of 127.0.0.1 unless told
otherwise; a topic fixture's topic exists, with all its queues routed, before the test runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import pytest

from rocketmq.admin import Admin

from .clusters import ExternalCluster, unique_name
from .options import DELAY_LEVELS, GRPC_ENDPOINT, NAMESRV, STORE_DIR, resolve

#: Queues of a topic made by a topic fixture unless told otherwise.
DEFAULT_QUEUES = 4
#: Bound of the wait for a topic to be routed, or for an external cluster's brokers.
ADMIN_TIMEOUT = 30.0

# The fixtures a factory returns; pytest's own fixture type differs between its versions.
FixtureFunction = Callable[..., Any]


def _source(config: Any, given: Optional[str]) -> str:
    """Where the external name server address came from, for error messages."""
    if given:
        return "the factory's namesrv argument"
    if config.getoption(NAMESRV.name, default=None):
        return NAMESRV.option
    if os.environ.get(NAMESRV.env or ""):
        return f"${NAMESRV.env}"
    return f"the ini key {NAMESRV.name}"


def _store_dir(base: Optional[str], tmp_path_factory: Any) -> str:
    """A fresh store directory: under ``base`` (kept after the run), else pytest's temporary
    directory. Named after the xdist worker, so parallel workers never share one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if base is None:
        return str(tmp_path_factory.mktemp(f"rocketmq-store-{worker}"))
    root = Path(base).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix=f"broker-{worker}-", dir=root)


def rocketmq_broker_factory(
    namesrv: Optional[str] = None,
    delay_levels: Optional[str] = None,
    store_dir: Union[str, "os.PathLike[str]", None] = None,
    **local_broker_options: Any,
) -> FixtureFunction:
    """A session-scoped fixture giving a started :class:`~rocketmq.broker.LocalBroker` (free
    ports, stopped after the session), or an
    :class:`~rocketmq.pytest_plugin.ExternalCluster` when an external name server is set.

    Args:
        namesrv: name server of a running cluster to use instead of starting a broker
            (default: ``--rocketmq-namesrv``, ``$ROCKETMQ_NAMESRV_ADDR``, ini
            ``rocketmq_namesrv``; none of them: start a broker).
        delay_levels: the broker's delay levels (default: ``--rocketmq-delay-levels``, ini
            ``rocketmq_delay_levels``, else 1 s for each of the 18 levels).
        store_dir: directory under which the store is made (default:
            ``--rocketmq-store-dir``, ini ``rocketmq_store_dir``, else pytest's temporary
            directory).
        local_broker_options: further :class:`~rocketmq.broker.LocalBroker` arguments
            (``flush``, ``max_message_size``, ``grpc_port``, ...). The broker serves a gRPC
            endpoint on a free port unless ``grpc=False`` (its ``grpc_endpoint``).
    """
    given_store = None if store_dir is None else os.fspath(store_dir)

    @pytest.fixture(scope="session")
    def rocketmq_broker_fixture(request: Any, tmp_path_factory: Any) -> Iterator[Any]:
        config = request.config
        external = resolve(config, NAMESRV, namesrv)
        if external:
            grpc_endpoint = resolve(config, GRPC_ENDPOINT)
            yield ExternalCluster.connect(
                external, _source(config, namesrv), ADMIN_TIMEOUT, grpc_endpoint
            )
            return
        from rocketmq.broker import LocalBroker

        options = {"namesrv_port": 0, "broker_port": 0, **local_broker_options}
        options["delay_levels"] = resolve(config, DELAY_LEVELS, delay_levels)
        store = _store_dir(resolve(config, STORE_DIR, given_store), tmp_path_factory)
        with LocalBroker(store_dir=store, **options) as broker:
            yield broker

    return rocketmq_broker_fixture


def _queue_count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TypeError(f"{where} must be a queue count (an int of 1 or more), got {value!r}")
    return value


def rocketmq_topic_factory(
    queues: int = DEFAULT_QUEUES, broker: str = "rocketmq_broker", prefix: str = "rocketmq_topic"
) -> FixtureFunction:
    """A function-scoped fixture giving the name of a new topic with ``queues`` queues on
    every master broker of the fixture named ``broker``, routed before the test runs.

    A test may set the queue count itself with an indirect parameter, which wins over
    ``queues``: ``@pytest.mark.parametrize("rocketmq_topic", [8], indirect=True)``.
    """
    default_queues = _queue_count(queues, "queues")

    @pytest.fixture
    def rocketmq_topic_fixture(request: Any) -> str:
        cluster = request.getfixturevalue(broker)
        count = default_queues
        if hasattr(request, "param"):
            count = _queue_count(request.param, "the indirect parameter of a topic fixture")
        topic = unique_name(prefix, request.node.name)
        with Admin(cluster.namesrv_addr, timeout=ADMIN_TIMEOUT) as admin:
            admin.create_topic(topic, queues=count)
        return topic

    return rocketmq_topic_fixture
