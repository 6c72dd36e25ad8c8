"""The bundled RocketMQ-compatible name server + broker, in process or as a program.

In process (tests, scripts)::

    from rocketmq.broker import LocalBroker

    with LocalBroker(namesrv_port=0, broker_port=0) as broker:
        print(broker.namesrv_addr)   # "127.0.0.1:<port>": give this to 4.x clients
        print(broker.grpc_endpoint)  # "127.0.0.1:<port>": give this to 5.x (gRPC) clients

A `LocalBroker` starts in its constructor and runs until `shutdown()` / `close()` (both
idempotent), the end of its `with` block, garbage collection or interpreter exit. Shutting
down flushes the store, so a new `LocalBroker` on the same `store_dir` sees every message
and committed consumer offset of the old one.

As a program: ``rocketmq-broker`` or ``python -m rocketmq.broker`` (``--help`` for options).
It prints the listening addresses (name server, broker, gRPC endpoint unless ``--no-grpc``),
runs until SIGINT or SIGTERM, then flushes and exits 0.

Every default (ports, sizes, delay levels, transaction check-back timing) is defined once, in
the Rust server's configuration, and read here from the native module's ``DEFAULT_*``
constants; the Rust ``rocketmq-broker`` binary shows the same defaults.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Optional, Sequence, Union

from rocketmq import _rocketmq

__all__ = ["LocalBroker", "default_store_dir", "main"]

DEFAULT_DELAY_LEVELS: str = _rocketmq.DEFAULT_DELAY_LEVELS

_FLUSH_MODES = ("async", "sync")
# How often the command-line broker looks whether SIGINT / SIGTERM asked it to stop.
_STOP_POLL_SECONDS = 0.1

#: Commit-log file size of a LocalBroker unless told otherwise. A deliberate LocalBroker
#: choice, not a server default (so it is not in the server's configuration): each segment is
#: allocated on disk in full when created, and test suites start many LocalBrokers, so 64 MiB
#: instead of the server's 1 GiB.
LOCAL_SEGMENT_SIZE = 64 * 1024 * 1024
#: Commit-log file size of the rocketmq-broker program unless told otherwise.
SERVER_SEGMENT_SIZE: int = _rocketmq.DEFAULT_SEGMENT_SIZE


def _duration_text(value: Union[str, float, None], name: str) -> Optional[str]:
    """A duration argument as the server parses it: text passes through, a number of
    seconds becomes whole milliseconds."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f'{name} must be a duration such as "72h" or a number of seconds, not {value!r}'
        )
    if not value >= 0 or value > 10 * 365 * 86400:
        raise ValueError(f"{name} must be between 0 and ten years of seconds, not {value!r}")
    return f"{round(value * 1000)}ms"


def default_store_dir() -> Path:
    """The per-user data directory: ``$XDG_DATA_HOME/rocketmq`` or ``~/.local/share/rocketmq``."""
    return Path(_rocketmq.default_store_dir())


def _stop(cluster: _rocketmq._EmbeddedCluster, temp_dir: Optional[str]) -> None:
    # Runs once (weakref.finalize guarantees it): from close(), on garbage collection, or at
    # interpreter exit, always before Python starts tearing the interpreter down. The store
    # must be flushed and closed before its temporary directory is removed.
    try:
        cluster.shutdown()
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


