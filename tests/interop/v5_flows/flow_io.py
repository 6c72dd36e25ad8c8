"""What every flow script in this folder shares: its arguments and its output records.

A flow is run as ``python <flow>.py '<json arguments>'`` by an interpreter that has a RocketMQ
5.x Python API installed as ``rocketmq`` (the official ``rocketmq-python-client`` in
``.venv-v5``, or this project's package). It prints one JSON object per line on stdout, each
with an ``"event"`` key; the test reads them back (tests/interop/official_v5.py). This module
imports nothing from ``rocketmq``, so the flows stay plain official-API code.

What must stay true: every wait in a flow is bounded by ``deadline()``; a record is one
whole line, flushed as soon as it is printed, so a flow stopped by its runner still shows
how far it got.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, Dict


def arguments() -> Dict[str, Any]:
    """The flow's JSON argument object (the first command-line argument)."""
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} '<json arguments>'")
    return json.loads(sys.argv[1])


_OUTPUT = threading.Lock()
#: How many failed receives receive_and_ack tries again.
RECEIVE_RETRIES = 5


def record(event: str, **fields: Any) -> None:
    """Prints one output record: ``{"event": event, **fields}``, whole, even when listener
    threads print at the same time."""
    line = json.dumps(dict(event=event, **fields), sort_keys=True) + "\n"
    with _OUTPUT:
        sys.stdout.write(line)
        sys.stdout.flush()


def deadline(seconds: float) -> float:
    """The monotonic time `seconds` from now: every loop of a flow stops there."""
    return time.monotonic() + seconds


def before(limit: float) -> bool:
    return time.monotonic() < limit


def text(data: bytes) -> str:
    return data.decode("utf-8")


def received_fields(message: Any) -> Dict[str, Any]:
    """The fields of a received 5.x Message that the tests compare."""
    return {
        "topic": message.topic,
        "body": message.body.decode("utf-8", "replace"),
        "body_hex": message.body.hex(),
        "tag": message.tag,
        "keys": sorted(message.keys or []),
        "message_group": message.message_group,
        "properties": dict(message.properties or {}),
        "message_id": message.message_id,
        "delivery_attempt": message.delivery_attempt,
        "born_host": message.born_host,
        "received_ms": int(time.time() * 1000),
    }


def receive(consumer: Any, max_message_num: int, invisible: int) -> list:
    """``consumer.receive(max_message_num, invisible)``, tried again when it fails, at most
    ``RECEIVE_RETRIES`` times (each failure printed as a ``receive_error`` record): the 5.x
    client's startup does not wait for the server to take its settings, and Apache's proxy
    answers a receive that comes first with INTERNAL_ERROR."""
    for attempt in range(RECEIVE_RETRIES + 1):
        try:
            return consumer.receive(max_message_num, invisible)
        except Exception as error:  # the 5.x API raises its own ClientException subclasses
            record("receive_error", error=str(error)[:300])
            if attempt == RECEIVE_RETRIES:
                raise
            time.sleep(0.2)
    return []


def receive_and_ack(consumer: Any, wanted: int, limit: float, invisible: int = 15) -> list:
    """Receives with a 5.x SimpleConsumer until `wanted` messages came or `limit` (a
    ``deadline()``) passed, acking each and printing a ``received`` record per message and an
    ``acked`` record per ack. Returns the received messages."""
    got: list = []
    while len(got) < wanted and before(limit):
        for message in receive(consumer, 16, invisible):
            record("received", **received_fields(message))
            consumer.ack(message)
            record("acked", body=message.body.decode("utf-8", "replace"))
            got.append(message)
    return got
