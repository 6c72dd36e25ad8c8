"""set_session_credentials (ACL signing on the wire) and set_namesrv_domain (name-server list
over HTTP), through the public Python API."""

import base64
import hashlib
import hmac
import http.server
import json
import socket
import struct
import threading

import pytest
from clienttools import unique, wait_for

from rocketmq.client import Message, Producer, PullConsumer, PushConsumer
from rocketmq.exceptions import ProducerSendSyncFailed, ProducerStartFailed

from remoting import read_frame


def encode_response(code, opaque, remark):
    header = {
        "code": code,
        "language": "JAVA",
        "version": 401,
        "opaque": opaque,
        "flag": 1,
        "remark": remark,
        "extFields": {},
    }
    raw = json.dumps(header).encode()
    return struct.pack(">II", 4 + len(raw), len(raw)) + raw


class RecordingNameServer:
    """Answers every request with TOPIC_NOT_EXIST (17) and keeps the requests."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.requests = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            while True:
                try:
                    req = read_frame(conn, timeout=30)
                except (OSError, ConnectionError, TimeoutError, ValueError):
                    return
                self.requests.append(req)
                conn.sendall(encode_response(17, req.opaque, "No topic route info in name server"))

    def close(self):
        self.sock.close()


def expected_signature(secret, ext_fields, body):
    content = "".join(v for k, v in sorted(ext_fields.items()) if k != "Signature").encode()
    digest = hmac.new(secret.encode(), content + body, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_credentials_sign_every_request():
    ns = RecordingNameServer()
    try:
        p = Producer(unique("ACL_PG"))
        p.set_namesrv_addr(ns.addr)
        p.set_session_credentials("myAccessKey", "mySecretKey", "ALIYUN")
        p.start()
        try:
            msg = Message("AclTopic")
            msg.set_body("x")
            with pytest.raises(ProducerSendSyncFailed):
                p.send_sync(msg)
        finally:
            p.shutdown()
        assert ns.requests, "the producer asked the name server nothing"
        for req in ns.requests:
            ext = req.ext_fields
            assert ext["AccessKey"] == "myAccessKey"
            assert ext["OnsChannel"] == "ALIYUN"
            assert "mySecretKey" not in json.dumps(req.header)
            assert ext["Signature"] == expected_signature("mySecretKey", ext, req.body)
        assert {r.ext_fields.get("topic") for r in ns.requests} >= {"AclTopic", "TBW102"}
    finally:
        ns.close()


def test_without_credentials_nothing_is_added():
    ns = RecordingNameServer()
    try:
        p = Producer(unique("NOACL_PG"))
        p.set_namesrv_addr(ns.addr)
        p.start()
        try:
            msg = Message("NoAclTopic")
            msg.set_body("x")
            with pytest.raises(ProducerSendSyncFailed):
                p.send_sync(msg)
        finally:
            p.shutdown()
        assert ns.requests
        for req in ns.requests:
            assert not {"AccessKey", "Signature", "OnsChannel"} & set(req.ext_fields)
    finally:
        ns.close()


def test_signed_clients_work_against_the_bundled_broker(broker):
    topic = unique("AclRoundTrip")
    p = Producer(unique("ACL_PG"))
    p.set_namesrv_addr(broker.namesrv_addr)
    p.set_session_credentials("ak", "sk", "ALIYUN")
    p.start()
    try:
        msg = Message(topic)
        msg.set_body("signed")
        p.send_sync(msg)
    finally:
        p.shutdown()
    c = PullConsumer(unique("ACL_CG"))
    c.set_namesrv_addr(broker.namesrv_addr)
    c.set_session_credentials("ak", "sk", "ALIYUN")
    c.offset_table = {}
    c.start()
    try:
        bodies = [m.body for m in c.pull(topic)]
    finally:
        c.shutdown()
    assert bodies == [b"signed"]


class _ListHandler(http.server.BaseHTTPRequestHandler):
    body = b""
    hits = 0

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_list(broker):
    handler = type("Handler", (_ListHandler,), {"body": broker.namesrv_addr.encode() + b"\n"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/rocketmq/nsaddr" % server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def test_namesrv_domain_gives_producer_and_consumer_their_name_servers(broker, http_list):
    url, handler = http_list
    topic = unique("DomainTopic")
    p = Producer(unique("DOMAIN_PG"))
    p.set_namesrv_domain(url)
    p.start()
    try:
        msg = Message(topic)
        msg.set_body("found through the domain")
        p.send_sync(msg)
    finally:
        p.shutdown()
    assert handler.hits >= 1

    got = []
    c = PushConsumer(unique("DOMAIN_CG"))
    c.set_name_server_domain(url)
    c.set_consume_from_first_offset()
    c.subscribe(topic, lambda m: got.append(m.body))
    c.start()
    try:
        wait_for(lambda: got, what="the message through a domain-configured consumer")
    finally:
        c.shutdown()
    assert got == [b"found through the domain"]


def test_https_domain_is_refused_with_a_clear_error():
    p = Producer(unique("HTTPS_PG"))
    p.set_namesrv_domain("https://ns.example.com/rocketmq/nsaddr")
    with pytest.raises(ProducerStartFailed, match="https"):
        p.start()


def test_an_address_given_as_domain_is_used_as_the_address(broker):
    p = Producer(unique("ADDR_AS_DOMAIN_PG"))
    p.set_namesrv_domain(broker.namesrv_addr)
    p.start()
    try:
        msg = Message(unique("AddrAsDomain"))
        msg.set_body("x")
        p.send_sync(msg)
    finally:
        p.shutdown()
