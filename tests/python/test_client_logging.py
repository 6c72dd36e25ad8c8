"""Logging of the client: Rust events reach Python `logging` under the `rocketmq` logger,
callback exceptions are logged with their traceback, and nothing is written under ~/logs."""

import logging
import os
import subprocess
import sys
import textwrap

import pytest
from clienttools import unique, wait_for

from rocketmq import _rocketmq
from rocketmq.client import Message, Producer, PushConsumer


@pytest.fixture
def rocketmq_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="rocketmq")
    # pyo3-log caches logger levels; make it see the level just set.
    _rocketmq.reset_log_cache()
    yield caplog
    _rocketmq.reset_log_cache()


def test_rust_client_events_reach_the_rocketmq_logger(rocketmq_debug):
    p = Producer(unique("LOG_PG"))
    # Nothing listens on port 1: the client's lookup fails and says so in a warning.
    p.set_namesrv_domain("http://127.0.0.1:1/rocketmq/nsaddr")
    p.start()
    try:

        def lookup_warning():
            return [
                r
                for r in rocketmq_debug.records
                if "name-server list lookup failed" in r.getMessage()
            ]

        wait_for(lookup_warning, what="the lookup warning")
        record = lookup_warning()[0]
        assert record.name.startswith("rocketmq.client."), record.name
        assert record.levelno == logging.WARNING
        assert "127.0.0.1:1" in record.getMessage()
        # Under the `rocketmq` logger: the handler a user puts there sees it.
        assert logging.getLogger(record.name).parent is not None
        assert record.name.split(".")[0] == "rocketmq"
    finally:
        p.shutdown()


def test_a_callback_exception_is_logged_with_its_traceback_and_redelivered(broker, rocketmq_debug):
    topic = unique("LogTopic")
    p = Producer(unique("LOG_PG"))
    p.set_namesrv_addr(broker.namesrv_addr)
    p.start()
    deliveries = []

    def callback(msg):
        deliveries.append(msg.reconsume_times)
        if len(deliveries) == 1:
            raise ValueError("boom in the callback")

    c = PushConsumer(unique("LOG_CG"))
    c.set_namesrv_addr(broker.namesrv_addr)
    c.set_consume_from_first_offset()
    c.subscribe(topic, callback)
    c.start()
    try:
        msg = Message(topic)
        msg.set_body("fails once")
        p.send_sync(msg)
        wait_for(lambda: len(deliveries) >= 2, what="the redelivery")
    finally:
        c.shutdown()
        p.shutdown()
    assert deliveries[:2] == [0, 1]
    logged = [
        r
        for r in rocketmq_debug.records
        if r.name == "rocketmq" and r.exc_info and r.exc_info[0] is ValueError
    ]
    assert logged, "the callback's exception was not logged"
    text = rocketmq_debug.text
    assert "Traceback (most recent call last)" in text
    assert "boom in the callback" in text
    assert "in callback" in text  # the frame of the user's function


@pytest.mark.ours_broker_only("runs a LocalBroker inside the checked process")
def test_nothing_is_written_under_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    store = tmp_path / "store"
    script = textwrap.dedent(
        """
        import sys, time
        from rocketmq.broker import LocalBroker
        from rocketmq.client import Message, Producer, PushConsumer

        with LocalBroker(store_dir=sys.argv[1], namesrv_port=0, broker_port=0,
                         segment_size=64 << 20) as b:
            p = Producer("HOME_PG")
            p.set_namesrv_addr(b.namesrv_addr)
            p.start()
            got = []
            c = PushConsumer("HOME_CG")
            c.set_namesrv_addr(b.namesrv_addr)
            c.set_consume_from_first_offset()
            c.subscribe("HomeTopic", lambda m: got.append(m.body))
            c.start()
            m = Message("HomeTopic")
            m.set_body("hello")
            p.send_sync(m)
            deadline = time.monotonic() + 30
            while not got and time.monotonic() < deadline:
                time.sleep(0.02)
            c.shutdown()
            p.shutdown()
            assert got == [b"hello"], got
        print("OK")
        """
    )
    env = dict(os.environ, HOME=str(home))
    env.pop("ROCKETMQ_CLIENT_LOG_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", script, str(store)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"
    assert not (home / "logs").exists()
    assert sorted(p.name for p in home.iterdir()) == []
