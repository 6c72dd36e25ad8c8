"""What the interop tests of every driver (C++, Go, Java) share about the messages they send:
the broker's short delay levels, the warm-up send that creates a topic, and grouping received
records by the `seq` property the drivers' messages carry."""

from __future__ import annotations

import collections

from cpp_client import make_message

# 18 short levels: a retry (level 3 + reconsume times) comes back after 200 ms.
SHORT_DELAY_LEVELS = " ".join(["200ms"] * 18)


def by_seq(messages):
    """Received records by their `seq` property (probes and warm-ups left out)."""
    table = collections.defaultdict(list)
    for m in messages:
        if "seq" in m["properties"] and "probe" not in m["properties"]:
            seq = int(m["properties"]["seq"])
            if seq >= 0:  # negative: the warm-up message that created the topic
                table[seq].append(m)
    return table


def create_topic(producer, topic):
    """The first send auto-creates the topic (4 queues) through TBW102."""
    result = producer.send([make_message(topic, -100, tags="Warmup")])[0]
    assert result.get("status") == 0, result
