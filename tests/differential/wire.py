"""Raw remoting requests for the differential tests, in pure Python.

A ``Side`` is one name server + broker pair (ours or Apache's) reached through
``tests/python/remoting.py`` (framing and JSON headers, independent of our Rust codec). Each
method sends one request exactly as a Java client would write it (header fields by their Java
names, every ``extFields`` value a string, bodies as Java writes them) and returns the answer
unparsed (``remoting.Command``), so that a test compares the two brokers' answers rather than
what a client library made of them. Helpers decode what the answers carry: property strings
(spec 4.6), stored-message records of pull and view bodies (spec 4.8), and route / cluster
bodies (fastjson's bare integer keys quoted first, spec 4.1).

What must stay true: nothing here knows which broker it talks to; every wait is bounded in
time and count; a request that gets no answer fails the test (never hangs).
"""

from __future__ import annotations

import json
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, TypeVar

from remoting import Command, RemotingConnection

T = TypeVar("T")

# Request codes (Java RequestCode).
SEND_MESSAGE_V2 = 310
SEND_BATCH_MESSAGE = 320
PULL_MESSAGE = 11
QUERY_CONSUMER_OFFSET = 14
UPDATE_CONSUMER_OFFSET = 15
UPDATE_AND_CREATE_TOPIC = 17
SEARCH_OFFSET_BY_TIMESTAMP = 29
GET_MAX_OFFSET = 30
GET_MIN_OFFSET = 31
GET_EARLIEST_MSG_STORETIME = 32
VIEW_MESSAGE_BY_ID = 33
HEART_BEAT = 34
CONSUMER_SEND_MSG_BACK = 36
GET_CONSUMER_LIST_BY_GROUP = 38
GET_ROUTEINFO_BY_TOPIC = 105
GET_BROKER_CLUSTER_INFO = 106
GET_ALL_TOPIC_LIST_FROM_NAMESERVER = 206

# Response codes (Java ResponseCode).
SUCCESS = 0
SYSTEM_ERROR = 1
MESSAGE_ILLEGAL = 13
NO_PERMISSION = 16
TOPIC_NOT_EXIST = 17
PULL_NOT_FOUND = 19
PULL_RETRY_IMMEDIATELY = 20
PULL_OFFSET_MOVED = 21
QUERY_NOT_FOUND = 22
SUBSCRIPTION_NOT_EXIST = 24
INVALID_PARAMETER = 29
REQUEST_CODE_NOT_SUPPORTED = 3

# Pull sysFlag bits (Java PullSysFlag).
PULL_COMMIT_OFFSET = 0x1
PULL_SUSPEND = 0x2
PULL_SUBSCRIPTION = 0x4

#: Java's MQVersion ordinal for V4_9_4, what our client writes.
CLIENT_VERSION = 401

_NAME_SEPARATOR = "\x01"
_PROPERTY_SEPARATOR = "\x02"


def encode_properties(properties: Dict[str, str]) -> str:
    """The property string of spec 4.6: name 0x01 value 0x02, for each pair."""
    return "".join(f"{k}{_NAME_SEPARATOR}{v}{_PROPERTY_SEPARATOR}" for k, v in properties.items())


def decode_properties(text: str) -> Dict[str, str]:
    """Pairs with a non-empty name and value, as Java's string2messageProperties keeps them."""
    pairs: Dict[str, str] = {}
    for item in text.split(_PROPERTY_SEPARATOR):
        name, sep, value = item.partition(_NAME_SEPARATOR)
        if sep and name and value:
            pairs[name] = value
    return pairs


@dataclass
class Record:
    """One stored message as a pull or view answer carries it (spec 4.8)."""

    queue_id: int
    flag: int
    queue_offset: int
    physical_offset: int
    sys_flag: int
    born_timestamp: int
    born_host: str
    store_timestamp: int
    store_host: str
    reconsume_times: int
    prepared_transaction_offset: int
    body: bytes
    topic: str
    properties: Dict[str, str] = field(default_factory=dict)


def _host(data: bytes, pos: int, v6: bool):
    size = 16 if v6 else 4
    raw = data[pos : pos + size]
    address = socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, raw)
    (port,) = struct.unpack_from(">i", data, pos + size)
    return f"{address}:{port}", pos + size + 4


