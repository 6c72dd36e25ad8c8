"""Shared pytest setup of every test folder, and the switch that chooses the broker.

* Makes the helpers in tests/python and tests/apache importable from every test folder.
* ``ROCKETMQ_TEST_BROKER`` chooses what the client suites (tests/python, tests/scenarios) run
  against: ``ours`` (the default: our LocalBroker, in process), ``apache`` (Apache RocketMQ
  5.5.0's own name server and broker as Java processes, tests/apache/apache_cluster.py) or
  ``apache4`` (the same with the last 4.9.x release); the artifacts are prepared once by
  ``python3 scripts/apache_rocketmq.py prepare``. The suites take their broker from the
  ``broker_factory`` fixture, so the same tests run unchanged against all three.
* Marker ``ours_broker_only(reason)``: a test that needs what only our broker has (our store
  files, LocalBroker's kill and restart, our CLI); skipped with its reason in the Apache runs.
  Marker ``apache4_unsupported(reason)``: a test of what Apache 4.9's broker does not have
  (5.x features); skipped with its reason when ``ROCKETMQ_TEST_BROKER=apache4``.
  Marker ``apache_only``: tests of the Apache harness itself; skipped in the default run.
* ``apache_proxy``: Apache 5.x's proxy in front of the session's Apache cluster, started on
  first use (tests/apache/apache_proxy.py).
* When a test fails in an Apache run, the tail of the running Apache processes' output and
  logs is added to its report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

_TESTS = Path(__file__).resolve().parent
for _helpers in (_TESTS / "python", _TESTS / "apache"):
    if str(_helpers) not in sys.path:
        sys.path.insert(0, str(_helpers))

BROKER_ENV = "ROCKETMQ_TEST_BROKER"
BROKER_KINDS = ("ours", "apache", "apache4")

#: Apache clusters started by the fixtures below and not stopped yet.
_RUNNING_CLUSTERS: List[object] = []


def broker_kind() -> str:
    kind = os.environ.get(BROKER_ENV, "ours") or "ours"
    if kind not in BROKER_KINDS:
        raise pytest.UsageError(f"{BROKER_ENV}={kind!r}: expected one of {BROKER_KINDS}")
    return kind


def pytest_configure(config):
    broker_kind()
    config.addinivalue_line(
        "markers",
        "ours_broker_only(reason): needs what only our broker has; skipped when "
        f"{BROKER_ENV} is apache or apache4",
    )
    config.addinivalue_line(
        "markers",
        "apache4_unsupported(reason): needs what Apache 4.9's broker does not have; skipped "
        f"when {BROKER_ENV}=apache4",
    )
    config.addinivalue_line(
        "markers",
        f"apache_only: tests of the Apache harness; run when {BROKER_ENV} is apache or apache4",
    )


def pytest_report_header(config):
    return f"broker under test: {broker_kind()} ({BROKER_ENV})"


def pytest_collection_modifyitems(config, items):
    kind = broker_kind()
    skips = {
        "ours_broker_only": "ours-broker only" if kind != "ours" else None,
        "apache4_unsupported": "not in Apache 4.9" if kind == "apache4" else None,
    }
    for item in items:
        for marker, label in skips.items():
            mark = item.get_closest_marker(marker)
            if label is not None and mark is not None:
                reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
                item.add_marker(pytest.mark.skip(reason=f"{label}: {reason}"))
        if kind == "ours" and item.get_closest_marker("apache_only") is not None:
            item.add_marker(
                pytest.mark.skip(reason=f"Apache harness test: runs with {BROKER_ENV}=apache")
            )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _RUNNING_CLUSTERS:
        for cluster in _RUNNING_CLUSTERS:
            report.sections.append(
                (f"Apache RocketMQ logs under {cluster.workdir}", cluster.log_tail())
            )


@contextlib.contextmanager
def _apache(workdir: Path) -> Iterator[object]:
    from apache_cluster import ApacheCluster, run_version

    with ApacheCluster(workdir, version=run_version(), graceful_stop=False) as cluster:
        _RUNNING_CLUSTERS.append(cluster)
        try:
            yield cluster
        finally:
            _RUNNING_CLUSTERS.remove(cluster)


class _ApacheClusters:
    """The session's shared Apache cluster (started on first use) and fresh ones on demand."""

    def __init__(self, tmp_path_factory) -> None:
        self._tmp = tmp_path_factory
        self._stack = contextlib.ExitStack()
        self._shared = None

    def shared(self):
        if self._shared is None:
            self._shared = self._stack.enter_context(_apache(self._tmp.mktemp("apache")))
        return self._shared

    def fresh(self):
        return _apache(self._tmp.mktemp("apache"))

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def _apache_clusters(tmp_path_factory):
    clusters = _ApacheClusters(tmp_path_factory)
    yield clusters
    clusters.close()


@pytest.fixture(scope="session")
def apache_cluster(_apache_clusters):
    """One Apache name server + broker for the whole session (unique topic and group names
    keep the tests apart)."""
    return _apache_clusters.shared()


@pytest.fixture(scope="session")
def apache_proxy(apache_cluster):
    """Apache 5.x's proxy (cluster mode) in front of the session's Apache cluster, started by
    the first test that asks for it: ``proxy_remoting_addr`` (name server and broker for
    remoting clients; create topics with ``apache_cluster.create_topic`` first) and
    ``proxy_grpc_endpoint``."""
    if broker_kind() == "apache4":
        pytest.skip("Apache 4.9 has no proxy (the proxy is 5.x)")
    from apache_proxy import ApacheProxy

    with ApacheProxy(apache_cluster, graceful_stop=False) as proxy:
        _RUNNING_CLUSTERS.append(proxy)
        try:
            yield proxy
        finally:
            _RUNNING_CLUSTERS.remove(proxy)


@pytest.fixture(scope="session")
def broker_factory(_apache_clusters, tmp_path_factory):
    """``broker_factory(fresh=False, **local_options)`` is a context manager giving the broker
    under test, an object with ``namesrv_addr`` and ``broker_addr``.

    Ours: a new LocalBroker on free ports with a temporary store, built with
    ``local_options``. Apache: the session's shared cluster, or with ``fresh=True`` a cluster
    of the caller's own (for tests that reuse topic and group names). Apache's clusters are
    all configured alike (tests/apache/apache_cluster.py): delay levels of 1 s (Apache has no
    sub-second levels), transaction check-backs every second for half messages older than 1 s.
    """

    @contextlib.contextmanager
    def factory(fresh: bool = False, **local_options: object):
        if broker_kind() != "ours":
            if fresh:
                with _apache_clusters.fresh() as cluster:
                    yield cluster
            else:
                yield _apache_clusters.shared()
            return
        from rocketmq.broker import LocalBroker

        store = tmp_path_factory.mktemp("store")
        with LocalBroker(
            store_dir=str(store),
            namesrv_port=0,
            broker_port=0,
            **local_options,
        ) as broker:
            yield broker
        # Closed cleanly: the store (tens of MB of preallocated files) goes now, not at the end
        # of the session, so a run's disk use is that of the brokers running (a failing test
        # raises before this line and keeps its store for inspection).
        shutil.rmtree(store, ignore_errors=True)

    return factory
