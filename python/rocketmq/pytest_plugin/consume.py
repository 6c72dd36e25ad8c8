"""``rocketmq_consume``'s helper: read a topic from its first offset until enough messages
have come, or fail saying what did.

What must stay true: every call uses a group of its own and an offset table of its own, so
calls never take messages from each other or from the test's consumers; the wait is bounded
by ``timeout``; fewer than ``count`` messages raise :class:`ConsumeTimeout` listing what came.
"""

from __future__ import annotations

import time
from typing import List, Optional

from rocketmq.client import PullConsumer, ReceivedMessage

from .clusters import unique_name

#: Between two rounds of pulls while fewer than ``count`` messages are in.
POLL_INTERVAL = 0.1
#: Shown per message in a ConsumeTimeout, at most.
SHOWN_BODY_BYTES = 80


class ConsumeTimeout(AssertionError, TimeoutError):
    """Fewer messages than expected arrived in time (a test failure, and a TimeoutError)."""


def _describe(msg: ReceivedMessage) -> str:
    body = msg.body
    shown = body[:SHOWN_BODY_BYTES] + (b"..." if len(body) > SHOWN_BODY_BYTES else b"")
    return (
        f"  queue {msg.queue_id} offset {msg.queue_offset} tags={msg.tags!r} "
        f"keys={msg.keys!r} body={shown!r}"
    )


def consume(
    namesrv_addr: str,
    topic: str,
    count: int = 3,
    timeout: float = 10.0,
    expression: str = "*",
    group: Optional[str] = None,
) -> List[ReceivedMessage]:
    """Every message of ``topic`` matching ``expression``, read from the first offset of each
    queue, once at least ``count`` have arrived (the last round of pulls may bring more).
    Raises :class:`ConsumeTimeout` when fewer arrive within ``timeout`` seconds."""
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    consumer = PullConsumer(group or unique_name("rocketmq_consume"))
    consumer.offset_table = {}
    consumer.set_namesrv_addr(namesrv_addr)
    received: List[ReceivedMessage] = []
    last_error: Optional[Exception] = None
    deadline = time.monotonic() + timeout
    rounds = int(timeout / POLL_INTERVAL) + 2
    consumer.start()
    try:
        for _ in range(rounds):
            try:
                received.extend(consumer.pull(topic, expression))
                last_error = None
            except Exception as e:  # noqa: BLE001 - kept for the report, retried until the deadline
                last_error = e
            if len(received) >= count or time.monotonic() >= deadline:
                break
            time.sleep(min(POLL_INTERVAL, max(deadline - time.monotonic(), 0)))
    finally:
        consumer.shutdown()
    if len(received) < count:
        lines = [_describe(m) for m in received] or ["  (none)"]
        error = f"\nlast pull error: {last_error}" if last_error is not None else ""
        raise ConsumeTimeout(
            f"{len(received)} of {count} messages of topic {topic!r} (expression "
            f"{expression!r}) arrived within {timeout} s:\n" + "\n".join(lines) + error
        )
    return received
