"""``tls_enable=True``: the 5.x clients speak TLS, verifying the server's certificate against
the system's roots, ``SSL_CERT_FILE`` and the Mozilla roots. Here through a TLS terminator
(tls_terminator.py, with a CA made by ``openssl``) in front of the 5.x endpoint under test,
the CA trusted through ``SSL_CERT_FILE``; routes name the address the client asked with (the
Apache proxy of the tests runs with ``useEndpointPortFromRequest``), so every call stays on
TLS."""

from __future__ import annotations

import pytest
from tls_terminator import TlsTerminator, make_pki, openssl_available
from v5tools import receive_until, v5_endpoint_fixture  # noqa: F401 (fixture)

from rocketmq import (
    ClientConfiguration,
    Credentials,
    FilterExpression,
    Message,
    Producer,
    SimpleConsumer,
)
from rocketmq.v5.exception import ClientException

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not openssl_available(), reason="makes its test CA with openssl"),
]


def test_tls_clients_send_and_receive_through_a_tls_endpoint(v5_endpoint, tmp_path, monkeypatch):
    ca, cert, key = make_pki(tmp_path)
    topic, group = v5_endpoint.topic(), v5_endpoint.group()
    with TlsTerminator(v5_endpoint.endpoint, cert, key) as front:
        config = ClientConfiguration(front.endpoint, Credentials())
        untrusted = Producer(config, topics=[topic], tls_enable=True)
        with pytest.raises(ClientException, match="(?i)certificate"):
            untrusted.startup()
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        with Producer(config, topics=[topic], tls_enable=True) as producer:
            m = Message()
            m.topic = topic
            m.body = b"over TLS"
            receipt = producer.send(m)
            assert receipt.message_queue.endpoints == front.endpoint
        with SimpleConsumer(
            config, group, {topic: FilterExpression()}, 5, tls_enable=True
        ) as consumer:
            got = receive_until(consumer, 1)
            assert [(g.body, g.message_id) for g in got] == [(b"over TLS", receipt.message_id)]
            consumer.ack(got[0])


def test_tls_to_a_plain_endpoint_fails_at_startup(v5_endpoint):
    topic = v5_endpoint.topic()
    producer = Producer(
        ClientConfiguration(v5_endpoint.endpoint, Credentials()), topics=[topic], tls_enable=True
    )
    with pytest.raises(ClientException):
        producer.startup()
