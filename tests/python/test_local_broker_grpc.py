"""The RocketMQ 5 gRPC endpoint of LocalBroker and of ``python -m rocketmq.broker``: where it
listens, that it can be turned off, and that it answers QueryRoute (over grpcio when it is
installed; the wire itself is covered by the Rust tests in crates/server/tests/grpc_send.rs).
Every broker listens on 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import pytest
from test_local_broker import _read_lines

from rocketmq import _rocketmq
from rocketmq.broker import LocalBroker

from remoting import split_address

pytestmark = pytest.mark.ours_broker_only("tests of LocalBroker's gRPC endpoint")

#: The HTTP/2 client connection preface, then an empty SETTINGS frame (RFC 9113 3.4, 6.5).
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
HTTP2_SETTINGS = 4


def answers_http2(endpoint: str) -> bool:
    """Whether ``endpoint`` speaks HTTP/2: its first frame after our preface is SETTINGS."""
    with socket.create_connection(split_address(endpoint), timeout=10) as sock:
        sock.sendall(HTTP2_PREFACE)
        header = b""
        while len(header) < 9:
            chunk = sock.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
    return header[3] == HTTP2_SETTINGS


def _varint(data: bytes, at: int) -> tuple:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _fields(data: bytes) -> list:
    """The (field number, value) pairs of a protobuf message: ints for varints, bytes for
    length-delimited fields (the only wire types QueryRouteResponse uses)."""
    out, at = [], 0
    while at < len(data):
        key, at = _varint(data, at)
        if key & 7 == 0:
            value, at = _varint(data, at)
        elif key & 7 == 2:
            size, at = _varint(data, at)
            value, at = data[at : at + size], at + size
        else:
            raise AssertionError(f"unexpected wire type {key & 7}")
        out.append((key >> 3, value))
    return out


def _query_route_request(topic: str) -> bytes:
    name = topic.encode()
    resource = bytes([0x12, len(name)]) + name  # Resource.name = 2
    return bytes([0x0A, len(resource)]) + resource  # QueryRouteRequest.topic = 1


def query_route(endpoint: str, topic: str) -> tuple:
    """QueryRoute over grpcio, encoded by hand: (status code, number of queues)."""
    import grpc

    with grpc.insecure_channel(endpoint) as channel:
        call = channel.unary_unary("/apache.rocketmq.v2.MessagingService/QueryRoute")
        answer = call(
            _query_route_request(topic),
            timeout=10,
            metadata=[("x-mq-client-id", "test-local-broker-grpc")],
        )
    fields = _fields(answer)
    status = dict(_fields(next(v for f, v in fields if f == 1)))
    return status.get(1, 0), sum(1 for f, _ in fields if f == 2)


def test_endpoint_on_a_free_port_answers_http2(tmp_path):
    with LocalBroker(store_dir=tmp_path, namesrv_port=0, broker_port=0) as broker:
        endpoint = broker.grpc_endpoint
        assert re.fullmatch(r"127\.0\.0\.1:\d+", endpoint), endpoint
        assert int(endpoint.rsplit(":", 1)[1]) != _rocketmq.DEFAULT_GRPC_PORT
        assert answers_http2(endpoint)


def test_endpoint_answers_query_route(tmp_path):
    pytest.importorskip("grpc", reason="grpcio is not installed in this environment")
    with LocalBroker(store_dir=tmp_path, namesrv_port=0, broker_port=0) as broker:
        code, queues = query_route(broker.grpc_endpoint, "GrpcRouteFromPython")
        assert code == 20000  # apache.rocketmq.v2.Code.OK
        assert queues == 4
        code, queues = query_route(broker.grpc_endpoint, "bad topic")
        assert code == 40002  # ILLEGAL_TOPIC
        assert queues == 0


def test_grpc_port_and_turning_it_off(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LocalBroker(store_dir=tmp_path / "a", namesrv_port=0, broker_port=0, grpc_port=port) as b:
        assert b.grpc_endpoint == f"127.0.0.1:{port}"
        assert answers_http2(b.grpc_endpoint)
    with LocalBroker(store_dir=tmp_path / "b", namesrv_port=0, broker_port=0, grpc=False) as b:
        assert b.grpc_endpoint is None
    with pytest.raises(ValueError, match="grpc_port"):
        LocalBroker(store_dir=tmp_path / "c", namesrv_port=0, broker_port=0, grpc_port=70000)


def test_grpc_port_in_use_raises_oserror_naming_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"gRPC port 127.0.0.1:{port}"):
            LocalBroker(store_dir=tmp_path, namesrv_port=0, broker_port=0, grpc_port=port)


def test_cli_prints_the_grpc_endpoint(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rocketmq.broker",
            "--store-dir",
            str(tmp_path / "store"),
            "--namesrv-port",
            "0",
            "--broker-port",
            "0",
            "--grpc-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _read_lines(proc, 3, timeout=30)
        assert len(lines) == 3, (lines, proc.poll())
        grpc_line = re.fullmatch(r"gRPC endpoint listening on (127\.0\.0\.1:\d+)", lines[2])
        assert grpc_line, lines
        assert answers_http2(grpc_line.group(1))
        proc.terminate()
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_cli_without_grpc_prints_no_endpoint(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rocketmq.broker",
            "--store-dir",
            str(tmp_path / "store"),
            "--namesrv-port",
            "0",
            "--broker-port",
            "0",
            "--no-grpc",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _read_lines(proc, 3, timeout=30)
        assert len(lines) == 3, (lines, proc.poll())
        assert lines[2].startswith("store directory "), lines
        proc.terminate()
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_plugin_broker_exposes_its_grpc_endpoint(rocketmq_broker, rocketmq_grpc_endpoint):
    assert rocketmq_grpc_endpoint == rocketmq_broker.grpc_endpoint
    assert answers_http2(rocketmq_grpc_endpoint)
