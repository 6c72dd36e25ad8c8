"""The brokers the benchmarks measure, behind one interface.

* ``OurBroker``: a name server + broker process, ``python -m rocketmq.broker``.
* ``ApacheBroker``: Apache RocketMQ's own name server and broker (Java), started through the
  test harness in ``tests/apache`` with a benchmark configuration (``APACHE_JVM_OPTIONS``,
  ``APACHE_BROKER_CONFIG``; benchmarks/README.md states it).

Both expose ``namesrv`` and ``broker`` (host:port), ``pid`` (the broker process), ``store_dir``,
``memory_kib()`` and ``stop()``. ``apache_unavailable()`` says why Apache's broker cannot run
here (no Java, jars not prepared), so the run can report that instead of failing.

What must stay true: everything listens on 127.0.0.1 with ephemeral ports and temporary
directories, every start-up wait is bounded, and ``stop()`` ends the processes and removes
their directories.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
START_TIMEOUT = 20.0  # our broker
APACHE_START_TIMEOUT = 120.0  # a JVM on a loaded 2-CPU machine
APACHE_START_ATTEMPTS = 3
GET_ROUTEINFO_BY_TOPIC = 105

#: Apache's broker: the JVM options of Apache's own launch script (distribution/bin/runbroker.sh,
#: the Java 11+ branch) with a 1 GiB heap instead of 8 GiB. The harness's test defaults (256 MiB
#: heap, serial GC, C1 only) would understate it.
APACHE_JVM_OPTIONS = (
    "-server",
    "-Xms1g",
    "-Xmx1g",
    "-Xmn512m",
    "-XX:+UseG1GC",
    "-XX:G1HeapRegionSize=16m",
    "-XX:G1ReservePercent=25",
    "-XX:InitiatingHeapOccupancyPercent=30",
    "-XX:SoftRefLRUPolicyMSPerMB=0",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+AlwaysPreTouch",
    "-XX:MaxDirectMemorySize=1g",
    "-XX:-UseLargePages",
    "-Djava.net.preferIPv4Stack=true",
    # No TLS listener (ours has none either); it also saves seconds of key generation.
    "-Dtls.server.mode=disabled",
)

#: Broker properties over the harness's test configuration: Apache's default mapped-file and
#: index sizes (the harness makes them small for tests). Flush mode and queue counts are set
#: per broker; everything else keeps Apache's defaults.
APACHE_BROKER_CONFIG = {
    "mappedFileSizeCommitLog": 1 << 30,
    "mappedFileSizeConsumeQueue": 300000 * 20,
    "maxHashSlotNum": 5000000,
    "maxIndexNum": 20000000,
}


def proc_status_kib(pid, field):
    """A ``kB`` field of /proc/PID/status (``VmHWM`` = peak RSS, ``RssAnon`` = heap etc.)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def memory_kib(pid):
    """(peak RSS, current anonymous RSS). The peak includes the mmapped commit-log pages the
    broker touched (file-backed, reclaimable page cache); RssAnon is its own memory."""
    return proc_status_kib(pid, "VmHWM"), proc_status_kib(pid, "RssAnon")


class OurBroker:
    """A name server + broker process (``python -m rocketmq.broker``) on ephemeral ports."""

    kind = "ours"

    def __init__(self, flush="async", label="broker"):
        self.label = label
        self.store_dir = tempfile.mkdtemp(prefix="rocketmq-bench-%s-" % label)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rocketmq.broker",
                "--store-dir",
                self.store_dir,
                "--namesrv-port",
                "0",
                "--broker-port",
                "0",
                "--flush",
                flush,
                "--log-level",
                "error",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=HERE,
        )
        self.namesrv = self.broker = None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and (self.namesrv is None or self.broker is None):
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.match(r"name server listening on (\S+)", line)
            if m:
                self.namesrv = m.group(1)
            m = re.match(r"broker listening on (\S+)", line)
            if m:
                self.broker = m.group(1)
        if self.namesrv is None or self.broker is None:
            self.stop()
            raise RuntimeError("our %s broker did not start" % label)

    @property
    def pid(self):
        return self.proc.pid

    def memory_kib(self):
        return memory_kib(self.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.store_dir, ignore_errors=True)


