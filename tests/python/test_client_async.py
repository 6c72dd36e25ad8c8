"""Producer.send_async on the Rust client's futures: callbacks on the library's send-callback
thread, exactly once each, failures as ProducerSendAsyncFailed, shutdown waits for them."""

import logging
import os
import subprocess
import sys
import threading
import time

import pytest
from clienttools import message, unique, wait_for

from rocketmq import _rocketmq
from rocketmq.client import Producer, PullConsumer, SendResult, SendStatus
from rocketmq.exceptions import ProducerSendAsyncFailed


def test_many_async_sends_each_call_back_once_on_the_callback_thread(broker):
    topic = unique("AsyncTopic")
    p = Producer(unique("ASYNC_PG"))
    p.set_namesrv_addr(broker.namesrv_addr)
    p.start()
    results = []
    threads = set()
    lock = threading.Lock()

    def ok(result):
        with lock:
            results.append(result)
            threads.add(threading.get_ident())

    def failed(exc):
        with lock:
            results.append(exc)

    n = 2000
    try:
        for i in range(n):
            p.send_async(message(topic, b"async-%d" % i), ok, failed)
        wait_for(lambda: len(results) >= n, what="every callback")
    finally:
        p.shutdown()
    assert all(isinstance(r, SendResult) and r.status == SendStatus.OK for r in results), [
        r for r in results if not isinstance(r, SendResult)
    ][:3]
    assert len({r.msg_id for r in results}) == n
    assert threading.get_ident() not in threads
    assert len(threads) == 1, "callbacks run on the one send-callback thread"

    c = PullConsumer(unique("ASYNC_CG"))
    c.set_namesrv_addr(broker.namesrv_addr)
    c.offset_table = {}
    c.start()
    try:
        bodies = sorted(m.body for m in c.pull(topic))
    finally:
        c.shutdown()
    assert bodies == sorted(b"async-%d" % i for i in range(n))


def test_shutdown_waits_for_pending_callbacks(broker):
    topic = unique("AsyncShutdown")
    p = Producer(unique("ASYNC_PG"))
    p.set_namesrv_addr(broker.namesrv_addr)
    p.start()
    called = []
    for i in range(300):
        p.send_async(message(topic, b"x%d" % i), called.append, called.append)
    p.shutdown()
    assert len(called) == 300
    assert all(isinstance(r, SendResult) for r in called)


def test_failures_reach_the_exception_callback():
    p = Producer(unique("ASYNC_FAIL_PG"))
    p.set_namesrv_addr("127.0.0.1:1")
    p.set_timeout(1000)
    p.start()
    errors = []
    try:
        p.send_async(message("AsyncNowhere", b"x"), None, errors.append)
        wait_for(lambda: errors, what="the exception callback")
    finally:
        p.shutdown()
    (exc,) = errors
    assert isinstance(exc, ProducerSendAsyncFailed)
    assert "127.0.0.1:1" in str(exc) and "AsyncNowhere" in str(exc)
    assert exc.error == 14


def test_a_raising_callback_is_logged_and_the_rest_go_on(broker, caplog):
    caplog.set_level(logging.ERROR, logger="rocketmq")
    _rocketmq.reset_log_cache()
    p = Producer(unique("ASYNC_RAISE_PG"))
    p.set_namesrv_addr(broker.namesrv_addr)
    p.start()
    seen = []

    def cb(result):
        seen.append(result)
        if len(seen) == 1:
            raise RuntimeError("callback trouble")

    try:
        for i in range(5):
            p.send_async(message(unique("AsyncRaise"), b"%d" % i), cb, None)
        wait_for(lambda: len(seen) == 5, what="all five callbacks")
    finally:
        p.shutdown()
    assert "callback trouble" in caplog.text
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)


def test_send_async_on_a_stopped_producer_raises():
    p = Producer(unique("ASYNC_STOPPED_PG"))
    with pytest.raises(ProducerSendAsyncFailed, match="not started"):
        p.send_async(message("T", b"x"), None, None)


def test_a_script_exits_with_async_sends_pending_and_every_callback_fires(broker):
    script = (
        "import sys\n"
        "from rocketmq.client import Producer, Message\n"
        "p = Producer('async-exit-producer')\n"
        "p.set_namesrv_addr(%r)\n"
        "p.start()\n"
        "def cb(r):\n"
        "    sys.stdout.write('ok\\n')\n"
        "for i in range(500):\n"
        "    m = Message('AsyncExitTopic'); m.set_body(b'x'); p.send_async(m, cb, print)\n"
        % broker.namesrv_addr
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], timeout=30, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert time.monotonic() - started < 10
    assert proc.stdout.decode().split() == ["ok"] * 500


def test_a_forked_child_sends_async(broker):
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    p = Producer(unique("ASYNC_PARENT_PG"))
    p.set_namesrv_addr(broker.namesrv_addr)
    p.start()
    parent_done = threading.Event()
    p.send_async(message(unique("AsyncFork"), b"parent"), lambda r: parent_done.set(), None)
    assert parent_done.wait(10)
    pid = os.fork()
    if pid == 0:  # the child: the callback thread of the parent does not exist here
        code = 1
        try:
            child = Producer(unique("ASYNC_CHILD_PG"))
            child.set_namesrv_addr(broker.namesrv_addr)
            child.start()
            done = threading.Event()
            child.send_async(message(unique("AsyncFork"), b"child"), lambda r: done.set(), None)
            # Generous: the child starts a runtime, a connection and a callback thread of its
            # own, on a machine that may run several test processes at once.
            code = 0 if done.wait(30) else 2
            child.shutdown()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    p.shutdown()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