def decode_records(body: bytes) -> List[Record]:
    """Every record of a pull or view body, back to back; fails on a truncated one."""
    records = []
    pos = 0
    for _ in range(100_000):
        if pos >= len(body):
            return records
        total, magic = struct.unpack_from(">ii", body, pos)
        end = pos + total
        assert 0 < total and end <= len(body), f"record at {pos} claims {total} bytes"
        p = pos + 12
        queue_id, flag, queue_offset, physical, sys_flag, born = struct.unpack_from(
            ">iiqqiq", body, p
        )
        p += 36
        born_host, p = _host(body, p, bool(sys_flag & 0x10))
        (stored,) = struct.unpack_from(">q", body, p)
        store_host, p = _host(body, p + 8, bool(sys_flag & 0x20))
        reconsume, prepared, body_len = struct.unpack_from(">iqi", body, p)
        p += 16
        payload = body[p : p + body_len]
        p += body_len
        if magic == -626843477:  # V2: 2-byte topic length
            (topic_len,) = struct.unpack_from(">h", body, p)
            p += 2
        else:
            topic_len = body[p]
            p += 1
        topic = body[p : p + topic_len].decode()
        p += topic_len
        (props_len,) = struct.unpack_from(">h", body, p)
        props = decode_properties(body[p + 2 : p + 2 + props_len].decode())
        records.append(
            Record(
                queue_id=queue_id,
                flag=flag,
                queue_offset=queue_offset,
                physical_offset=physical,
                sys_flag=sys_flag,
                born_timestamp=born,
                born_host=born_host,
                store_timestamp=stored,
                store_host=store_host,
                reconsume_times=reconsume,
                prepared_transaction_offset=prepared,
                body=payload,
                topic=topic,
                properties=props,
            )
        )
        pos = end
    raise AssertionError("more than 100000 records in one body")


def fastjson_loads(body: bytes):
    """A JSON body as fastjson writes it: bare integer map keys are quoted first."""
    return json.loads(re.sub(r"([{,])(-?\d+):", r'\1"\2":', body.decode()))


