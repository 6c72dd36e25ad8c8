"""What the remoting clients share: the native module (loaded on first use) and the client
ids they report.

What must stay true: a client id names this host and process and is unique among the
clients of the process (``host@pid@n@kind``), as the 5.x clients' ids are.
"""

from __future__ import annotations

import itertools
import os
import socket
from typing import Any

_instances = itertools.count(1)


def native() -> Any:
    """``rocketmq._rocketmq``."""
    from rocketmq import _rocketmq

    return _rocketmq


def new_client_id(kind: str) -> str:
    return f"{socket.gethostname()}@{os.getpid()}@{next(_instances)}@{kind}"