def _harness():
    """The test harness's module ``apache_cluster`` (it also needs tests/python's
    ``remoting``). Appended to sys.path, so nothing there shadows the installed package."""
    for sub in ("tests/apache", "tests/python"):
        path = os.path.join(ROOT, sub)
        if path not in sys.path:
            sys.path.append(path)
    import apache_cluster

    return apache_cluster


def _java():
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def apache_unavailable():
    """Why Apache's broker cannot run here, or None when it can."""
    if _java() is None:
        return "no Java (install Java 17 or set JAVA_HOME)"
    try:
        harness = _harness()
    except ImportError as e:
        return "the harness tests/apache is missing (%s)" % e
    try:
        harness.classpath()
    except FileNotFoundError:
        return "jars missing: run python3 scripts/apache_rocketmq.py prepare"
    return None


def apache_version():
    try:
        return _harness().APACHE_VERSION
    except ImportError:
        return "?"


class ApacheBroker:
    """Apache RocketMQ's name server + broker (Java) on ephemeral ports, benchmark config."""

    kind = "apache"

    def __init__(self, flush="async", label="broker"):
        harness = _harness()
        self.label = label
        self.workdir = tempfile.mkdtemp(prefix="rocketmq-bench-apache-%s-" % label)
        config = dict(APACHE_BROKER_CONFIG)
        config["flushDiskType"] = "SYNC_FLUSH" if flush == "sync" else "ASYNC_FLUSH"
        for attempt in range(1, APACHE_START_ATTEMPTS + 1):
            # A fresh directory per attempt: a failed start leaves its store behind.
            workdir = Path(self.workdir) / ("attempt%d" % attempt)
            self.store_dir = str(workdir / "store")
            self.cluster = harness.ApacheCluster(
                workdir,
                broker_config=config,
                start_timeout=APACHE_START_TIMEOUT,
                # The store is thrown away: SIGKILL instead of Apache's ~10 s shutdown.
                graceful_stop=False,
                broker_jvm_options=APACHE_JVM_OPTIONS,
            )
            try:
                self.cluster.start()
                break
            except RuntimeError as e:
                # On a shared machine another process may take one of the free ports the
                # harness picked (Apache derives two more from the broker's) before the
                # broker binds it; the harness then reports the failed start.
                self.cluster.stop()
                if attempt == APACHE_START_ATTEMPTS:
                    shutil.rmtree(self.workdir, ignore_errors=True)
                    raise
                first_line = str(e).splitlines()[0] if str(e) else repr(e)
                sys.stderr.write("Apache's broker did not start (%s); again\n" % first_line)
            except BaseException:
                self.cluster.stop()
                shutil.rmtree(self.workdir, ignore_errors=True)
                raise
        self.namesrv = self.cluster.namesrv_addr
        self.broker = self.cluster.broker_addr

    @property
    def pid(self):
        return self.cluster.broker.proc.pid

    def memory_kib(self):
        return memory_kib(self.pid)

    def stop(self):
        self.cluster.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_broker(kind, flush, label):
    return (ApacheBroker if kind == "apache" else OurBroker)(flush, label)


def queue_counts(namesrv, topic):
    """(write queues, read queues) of `topic` in the name server's route, or None."""
    _harness()  # puts tests/python, which holds `remoting`, on sys.path
    import remoting

    try:
        with remoting.RemotingConnection(namesrv, timeout=5) as conn:
            reply = conn.call(GET_ROUTEINFO_BY_TOPIC, {"topic": topic})
    except (OSError, TimeoutError, ValueError, AssertionError):
        return None
    if reply.code != 0 or not reply.body:
        return None
    # Apache writes some maps with bare integer keys (fastjson); the queue data has none.
    text = re.sub(r"([{,])(-?\d+):", r'\1"\2":', reply.body.decode("utf-8", "replace"))
    datas = json.loads(text).get("queueDatas") or []
    return (
        sum(int(q.get("writeQueueNums", 0)) for q in datas),
        sum(int(q.get("readQueueNums", 0)) for q in datas),
    )
