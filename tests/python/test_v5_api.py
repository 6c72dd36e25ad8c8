"""The 5.x API's surface, without a server: the official names importable from ``rocketmq``
(lazily: ``import rocketmq`` loads none of them), the ``grpc_protocol`` enums against the
pinned protos, constructors' defaults, message checks and exception mapping."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROTO = (
    Path(__file__).resolve().parents[2] / "crates/grpc/proto/apache/rocketmq/v2/definition.proto"
)
OFFICIAL_NAMES = [
    "Producer",
    "TransactionChecker",
    "Transaction",
    "TransactionResolution",
    "SimpleConsumer",
    "PushConsumer",
    "MessageListener",
    "ConsumeResult",
    "Message",
    "FilterExpression",
    "SendReceipt",
    "ClientConfiguration",
    "Credentials",
]


def test_import_rocketmq_loads_no_5x_module_until_a_name_is_used():
    code = (
        "import sys, rocketmq; "
        "print(sorted(m for m in sys.modules if m.startswith('rocketmq.')));"
        "from rocketmq import Producer; "
        "print('rocketmq.v5.producer' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    assert out == ["[]", "True"]


def test_the_official_names_are_exported():
    import rocketmq
    import rocketmq.v5 as v5

    for name in OFFICIAL_NAMES:
        assert getattr(rocketmq, name) is getattr(v5, name)
        assert name in dir(rocketmq)
    with pytest.raises(AttributeError):
        rocketmq.NoSuchThing  # noqa: B018


def test_grpc_protocol_enums_have_the_protos_names_and_values():
    import rocketmq.grpc_protocol as gp

    src = PROTO.read_text()
    enums = re.findall(r"\nenum (\w+) \{(.*?)\n\}", src, re.S)
    assert len(enums) >= 10
    for name, body in enums:
        expected = {k: int(v) for k, v in re.findall(r"^\s*(\w+)\s*=\s*(\d+)\s*;", body, re.M)}
        cls = getattr(gp, name)
        assert {m.name: int(m) for m in cls} == expected, name
    assert gp.FilterType.Name(2) == "SQL" and gp.ClientType.Value("PRODUCER") == 1


def test_constructors_take_the_official_arguments_and_defaults():
    from rocketmq import ClientConfiguration, Credentials, Producer, PushConsumer, SimpleConsumer

    def defaults(f):
        return {
            k: p.default
            for k, p in inspect.signature(f).parameters.items()
            if p.default is not inspect.Parameter.empty
        }

    # The official defaults, and ours beyond the official client (keyword arguments with a
    # default that keeps the official behaviour: gRPC, clustering).
    assert defaults(ClientConfiguration.__init__) == {
        "credentials": None,
        "namespace": "",
        "request_timeout": 3,
        "protocol": "grpc",
    }
    assert defaults(Credentials.__init__) == {"ak": "", "sk": ""}
    assert defaults(Producer.__init__) == {"topics": None, "checker": None, "tls_enable": False}
    assert defaults(SimpleConsumer.__init__) == {
        "subscription": None,
        "await_duration": 20,
        "tls_enable": False,
    }
    assert defaults(PushConsumer.__init__) == {
        "max_cache_message_count": 1024,
        "max_cache_message_size": 64 * 1024 * 1024,
        "consumption_thread_count": 20,
        "tls_enable": False,
        "broadcasting": False,
    }


def test_message_checks_are_the_official_ones():
    from rocketmq import Message
    from rocketmq.v5.exception import IllegalArgumentException

    m = Message()
    for field, value in [("topic", ""), ("topic", "a b"), ("tag", "a|b"), ("body", b"")]:
        with pytest.raises(IllegalArgumentException):
            setattr(m, field, value)
    m.message_group = "g"
    with pytest.raises(IllegalArgumentException, match="delivery_timestamp"):
        m.delivery_timestamp = 1
    m.keys = "a"
    m.keys = "b"
    assert m.keys == {"a", "b"}


def test_server_statuses_become_the_official_exceptions():
    from rocketmq.grpc_protocol import Code
    from rocketmq.v5 import exception as ex

    cases = {
        Code.ILLEGAL_TOPIC: ex.BadRequestException,
        Code.TOPIC_NOT_FOUND: ex.NotFoundException,
        Code.TOO_MANY_REQUESTS: ex.TooManyRequestsException,
        Code.FORBIDDEN: ex.ForbiddenException,
        Code.INTERNAL_ERROR: ex.InternalErrorException,
        Code.PROXY_TIMEOUT: ex.ProxyTimeoutException,
    }
    for code, cls in cases.items():
        e = ex.exception_for_status(int(code), "why")
        assert type(e) is cls and e.code == code and str(e) == f"{int(code)}, why"


def test_a_bad_endpoint_is_refused_saying_what_to_pass():
    from rocketmq import ClientConfiguration, Credentials, Producer
    from rocketmq.v5.exception import IllegalArgumentException, IllegalStateException

    with pytest.raises(IllegalArgumentException, match="host:port"):
        Producer(ClientConfiguration("localhost", Credentials()))
    # TLS is accepted (tests/python/test_v5_tls.py); nothing connects before startup.
    Producer(ClientConfiguration("127.0.0.1:1", Credentials()), tls_enable=True)
    p = Producer(ClientConfiguration("127.0.0.1:1", Credentials()))
    with pytest.raises(IllegalStateException, match="startup"):
        p.begin_transaction()


def test_an_unreferenced_producer_with_a_checker_is_collected():
    import gc
    import weakref

    from rocketmq import ClientConfiguration, Credentials, Producer, TransactionChecker

    class Checker(TransactionChecker):
        def check(self, message):
            return None

    p = Producer(ClientConfiguration("127.0.0.1:1", Credentials()), checker=Checker())
    ref = weakref.ref(p)
    del p
    gc.collect()
    assert ref() is None


def test_the_official_examples_module_paths_import():
    from rocketmq.v5.client import ClientConfiguration, Credentials  # noqa: F401
    from rocketmq.v5.consumer import PushConsumer, SimpleConsumer  # noqa: F401
    from rocketmq.v5.consumer.message_listener import ConsumeResult, MessageListener  # noqa: F401
    from rocketmq.v5.exception import ClientException  # noqa: F401
    from rocketmq.v5.model import FilterExpression, Message, SendReceipt  # noqa: F401
    from rocketmq.v5.producer import Producer, Transaction, TransactionChecker  # noqa: F401
