"""LocalBroker and the rocketmq-broker program: start, addresses, wire answers, restart,
signals, argument errors. Every broker listens on 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import inspect
import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import rocketmq
from rocketmq import _rocketmq
from rocketmq.broker import LocalBroker, default_store_dir

from remoting import RemotingConnection, split_address

GET_ROUTEINFO_BY_TOPIC = 105
SUCCESS = 0
REQUEST_CODE_NOT_SUPPORTED = 3
TOPIC_NOT_EXIST = 17
UNKNOWN_CODE = 9999

pytestmark = pytest.mark.ours_broker_only("tests of LocalBroker and the rocketmq-broker program")


def wait_for_route(namesrv_addr: str, topic: str, timeout: float = 10.0):
    """Asks the name server for a topic's route until it answers 0 (the broker registers
    right after start) or the deadline passes; returns the last response."""
    deadline = time.monotonic() + timeout
    with RemotingConnection(namesrv_addr) as conn:
        while True:
            reply = conn.call(GET_ROUTEINFO_BY_TOPIC, {"topic": topic})
            if reply.code == SUCCESS or time.monotonic() > deadline:
                return reply
            time.sleep(0.05)


def test_version_matches_native_module():
    assert rocketmq.__version__ == _rocketmq.__version__


def test_addresses_are_loopback_and_accept_connections(tmp_path):
    with LocalBroker(store_dir=tmp_path, namesrv_port=0, broker_port=0) as broker:
        assert broker.running
        assert broker.store_dir == tmp_path
        ports = set()
        for addr in (broker.namesrv_addr, broker.broker_addr):
            host, port = split_address(addr)
            assert host == "127.0.0.1"
            assert 0 < port < 65536
            ports.add(port)
            with socket.create_connection((host, port), timeout=5):
                pass
        assert len(ports) == 2
    assert not broker.running


def test_enter_returns_self_and_shutdown_is_idempotent(tmp_path):
    broker = LocalBroker(store_dir=tmp_path, namesrv_port=0, broker_port=0)
    with broker as entered:
        assert entered is broker
    broker.shutdown()
    broker.close()
    assert not broker.running
    host, port = split_address(broker.namesrv_addr)
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=2).close()
    assert "stopped" in repr(broker)


def test_temporary_store_is_removed_on_close_and_explicit_store_is_kept(tmp_path):
    with LocalBroker(namesrv_port=0, broker_port=0) as broker:
        temporary = broker.store_dir
        assert temporary.is_dir()
    assert not temporary.exists()
    with LocalBroker(store_dir=tmp_path / "kept", namesrv_port=0, broker_port=0):
        pass
    assert (tmp_path / "kept").is_dir()


def test_route_of_tbw102_names_the_broker(tmp_path):
    with LocalBroker(store_dir=tmp_path, namesrv_port=0, broker_port=0) as broker:
        reply = wait_for_route(broker.namesrv_addr, "TBW102")
        assert reply.is_response
        assert reply.code == SUCCESS, reply.remark
        route = json.loads(reply.body)
        addresses = [addr for data in route["brokerDatas"] for addr in data["brokerAddrs"].values()]
        assert broker.broker_addr in addresses
        assert route["queueDatas"], route


def test_advertised_host_is_what_routes_name(tmp_path):
    with LocalBroker(
        store_dir=tmp_path, namesrv_port=0, broker_port=0, advertised_host="127.0.0.1"
    ) as broker:
        assert broker.broker_addr.startswith("127.0.0.1:")
        route = json.loads(wait_for_route(broker.namesrv_addr, "TBW102").body)
        addresses = [a for d in route["brokerDatas"] for a in d["brokerAddrs"].values()]
        assert addresses == [broker.broker_addr]


def test_unknown_topic_and_unknown_code(tmp_path):
    with LocalBroker(store_dir=tmp_path, namesrv_port=0, broker_port=0) as broker:
        with RemotingConnection(broker.namesrv_addr) as conn:
            reply = conn.call(GET_ROUTEINFO_BY_TOPIC, {"topic": "NoSuchTopic_x1"})
            assert reply.code == TOPIC_NOT_EXIST
            reply = conn.call(UNKNOWN_CODE)
            assert reply.code == REQUEST_CODE_NOT_SUPPORTED
            # The connection stays usable after an unsupported request.
            assert conn.call(GET_ROUTEINFO_BY_TOPIC, {"topic": "TBW102"}).is_response
        with RemotingConnection(broker.broker_addr) as conn:
            assert conn.call(UNKNOWN_CODE).code == REQUEST_CODE_NOT_SUPPORTED


def test_restart_on_the_same_store_dir_and_ports(tmp_path):
    first = LocalBroker(store_dir=tmp_path, namesrv_port=0, broker_port=0)
    namesrv_addr, broker_addr = first.namesrv_addr, first.broker_addr
    first.shutdown()
    _, namesrv_port = split_address(namesrv_addr)
    _, broker_port = split_address(broker_addr)
    with LocalBroker(
        store_dir=tmp_path, namesrv_port=namesrv_port, broker_port=broker_port
    ) as second:
        assert second.namesrv_addr == namesrv_addr
        assert second.broker_addr == broker_addr
        assert wait_for_route(second.namesrv_addr, "TBW102").code == SUCCESS


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"flush": "fast"}, ValueError, ["flush", "sync", "async"]),
        ({"flush": 1}, TypeError, ["flush", "str"]),
        ({"namesrv_port": -1}, ValueError, ["namesrv_port", "65535"]),
        ({"broker_port": 70000}, ValueError, ["broker_port", "65535"]),
        ({"broker_port": "10911"}, TypeError, ["broker_port", "int"]),
        ({"store_dir": 123}, TypeError, ["store_dir", "PathLike"]),
        ({"store_dir": ""}, ValueError, ["store_dir"]),
        ({"max_message_size": 0}, ValueError, ["max_message_size"]),
        ({"delay_levels": "1s 5q"}, ValueError, ["5q", "ms, s, m, h or d"]),
        ({"delay_levels": ""}, ValueError, ["empty"]),
        ({"segment_size": 10}, ValueError, ["segment_size"]),
        ({"host": ""}, ValueError, ["host"]),
        ({"advertised_host": ""}, ValueError, ["advertised_host"]),
        ({"advertised_host": 127}, TypeError, ["advertised_host", "str"]),
    ],
)
def test_bad_arguments_raise_helpful_errors(tmp_path, kwargs, error, words):
    arguments = {"store_dir": tmp_path, "namesrv_port": 0, "broker_port": 0, **kwargs}
    with pytest.raises(error) as info:
        LocalBroker(**arguments)
    message = str(info.value)
    for word in words:
        assert word in message, message


def test_port_in_use_raises_oserror_naming_the_port(tmp_path):
    with LocalBroker(store_dir=tmp_path / "a", namesrv_port=0, broker_port=0) as broker:
        _, port = split_address(broker.namesrv_addr)
        with pytest.raises(OSError) as info:
            LocalBroker(store_dir=tmp_path / "b", namesrv_port=port, broker_port=0)
        assert str(port) in str(info.value)
        assert "in use" in str(info.value)
        # The failed start left the running broker alone.
        assert wait_for_route(broker.namesrv_addr, "TBW102").code == SUCCESS


def test_unwritable_store_dir_raises_oserror(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"not a directory")
    with pytest.raises(OSError) as info:
        LocalBroker(store_dir=blocker / "store", namesrv_port=0, broker_port=0)
    assert str(blocker) in str(info.value)


def test_default_store_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_dir() == tmp_path / "rocketmq"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_store_dir() == tmp_path / "home" / ".local" / "share" / "rocketmq"


def _read_lines(proc: subprocess.Popen, wanted: int, timeout: float) -> list:
    """Reads stdout lines until `wanted` lines arrived, the process exited, or the deadline.
    A thread does the blocking reads (select on a buffered text stream would miss lines that
    are already buffered)."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        try:
            for line in proc.stdout:
                lines.put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass  # the test closed the pipe
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < wanted:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:
            break
        got.append(line)
    return got


