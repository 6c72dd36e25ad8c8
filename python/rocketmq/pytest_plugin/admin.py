"""The plugin's admin requests, spoken directly over the remoting protocol: which brokers a
name server knows (GET_BROKER_CLUSTER_INFO, 106), create a topic on each of them
(UPDATE_AND_CREATE_TOPIC, 17), and wait until the name server routes it
(GET_ROUTEINFO_BY_TOPIC, 105).

The client API has no admin calls, and a topic made by a first send would hold that message,
so the fixtures create topics the way Apache's ``mqadmin updateTopic`` does. Works against our
broker and Apache RocketMQ's. Frames: 4-byte length, 4-byte word (serialize type 0 = JSON in
the top byte, header length below), JSON header, body.

What must stay true: every wait is bounded by a deadline; every failure raises
:class:`AdminError` saying which address failed and what to check.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import time
from typing import Dict, List, Optional, Tuple

UPDATE_AND_CREATE_TOPIC = 17
GET_ROUTEINFO_BY_TOPIC = 105
GET_BROKER_CLUSTER_INFO = 106
SUCCESS = 0
TOPIC_NOT_EXIST = 17

#: PermName READ | WRITE.
PERM_READ_WRITE = 6
#: The template topic of new topics (Java ``TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC``).
DEFAULT_TOPIC = "TBW102"
#: Largest frame read back (a cluster-info or route answer is a few KiB).
MAX_FRAME = 16 << 20
#: Between two looks at the name server while waiting for a route or a broker.
POLL_INTERVAL = 0.05


class AdminError(RuntimeError):
    """An admin request failed; the message says which address and what to check."""


def _split(addr: str) -> Tuple[str, int]:
    host, _, port = addr.strip().rpartition(":")
    if not host or not port.isdigit():
        raise AdminError(f"{addr!r} is not a 'host:port' address")
    return host, int(port)


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    chunks = []
    while n > 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("no complete answer before the deadline")
        sock.settimeout(remaining)
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionError("the connection closed in the middle of an answer")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def call(
    addr: str, code: int, fields: Optional[Dict[str, object]] = None, timeout: float = 5.0
) -> Tuple[int, str, bytes]:
    """Sends one request to ``addr`` and returns the answer's (code, remark, body)."""
    header = {
        "code": code,
        "language": "PYTHON",
        "version": 401,
        "opaque": 1,
        "flag": 0,
        "serializeTypeCurrentRPC": "JSON",
        "extFields": {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (fields or {}).items()
        },
    }
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection(_split(addr), timeout=timeout) as sock:
            sock.sendall(struct.pack(">II", 4 + len(head), len(head)) + head)
            # The answer carries our opaque; anything else (a server's own request) is skipped.
            for _ in range(16):
                (length,) = struct.unpack(">I", _recv_exact(sock, 4, deadline))
                if not 4 <= length <= MAX_FRAME:
                    raise AdminError(f"{addr} sent a frame of {length} bytes: not RocketMQ?")
                frame = _recv_exact(sock, length, deadline)
                (word,) = struct.unpack(">I", frame[:4])
                if word >> 24 != 0:
                    raise AdminError(f"{addr} answered in a header encoding other than JSON")
                size = word & 0xFFFFFF
                answer = json.loads(frame[4 : 4 + size].decode("utf-8"))
                if answer.get("flag", 0) & 1 and answer.get("opaque") == 1:
                    return int(answer["code"]), answer.get("remark") or "", frame[4 + size :]
            raise AdminError(f"{addr} sent 16 frames without answering request code {code}")
    except (OSError, ValueError) as e:
        raise AdminError(
            f"no answer from {addr} to request code {code} ({e}): check that a RocketMQ "
            f"name server / broker runs there"
        ) from e


def _loads(body: bytes) -> dict:
    """A JSON body; Apache's name server writes fastjson's bare integer map keys, quoted here."""
    text = body.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(re.sub(r"([{,])(-?\d+):", r'\1"\2":', text))


