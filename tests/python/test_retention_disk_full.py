"""The refusal watermark on a small file system of its own: a `rocketmq-broker` process
(``python -m rocketmq.broker``) runs in an unprivileged user + mount namespace (``unshare
-rm``) with its store on a 32 MiB tmpfs. A filler file (written through
``/proc/<pid>/root``, the broker's view of the mounts) pushes usage past
``--disk-refuse-ratio``: sends are refused with the clear "disk full" error, everything
already stored stays readable, and once the filler is deleted sends are accepted again.
Skipped, with the reason, where user namespaces are not allowed."""

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from clienttools import FreshPullConsumer, make_producer, message, unique, wait_for

from rocketmq.admin import Admin

pytestmark = pytest.mark.ours_broker_only("runs our broker program on a tmpfs of its own")

TMPFS_BYTES = 32 << 20
REFUSE_RATIO = 50
#: Started through `sh` inside the namespaces: mount the tmpfs, then become the broker.
MOUNT_AND_RUN = 'mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && exec "$@"'


def namespaces_allowed(scratch):
    if shutil.which("unshare") is None:
        return "the unshare program is not installed"
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", MOUNT_AND_RUN, "sh", "1m", str(scratch), "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return "unprivileged user namespaces are not allowed here: " + probe.stderr.strip()
    return None


class BrokerOnTmpfs:
    """The broker process; its addresses come from the lines it prints at start."""

    def __init__(self, mount_point):
        self.mount_point = mount_point
        args = [
            sys.executable,
            "-m",
            "rocketmq.broker",
            "--store-dir",
            str(mount_point / "store"),
            "--namesrv-port",
            "0",
            "--broker-port",
            "0",
            "--segment-size",
            str(256 * 1024),
            "--max-message-size",
            str(64 * 1024),
            "--disk-max-used-ratio",
            "0",
            "--disk-refuse-ratio",
            str(REFUSE_RATIO),
        ]
        self.proc = subprocess.Popen(
            ["unshare", "-rm", "sh", "-c", MOUNT_AND_RUN, "sh", str(TMPFS_BYTES), str(mount_point)]
            + args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.namesrv_addr = self._wait_for_line("name server listening on ")
        self.broker_addr = self._wait_for_line("broker listening on ")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_line(self, prefix, timeout=60):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise AssertionError(f"the broker did not print {prefix!r}; it printed {seen!r}")

    def path(self, name):
        """`name` on the broker's tmpfs, as this process reaches it."""
        return f"/proc/{self.proc.pid}/root{self.mount_point}/{name}"

    def used_percent(self):
        st = os.statvfs(self.path(""))
        return 100 * (st.f_blocks - st.f_bavail) / st.f_blocks

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def try_send(producer, topic, text):
    try:
        producer.send_sync(message(topic, text))
        return None
    except Exception as e:  # the refusal, whatever the client's exception type
        return str(e)


def test_sends_are_refused_above_the_watermark_and_resume_when_space_returns(tmp_path):
    (tmp_path / "probe").mkdir()
    reason = namespaces_allowed(tmp_path / "probe")
    if reason:
        pytest.skip(reason)
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    broker = BrokerOnTmpfs(mount_point)
    try:
        topic = unique("DiskFull")
        # One queue: its consume-queue file (6 MB, allocated in full) fits the tmpfs.
        with Admin(broker.namesrv_addr) as admin:
            admin.create_topic(topic, queues=1)
        producer = make_producer(broker)
        try:
            wait_for(
                lambda: try_send(producer, topic, b"before-0") is None,
                timeout=60,
                what="a first send",
            )
            for i in range(1, 20):
                assert try_send(producer, topic, b"before-%d" % i) is None
            assert broker.used_percent() < REFUSE_RATIO

            # Someone else's file fills the disk past the watermark.
            filler_bytes = int(TMPFS_BYTES * (REFUSE_RATIO + 15) / 100)
            with open(broker.path("filler"), "wb") as f:
                f.write(b"\0" * filler_bytes)
            assert broker.used_percent() >= REFUSE_RATIO
            errors = []

            def refused():
                error = try_send(producer, topic, b"maybe")
                errors.append(error)
                return error is not None

            wait_for(refused, timeout=30, what="a refused send")
            assert "disk full" in errors[-1] and "free space" in errors[-1], errors[-1]

            # Nothing stored was harmed.
            reader = FreshPullConsumer(unique("DiskFullPull"))
            reader.set_namesrv_addr(broker.namesrv_addr)
            reader.start()
            try:
                bodies = [m.body for m in reader.pull(topic)]
            finally:
                reader.shutdown()
            before = [b"before-%d" % i for i in range(20)]
            assert bodies[:20] == before
            assert set(bodies[20:]) <= {b"maybe"}

            # Space returns: sends are accepted again.
            os.remove(broker.path("filler"))
            wait_for(
                lambda: try_send(producer, topic, b"after") is None,
                timeout=30,
                what="sends to resume",
            )
        finally:
            producer.shutdown()
    finally:
        broker.stop()