class LocalBroker:
    """A name server and a broker running in this process, started by the constructor.

    Args:
        store_dir: directory for the commit log, consume queues and offsets (``str`` or
            ``os.PathLike``). ``None`` means a fresh temporary directory, removed on close.
        host: address to listen on and to advertise to clients.
        namesrv_port: name server port; ``0`` picks a free port.
        broker_port: broker port; ``0`` picks a free port.
        grpc_port: port of the RocketMQ 5 gRPC endpoint (``apache.rocketmq.v2``, what 5.x
            clients such as ``rocketmq-python-client`` connect to); ``0`` picks a free port.
            ``None`` means ``DEFAULT_GRPC_PORT`` (8081, as Apache's proxy) when
            ``broker_port`` is the default, and a free port otherwise (so a broker on
            ``broker_port=0`` never collides on 8081). ``grpc_endpoint`` says where it is.
        grpc: ``False`` starts no gRPC endpoint (``grpc_endpoint`` is then ``None``).
        flush: ``"async"`` (flush in the background) or ``"sync"`` (acknowledge a send only
            after its bytes are fsynced; group commit).
        max_message_size: largest accepted message body in bytes.
        delay_levels: space-separated durations (``"1s 5s 10s 30s 1m ..."``, units ms, s, m,
            h, d) for delay levels 1, 2, ...; ``None`` means the standard 18 levels
            (``DEFAULT_DELAY_LEVELS``).
        segment_size: size of each commit-log file in bytes; ``None`` means 64 MiB, small
            enough for test suites that start many brokers (each file is allocated on disk in
            full when created). The ``rocketmq-broker`` program defaults to 1 GiB.
        advertised_host: address clients should use to reach the broker when it differs
            from ``host`` (e.g. when binding ``0.0.0.0``); ``None`` means the bound address.
        broker_name: the broker's name in routes (``"broker-a"``); brokers sharing one name
            server need different names.
        namesrv_addr: ``"host:port"`` of a running name server (e.g. another LocalBroker's)
            to register with; no name server is started then, and ``namesrv_addr`` of this
            object is that one. ``None`` starts a name server here.
        transaction_check_interval_ms, transaction_timeout_ms, transaction_check_max: how
            often undecided transactional (half) messages are checked back with their
            producer, how old one must be first, and after how many checks it is discarded
            (``None``: the server's defaults, as ``rocketmq-broker --help`` shows them).
        timer_max_delay: how far ahead a timer message (``Message.set_deliver_time_ms``,
            ``set_delay_time_sec``, ``set_delay_time_ms``) may be scheduled, a whole number
            with a unit (``"3d"``, ``"90m"``, ``"30s"``; units ms, s, m, h, d); a later one is
            refused. ``None``: ``DEFAULT_TIMER_MAX_DELAY`` (3 days, as Apache's broker).
        message_index: keep the index of message keys and unique ids that
            ``Admin.query_messages_by_key`` and ``Admin.view_message`` read; ``False`` saves
            its thread and files (key queries then find nothing).
        enable_property_filter: serve SQL92 subscriptions (``expression_type="SQL92"``),
            on by default; ``False`` refuses them as Apache's broker does without
            ``enablePropertyFilter``.
        file_reserved_time: how long a commit-log file (and what depends on it) is kept
            after its last write: ``"72h"``, ``"30s"``, ``"500ms"`` (units ms, s, m, h, d) or
            a number of seconds; ``None`` means 72 hours (``DEFAULT_FILE_RESERVED_TIME``).
        disk_max_used_ratio: percent of the store's disk in use at or above which the
            oldest files are removed before they expire; ``disk_refuse_ratio``: percent at
            or above which sends are refused ("disk is full") until space is freed. Both
            ``None`` (off) by default here and in ``python -m rocketmq.broker``, unlike the
            Rust ``rocketmq-broker`` binary (75 and 90, as Java): on a disk others have
            filled, a broker of a test or a developer must neither drop unexpired data nor
            refuse sends because of their files. ``0`` also means off; otherwise 10 to 100.

    Raises:
        TypeError, ValueError: an argument has the wrong type or value (the message says
            what to pass).
        OSError: a port is in use, the host is not local, or the store directory cannot be
            written.
    """

    def __init__(
        self,
        store_dir: Union[str, os.PathLike[str], None] = None,
        host: str = _rocketmq.DEFAULT_HOST,
        namesrv_port: int = _rocketmq.DEFAULT_NAMESRV_PORT,
        broker_port: int = _rocketmq.DEFAULT_BROKER_PORT,
        flush: str = _rocketmq.DEFAULT_FLUSH,
        max_message_size: int = _rocketmq.DEFAULT_MAX_MESSAGE_SIZE,
        delay_levels: Optional[str] = None,
        segment_size: Optional[int] = None,
        advertised_host: Optional[str] = None,
        broker_name: Optional[str] = None,
        namesrv_addr: Optional[str] = None,
        transaction_check_interval_ms: Optional[int] = None,
        transaction_timeout_ms: Optional[int] = None,
        transaction_check_max: Optional[int] = None,
        timer_max_delay: Optional[str] = None,
        message_index: bool = True,
        file_reserved_time: Union[str, float, None] = None,
        disk_max_used_ratio: Optional[int] = None,
        disk_refuse_ratio: Optional[int] = None,
        enable_property_filter: bool = True,
        grpc_port: Optional[int] = None,
        grpc: bool = True,
    ) -> None:
        temp_dir = None
        if store_dir is None:
            temp_dir = tempfile.mkdtemp(prefix="rocketmq-broker-")
            store_dir = temp_dir
        if not grpc:
            grpc_port = None
        elif grpc_port is None:
            grpc_port = (
                _rocketmq.DEFAULT_GRPC_PORT if broker_port == _rocketmq.DEFAULT_BROKER_PORT else 0
            )
        try:
            self._cluster = _rocketmq._EmbeddedCluster(
                store_dir,
                host=host,
                namesrv_port=namesrv_port,
                broker_port=broker_port,
                flush=flush,
                max_message_size=max_message_size,
                delay_levels=delay_levels,
                segment_size=LOCAL_SEGMENT_SIZE if segment_size is None else segment_size,
                advertised_host=advertised_host,
                broker_name=broker_name,
                namesrv_addr=namesrv_addr,
                transaction_check_interval_ms=transaction_check_interval_ms,
                transaction_timeout_ms=transaction_timeout_ms,
                transaction_check_max=transaction_check_max,
                timer_max_delay=timer_max_delay,
                message_index=message_index,
                file_reserved_time=_duration_text(file_reserved_time, "file_reserved_time"),
                disk_max_used_ratio=disk_max_used_ratio,
                disk_refuse_ratio=disk_refuse_ratio,
                enable_property_filter=enable_property_filter,
                grpc_port=grpc_port,
            )
        except BaseException:
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        self._temporary = temp_dir is not None
        self._finalizer = weakref.finalize(self, _stop, self._cluster, temp_dir)

    @property
    def namesrv_addr(self) -> str:
        """Name server address ``"host:port"``: what clients pass to ``set_namesrv_addr``."""
        return self._cluster.namesrv_addr

    @property
    def broker_addr(self) -> str:
        """Broker address ``"host:port"``, as published in topic routes."""
        return self._cluster.broker_addr

    @property
    def grpc_endpoint(self) -> Optional[str]:
        """RocketMQ 5 gRPC endpoint ``"host:port"``: what 5.x clients take as their
        ``endpoints`` (``ClientConfiguration``); ``None`` when started with ``grpc=False``."""
        return self._cluster.grpc_endpoint

    @property
    def store_dir(self) -> Path:
        """The store directory (for a temporary store: gone after close)."""
        return Path(self._cluster.store_dir)

    @property
    def running(self) -> bool:
        """True until `shutdown()` / `close()`."""
        return self._finalizer.alive and self._cluster.running

    def kill(self) -> None:
        """Stop abruptly, as a crashed broker looks to clients and the name server: no
        unregistering (the store is still flushed, as the OS keeps a dead process's pages).
        Idempotent; a temporary store is removed as on shutdown."""
        self._cluster.kill()
        self._finalizer()

    def shutdown(self) -> None:
        """Stop both servers and flush the store. Idempotent."""
        self._finalizer()

    close = shutdown

    def __enter__(self) -> LocalBroker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<LocalBroker namesrv={self.namesrv_addr} broker={self.broker_addr} "
            f"store_dir={str(self.store_dir)!r} {state}>"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rocketmq-broker",
        description=(
            "Run a RocketMQ-compatible name server and broker in one process. "
            "Stops cleanly (flushing the store) on SIGINT or SIGTERM."
        ),
    )
    parser.add_argument(
        "--store-dir",
        type=Path,
        default=None,
        help=f"directory for messages and offsets (default: {default_store_dir()})",
    )
    parser.add_argument(
        "--host",
        default=_rocketmq.DEFAULT_HOST,
        help="address to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--advertised-host",
        default=None,
        help="address clients use to reach the broker, if not --host (e.g. with 0.0.0.0)",
    )
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        help=(
            "RocketMQ 5 gRPC endpoint port, 0 = any free (default: "
            f"{_rocketmq.DEFAULT_GRPC_PORT} when --broker-port is the default, else any free)"
        ),
    )
    parser.add_argument(
        "--no-grpc",
        action="store_true",
        help="serve no RocketMQ 5 gRPC endpoint (remoting only)",
    )
    parser.add_argument(
        "--namesrv-port",
        type=int,
        default=_rocketmq.DEFAULT_NAMESRV_PORT,
        help="name server port, 0 = any free (default: %(default)s)",
    )
    parser.add_argument(
        "--broker-port",
        type=int,
        default=_rocketmq.DEFAULT_BROKER_PORT,
        help="broker port, 0 = any free (default: %(default)s)",
    )
    parser.add_argument(
        "--flush",
        choices=_FLUSH_MODES,
        default=_rocketmq.DEFAULT_FLUSH,
        help=(
            "async: flush in the background; sync: acknowledge sends after fsync "
            "(default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--max-message-size",
        type=int,
        default=_rocketmq.DEFAULT_MAX_MESSAGE_SIZE,
        help="largest accepted message body in bytes (default: %(default)s)",
    )
    parser.add_argument(
        "--delay-levels",
        default=None,
        help=f'space-separated delay levels (default: "{DEFAULT_DELAY_LEVELS}")',
    )
    parser.add_argument(
        "--segment-size",
        type=int,
        default=SERVER_SEGMENT_SIZE,
        help="commit-log file size in bytes (default: %(default)s)",
    )
    parser.add_argument(
        "--transaction-check-interval-ms",
        type=int,
        default=_rocketmq.DEFAULT_TRANSACTION_CHECK_INTERVAL_MS,
        help=(
            "milliseconds between two scans for undecided transactional (half) messages "
            "(default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--transaction-timeout-ms",
        type=int,
        default=_rocketmq.DEFAULT_TRANSACTION_TIMEOUT_MS,
        help=(
            "milliseconds after which an undecided half message is checked back with its "
            "producer (default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--transaction-check-max",
        type=int,
        default=_rocketmq.DEFAULT_TRANSACTION_CHECK_MAX,
        help="check-backs per half message before it is given up (default: %(default)s)",
    )
    parser.add_argument(
        "--timer-max-delay",
        default=_rocketmq.DEFAULT_TIMER_MAX_DELAY,
        help=(
            "longest delay a timer message may ask for, with a unit: ms, s, m, h or d "
            "(default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--file-reserved-time",
        default=_rocketmq.DEFAULT_FILE_RESERVED_TIME,
        help=(
            "keep commit-log files this long after their last write, e.g. 72h, 30m, 10s "
            "(default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--message-index",
        choices=("true", "false"),
        default="true",
        help="keep the index of message keys for key queries (default: %(default)s)",
    )
    parser.add_argument(
        "--enable-property-filter",
        choices=("true", "false"),
        default="true",
        help="serve SQL92 subscriptions (default: %(default)s)",
    )
    parser.add_argument(
        "--disk-max-used-ratio",
        type=int,
        default=0,
        help=(
            "percent of the store's disk in use at or above which the oldest files are "
            "removed before they expire, 0 = off (default: %(default)s: this program runs "
            "on shared developer and CI disks; the Rust rocketmq-broker binary uses "
            f"{_rocketmq.DEFAULT_DISK_MAX_USED_RATIO}, as Java)"
        ),
    )
    parser.add_argument(
        "--disk-refuse-ratio",
        type=int,
        default=0,
        help=(
            "percent of the store's disk in use at or above which sends are refused until "
            "space is freed, 0 = off (default: %(default)s, see above; the Rust binary uses "
            f"{_rocketmq.DEFAULT_DISK_REFUSE_RATIO})"
        ),
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="warning",
        help="log level of the messages written to stderr (default: %(default)s)",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``rocketmq-broker``; returns the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    store_dir = args.store_dir if args.store_dir is not None else default_store_dir()
    try:
        store_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"rocketmq-broker: cannot create store directory {store_dir}: {exc}", file=sys.stderr)
        return 1

    # The handler only records the request: it runs on the main thread between any two
    # bytecodes, so taking a lock there (threading.Event.set does) can deadlock against the
    # main thread holding that same lock.
    stop_requested: list = []

    def request_stop(signum: int, _frame: object) -> None:
        stop_requested.append(signum)

    # Install the handlers before starting, so a signal that arrives during start-up still
    # leads to a clean shutdown rather than an abrupt exit.
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            broker = LocalBroker(
                store_dir=store_dir,
                host=args.host,
                namesrv_port=args.namesrv_port,
                broker_port=args.broker_port,
                grpc_port=args.grpc_port,
                grpc=not args.no_grpc,
                flush=args.flush,
                max_message_size=args.max_message_size,
                delay_levels=args.delay_levels,
                segment_size=args.segment_size,
                advertised_host=args.advertised_host,
                transaction_check_interval_ms=args.transaction_check_interval_ms,
                transaction_timeout_ms=args.transaction_timeout_ms,
                transaction_check_max=args.transaction_check_max,
                timer_max_delay=args.timer_max_delay,
                message_index=args.message_index == "true",
                enable_property_filter=args.enable_property_filter == "true",
                file_reserved_time=args.file_reserved_time,
                disk_max_used_ratio=args.disk_max_used_ratio,
                disk_refuse_ratio=args.disk_refuse_ratio,
            )
        except (TypeError, ValueError) as exc:
            parser.error(str(exc))
        except OSError as exc:
            print(f"rocketmq-broker: {exc}", file=sys.stderr)
            return 1
        with broker:
            print(f"name server listening on {broker.namesrv_addr}", flush=True)
            print(f"broker listening on {broker.broker_addr}", flush=True)
            if broker.grpc_endpoint is not None:
                print(f"gRPC endpoint listening on {broker.grpc_endpoint}", flush=True)
            print(f"store directory {broker.store_dir}", flush=True)
            # Short sleeps let the interpreter run the handler and see its record promptly.
            while not stop_requested:
                time.sleep(_STOP_POLL_SECONDS)
            print("shutting down", flush=True)
        print("stopped", flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