def _name_servers(namesrv_addr: str) -> List[str]:
    servers = [s.strip() for s in namesrv_addr.split(";") if s.strip()]
    if not servers:
        raise AdminError("the name server address is empty: pass 'host:port'")
    return servers


def master_brokers(namesrv_addr: str, timeout: float = 5.0) -> Dict[str, str]:
    """Broker name -> master address, as the first answering name server knows them."""
    errors = []
    for server in _name_servers(namesrv_addr):
        try:
            code, remark, body = call(server, GET_BROKER_CLUSTER_INFO, timeout=timeout)
        except AdminError as e:
            errors.append(str(e))
            continue
        if code != SUCCESS:
            errors.append(f"{server} answered code {code}: {remark}")
            continue
        table = _loads(body).get("brokerAddrTable") or {}
        masters = {}
        for name, data in table.items():
            addr = (data.get("brokerAddrs") or {}).get("0")
            if addr:
                masters[name] = addr
        return masters
    raise AdminError("; ".join(errors))


def wait_for_brokers(namesrv_addr: str, timeout: float = 30.0) -> Dict[str, str]:
    """The master brokers once at least one has registered with the name server."""
    deadline = time.monotonic() + timeout
    while True:
        masters = master_brokers(namesrv_addr, timeout=max(1.0, min(5.0, timeout)))
        if masters:
            return masters
        if time.monotonic() >= deadline:
            raise AdminError(
                f"the name server {namesrv_addr} knows no master broker after {timeout:.0f} s: "
                "start a broker registered with it (brokers register at start and every 30 s)"
            )
        time.sleep(POLL_INTERVAL)


def routed_write_queues(namesrv_addr: str, topic: str, timeout: float = 5.0) -> int:
    """Write queues the name servers route for ``topic`` (0 while they do not know it)."""
    fewest = None
    for server in _name_servers(namesrv_addr):
        code, remark, body = call(
            server,
            GET_ROUTEINFO_BY_TOPIC,
            {"topic": topic, "acceptStandardJsonOnly": True},
            timeout=timeout,
        )
        if code == TOPIC_NOT_EXIST:
            return 0
        if code != SUCCESS:
            raise AdminError(f"{server} answered code {code} to the route of {topic!r}: {remark}")
        queues = sum(int(q.get("writeQueueNums", 0)) for q in _loads(body).get("queueDatas") or [])
        fewest = queues if fewest is None else min(fewest, queues)
    return fewest or 0


def create_topic(
    namesrv_addr: str,
    topic: str,
    queues: int,
    timeout: float = 30.0,
    perm: int = PERM_READ_WRITE,
) -> None:
    """Creates ``topic`` with ``queues`` read and write queues (PermName bits ``perm``) on
    every master broker the name server knows, and returns once the name server routes all
    of them."""
    masters = wait_for_brokers(namesrv_addr, timeout)
    fields = {
        "topic": topic,
        "defaultTopic": DEFAULT_TOPIC,
        "readQueueNums": queues,
        "writeQueueNums": queues,
        "perm": perm,
        "topicFilterType": "SINGLE_TAG",
        "topicSysFlag": 0,
        "order": False,
    }
    for name, addr in sorted(masters.items()):
        code, remark, _ = call(addr, UPDATE_AND_CREATE_TOPIC, fields, timeout=min(timeout, 10.0))
        if code != SUCCESS:
            raise AdminError(
                f"broker {name} at {addr} refused to create topic {topic!r}: code {code}, {remark}"
            )
    wanted = queues * len(masters)
    deadline = time.monotonic() + timeout
    while True:
        routed = routed_write_queues(namesrv_addr, topic)
        if routed >= wanted:
            return
        if time.monotonic() >= deadline:
            raise AdminError(
                f"topic {topic!r} was created on {sorted(masters)} but the name server "
                f"{namesrv_addr} routes {routed} of its {wanted} queues after {timeout:.0f} s"
            )
        time.sleep(POLL_INTERVAL)