def wait_until(probe: Callable[[], Optional[T]], timeout: float, what: str) -> T:
    """Calls ``probe`` until it returns something other than None; bounded in time and count."""
    deadline = time.monotonic() + timeout
    for _ in range(10_000):
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Side:
    """One name server and broker under comparison, with a connection to each."""

    def __init__(self, kind: str, namesrv_addr: str, broker_addr: str) -> None:
        self.kind = kind
        self.namesrv_addr = namesrv_addr
        self.broker_addr = broker_addr
        #: The cluster and broker names the broker registered (set by the fixture that made it).
        self.cluster_name = ""
        self.broker_name = ""
        self._broker: Optional[RemotingConnection] = None
        self._namesrv: Optional[RemotingConnection] = None

    def __repr__(self) -> str:
        return f"Side({self.kind})"

    def close(self) -> None:
        for conn in (self._broker, self._namesrv):
            if conn is not None:
                conn.close()
        self._broker = self._namesrv = None

    def broker(self, code: int, fields: Optional[Dict[str, object]] = None, body=b"") -> Command:
        """One request to the broker; a connection the broker closed is replaced once."""
        for attempt in (1, 2):
            if self._broker is None:
                self._broker = RemotingConnection(self.broker_addr, timeout=20)
            try:
                return self._broker.call(code, _strings(fields), body)
            except (ConnectionError, OSError):
                self._broker.close()
                self._broker = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def namesrv(self, code: int, fields: Optional[Dict[str, object]] = None) -> Command:
        if self._namesrv is None:
            self._namesrv = RemotingConnection(self.namesrv_addr, timeout=10)
        return self._namesrv.call(code, _strings(fields))

    # ---- requests a client makes -------------------------------------------------------

    def send(
        self,
        topic: str,
        body: bytes = b"hello",
        queue_id: int = -1,
        properties: Optional[Dict[str, str]] = None,
        group: str = "diff-producers",
        default_topic: str = "TBW102",
        queue_nums: int = 4,
        **extra: object,
    ) -> Command:
        props = {"WAIT": "true"}
        props.update(properties or {})
        fields: Dict[str, object] = {
            "a": group,
            "b": topic,
            "c": default_topic,
            "d": queue_nums,
            "e": queue_id,
            "f": 0,
            "g": int(time.time() * 1000),
            "h": 0,
            "i": encode_properties(props),
            "j": 0,
            "k": "false",
            "m": "false",
        }
        fields.update(extra)
        return self.broker(SEND_MESSAGE_V2, fields, body)

    def create_topic(self, topic: str, queues: int = 4, perm: int = 6) -> Command:
        return self.broker(
            UPDATE_AND_CREATE_TOPIC,
            {
                "topic": topic,
                "defaultTopic": "TBW102",
                "readQueueNums": queues,
                "writeQueueNums": queues,
                "perm": perm,
                "topicFilterType": "SINGLE_TAG",
                "topicSysFlag": 0,
                "order": "false",
            },
        )

    def route(self, topic: str) -> Command:
        return self.namesrv(GET_ROUTEINFO_BY_TOPIC, {"topic": topic})

    def wait_for_route(self, topic: str, timeout: float = 30) -> dict:
        """The topic's route once the name server has one with this side's broker."""

        def probe():
            reply = self.route(topic)
            if reply.code != SUCCESS:
                return None
            route = fastjson_loads(reply.body)
            return route if route.get("queueDatas") else None

        return wait_until(probe, timeout, f"{self.kind}: a route of {topic}")

    def pull(
        self,
        topic: str,
        queue_id: int,
        offset: int,
        group: str = "diff-pullers",
        subscription: Optional[str] = "*",
        max_msgs: int = 32,
        sys_flag: Optional[int] = None,
        commit_offset: int = 0,
    ) -> Command:
        if sys_flag is None:
            sys_flag = PULL_SUBSCRIPTION if subscription is not None else 0
        fields: Dict[str, object] = {
            "consumerGroup": group,
            "topic": topic,
            "queueId": queue_id,
            "queueOffset": offset,
            "maxMsgNums": max_msgs,
            "sysFlag": sys_flag,
            "commitOffset": commit_offset,
            "suspendTimeoutMillis": 0,
            "subVersion": 0,
            "expressionType": "TAG",
        }
        if subscription is not None:
            fields["subscription"] = subscription
        return self.broker(PULL_MESSAGE, fields)

    def heartbeat(self, body: bytes) -> Command:
        return self.broker(HEART_BEAT, {}, body)

    def query_offset(self, group: str, topic: str, queue_id: int, **extra: object) -> Command:
        fields: Dict[str, object] = {"consumerGroup": group, "topic": topic, "queueId": queue_id}
        fields.update(extra)
        return self.broker(QUERY_CONSUMER_OFFSET, fields)

    def update_offset(self, group: str, topic: str, queue_id: int, offset: int) -> Command:
        return self.broker(
            UPDATE_CONSUMER_OFFSET,
            {"consumerGroup": group, "topic": topic, "queueId": queue_id, "commitOffset": offset},
        )

    def queue_bound(self, code: int, topic: str, queue_id: int, **extra: object) -> Command:
        fields: Dict[str, object] = {"topic": topic, "queueId": queue_id}
        fields.update(extra)
        return self.broker(code, fields)

    def wait_for_max_offset(self, topic: str, queue_id: int, count: int) -> None:
        """Until the queue indexes ``count`` messages: Apache answers a send before its consume
        queue holds the message (dispatch runs a moment later)."""

        def probe():
            reply = self.queue_bound(GET_MAX_OFFSET, topic, queue_id)
            return True if int(reply.ext_fields.get("offset", "0")) >= count else None

        wait_until(probe, 30, f"{self.kind}: {count} messages indexed in {topic}:{queue_id}")

    def send_back(self, group: str, record: Record, delay_level: int = 0, **extra) -> Command:
        fields: Dict[str, object] = {
            "offset": record.physical_offset,
            "group": group,
            "delayLevel": delay_level,
            "originMsgId": record.properties.get("UNIQ_KEY", ""),
            "originTopic": record.topic,
            "unitMode": "false",
        }
        fields.update(extra)
        return self.broker(CONSUMER_SEND_MSG_BACK, fields)

    def pull_records(
        self, topic: str, queue_id: int, count: int, timeout: float, offset: int = 0
    ) -> List[Record]:
        """Pulls from ``offset`` until ``count`` records arrived (bounded by ``timeout``)."""
        got: List[Record] = []

        def probe():
            reply = self.pull(topic, queue_id, offset + len(got))
            if reply.code == SUCCESS:
                got.extend(decode_records(reply.body))
            return got if len(got) >= count else None

        return wait_until(probe, timeout, f"{self.kind}: {count} messages in {topic}:{queue_id}")


def _strings(fields: Optional[Dict[str, object]]) -> Dict[str, str]:
    """extFields as Java writes them: every value a string, booleans in lower case."""
    out = {}
    for key, value in (fields or {}).items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def heartbeat_body(client_id: str, group: str, topic: str, expression: str = "*") -> bytes:
    """A Java consumer's HeartbeatData (spec 4.3) subscribing ``group`` to ``topic``."""
    data = {
        "clientID": client_id,
        "consumerDataSet": [
            {
                "groupName": group,
                "consumeType": "CONSUME_PASSIVELY",
                "messageModel": "CLUSTERING",
                "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
                "subscriptionDataSet": [
                    {
                        "classFilterMode": False,
                        "topic": topic,
                        "subString": expression,
                        "tagsSet": [] if expression == "*" else expression.split(" || "),
                        "codeSet": [],
                        "subVersion": int(time.time() * 1000),
                        "expressionType": "TAG",
                    }
                ],
                "unitMode": False,
            }
        ],
        "producerDataSet": [],
    }
    return json.dumps(data).encode()
