"""The plugin's settings: command-line options, ini keys, the environment, and how one value
is chosen among them.

What must stay true: every setting has a ``--rocketmq-...`` option and an ini key of the same
name with underscores (``rocketmq_...``); a value is taken from, first to last, the factory's
argument, the command line, the environment variable (``--rocketmq-namesrv`` has
``ROCKETMQ_NAMESRV_ADDR``, ``--rocketmq-grpc-endpoint`` has ``ROCKETMQ_GRPC_ENDPOINT``), the ini
file, the default. An empty value counts as not given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

#: Delay levels of a broker the plugin starts: 18 levels of one second each, so that a test of
#: delayed messages or consumer retries waits seconds, not minutes.
FAST_DELAY_LEVELS = " ".join(["1s"] * 18)


@dataclass(frozen=True)
class Setting:
    """One setting: its ini key (also the option's ``dest``), option, variable and default."""

    name: str
    option: str
    help: str
    metavar: str
    env: Optional[str] = None
    default: Optional[str] = None


NAMESRV = Setting(
    name="rocketmq_namesrv",
    option="--rocketmq-namesrv",
    env="ROCKETMQ_NAMESRV_ADDR",
    metavar="HOST:PORT",
    help=(
        "name server of a running RocketMQ cluster ('host:port;host2:port2') the rocketmq_* "
        "fixtures use instead of starting a broker (also: ROCKETMQ_NAMESRV_ADDR)"
    ),
)
DELAY_LEVELS = Setting(
    name="rocketmq_delay_levels",
    option="--rocketmq-delay-levels",
    metavar="LEVELS",
    default=FAST_DELAY_LEVELS,
    help="delay levels of the broker the plugin starts (default: 1s for each of the 18 levels)",
)
STORE_DIR = Setting(
    name="rocketmq_store_dir",
    option="--rocketmq-store-dir",
    metavar="DIR",
    help=(
        "directory under which the plugin's brokers keep their stores, one subdirectory per "
        "broker, kept after the run (default: pytest's temporary directory)"
    ),
)

GRPC_ENDPOINT = Setting(
    name="rocketmq_grpc_endpoint",
    option="--rocketmq-grpc-endpoint",
    env="ROCKETMQ_GRPC_ENDPOINT",
    metavar="HOST:PORT",
    help=(
        "RocketMQ 5 gRPC endpoint (a proxy) of the running cluster given by "
        "--rocketmq-namesrv, for tests of 5.x clients (also: ROCKETMQ_GRPC_ENDPOINT)"
    ),
)

SETTINGS = (NAMESRV, DELAY_LEVELS, STORE_DIR, GRPC_ENDPOINT)


def add_options(parser: Any) -> None:
    """Registers every setting's option (group "rocketmq") and ini key with pytest."""
    group = parser.getgroup("rocketmq", "RocketMQ fixtures (rocketmq.pytest_plugin)")
    for setting in SETTINGS:
        group.addoption(
            setting.option,
            action="store",
            dest=setting.name,
            default=None,
            metavar=setting.metavar,
            help=setting.help,
        )
        parser.addini(setting.name, help=setting.help, default="")


def resolve(config: Any, setting: Setting, given: Optional[str] = None) -> Optional[str]:
    """The value of ``setting``: ``given`` (a factory's argument), else the command line,
    the environment, the ini file, the default."""
    if given:
        return given
    value = config.getoption(setting.name, default=None)
    if value:
        return str(value)
    if setting.env:
        value = os.environ.get(setting.env, "")
        if value:
            return value
    value = config.getini(setting.name)
    if value:
        return str(value)
    return setting.default
