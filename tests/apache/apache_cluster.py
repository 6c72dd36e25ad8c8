"""Apache RocketMQ's own name server and broker (and, for 5.x, proxy), run as Java processes for
tests.

* The releases, their download and cache: apache_artifacts.py (re-exported here).
* ``ApacheCluster`` starts a name server and one master broker of a given release (5.5.0 by
  default, or the last 4.9.x) on 127.0.0.1 with free ports, a temporary store and log
  directory (``user.home`` points there, so Apache's logs land in
  ``<workdir>/home/logs/rocketmqlogs``), small heaps and small mapped files, auto-created topics,
  the property filter and (5.x) the timer wheel on. It waits, bounded, until the broker is
  registered in the name server's cluster info, and stops both processes on exit (SIGTERM, then
  SIGKILL after a bounded wait; SIGKILL at once with ``graceful_stop=False``, as the pytest
  fixtures do, since a throw-away store needs no flush and Apache's shutdown takes ~10 s). On
  Linux each Java process also gets SIGTERM when the thread that started it dies, so nothing
  outlives a crashed test run. Startup failures carry the tail of the processes' output and of
  Apache's logs.
* ``ApacheProxy`` (apache_proxy.py) puts 5.x's proxy in front of a running cluster.

What must stay true: every listener of every Apache process is on 127.0.0.1 only. 5.x's name
server and remoting servers are told so; the listeners without a bind-address option (5.x's
HA listener and proxy, all of 4.9's) bind the wildcard address in Java and get loopback from
the preload of loopback.py (ports are still checked free on the wildcard address). No fixed
sleep, every wait is bounded; nothing is
written outside the work directory and the artifact cache.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from apache_artifacts import (  # noqa: F401  (re-exported: the harness's one import)
    APACHE4_VERSION,
    APACHE_VERSION,
    SUITE_VERSIONS,
    artifact_dir,
    artifacts,
    cache_root,
    classpath,
    is_4x,
    prepare_artifacts,
    run_version,
    write_home_conf,
)
from loopback import with_preload

NAMESRV_MAIN = "org.apache.rocketmq.namesrv.NamesrvStartup"
BROKER_MAIN = "org.apache.rocketmq.broker.BrokerStartup"

UPDATE_AND_CREATE_TOPIC = 17
GET_ROUTEINFO_BY_TOPIC = 105
GET_BROKER_CLUSTER_INFO = 106
_CLUSTER_NUMBERS = itertools.count()
#: Apache's delay levels need whole seconds: 18 levels of 1 s make retries quick.
ONE_SECOND_LEVELS = " ".join(["1s"] * 18)
JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx256m",
    # Netty's direct buffers: 256 MB ran out once POP and 4 MB bodies shared one broker.
    "-XX:MaxDirectMemorySize=768m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-OmitStackTraceInFastThrow",
    "-Djava.net.preferIPv4Stack=true",
    # No TLS: otherwise every remoting server generates a self-signed RSA key at start (seconds).
    "-Dtls.server.mode=disabled",
)
#: 4.x unmaps its files through JDK internals that Java 17 closes by default.
JVM_OPTIONS_4X = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
)


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM when the thread that started it dies (Linux)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port(bind_host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((bind_host, 0))
        return sock.getsockname()[1]


def _port_free(port: int, bind_host: str) -> bool:
    if not 1024 < port < 65536:
        return False
    with socket.socket() as sock:
        try:
            sock.bind((bind_host, port))
        except OSError:
            return False
    return True


def _broker_port() -> int:
    """A port P with P (remoting), P-2 (Apache's "fast" remoting) and P+1 (HA) all free on every
    address (some are bound on the wildcard address): Apache derives the other two from P."""
    for _ in range(200):
        port = _free_port("0.0.0.0")
        if _port_free(port - 2, "0.0.0.0") and _port_free(port + 1, "0.0.0.0"):
            return port
    raise RuntimeError("no free port P with P-2 and P+1 free in 200 tries")


def _tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a file, without logback's own start-up status lines."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 400 * lines))
            text = f.read().decode("utf-8", "replace")
    except OSError as error:
        return f"({error})"
    kept = [line for line in text.splitlines() if " |-" not in line]
    return "\n".join(kept[-lines:])


def _write_properties(path: Path, values: Dict[str, object]) -> None:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))


def _cluster_info(namesrv_addr: str) -> str:
    """The name server's GET_BROKER_CLUSTER_INFO body as text ("" while it is unreachable)."""
    from remoting import RemotingConnection  # tests/python, on sys.path via tests/conftest.py

    try:
        with RemotingConnection(namesrv_addr, timeout=3) as conn:
            reply = conn.call(GET_BROKER_CLUSTER_INFO)
    except (OSError, TimeoutError, ValueError, KeyError, AssertionError):
        return ""
    return reply.body.decode("utf-8", "replace") if reply.code == 0 else ""


def route_known(addr: str, topic: str) -> bool:
    """`addr` (name server or proxy) answers GET_ROUTEINFO_BY_TOPIC for `topic` with SUCCESS."""
    from remoting import RemotingConnection

    try:
        with RemotingConnection(addr, timeout=3) as conn:
            return conn.call(GET_ROUTEINFO_BY_TOPIC, {"topic": topic}).code == 0
    except (OSError, TimeoutError, ValueError, KeyError, AssertionError):
        return False


def _registered_brokers(namesrv_addr: str) -> Optional[Dict[str, List[str]]]:
    """Broker name -> addresses registered in the name server (None while it is unreachable).
    Apache writes the addresses' map with bare integer keys (fastjson), which JSON quotes."""
    info = _cluster_info(namesrv_addr)
    if not info:
        return None
    table = json.loads(re.sub(r"([{,])(-?\d+):", r'\1"\2":', info)).get("brokerAddrTable") or {}
    return {
        name: sorted((entry.get("brokerAddrs") or {}).values()) for name, entry in table.items()
    }


class _ForeignBroker(Exception):
    """Another broker registered with our new name server: a broker of some other run whose
    name server died keeps registering to that address, and ours got the same port."""


class _PortTaken(Exception):
    """A process exited at start with Java's BindException: a port found free was taken by
    another process (of this run or another) before Java bound it."""


class JavaProcess:
    """One Apache server process: its command line, output file and stop sequence."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        main: str,
        args: List[str],
        cp: str,
        jvm_options: Sequence[str] = (),
        base_options: Sequence[str] = JVM_OPTIONS,
    ) -> None:
        self.name = name
        self.workdir = workdir
        self.output = workdir / f"{name}.out"
        home = workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        # The JVM's temporary files (RocksDB's native library, 12 MB a start) stay in the
        # test's work directory instead of piling up in the system's.
        tmp = workdir / "tmp"
        tmp.mkdir(exist_ok=True)
        java = Path(os.environ["JAVA_HOME"]) / "bin" / "java" if "JAVA_HOME" in os.environ else None
        command = [
            str(java) if java and java.exists() else (shutil.which("java") or "java"),
            *base_options,
            *jvm_options,
            f"-Duser.home={home}",
            f"-Djava.io.tmpdir={tmp}",
            f"-Drocketmq.home.dir={home}",
            f"-Drmq.logback.configurationFile=rmq.{name}.logback.xml",
            "-cp",
            cp,
            main,
            *args,
        ]
        env = with_preload(dict(os.environ, ROCKETMQ_HOME=str(home), HOME=str(home)))
        env.pop("NAMESRV_ADDR", None)
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=env,
                preexec_fn=_die_with_parent,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait(10)


class ApacheCluster:
    """A name server and one broker of Apache RocketMQ on 127.0.0.1, for one test scope.

    ``broker_config`` entries override the broker's properties (Apache key names);
    ``broker_jvm_options`` replaces JVM_OPTIONS for the broker process (the benchmarks give it
    a larger heap and the JIT's full tiers). Use as a context manager, or call start() and
    stop()."""

    def __init__(
        self,
        workdir: Path,
        version: str = APACHE_VERSION,
        broker_name: Optional[str] = None,
        cluster_name: str = "DefaultCluster",
        broker_config: Optional[Dict[str, object]] = None,
        start_timeout: float = 120,
        graceful_stop: bool = True,
        broker_jvm_options: Optional[Sequence[str]] = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.version = version
        # A name of its own: a broker of another test run whose name server died keeps
        # registering to that address, and a new name server may get the same port.
        self.broker_name = broker_name or f"apache-{os.getpid()}-{next(_CLUSTER_NUMBERS)}"
        self.cluster_name = cluster_name
        self.broker_config = dict(broker_config or {})
        self.start_timeout = start_timeout
        self.graceful_stop = graceful_stop
        self.broker_jvm_options = tuple(broker_jvm_options or JVM_OPTIONS)
        self.namesrv: Optional[JavaProcess] = None
        self.broker: Optional[JavaProcess] = None
        self.namesrv_addr = ""
        self.broker_addr = ""

    @property
    def log_dir(self) -> Path:
        return self.workdir / "home" / "logs" / "rocketmqlogs"

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of both processes' output and of Apache's main logs."""
        parts = []
        for path in (
            self.workdir / "namesrv.out",
            self.workdir / "broker.out",
            self.log_dir / "namesrv.log",
            self.log_dir / "broker.log",
            self.log_dir / "broker_default.log",
        ):
            if path.exists():
                parts.append(f"--- {path.name} (last {lines} lines) ---\n{_tail(path, lines)}")
        return "\n".join(parts) or f"(no output or logs under {self.workdir})"

    def _fail(self, what: str) -> None:
        message = f"Apache RocketMQ {self.version}: {what}\n{self.log_tail()}"
        self.stop()
        raise RuntimeError(message)

    def _wait(self, condition, process: JavaProcess, deadline: float, what: str) -> None:
        while not condition():
            if not process.alive():
                if "java.net.BindException" in _tail(process.output, 200):
                    raise _PortTaken(f"the {process.name} could not bind its port before {what}")
                self._fail(f"the {process.name} exited ({process.proc.returncode}) before {what}")
            if time.monotonic() > deadline:
                self._fail(f"timed out after {self.start_timeout:.0f}s waiting for {what}")
            time.sleep(0.1)

    def start(self, attempts: int = 3) -> "ApacheCluster":
        """Starts both processes; again on new ports when a foreign broker joined the name server
        or a port was taken between choosing it and Java binding it."""
        cp = classpath(self.version)
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(cp)
            except (_ForeignBroker, _PortTaken) as retryable:
                for process in (self.broker, self.namesrv):
                    if process is not None:
                        process.kill()
                if attempt == attempts:
                    self._fail(f"{retryable} in {attempts} attempts")
        return self

    def _java(
        self, name: str, main: str, args: List[str], cp: str, base: Sequence[str] = JVM_OPTIONS
    ) -> JavaProcess:
        write_home_conf(self.version, self.workdir / "home")
        options = JVM_OPTIONS_4X if is_4x(self.version) else ()
        return JavaProcess(name, self.workdir, main, args, cp, options, base)

    def _start_once(self, cp: str) -> "ApacheCluster":
        deadline = time.monotonic() + self.start_timeout

        namesrv_port = _free_port("0.0.0.0")
        self.namesrv_addr = f"127.0.0.1:{namesrv_port}"
        namesrv_conf = self.workdir / "namesrv.properties"
        _write_properties(namesrv_conf, {"listenPort": namesrv_port, "bindAddress": "127.0.0.1"})
        self.namesrv = self._java("namesrv", NAMESRV_MAIN, ["-c", str(namesrv_conf)], cp)

        def namesrv_answers() -> bool:
            return _cluster_info(self.namesrv_addr) != ""

        self._wait(namesrv_answers, self.namesrv, deadline, "the name server to answer")

        broker_port = _broker_port()
        self.broker_addr = f"127.0.0.1:{broker_port}"
        store = self.workdir / "store"
        config: Dict[str, object] = {
            "brokerClusterName": self.cluster_name,
            "brokerName": self.broker_name,
            "brokerId": 0,
            "brokerRole": "ASYNC_MASTER",
            "flushDiskType": "ASYNC_FLUSH",
            "namesrvAddr": self.namesrv_addr,
            "brokerIP1": "127.0.0.1",
            "brokerIP2": "127.0.0.1",
            "bindAddress": "127.0.0.1",
            "listenPort": broker_port,
            "haListenPort": broker_port + 1,
            "storePathRootDir": store,
            "storePathCommitLog": store / "commitlog",
            "mappedFileSizeCommitLog": 16 << 20,
            "mappedFileSizeConsumeQueue": 30000 * 20,
            "mappedFileSizeTimerLog": 4 << 20,
            "maxHashSlotNum": 10000,
            "maxIndexNum": 40000,
            "autoCreateTopicEnable": "true",
            "autoCreateSubscriptionGroup": "true",
            "enablePropertyFilter": "true",
            "timerWheelEnable": "true",
            # Recalling timer messages (RECALL_MESSAGE, gRPC RecallMessage) is off by default.
            "recallMessageEnable": "true",
            "messageDelayLevel": ONE_SECOND_LEVELS,
            "transactionCheckInterval": 1000,
            "transactionTimeOut": 1000,
            # Apache writes END_TRANSACTION's op records in batches, every 3 s by default; a
            # half message whose op record is still pending is checked back again (and a
            # second COMMIT answer delivers it twice), so the batches must land well within
            # transactionTimeOut.
            "transactionOpBatchInterval": 100,
        }
        if is_4x(self.version):
            # 4.x has no timer wheel (delay levels only) and settles transactions at once.
            for key in (
                "timerWheelEnable",
                "recallMessageEnable",
                "mappedFileSizeTimerLog",
                "transactionOpBatchInterval",
            ):
                del config[key]
        config.update(self.broker_config)
        broker_conf = self.workdir / "broker.properties"
        _write_properties(broker_conf, config)
        self.broker = self._java(
            "broker", BROKER_MAIN, ["-c", str(broker_conf)], cp, self.broker_jvm_options
        )

        def registered() -> bool:
            brokers = _registered_brokers(self.namesrv_addr) or {}
            foreign = {name: addrs for name, addrs in brokers.items() if name != self.broker_name}
            if foreign:
                raise _ForeignBroker(
                    f"foreign brokers registered at {self.namesrv_addr}: {foreign}"
                )
            # The name server lists a broker's name before its address while it registers.
            if not brokers.get(self.broker_name):
                return False
            if brokers[self.broker_name] != [self.broker_addr]:
                self._fail(f"the broker registered at {brokers[self.broker_name]}")
            return True

        self._wait(registered, self.broker, deadline, "the broker to register")
        return self

    def create_topic(self, topic: str, queues: int = 4, timeout: float = 30) -> None:
        """Creates `topic` on the broker (UPDATE_AND_CREATE_TOPIC) and waits, bounded, until the
        name server routes it: for clients that do not auto-create (the proxy's)."""
        from remoting import RemotingConnection

        with RemotingConnection(self.broker_addr) as conn:
            reply = conn.call(
                UPDATE_AND_CREATE_TOPIC,
                {
                    "topic": topic,
                    "defaultTopic": "TBW102",
                    "readQueueNums": queues,
                    "writeQueueNums": queues,
                    "perm": 6,
                    "topicFilterType": "SINGLE_TAG",
                    "topicSysFlag": 0,
                    "order": "false",
                },
            )
        if reply.code != 0:
            raise RuntimeError(f"creating topic {topic} failed: {reply.code} {reply.remark}")
        deadline = time.monotonic() + timeout
        while not route_known(self.namesrv_addr, topic):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the name server has no route of {topic} after {timeout}s")
            time.sleep(0.1)

    def stop(self) -> None:
        """Broker first (it unregisters from the name server), then the name server: SIGTERM
        and a bounded wait for Apache's shutdown hooks (about 10 s), or with
        ``graceful_stop=False`` SIGKILL at once (a test's throw-away store needs no flush)."""
        for process in (self.broker, self.namesrv):
            if process is not None:
                if self.graceful_stop:
                    process.stop()
                else:
                    process.kill()

    def __enter__(self) -> "ApacheCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
