"""Helpers of the asyncio tests: a bounded asyncio.run, an awaitable bounded wait for a
condition, and the native threads of this process by name."""

import asyncio
import os
import time


def run(coro, timeout=60.0):
    """Runs ``coro`` in a new event loop; fails after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def until(cond, timeout=30.0, what="condition"):
    """Awaits until ``cond()`` is true, checking every 10 ms; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        await asyncio.sleep(0.01)


def threads():
    """This process's threads as ``{tid: name}`` (Linux: /proc/self/task/*/comm, names of at
    most 15 characters; empty elsewhere)."""
    found = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open("/proc/self/task/%s/comm" % tid) as f:
                found[int(tid)] = f.read().strip()
        except OSError:
            continue  # ended meanwhile
    return found
