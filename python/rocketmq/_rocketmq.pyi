"""Native half of the `rocketmq` package (PyO3). Private: use `rocketmq.broker`."""

import os
from pathlib import Path
from typing import Optional, Union

__version__: str
DEFAULT_DELAY_LEVELS: str

def check_delay_levels(levels: str) -> None:
    """Raise ValueError (saying what is wrong) unless `levels` is a valid delay-level string."""

class _EmbeddedCluster:
    """A name server + broker pair running in this process; started by the constructor."""

    def __init__(
        self,
        store_dir: Union[str, "os.PathLike[str]"],
        *,
        host: Optional[str] = None,
        namesrv_port: Optional[int] = None,
        broker_port: Optional[int] = None,
        flush: Optional[str] = None,
        max_message_size: Optional[int] = None,
        delay_levels: Optional[str] = None,
        segment_size: Optional[int] = None,
        cluster_name: Optional[str] = None,
        broker_name: Optional[str] = None,
        advertised_host: Optional[str] = None,
    ) -> None: ...
    @property
    def namesrv_addr(self) -> str: ...
    @property
    def broker_addr(self) -> str: ...
    @property
    def store_dir(self) -> Path: ...
    @property
    def running(self) -> bool: ...
    def shutdown(self) -> None: ...

def reset_log_cache() -> None:
    """Make Rust log records follow a changed Python logging configuration."""
