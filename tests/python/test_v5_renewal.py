"""``HandleRenewal`` (the remoting push consumer's invisible-time renewal) without a broker:
renewals chain their handles, a settle gets the newest handle and waits for a renewal under
way, a failed renewal drops the message, and ``stop`` ends the thread."""

from __future__ import annotations

import threading
import time

import pytest

from rocketmq.v5.remoting.renewal import HandleRenewal

pytestmark = pytest.mark.timeout(60)


def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Broker:
    """Answers each renewal with the next handle (``h``, ``h+``, ``h++``, ...)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False

    def renew(self, topic: str, handle: str) -> str:
        self.entered.set()
        self.gate.wait(10)
        with self.lock:
            self.calls.append((topic, handle))
        if self.fail:
            raise RuntimeError("handle refused")
        return handle + "+"

    def renewed(self) -> int:
        with self.lock:
            return len(self.calls)


def test_renewals_chain_handles_and_a_settle_takes_the_newest():
    broker = Broker()
    renewal = HandleRenewal(broker.renew, invisible_s=0.2)
    try:
        renewal.hold("T", "h")
        wait_for(lambda: broker.renewed() >= 3)
        with renewal.settle("h") as handle:
            n = broker.renewed()
            assert handle == "h" + "+" * n
        assert renewal.held() == 0
        # Settled: never renewed again.
        settled_at = broker.renewed()
        time.sleep(0.3)
        assert broker.renewed() == settled_at
        assert broker.calls[:3] == [("T", "h"), ("T", "h+"), ("T", "h++")]
        # A message not held is settled with its own handle.
        with renewal.settle("other") as handle:
            assert handle == "other"
    finally:
        renewal.stop()


def test_a_settle_waits_for_the_renewal_under_way():
    broker = Broker()
    renewal = HandleRenewal(broker.renew, invisible_s=0.2)
    try:
        broker.gate.clear()
        renewal.hold("T", "h")
        assert broker.entered.wait(5), "the first renewal never started"
        got: list = []

        def settle() -> None:
            with renewal.settle("h") as handle:
                got.append(handle)

        settler = threading.Thread(target=settle)
        settler.start()
        settler.join(0.2)
        assert settler.is_alive() and not got, "the settle must wait for the renewal"
        broker.gate.set()
        settler.join(5)
        assert got == ["h+"]
    finally:
        renewal.stop()


def test_a_failed_renewal_drops_the_message_and_stop_ends_the_thread():
    broker = Broker()
    broker.fail = True
    renewal = HandleRenewal(broker.renew, invisible_s=0.1)
    renewal.hold("T", "h")
    wait_for(lambda: renewal.held() == 0)
    assert broker.renewed() == 1
    renewal.stop()
    assert not any(t.name == "rocketmq-v5-renewal" and t.is_alive() for t in threading.enumerate())
    renewal.hold("T", "late")  # after stop: ignored
    assert renewal.held() == 0
