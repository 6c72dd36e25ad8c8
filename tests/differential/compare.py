"""Comparing the two brokers' answers: running a step on both, and the one normalisation.

``both(sides, step)`` runs ``step(side)`` on our broker and on Apache's at the same time (the
waits for retries and delayed messages overlap) and returns ``(ours, apache)``.

``normalise(record, side, ...)`` is the only place where values that must differ between two
brokers are made comparable; everything it does not mention is compared as it is:

* ``physicalOffset``, ``storeTimestamp``, ``bornTimestamp`` differ by nature (other traffic,
  clocks): dropped, after checking the store time is not before the born time;
* ``bornHost`` becomes ``<client>`` when it is a loopback address, ``storeHost`` becomes
  ``<broker>`` when it is the address the side's broker registered;
* ``queueOffset`` is dropped only where the caller says the queue has history of other tests
  (the shared delay-level queues of Apache's cluster);
* property ``UNIQ_KEY`` becomes ``<uniq key>`` when it is 32 hex digits (each broker generates
  its own for messages sent without one); ``ORIGIN_MESSAGE_ID`` becomes
  ``<offset id of the first delivery>`` when it is the offset message id of the first delivery
  the caller names; ``CLUSTER`` becomes ``<cluster>`` when it is the side's cluster name;
* properties only Apache's broker writes (``APACHE_ONLY_PROPERTIES``, docs/compatibility.md)
  are dropped from Apache's record when they carry the documented value; with any other value,
  or on our side, they stay and show up as a difference.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Optional, Sequence, Tuple, TypeVar

from wire import Record, Side

from remoting import Command

T = TypeVar("T")

#: Properties Apache 5.5.0's broker adds to every stored message and ours does not (its
#: message-trace hooks read them; no client logic does), with the value Apache writes.
APACHE_ONLY_PROPERTIES = {"MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}

_HEX32 = re.compile(r"[0-9A-F]{32}")


def both(sides: Sequence[Side], step: Callable[[Side], T]) -> Tuple[T, T]:
    """``step`` on each side at once; (ours, apache)."""
    ours, apache = sides
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(step, ours), pool.submit(step, apache)]
        results = [f.result(timeout=120) for f in futures]
    return results[0], results[1]


def normalise(
    record: Record,
    side: Side,
    first_delivery_id: Optional[str] = None,
    keep_queue_offset: bool = True,
) -> dict:
    """The fields of ``record`` that both brokers must agree on (see the module docstring)."""
    assert record.store_timestamp >= record.born_timestamp, record
    properties: Dict[str, str] = {}
    for name, value in record.properties.items():
        if name == "UNIQ_KEY" and _HEX32.fullmatch(value):
            value = "<uniq key>"
        elif name == "ORIGIN_MESSAGE_ID" and first_delivery_id and value == first_delivery_id:
            value = "<offset id of the first delivery>"
        elif name == "CLUSTER" and value == side.cluster_name:
            value = "<cluster>"
        elif side.kind == "apache" and APACHE_ONLY_PROPERTIES.get(name) == value:
            continue
        properties[name] = value
    host = record.born_host.rpartition(":")[0]
    fields = {
        "topic": record.topic,
        "queueId": record.queue_id,
        "flag": record.flag,
        "sysFlag": record.sys_flag,
        "bornHost": "<client>" if host.startswith("127.") else record.born_host,
        "storeHost": "<broker>" if record.store_host == side.broker_addr else record.store_host,
        "reconsumeTimes": record.reconsume_times,
        "preparedTransactionOffset": record.prepared_transaction_offset,
        "body": record.body,
        "properties": properties,
    }
    if keep_queue_offset:
        fields["queueOffset"] = record.queue_offset
    return fields


def answer(reply: Command, *fields: str) -> dict:
    """The code and the named extFields of an answer (absent ones as None)."""
    out = {"code": reply.code}
    for name in fields:
        out[name] = reply.ext_fields.get(name)
    return out


def assert_remark_says(reply: Command, phrase: str, side: Side) -> None:
    """The remark a user reads carries ``phrase`` (the key phrase of Apache's remark)."""
    assert phrase in (reply.remark or ""), f"{side.kind}: {reply.remark!r} lacks {phrase!r}"


def differences(ours, apache, path: str = "") -> list:
    """Every place where two comparable values differ, as "path: ours=... apache=..."."""
    if isinstance(ours, dict) and isinstance(apache, dict):
        found = []
        for key in sorted(set(ours) | set(apache), key=str):
            missing = "<absent>"
            found += differences(ours.get(key, missing), apache.get(key, missing), f"{path}/{key}")
        return found
    if ours != apache:
        return [f"{path or '/'}: ours={ours!r} apache={apache!r}"]
    return []


def assert_same(ours, apache, what: str = "") -> None:
    """``ours == apache``; the failure lists each difference with both values."""
    found = differences(ours, apache)
    assert not found, f"{what}: the brokers differ:\n" + "\n".join(found)
