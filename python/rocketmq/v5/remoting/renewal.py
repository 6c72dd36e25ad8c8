"""``HandleRenewal``: keeps the messages a push consumer's listeners hold invisible, as the
gRPC push consumer's ``auto_renew`` asks the proxy to, for the remoting consumer.

A POP receive makes a message invisible for a while; a listener that runs longer would see
it delivered again. Each message handed out is renewed (``CHANGE_INVISIBLE_TIME``) when half
its invisible time has passed, until it is settled (acked, retried later or sent to the
dead-letter queue). A renewal gives the message a new receipt handle; settling uses the
newest one.

What must stay true:
- a message is settled with the handle of its latest renewal: a renewal running when the
  settle comes is waited for (one lock per message, held for the renewal call and the settle
  call, never while taking the table's lock);
- a message settled is never renewed again; one whose renewal fails is dropped (it is
  delivered again when its invisible time ends, as without renewal) and the failure logged;
- the renewal thread stops at ``stop()`` and exits within one wait of it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Callable, Dict, Iterator, List, Optional

logger = logging.getLogger("rocketmq.v5.remoting")

#: Longest sleep of the renewal thread (seconds): it looks at `stop()` at least this often.
MAX_WAIT_S = 1.0


class _Held:
    __slots__ = ("key", "topic", "handle", "due", "lock")

    def __init__(self, topic: str, handle: str, due: float) -> None:
        #: The handle the message was received with: what its settle names it by.
        self.key = handle
        self.topic = topic
        self.handle = handle
        self.due = due
        self.lock = threading.Lock()


class HandleRenewal:
    """Renews held messages every ``invisible_s / 2`` through ``renew(topic, handle)``, which
    makes the message invisible ``invisible_s`` more and returns its new handle."""

    def __init__(self, renew: Callable[[str, str], str], invisible_s: float) -> None:
        self.__renew = renew
        self.__interval = max(0.1, invisible_s / 2)
        self.__held: Dict[str, _Held] = {}
        self.__lock = threading.Lock()
        self.__changed = threading.Condition(self.__lock)
        self.__stopped = False
        self.__thread: Optional[threading.Thread] = None

    def hold(self, topic: str, handle: str) -> None:
        """Starts renewing the message received with `handle`."""
        with self.__lock:
            if self.__stopped:
                return
            self.__held[handle] = _Held(topic, handle, time.monotonic() + self.__interval)
            if self.__thread is None:
                self.__thread = threading.Thread(
                    target=self.__run, name="rocketmq-v5-renewal", daemon=True
                )
                self.__thread.start()
            self.__changed.notify()

    def held(self) -> int:
        """How many messages are renewed now."""
        with self.__lock:
            return len(self.__held)

    @contextlib.contextmanager
    def settle(self, handle: str) -> Iterator[str]:
        """Stops renewing the message received with `handle` and yields the handle to settle
        it with (the newest renewal's; `handle` itself for a message not held)."""
        with self.__lock:
            held = self.__held.pop(handle, None)
        if held is None:
            yield handle
            return
        with held.lock:
            yield held.handle

    def stop(self) -> None:
        with self.__lock:
            self.__stopped = True
            self.__held.clear()
            self.__changed.notify()
            thread = self.__thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=MAX_WAIT_S * 5)

    def __due(self) -> List[_Held]:
        """The held messages due for renewal; waits (bounded) while there are none."""
        with self.__lock:
            now = time.monotonic()
            due = [h for h in self.__held.values() if h.due <= now]
            if not due and not self.__stopped:
                soonest = min((h.due for h in self.__held.values()), default=now + MAX_WAIT_S)
                self.__changed.wait(timeout=min(MAX_WAIT_S, max(0.0, soonest - now)))
            return due

    def __run(self) -> None:
        while True:
            with self.__lock:
                if self.__stopped:
                    return
            for held in self.__due():
                with held.lock:
                    with self.__lock:
                        if self.__held.get(held.key) is not held:
                            continue
                    try:
                        held.handle = self.__renew(held.topic, held.handle)
                        held.due = time.monotonic() + self.__interval
                    except Exception as e:  # noqa: BLE001 (logged; the message comes back)
                        logger.warning(
                            "renewing the invisible time of a message of %s failed (it is "
                            "delivered again when that time ends): %s",
                            held.topic,
                            e,
                        )
                        with self.__lock:
                            self.__held.pop(held.key, None)
