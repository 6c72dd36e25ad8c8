"""The benchmark report: log lines, the machine summary and the two tables bench.py prints.

* ``Table``: each figure of ours beside its baseline (the C++ client, the load generator's
  null broker, ...) and the ratio ours/baseline.
* ``Comparison``: the same load with the same client against our broker and against Apache
  RocketMQ's, and the ratio ours/Apache. A cell is a number, or a string saying why there is
  none (not run, unavailable, failed).

A ratio is printed only when both cells are numbers.
"""

import os
import sys
import time


def log(text):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), text))
    sys.stderr.flush()


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def machine_summary():
    """nproc, CPU model and memory, as the README records them."""
    model, mem = "unknown CPU", "unknown memory"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1024.0 / 1024.0)
                    break
    except OSError:
        pass
    return "machine: %d CPUs (nproc), %s, %s RAM" % (os.cpu_count() or 0, model, mem)


def num(v):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if abs(v) >= 100:
        return "{:,.0f}".format(v)
    return "{:.2f}".format(v)


def latencies(d):
    """p50/p99/p999 in ms from a result with ``p50_us`` etc.; "" without them."""
    if not isinstance(d, dict) or "p50_us" not in d:
        return ""
    return "%s/%s/%s" % tuple(num(d[k] / 1000.0) for k in ("p50_us", "p99_us", "p999_us"))


def ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return "%.2fx" % (a / b)
    return ""


def markdown(header, lines):
    widths = [max(len(str(r[i])) for r in [header] + lines) for i in range(len(header))]
    md = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"]
    md.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in lines:
        md.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
    return "\n".join(md)


class Table:
    """Ours beside a baseline measured in the same run."""

    def __init__(self):
        self.rows = []

    def add(self, name, unit, ours, base, base_name, lat=None, base_lat=None, target=None):
        self.rows.append((name, unit, ours, base, base_name, lat, base_lat, target))

    def render(self):
        header = (
            "case",
            "unit",
            "ours",
            "baseline",
            "ratio",
            "baseline is",
            "ours p50/p99/p999 ms",
            "baseline p50/p99/p999 ms",
            "target",
        )
        lines = [
            (
                name,
                unit,
                num(ours),
                num(base),
                ratio(ours, base),
                base_name,
                latencies(ol),
                latencies(bl),
                target or "",
            )
            for name, unit, ours, base, base_name, ol, bl, target in self.rows
        ]
        return markdown(header, lines)


class Comparison:
    """The same load and client against our broker and against Apache's."""

    def __init__(self, apache_name):
        self.apache_name = apache_name
        self.rows = []

    def add(self, name, client, unit, ours, apache, ours_lat=None, apache_lat=None):
        self.rows.append((name, client, unit, ours, apache, ours_lat, apache_lat))

    def render(self):
        header = (
            "load",
            "client",
            "unit",
            "our broker",
            self.apache_name,
            "ours/Apache",
            "ours p50/p99/p999 ms",
            "Apache p50/p99/p999 ms",
        )
        lines = [
            (
                name,
                client,
                unit,
                num(ours),
                num(apache),
                ratio(ours, apache),
                latencies(ol),
                latencies(al),
            )
            for name, client, unit, ours, apache, ol, al in self.rows
        ]
        return markdown(header, lines)