def _start_cli(store: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rocketmq.broker",
            "--store-dir",
            str(store),
            "--namesrv-port",
            "0",
            "--broker-port",
            "0",
            "--flush",
            "sync",
            "--log-level",
            "info",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _exit_status(proc: subprocess.Popen, timeout: float) -> int:
    """The CLI's exit status; a CLI still running after `timeout` is killed and the test
    fails with what it logged (its shutdown steps are logged at INFO)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        pytest.fail(f"the broker did not stop within {timeout} s; stderr:\n{proc.stderr.read()}")


def _close_cli(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_addresses_and_stops_cleanly_on_signal(tmp_path, stop_signal):
    store = tmp_path / "store"
    proc = _start_cli(store)
    try:
        lines = _read_lines(proc, 2, timeout=30)
        assert len(lines) == 2, (lines, proc.poll())
        namesrv = re.fullmatch(r"name server listening on (127\.0\.0\.1:\d+)", lines[0])
        broker = re.fullmatch(r"broker listening on (127\.0\.0\.1:\d+)", lines[1])
        assert namesrv and broker, lines
        assert wait_for_route(namesrv.group(1), "TBW102").code == SUCCESS
        with socket.create_connection(split_address(broker.group(1)), timeout=5):
            pass
        proc.send_signal(stop_signal)
        assert _exit_status(proc, timeout=30) == 0, proc.stderr.read()
    finally:
        _close_cli(proc)
    assert store.is_dir()


def test_cli_stops_cleanly_on_a_burst_of_signals(tmp_path):
    """Signals arriving while the handler of an earlier one runs (a supervisor repeating
    SIGTERM, Ctrl-C pressed twice): the handler must not take a lock the interrupted main
    thread may hold, or the broker hangs instead of stopping."""
    store = tmp_path / "store"
    proc = _start_cli(store)
    try:
        lines = _read_lines(proc, 2, timeout=30)
        assert len(lines) == 2, (lines, proc.poll())
        for i in range(300):
            if proc.poll() is not None:
                break
            try:
                proc.send_signal(signal.SIGTERM if i % 2 else signal.SIGINT)
            except ProcessLookupError:
                break
        assert _exit_status(proc, timeout=30) == 0, proc.stderr.read()
    finally:
        _close_cli(proc)
    # A clean stop leaves a store that opens without recovery work.
    with LocalBroker(store_dir=store, grpc=False) as again:
        assert again.running


def test_cli_rejects_bad_arguments(tmp_path):
    for bad in (["--flush", "fast"], ["--delay-levels", "soon"], ["--namesrv-port", "-1"]):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "rocketmq.broker",
                "--store-dir",
                str(tmp_path),
                "--broker-port",
                "0",
                *bad,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2, (bad, result)
        assert "error" in result.stderr


def test_cli_reports_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "rocketmq.broker",
                "--store-dir",
                str(tmp_path),
                "--namesrv-port",
                str(port),
                "--broker-port",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1, result
    assert str(port) in result.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "rocketmq-broker"
    assert script.exists(), "the rocketmq-broker console script is missing from the venv"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for option in (
        "--store-dir",
        "--host",
        "--namesrv-port",
        "--broker-port",
        "--flush",
        "--max-message-size",
        "--delay-levels",
    ):
        assert option in result.stdout


def test_defaults_are_the_server_configuration(tmp_path):
    # The values the Rust server configuration defines (crates/server/src/config.rs).
    assert (_rocketmq.DEFAULT_HOST, _rocketmq.DEFAULT_NAMESRV_PORT) == ("127.0.0.1", 9876)
    assert (_rocketmq.DEFAULT_BROKER_PORT, _rocketmq.DEFAULT_FLUSH) == (10911, "async")
    assert _rocketmq.DEFAULT_MAX_MESSAGE_SIZE == 4 * 1024 * 1024
    assert _rocketmq.DEFAULT_SEGMENT_SIZE == 1024 * 1024 * 1024
    assert _rocketmq.DEFAULT_DELAY_LEVELS.split()[:3] == ["1s", "5s", "10s"]
    assert len(_rocketmq.DEFAULT_DELAY_LEVELS.split()) == 18
    assert (
        _rocketmq.DEFAULT_TRANSACTION_CHECK_INTERVAL_MS,
        _rocketmq.DEFAULT_TRANSACTION_TIMEOUT_MS,
        _rocketmq.DEFAULT_TRANSACTION_CHECK_MAX,
    ) == (30000, 6000, 15)

    # LocalBroker's signature shows them.
    params = inspect.signature(LocalBroker).parameters
    assert params["host"].default == _rocketmq.DEFAULT_HOST
    assert params["namesrv_port"].default == _rocketmq.DEFAULT_NAMESRV_PORT
    assert params["broker_port"].default == _rocketmq.DEFAULT_BROKER_PORT
    assert params["flush"].default == _rocketmq.DEFAULT_FLUSH
    assert params["max_message_size"].default == _rocketmq.DEFAULT_MAX_MESSAGE_SIZE

    # The program's --help shows them.
    result = subprocess.run(
        [sys.executable, "-m", "rocketmq.broker", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result
    help_text = " ".join(result.stdout.split())
    for option, value in (
        ("--namesrv-port NAMESRV_PORT", _rocketmq.DEFAULT_NAMESRV_PORT),
        ("--broker-port BROKER_PORT", _rocketmq.DEFAULT_BROKER_PORT),
        ("--max-message-size MAX_MESSAGE_SIZE", _rocketmq.DEFAULT_MAX_MESSAGE_SIZE),
        ("--segment-size SEGMENT_SIZE", _rocketmq.DEFAULT_SEGMENT_SIZE),
        (
            "--transaction-check-interval-ms TRANSACTION_CHECK_INTERVAL_MS",
            _rocketmq.DEFAULT_TRANSACTION_CHECK_INTERVAL_MS,
        ),
        (
            "--transaction-timeout-ms TRANSACTION_TIMEOUT_MS",
            _rocketmq.DEFAULT_TRANSACTION_TIMEOUT_MS,
        ),
        (
            "--transaction-check-max TRANSACTION_CHECK_MAX",
            _rocketmq.DEFAULT_TRANSACTION_CHECK_MAX,
        ),
    ):
        at = help_text.index(option + " ")
        default = re.search(r"\(default: ([^)]*)\)", help_text[at:])
        assert default is not None and default.group(1) == str(value), (option, help_text)
    assert f'(default: "{_rocketmq.DEFAULT_DELAY_LEVELS}")' in help_text

    # The transaction options reach the broker, which checks them.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rocketmq.broker",
            "--store-dir",
            str(tmp_path),
            "--broker-port",
            "0",
            "--transaction-check-max",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result
    assert "transaction_check_max" in result.stderr


def test_default_store_dir_is_the_programs(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert _rocketmq.default_store_dir() == tmp_path / "rocketmq"
    assert default_store_dir() == _rocketmq.default_store_dir()


def test_rust_logging_reaches_python_logging(tmp_path, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="rocketmq_server")
    # pyo3-log caches logger levels; after reconfiguring Python logging the cache must be reset.
    _rocketmq.reset_log_cache()
    try:
        with LocalBroker(store_dir=tmp_path, namesrv_port=0, broker_port=0) as broker:
            wait_for_route(broker.namesrv_addr, "TBW102")
    finally:
        caplog.set_level(logging.WARNING, logger="rocketmq_server")
        _rocketmq.reset_log_cache()
    names = {record.name for record in caplog.records}
    assert any(name.startswith("rocketmq_server") for name in names), names
