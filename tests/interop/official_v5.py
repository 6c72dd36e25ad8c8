"""Runs the RocketMQ 5.x flow scripts (tests/interop/v5_flows) under a chosen interpreter
against a gRPC endpoint, and prepares what they need on the broker.

* The official client, PyPI ``rocketmq-python-client`` (pinned: ``V5_CLIENT``), lives in its
  own virtualenv ``.venv-v5`` at the repository root, because it installs a package also
  named ``rocketmq``. ``official_python()`` returns its interpreter: ``ROCKETMQ_V5_PYTHON``
  when set (scripts/test.sh creates the venv and sets it), otherwise the venv is created or
  completed here (pip, with its cache).
* ``run_flow(python, flow, args, home)`` runs ``v5_flows/<flow>.py`` under `python` (the
  official client's, or one with this project's package: the interpreter is a parameter, so
  ``ROCKETMQ_V5_PYTHON=.venv/bin/python`` runs the same flows on our own 5.x API) with HOME
  set to `home` (the official client writes ``~/logs/rocketmq_python`` at import), and
  returns the JSON records it printed; a flow that fails or outlives its time fails the test
  with its output and the tail of the client's log. ``FlowProcess`` is the same started now
  and waited for later; ``all_flows_started`` starts every flow side by side (the Java 5.x
  driver's too: the command is a parameter).
* ``v5_target``: what the flows run against, with the name server used to create typed topics
  and orderly groups (``rocketmq.admin.Admin``, which speaks to both brokers): our broker's
  gRPC endpoint (a LocalBroker, or while it has no ``grpc_port`` the ``rocketmq-broker``
  program), a running broker named by the environment, or Apache's proxy.

What must stay true: every subprocess is bounded by a timeout and killed past it; the venv is
kept apart from ``.venv`` (ours) and ``.venv-cpp`` (the 4.x C++ client).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOWS = Path(__file__).resolve().parent / "v5_flows"
V5_CLIENT = "rocketmq-python-client==5.1.2"
V5_VENV = ROOT / ".venv-v5"
V5_PYTHON_ENV = "ROCKETMQ_V5_PYTHON"
#: Every flow, its typed topic's message type and whether its group must be orderly.
FLOW_TOPICS = {
    "normal": ("NORMAL", False),
    "fifo": ("FIFO", True),
    "delay": ("DELAY", False),
    "transaction": ("TRANSACTION", False),
    "simple_consumer": ("NORMAL", False),
    "push_consumer": ("NORMAL", False),
}


def _installed_version(python: Path) -> Optional[str]:
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; print(m.version('rocketmq-python-client'))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_official_venv(venv: Path = V5_VENV) -> Path:
    """Creates `venv` with the pinned official client if it lacks it; returns its python."""
    python = venv / "bin" / "python"
    wanted = V5_CLIENT.split("==")[1]
    if python.exists() and _installed_version(python) == wanted:
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", V5_CLIENT],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0:
        pytest.fail(f"installing {V5_CLIENT} into {venv} failed:\n{install.stderr[-3000:]}")
    return python


def official_python() -> str:
    """The interpreter of the official 5.x client's virtualenv."""
    configured = os.environ.get(V5_PYTHON_ENV)
    if configured:
        if not Path(configured).exists():
            pytest.fail(f"{V5_PYTHON_ENV}={configured} does not exist: run `bash scripts/test.sh`")
        return configured
    return str(ensure_official_venv())


class FlowFailed(AssertionError):
    """A flow script exited with an error or outlived its time."""


@dataclass
class FlowRun:
    records: List[Dict[str, Any]]
    stderr: str

    def events(self, event: str) -> List[Dict[str, Any]]:
        return [r for r in self.records if r["event"] == event]


def _client_log_tail(home: Path, lines: int = 30) -> str:
    log = home / "logs" / "rocketmq_python" / "rocketmq_client.log"
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def flow_argv(python: str, flow: str, args: Dict[str, Any]) -> List[str]:
    """The command that runs v5_flows/<flow>.py under `python` with `args`."""
    return [python, str(FLOWS / f"{flow}.py"), json.dumps(args)]


def run_flow(
    python: str, flow: str, args: Dict[str, Any], home: Path, timeout: float = 120
) -> FlowRun:
    """Runs v5_flows/<flow>.py under `python` with `args`; returns its records. Raises
    FlowFailed (with the output) when it exits non-zero, prints no ``done`` record, or runs
    past `timeout` seconds."""
    return FlowProcess(flow_argv(python, flow, args), f"flow {flow}", home, timeout).result()


