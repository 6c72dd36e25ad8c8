"""What ``rocketmq_broker`` gives a test: a started :class:`~rocketmq.broker.LocalBroker`, or
an :class:`ExternalCluster` when the suite runs against a cluster given by address; and the
unique names the fixtures make.

What must stay true: an ``ExternalCluster`` starts and stops nothing; both kinds answer
``namesrv_addr``, ``broker_addr`` and ``grpc_endpoint`` (``None`` when there is none), so a
test reads its endpoints the same way in both modes.
"""

from __future__ import annotations

import re
import uuid
from typing import Dict, Optional

from rocketmq.admin import Admin, AdminError

#: Longest name the fixtures make (Apache allows 127 characters for a topic).
MAX_NAME = 100


class ExternalCluster:
    """A running RocketMQ cluster reached through its name server; nothing is started."""

    external = True

    def __init__(
        self,
        namesrv_addr: str,
        broker_addrs: Dict[str, str],
        grpc_endpoint: Optional[str] = None,
    ) -> None:
        self.namesrv_addr = namesrv_addr
        #: The cluster's RocketMQ 5 gRPC endpoint (a proxy), when one was given.
        self.grpc_endpoint = grpc_endpoint
        #: Broker name -> master address, as the name server knew them at connect time.
        self.broker_addrs = dict(broker_addrs)

    @classmethod
    def connect(
        cls,
        namesrv_addr: str,
        source: str,
        timeout: float = 30.0,
        grpc_endpoint: Optional[str] = None,
    ) -> ExternalCluster:
        """The cluster behind ``namesrv_addr``, once a broker has registered with it."""
        try:
            with Admin(namesrv_addr, timeout=min(timeout, 10.0)) as admin:
                return cls(namesrv_addr, admin.master_brokers(wait=timeout), grpc_endpoint)
        except AdminError as e:
            raise AdminError(
                f"cannot use the RocketMQ cluster at {namesrv_addr!r} (from {source}): {e}. "
                "Start a name server and broker there, fix the address, or drop the setting "
                "to let the plugin start a broker"
            ) from e

    @property
    def broker_addr(self) -> str:
        """The first master broker's address (by broker name)."""
        return self.broker_addrs[sorted(self.broker_addrs)[0]]

    def __repr__(self) -> str:
        return f"<ExternalCluster namesrv={self.namesrv_addr} brokers={self.broker_addrs}>"


def unique_name(prefix: str, test_name: str = "") -> str:
    """``prefix-<test name>-<12 hex digits>`` in the characters topic and group names allow."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", test_name).strip("_")
    tail = uuid.uuid4().hex[:12]
    room = MAX_NAME - len(prefix) - len(tail) - 2
    parts = [prefix, slug[: max(room - 1, 0)], tail] if slug and room > 1 else [prefix, tail]
    return "-".join(parts)
