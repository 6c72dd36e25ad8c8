"""Messages between the 5.x API and the remoting protocol: the properties an outgoing 5.x
message is sent with, and the dict (``rocketmq.v5.Message._from_native``) of a received one.

What must stay true: a property name of the system (Java's ``MessageConst``) never shows as
a user property; a received message's id is its ``UNIQ_KEY`` (the id the producer got);
the delivery attempt is the one the broker counted (POP) or the reconsume count + 1.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

from rocketmq.v5.remoting.names import unwrap
from rocketmq.v5.remoting.natives import native

TAGS = "TAGS"
KEYS = "KEYS"
UNIQ_KEY = "UNIQ_KEY"
SHARDING_KEY = "__SHARDINGKEY"
TIMER_DELIVER_MS = "TIMER_DELIVER_MS"
TRAN_MSG = "TRAN_MSG"
TRANSACTION_ID = "__transactionId__"
TRANSIENT_PREFIX = "__RMQ.TRANSIENT."
PRIORITY = "_SYS_MSG_PRIORITY_"

#: Names of the system's properties: the native module's one list (the broker's gRPC
#: endpoint keeps the same names out of a delivery's user properties).
SYSTEM_PROPERTIES = frozenset(native().SYSTEM_PROPERTY_NAMES)


def is_system_property(name: str) -> bool:
    return name in SYSTEM_PROPERTIES or name.startswith(TRANSIENT_PREFIX)


def outgoing_properties(
    tag: Optional[str],
    keys: Iterable[str],
    properties: Dict[str, str],
    message_group: Optional[str],
    delivery_timestamp_ms: Optional[int],
    priority: Optional[int] = None,
) -> Dict[str, str]:
    """The remoting properties of an outgoing 5.x message."""
    wire = {k: v for k, v in properties.items() if not is_system_property(k)}
    if tag:
        wire[TAGS] = tag
    keys = [k for k in keys if k]
    if keys:
        wire[KEYS] = " ".join(keys)
    if message_group:
        wire[SHARDING_KEY] = message_group
    if delivery_timestamp_ms:
        wire[TIMER_DELIVER_MS] = str(int(delivery_timestamp_ms))
    if priority is not None:
        wire[PRIORITY] = str(int(priority))
    return wire


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def message_type(props: Dict[str, str]) -> str:
    if props.get(TRAN_MSG) == "true":
        return "TRANSACTION"
    if props.get(SHARDING_KEY):
        return "FIFO"
    if props.get(TIMER_DELIVER_MS):
        return "DELAY"
    if props.get(PRIORITY):
        return "PRIORITY"
    return "NORMAL"


def received_dict(
    message: Any,
    delivery_attempt: int,
    receipt_handle: Optional[str],
    endpoint: str,
    namespace: str = "",
) -> Dict[str, Any]:
    """The ``rocketmq.v5.Message._from_native`` dict of a received native message (its topic
    shown without `namespace`)."""
    props: Dict[str, str] = dict(message.properties)
    deliver_ms = props.get(TIMER_DELIVER_MS)
    priority = props.get(PRIORITY)
    tag = props.get(TAGS) or None
    return {
        "topic": unwrap(namespace, message.topic),
        "namespace": namespace,
        "body": bytes(message.body),
        "tag": tag,
        "keys": [k for k in props.get(KEYS, "").split(" ") if k],
        "properties": {k: v for k, v in props.items() if not is_system_property(k)},
        "message_id": props.get(UNIQ_KEY) or _text(message.id),
        "message_group": props.get(SHARDING_KEY) or None,
        "message_type": message_type(props),
        "delivery_timestamp": int(deliver_ms) if deliver_ms and deliver_ms.isdigit() else None,
        "priority": int(priority) if priority and priority.isdigit() else None,
        "born_host": _text(message.born_host).rsplit(":", 1)[0] or None,
        "born_timestamp": message.born_timestamp,
        "store_timestamp": message.store_timestamp,
        "delivery_attempt": delivery_attempt,
        "receipt_handle": receipt_handle,
        "endpoint": endpoint,
        "corrupted": False,
    }
