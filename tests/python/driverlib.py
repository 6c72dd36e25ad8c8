"""What the test driver subprocesses share (tests/interop/cpp_driver.py and
tests/scenarios/scenario_driver.py). They run under either virtualenv, ours or the reference
client's, so this module uses the standard library only.

A driver reports on stdout, one ``KEYWORD <json>`` line per result. Those lines get a
descriptor of their own, and descriptor 1 becomes a copy of stderr: anything a client library
prints through C stdio (fully buffered on a pipe and flushed at arbitrary points, not always
at a line end) can then never glue itself to the front of a result line.
"""

import json
import os
import sys
import threading

_OUT_LOCK = threading.Lock()
_PROTOCOL = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)


def emit(keyword, value):
    """Writes one result line; safe from any thread."""
    line = keyword + " " + json.dumps(value, separators=(",", ":"))
    with _OUT_LOCK:
        _PROTOCOL.write(line + "\n")
        _PROTOCOL.flush()


def flush():
    with _OUT_LOCK:
        _PROTOCOL.flush()


def text(value):
    """A str from a library value that may be bytes (undecodable bytes kept as escapes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def result_of(send_result):
    return {
        "status": int(send_result.status),
        "msg_id": send_result.msg_id,
        "offset": send_result.offset,
    }


def error_of(exc):
    return {"error": "%s: %s" % (type(exc).__name__, exc)}


def wait_for_end_of_input(timeout):
    """Blocks until stdin reaches end of input (the test's signal to stop) or `timeout`
    seconds passed."""
    stop = threading.Event()

    def read_to_end():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=read_to_end, daemon=True).start()
    stop.wait(timeout)
