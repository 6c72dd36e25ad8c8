"""How the asyncio API waits for the library without blocking the event loop (private).

* ``Outcomes``: hands outcomes from the library's callback thread to one event loop; many
  outcomes that arrive together cost one loop wake-up.
* ``call_native``: starts one native ``*_async`` call (which returns at once and later calls
  ``callback(ok, value or error text)`` on the library's callback thread) and awaits its value.
* ``shut_down_with_loop``: a task that shuts a client down when the loop running it shuts
  down (``asyncio.run`` cancels every task at its end), so that a client left running does not
  outlive its loop with threads that wait for that loop.

What must stay true: no callback of the library ever runs user code or blocks; everything
that touches a future runs on the future's loop; an outcome that arrives after its future
was cancelled is handed to ``on_cancelled`` (when given) instead of being dropped silently.
"""

import asyncio
import collections
import inspect
import logging
import threading
import weakref
from typing import Any, Callable, Deque, Optional, Tuple

log = logging.getLogger("rocketmq")

#: (release, future, result, exception, on_cancelled)
_Delivery = Tuple[
    Callable[[], None],
    "asyncio.Future[Any]",
    Any,
    Any,
    Optional[Callable[[Any, Any], None]],
]


def _nothing() -> None:
    pass


class Outcomes:
    """Hands outcomes from the library's callback thread to one event loop. Every callback
    runs on the loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak: the registry below is keyed by the loop and must not keep it alive.
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._pending: Deque[_Delivery] = collections.deque()
        self._scheduled = False

    def deliver(
        self,
        release: Callable[[], None],
        fut: "asyncio.Future[Any]",
        result: Any,
        exc: Any,
        on_cancelled: Optional[Callable[[Any, Any], None]] = None,
    ) -> None:
        """Called from any thread: on the loop, ``release()`` runs, then ``fut`` gets the
        result or exception; when ``fut`` was cancelled meanwhile, ``on_cancelled(result,
        exc)`` runs instead."""
        with self._lock:
            self._pending.append((release, fut, result, exc, on_cancelled))
            if self._scheduled:
                return
            self._scheduled = True
        loop = self._loop()
        if loop is None:
            return  # the loop is gone: nobody is waiting any more
        try:
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    def _drain(self) -> None:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        for release, fut, result, exc, on_cancelled in batch:
            release()
            if fut.done():  # cancelled meanwhile: the call itself still ran to its end
                if on_cancelled is not None:
                    try:
                        on_cancelled(result, exc)
                    except Exception:  # noqa: BLE001 - a report must not break the others
                        log.exception("on_cancelled callback %r failed", on_cancelled)
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)


_by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Outcomes]" = (
    weakref.WeakKeyDictionary()
)
_by_loop_lock = threading.Lock()


def outcomes_of_running_loop() -> Outcomes:
    """The ``Outcomes`` of the running loop (one per loop, made on first use)."""
    loop = asyncio.get_running_loop()
    with _by_loop_lock:
        outcomes = _by_loop.get(loop)
        if outcomes is None:
            outcomes = _by_loop[loop] = Outcomes(loop)
        return outcomes


async def call_native(
    start: Callable[[Callable[[bool, Any], None]], None],
    failure: Callable[[str], BaseException],
    *,
    release: Callable[[], None] = _nothing,
    on_cancelled: Optional[Callable[[Any, Any], None]] = None,
) -> Any:
    """``start(callback)`` starts a native ``*_async`` call; returns its value, or raises
    ``failure(error text)``. ``release`` runs on the loop when the call has ended (even if
    this await was cancelled, or ``start`` raised)."""
    outcomes = outcomes_of_running_loop()
    fut: "asyncio.Future[Any]" = asyncio.get_running_loop().create_future()

    def done(ok: bool, payload: Any) -> None:
        if ok:
            outcomes.deliver(release, fut, payload, None, on_cancelled)
        else:
            outcomes.deliver(release, fut, None, failure(payload), on_cancelled)

    try:
        start(done)
    except BaseException:
        release()
        raise
    return await fut


def shut_down_with_loop(
    shutdown: Callable[[], None], running: Callable[[], bool], what: str
) -> "asyncio.Task[None]":
    """A task on the running loop that, when cancelled while ``running()`` (as
    ``asyncio.run`` cancels every task when its main coroutine returns), runs the blocking
    ``shutdown()`` off the loop and waits for it. Cancel it after a regular shutdown. It is
    one of the loop's tasks (named after ``what``) until then, and ends only by cancellation."""

    async def guard() -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_future()  # resolved by nobody: ends by cancellation
        except asyncio.CancelledError:
            if running():
                log.warning(
                    "the event loop shuts down with %s still running; shutting it down", what
                )
                await _run_off_loop(loop, shutdown)
            raise

    return asyncio.get_running_loop().create_task(
        guard(), name="rocketmq: shut down %s with the loop" % what
    )


async def _run_off_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], None]) -> None:
    try:
        await loop.run_in_executor(None, fn)
    except RuntimeError:  # the default executor is shut down: a thread of its own, not awaited
        threading.Thread(target=fn, name="rocketmq-shutdown", daemon=True).start()


def cancel_quietly(task: Optional["asyncio.Task[Any]"]) -> None:
    """Cancels ``task`` unless it is done or its loop is closed."""
    if task is None or task.done():
        return
    try:
        task.cancel()
    except RuntimeError:  # its loop is closed
        pass


async def maybe_await(value: Any) -> Any:
    """``value``, awaited if it is awaitable (callbacks may be coroutine functions or not)."""
    if inspect.isawaitable(value):
        return await value
    return value