class FlowProcess:
    """`argv` (a flow of the Python scripts or of the Java 5.x driver) started now with HOME
    set to `home`, its output in files there (so several run at once without blocking on a
    pipe); ``result()`` waits, bounded by `timeout` from the start, for its records."""

    def __init__(self, argv: List[str], name: str, home: Path, timeout: float = 120) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.home = home
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        env = dict(os.environ, HOME=str(home), PYTHONUNBUFFERED="1")
        env.pop("PYTHONPATH", None)
        self.stdout_path = home / "flow.stdout"
        self.stderr_path = home / "flow.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=str(home)
            )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)

    def result(self) -> FlowRun:
        """The records the flow printed, which must end with ``done``; FlowFailed (with the
        output and the tail of the client's log) otherwise or past the timeout."""
        try:
            self.process.wait(max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            raise FlowFailed(f"{self.name} ran past {self.timeout}s\n{self._output()}") from None
        stdout = self.stdout_path.read_text(errors="replace")
        records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        if self.process.returncode != 0 or not records or records[-1]["event"] != "done":
            raise FlowFailed(f"{self.name} exited {self.process.returncode}\n{self._output()}")
        return FlowRun(records, self.stderr_path.read_text(errors="replace"))

    def _output(self) -> str:
        stdout = self.stdout_path.read_text(errors="replace")[-4000:]
        stderr = self.stderr_path.read_text(errors="replace")[-4000:]
        return f"stdout:\n{stdout}\nstderr:\n{stderr}\nclient log:\n{_client_log_tail(self.home)}"


@contextlib.contextmanager
def all_flows_started(
    target: "V5Target",
    command: Callable[[str, Dict[str, Any], Path], List[str]],
    tmp_path_factory: Any,
    label: str,
) -> Iterator[Dict[str, Tuple[str, FlowProcess]]]:
    """Starts every flow of v5_flow_checks.CHECKS at once against `target`, each on a fresh
    topic and group, as ``command(flow, args, home)``; yields flow -> (topic, FlowProcess)
    and kills what still runs at the end. The flows are independent, so running them side by
    side costs the time of the slowest, not the sum."""
    from v5_flow_checks import CHECKS, FLOW_ARGS

    runs: Dict[str, Tuple[str, FlowProcess]] = {}
    try:
        for flow in sorted(CHECKS):
            topic = target.topic(flow)
            args = dict(FLOW_ARGS[flow], endpoint=target.endpoint, topic=topic)
            args["group"] = target.group(flow)
            home = tmp_path_factory.mktemp(f"{label}-{flow}")
            runs[flow] = (topic, FlowProcess(command(flow, args, home), f"{label} {flow}", home))
        yield runs
    finally:
        for _, process in runs.values():
            process.kill()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclass
class V5Target:
    """A RocketMQ 5 gRPC endpoint and the name server of the brokers behind it."""

    kind: str  # "ours", "external" (a running broker named by the environment) or "apache"
    endpoint: str
    namesrv_addr: str

    def topic(self, flow: str) -> str:
        """A fresh topic of the message type `flow` needs, routed before this returns."""
        from rocketmq.admin import Admin

        message_type, _ = FLOW_TOPICS[flow]
        name = unique(f"V5{flow.title().replace('_', '')}")
        with Admin(self.namesrv_addr, timeout=30) as admin:
            admin.create_topic(name, queues=4, message_type=message_type)
        return name

    def group(self, flow: str) -> str:
        """A fresh consumer group for `flow`, orderly for the FIFO flow."""
        from rocketmq.admin import Admin

        name = unique(f"V5G{flow.title().replace('_', '')}")
        if FLOW_TOPICS[flow][1]:
            with Admin(self.namesrv_addr, timeout=30) as admin:
                admin.create_subscription_group(name, consume_message_orderly=True)
        return name


#: Why a flow cannot pass against our broker's gRPC endpoint yet (xfail reasons); empty once
#: the endpoint serves every RPC the flows use.
OURS_NOT_SERVED: Dict[str, str] = {}


#: A running broker to test instead of a LocalBroker: its gRPC endpoint and name server
#: (e.g. a ``rocketmq-broker`` process started by hand).
EXTERNAL_ENDPOINT_ENV = "ROCKETMQ_V5_ENDPOINT"
EXTERNAL_NAMESRV_ENV = "ROCKETMQ_V5_NAMESRV"


def broker_under_test() -> str:
    return os.environ.get("ROCKETMQ_TEST_BROKER", "ours") or "ours"


@contextlib.contextmanager
def v5_target(request: Any, tmp_path_factory: Any) -> Iterator[V5Target]:
    """The gRPC endpoint of this run: our LocalBroker's (``ROCKETMQ_TEST_BROKER`` unset or
    ``ours``; started here, transaction check-backs every second), a running broker named by
    ``ROCKETMQ_V5_ENDPOINT`` and ``ROCKETMQ_V5_NAMESRV`` (in the ``ours`` run), or Apache's
    proxy in front of the session's Apache cluster (``apache``). Skips under ``apache4``."""
    kind = broker_under_test()
    external = os.environ.get(EXTERNAL_ENDPOINT_ENV)
    if external and kind == "ours":
        namesrv = os.environ.get(EXTERNAL_NAMESRV_ENV)
        if not namesrv:
            pytest.fail(f"{EXTERNAL_ENDPOINT_ENV} needs {EXTERNAL_NAMESRV_ENV} (host:port) too")
        yield V5Target("external", external, namesrv)
        return
    if kind == "apache4":
        pytest.skip("Apache RocketMQ 4.9 has no gRPC proxy")
    if kind == "apache":
        proxy = request.getfixturevalue("apache_proxy")
        yield V5Target("apache", proxy.proxy_grpc_endpoint, proxy.cluster.namesrv_addr)
        return
    from rocketmq.broker import LocalBroker

    store = tmp_path_factory.mktemp("v5store")
    try:
        broker = LocalBroker(
            store_dir=str(store),
            namesrv_port=0,
            broker_port=0,
            grpc_port=0,
            transaction_check_interval_ms=1000,
            transaction_timeout_ms=1000,
        )
    except TypeError as error:
        if "grpc_port" not in str(error):
            raise
        # This LocalBroker has no gRPC endpoint yet: the rocketmq-broker program has.
        with broker_process(store) as target:
            yield target
        return
    with broker:
        yield V5Target("ours", broker.grpc_endpoint, broker.namesrv_addr)


def broker_program() -> Optional[Path]:
    """The most recently built ``rocketmq-broker`` program of this checkout (``cargo test``
    and ``cargo build`` build it), or None."""
    built = [ROOT / "target" / kind / "rocketmq-broker" for kind in ("debug", "release")]
    found = [path for path in built if path.exists()]
    return max(found, key=lambda path: path.stat().st_mtime) if found else None


@contextlib.contextmanager
def broker_process(store: Path, timeout: float = 60) -> Iterator[V5Target]:
    """Our broker as a ``rocketmq-broker`` process on ephemeral ports with its gRPC endpoint,
    transaction check-backs every second; waits, bounded, for its three listeners and stops
    it at the end."""
    program = broker_program()
    if program is None:
        pytest.xfail("LocalBroker has no grpc_port and no rocketmq-broker is built: cargo build")
    argv = [str(program), "--store-dir", str(store), "--namesrv-port", "0"]
    argv += ["--broker-port", "0", "--grpc-port", "0"]
    argv += ["--transaction-check-interval-ms", "1000", "--transaction-timeout-ms", "1000"]
    output = store.parent / f"{store.name}.out"
    with open(output, "wb") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + timeout
        listening: Dict[str, str] = {}
        while len(listening) < 2:
            for line in output.read_text(errors="replace").splitlines():
                for what in ("name server", "gRPC endpoint"):
                    if line.startswith(f"{what} listening on "):
                        listening[what] = line.rsplit(" ", 1)[1]
            if process.poll() is not None or time.monotonic() > deadline:
                text = output.read_text(errors="replace")[-3000:]
                pytest.fail(f"{program} did not start its gRPC endpoint:\n{text}")
            time.sleep(0.05)
        yield V5Target("ours", listening["gRPC endpoint"], listening["name server"])
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def expect_served(request: Any, target: V5Target, flow: str) -> None:
    """Marks the running test xfail (not strict: a pass shows as XPASS) when `flow` is listed
    in OURS_NOT_SERVED and the target is our broker."""
    reason = OURS_NOT_SERVED.get(flow)
    if target.kind == "ours" and reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=False))
