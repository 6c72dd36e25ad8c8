"""A tiny pure-Python RocketMQ remoting client for tests: JSON-header frames over TCP.

Frame: 4-byte big-endian length (of everything after it), 4-byte header-length word whose top
byte is the serialize type (0 = JSON), the JSON header, then the body. Independent of our Rust
codec on purpose, so the tests check the wire format rather than the codec against itself.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

_FLAG_RESPONSE = 1


@dataclass
class Command:
    code: int
    opaque: int = 0
    flag: int = 0
    remark: Optional[str] = None
    ext_fields: Dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    header: dict = field(default_factory=dict)

    @property
    def is_response(self) -> bool:
        return bool(self.flag & _FLAG_RESPONSE)


def encode_request(
    code: int, opaque: int, ext_fields: Optional[Dict[str, object]] = None, body: bytes = b""
) -> bytes:
    header = {
        "code": code,
        "language": "PYTHON",
        "version": 401,
        "opaque": opaque,
        "flag": 0,
        "extFields": {k: str(v) for k, v in (ext_fields or {}).items()},
    }
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    length = 4 + len(header_bytes) + len(body)
    return struct.pack(">II", length, len(header_bytes)) + header_bytes + body


def split_address(addr: str) -> Tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host, int(port)


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    chunks = []
    while n > 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete response frame before the deadline")
        sock.settimeout(remaining)
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed in the middle of a frame")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket, timeout: float = 10.0) -> Command:
    deadline = time.monotonic() + timeout
    (length,) = struct.unpack(">I", _recv_exact(sock, 4, deadline))
    frame = _recv_exact(sock, length, deadline)
    (word,) = struct.unpack(">I", frame[:4])
    serialize_type, header_length = word >> 24, word & 0xFFFFFF
    if serialize_type != 0:
        raise ValueError(f"expected a JSON header (type 0), got type {serialize_type}")
    header = json.loads(frame[4 : 4 + header_length].decode("utf-8"))
    ext = header.get("extFields") or {}
    return Command(
        code=header["code"],
        opaque=header.get("opaque", 0),
        flag=header.get("flag", 0),
        remark=header.get("remark"),
        ext_fields=ext,
        body=frame[4 + header_length :],
        header=header,
    )


class RemotingConnection:
    """One TCP connection; `call` sends a request and returns the response with its opaque."""

    def __init__(self, addr: str, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._sock = socket.create_connection(split_address(addr), timeout=timeout)
        self._opaque = 0

    def call(
        self, code: int, ext_fields: Optional[Dict[str, object]] = None, body: bytes = b""
    ) -> Command:
        self._opaque += 1
        opaque = self._opaque
        self._sock.sendall(encode_request(code, opaque, ext_fields, body))
        deadline = time.monotonic() + self._timeout
        # Skip anything that is not our response (e.g. a server-initiated request).
        for _ in range(100):
            remaining = max(deadline - time.monotonic(), 0.001)
            reply = read_frame(self._sock, remaining)
            if reply.is_response and reply.opaque == opaque:
                return reply
        raise AssertionError(f"no response with opaque {opaque} among 100 frames")

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RemotingConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
