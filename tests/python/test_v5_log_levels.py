"""The global level of Rust log records follows Python logging: a fresh process that turns on
DEBUG after ``import rocketmq`` (``logging.basicConfig``) gets the Rust debug records of what
it creates afterwards, and one at the default WARNING gets none of them. Each case runs in its
own interpreter, since the level is process-wide."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import logging, sys
    import rocketmq
    from rocketmq.broker import LocalBroker

    if sys.argv[2] == "debug":
        logging.basicConfig(level=logging.DEBUG, stream=sys.stdout,
                            format="%(levelname)s %(name)s %(message)s")
    else:
        logging.basicConfig(stream=sys.stdout, format="%(levelname)s %(name)s %(message)s")
        # The handler lets everything through: only the loggers' levels filter.
        logging.getLogger().handlers[0].setLevel(logging.NOTSET)
    with LocalBroker(store_dir=sys.argv[1], namesrv_port=0, broker_port=0,
                     segment_size=64 << 20):
        pass
    """
)


def rust_debug_lines(tmp_path, mode: str) -> list:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / mode), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [line for line in out.stdout.splitlines() if line.startswith("DEBUG rocketmq_server")]


def test_debug_turned_on_after_import_reaches_python_logging(tmp_path):
    lines = rust_debug_lines(tmp_path, "debug")
    # Starting a broker with a name server registers the broker: a debug record says so.
    assert any("broker registered" in line for line in lines), lines


def test_default_levels_pass_no_rust_debug_record(tmp_path):
    assert rust_debug_lines(tmp_path, "warning") == []
