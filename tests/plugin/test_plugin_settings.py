"""The pytest plugin's settings and modes, checked from outside: each case runs pytest in a
subprocess on a small test file, as a user's suite would use the installed plugin.

* A value comes from, first to last: the factory's argument, the command line, the
  environment (``ROCKETMQ_NAMESRV_ADDR``), the ini file, the default.
* External mode starts no broker and still creates topics; an unreachable external name
  server fails the fixtures with a message saying what to do.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from rocketmq.broker import LocalBroker
from rocketmq.pytest_plugin import options
from rocketmq.pytest_plugin.options import DELAY_LEVELS, FAST_DELAY_LEVELS, NAMESRV, resolve

pytestmark = pytest.mark.ours_broker_only("starts LocalBrokers of its own for the plugin")


class FakeConfig:
    def __init__(self, option=None, ini=""):
        self._option, self._ini = option, ini

    def getoption(self, name, default=None):
        return self._option

    def getini(self, name):
        return self._ini


@pytest.mark.parametrize(
    "given, option, env, ini, expected",
    [
        ("factory:1", "cli:2", "env:3", "ini:4", "factory:1"),
        (None, "cli:2", "env:3", "ini:4", "cli:2"),
        (None, None, "env:3", "ini:4", "env:3"),
        (None, None, None, "ini:4", "ini:4"),
        (None, None, None, "", None),
        ("", "", "", "", None),
    ],
)
def test_a_namesrv_value_is_taken_in_order_of_precedence(
    monkeypatch, given, option, env, ini, expected
):
    if env is None:
        monkeypatch.delenv(NAMESRV.env, raising=False)
    else:
        monkeypatch.setenv(NAMESRV.env, env)
    assert resolve(FakeConfig(option, ini), NAMESRV, given) == expected


def test_delay_levels_default_to_one_second_each():
    assert resolve(FakeConfig(), DELAY_LEVELS) == FAST_DELAY_LEVELS
    assert FAST_DELAY_LEVELS.split() == ["1s"] * 18
    assert resolve(FakeConfig(ini="2s 3s"), DELAY_LEVELS) == "2s 3s"


def test_the_plugin_is_loaded_from_its_entry_point(pytestconfig):
    plugin = pytestconfig.pluginmanager.get_plugin("rocketmq")
    assert plugin is not None and plugin.__name__ == "rocketmq.pytest_plugin"
    for setting in options.SETTINGS:
        assert pytestconfig.getoption(setting.name) is None  # registered, not given here


def run_pytest(tmp_path, test_source, *args, ini="", env=None):
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + ini)
    (tmp_path / "test_case.py").write_text(textwrap.dedent(test_source))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    environment.pop(NAMESRV.env, None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


STORE_DIR_CASE = """
    from pathlib import Path
    from rocketmq.pytest_plugin import factories

    factory_broker = factories.rocketmq_broker_factory(store_dir={factory_dir!r})

    def test_store_dirs(rocketmq_broker, factory_broker):
        assert Path(factory_broker.store_dir).parent == Path({factory_dir!r})
        assert Path(rocketmq_broker.store_dir).parent == Path({expected!r}), rocketmq_broker
"""


@pytest.mark.parametrize("where", ["command line", "ini"])
def test_the_store_dir_precedence_factory_command_line_ini(tmp_path, where):
    cli_dir, ini_dir, factory_dir = (tmp_path / d for d in ("from-cli", "from-ini", "from-factory"))
    args = ["--rocketmq-store-dir", str(cli_dir)] if where == "command line" else []
    expected = cli_dir if where == "command line" else ini_dir
    source = STORE_DIR_CASE.format(factory_dir=str(factory_dir), expected=str(expected))
    project = tmp_path / "project"
    project.mkdir()
    proc = run_pytest(project, source, *args, ini=f"rocketmq_store_dir = {ini_dir}\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_delay_levels_from_the_command_line_win_over_the_ini(tmp_path):
    source = """
        def test_started(rocketmq_broker):
            assert rocketmq_broker.running
    """
    bad_ini = "rocketmq_delay_levels = 5 parsecs\n"
    proc = run_pytest(tmp_path, source, ini=bad_ini)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "parsecs" in proc.stdout, proc.stdout  # the ini value reached the broker
    proc = run_pytest(tmp_path, source, "--rocketmq-delay-levels", "1s 2s", ini=bad_ini)
    assert proc.returncode == 0, proc.stdout + proc.stderr


EXTERNAL_CASE = """
    import pytest
    from rocketmq.pytest_plugin import ExternalCluster

    @pytest.mark.parametrize("rocketmq_topic", [2], indirect=True)
    def test_external(rocketmq_broker, rocketmq_namesrv_addr, rocketmq_producer, rocketmq_topic,
                      rocketmq_consume):
        from rocketmq.client import Message
        assert isinstance(rocketmq_broker, ExternalCluster)
        assert rocketmq_namesrv_addr == {addr!r}
        assert list(rocketmq_broker.broker_addrs.values()) == [{broker_addr!r}]
        for i in range(2):
            msg = Message(rocketmq_topic)
            msg.set_body(str(i))
            rocketmq_producer.send_orderly(msg, i)
        assert sorted(m.queue_id for m in rocketmq_consume(rocketmq_topic, count=2)) == [0, 1]
"""


@pytest.mark.parametrize("given_by", ["option", "environment", "ini"])
def test_external_mode_starts_no_broker_and_creates_topics_there(tmp_path, given_by):
    with LocalBroker(namesrv_port=0, broker_port=0) as broker:
        source = EXTERNAL_CASE.format(addr=broker.namesrv_addr, broker_addr=broker.broker_addr)
        args, env, ini = [], {}, ""
        if given_by == "option":
            args = ["--rocketmq-namesrv", broker.namesrv_addr]
        elif given_by == "environment":
            env = {NAMESRV.env: broker.namesrv_addr}
        else:
            ini = f"rocketmq_namesrv = {broker.namesrv_addr}\n"
        proc = run_pytest(tmp_path, source, *args, ini=ini, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_an_unreachable_external_name_server_says_what_to_do(tmp_path):
    source = """
        def test_needs_a_cluster(rocketmq_namesrv_addr):
            pass
    """
    proc = run_pytest(tmp_path, source, "--rocketmq-namesrv", "127.0.0.1:1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot use the RocketMQ cluster at '127.0.0.1:1' (from --rocketmq-namesrv)" in (
        proc.stdout
    )
    assert "Start a name server and broker there, fix the address" in proc.stdout


def test_consume_reports_what_arrived_when_too_few_come(tmp_path):
    source = """
        import pytest
        from rocketmq.client import Message

        def test_short(rocketmq_producer, rocketmq_topic, rocketmq_consume):
            msg = Message(rocketmq_topic)
            msg.set_body("the only one")
            rocketmq_producer.send_sync(msg)
            with pytest.raises(TimeoutError) as raised:
                rocketmq_consume(rocketmq_topic, count=2, timeout=1)
            assert isinstance(raised.value, AssertionError)
            text = str(raised.value)
            assert text.startswith("1 of 2 messages of topic " + repr(rocketmq_topic)), text
            assert "body=b'the only one'" in text, text
    """
    proc = run_pytest(tmp_path, source)
    assert proc.returncode == 0, proc.stdout + proc.stderr
