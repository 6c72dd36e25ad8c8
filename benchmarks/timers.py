"""The timer-message rows of the benchmark (our broker only; Apache's timer has a 1 s
precision and is not compared here):

* broker memory with 1,000,000 timer messages scheduled a day ahead vs with none: the timer
  keeps them on disk (timer log + wheel), so the resident set must not grow with them;
* lateness of timer messages under a send load: 5,000 timers due 2-12 s ahead while the load
  generator sends plain messages at full speed; lateness is the delivered copy's store
  timestamp minus its ``TIMER_DELIVER_MS`` (the broker's clock: consumer scheduling does not
  count), p50/p99/max.

Bounded: the scheduling and the waits have time limits, the broker is stopped at the end.
"""

import asyncio
import random
import threading
import time

from brokers import memory_kib, proc_status_kib, start_broker
from measure import run_loadgen
from report import log

from rocketmq.asyncio import Producer
from rocketmq.client import Message, PullConsumer

SCHEDULED = 1_000_000
LATENESS_TIMERS = 5_000
DAY_MS = 86_400_000


def now_ms():
    return int(time.time() * 1000)


async def _schedule(namesrv, topic, count, deliver_at, limit_s):
    """Sends `count` timer messages (deliver_at(i) ms since the epoch) with the asyncio
    producer; returns how many were stored before `limit_s` ran out."""
    stored = 0
    deadline = time.monotonic() + limit_s
    async with Producer("bench-timer-producer", namesrv_addr=namesrv, max_in_flight=512) as p:
        while stored < count and time.monotonic() < deadline:
            batch = []
            for i in range(stored, min(count, stored + 4096)):
                m = Message(topic)
                m.set_body(b"t" * 64)
                m.set_keys("k%d" % i)
                m.set_deliver_time_ms(deliver_at(i))
                batch.append(m)
            await p.send_many(batch)
            stored += len(batch)
    return stored


def _rss_kib(pid):
    return proc_status_kib(pid, "VmRSS"), memory_kib(pid)[1]


def _settled_rss(pid, seconds=3.0):
    """The broker's RSS once it stopped changing by more than 1 MiB for a second (bounded)."""
    deadline = time.monotonic() + seconds * 5
    last = _rss_kib(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _rss_kib(pid)
        if abs((now[0] or 0) - (last[0] or 0)) < 1024:
            return now
        last = now
    return last


def _delivered(namesrv, topic, want, limit_s):
    """Pulls `topic` until `want` messages arrived or `limit_s` passed."""
    c = PullConsumer("bench-timer-reader-%d" % now_ms())
    c.offset_table = {}
    c.set_namesrv_addr(namesrv)
    c.start()
    got = []
    deadline = time.monotonic() + limit_s
    try:
        while len(got) < want and time.monotonic() < deadline:
            got.extend(c.pull(topic))
            time.sleep(0.2)
    finally:
        c.shutdown()
    return got


def timer_cases(run):
    opts = run.opts
    B = start_broker("ours", "async", "timers")
    try:
        idle = _settled_rss(B.pid)
        started = time.monotonic()
        stored = asyncio.run(
            _schedule(B.namesrv, "BenchTimerDay", SCHEDULED, lambda i: now_ms() + DAY_MS, 300)
        )
        log("  scheduled %d timers a day ahead in %.1f s" % (stored, time.monotonic() - started))
        loaded = _settled_rss(B.pid)
        run.raw["timers/rss_kib"] = {"none": idle, "scheduled": loaded, "count": stored}
        mib = [(v or 0) / 1024.0 for v in (idle[0], loaded[0], idle[1], loaded[1])]
        # The resident set includes the mapped commit-log and queue pages the 1M sends
        # touched (page cache, reclaimable); the anonymous part is the broker's own memory.
        run.ours_row(
            "broker RSS incl. mapped files, %d timers a day ahead" % stored,
            "MiB",
            mib[1],
            mib[0],
            "no timers",
        )
        run.ours_row(
            "broker anonymous RSS, %d timers a day ahead" % stored,
            "MiB",
            mib[3],
            mib[2],
            "no timers",
            target="not growing with the count",
        )

        rng = random.Random(7)
        due = {}

        def deliver_at(i):
            due["k%d" % i] = now_ms() + rng.randint(2_000, 12_000)
            return due["k%d" % i]

        load = {}

        def send_load():
            load["r"] = run_loadgen(
                opts.loadgen,
                B.broker,
                [
                    "--topic",
                    "BenchTimerLoad",
                    "--connections",
                    4,
                    "--window",
                    8,
                    "--body",
                    opts.body,
                    "--duration",
                    14,
                    "--warmup",
                    0,
                ],
                timeout=40,
            )

        loader = threading.Thread(target=send_load)
        loader.start()
        asyncio.run(_schedule(B.namesrv, "BenchTimerLate", LATENESS_TIMERS, deliver_at, 30))
        loader.join(60)
        got = _delivered(B.namesrv, "BenchTimerLate", LATENESS_TIMERS, 40)
        late = sorted(m.store_timestamp - due[m.keys.decode()] for m in got)
        if len(late) < LATENESS_TIMERS:
            raise RuntimeError("only %d of %d timers delivered" % (len(late), LATENESS_TIMERS))
        pick = {p: late[min(len(late) - 1, int(round((len(late) - 1) * p)))] for p in (0.5, 0.99)}
        run.raw["timers/lateness_ms"] = {
            "p50": pick[0.5],
            "p99": pick[0.99],
            "max": late[-1],
            "min": late[0],
            "load": load.get("r"),
        }
        log(
            "  timer lateness ms: min %d p50 %d p99 %d max %d (load %s msg/s)"
            % (late[0], pick[0.5], pick[0.99], late[-1], load.get("r", {}).get("msgs_per_s"))
        )
        run.ours_row(
            "timer lateness p99 under a send load (broker clock)",
            "ms",
            pick[0.99],
            None,
            "",
            target="<= 100 ms, never early",
        )
        run.ours_row("timer lateness max under a send load", "ms", late[-1], None, "")
        run.ours_row(
            "timers delivered early", "msgs", sum(1 for v in late if v < 0), None, "", target="0"
        )
    finally:
        B.stop()
