"""The RocketMQ client API of PyPI ``rocketmq`` 0.4.x and Apache ``rocketmq-client-python``
2.0, in one module, backed by the Rust client in ``rocketmq._rocketmq``.

Scripts written for either original run unchanged. Differences, all supersets:

* bodies are sent and received byte for byte (the originals cut them at the first NUL);
* ``with Producer(...) as p`` binds the producer (the originals bound ``None``);
* wrong argument types raise ``TypeError``/``ValueError`` instead of crashing the process;
* nothing is written under ``~/logs``; diagnostics go to the ``rocketmq`` logger.
"""

import abc
import atexit
import logging
import os
import threading
from collections import namedtuple
from enum import IntEnum
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar, Union

from . import _rocketmq
from .consts import MessageProperty  # noqa: F401 - re-exported, as the originals did
from .exceptions import (  # noqa: F401 - some names are re-exported, as the originals did
    ConsumerException,
    NullPointerException,
    ProducerSendAsyncFailed,
    ProducerSendOnewayFailed,
    ProducerSendOrderlyFailed,
    ProducerSendSyncFailed,
    ProducerSendTransactionFailed,
    ProducerStartFailed,
    PullConsumerFetchMessageFailed,
    PullConsumerStartFailed,
    PushConsumerStartFailed,
    _PullConsumerFetchQueuesFailed,
    ffi_check,
)
from .ffi import MessageModel, _CConsumeStatus

__all__ = [
    "SendStatus",
    "Message",
    "RecvMessage",
    "ReceivedMessage",
    "Producer",
    "TransactionMQProducer",
    "PushConsumer",
    "PullConsumer",
    "ConsumeStatus",
    "TransactionStatus",
    "SendResult",
    "MessageModel",
]

log = logging.getLogger("rocketmq")

# Kept for scripts that import them from here, as both originals allowed.
PY2 = False
text_type = str
binary_type = bytes
StrOrBytes = Union[str, bytes]


def maybe_decode(val: StrOrBytes) -> str:
    """``bytes`` -> ``str`` (UTF-8); ``str`` passes through; anything else is a TypeError."""
    if isinstance(val, bytes):
        return val.decode("utf-8")
    if isinstance(val, str):
        return val
    raise TypeError("Expect bytes or str, got %s" % type(val).__name__)


def _to_bytes(s: Any) -> Any:
    """``str`` -> UTF-8 ``bytes``; anything else passes through."""
    if isinstance(s, str):
        return s.encode("utf-8")
    return s


def _text(value: Any, what: str) -> str:
    """A string argument given as ``str`` or ``bytes``; a clear TypeError otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")
    raise TypeError(
        "%s must be str or bytes, got %s"
        % (what, "None" if value is None else type(value).__name__)
    )


def _property_text(value: Any, what: str) -> str:
    text = _text(value, what)
    if "\x01" in text or "\x02" in text:
        raise ValueError("%s must not contain the characters \\x01 or \\x02" % what)
    return text


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, got %s" % (what, type(value).__name__))
    return value


class SendStatus(IntEnum):
    OK = 0
    FLUSH_DISK_TIMEOUT = 1
    FLUSH_SLAVE_TIMEOUT = 2
    SLAVE_NOT_AVAILABLE = 3


ConsumeStatus = _CConsumeStatus


class TransactionStatus(IntEnum):
    COMMIT = 0
    ROLLBACK = 1
    UNKNOWN = 2


SendResult = namedtuple("SendResult", ["status", "msg_id", "offset"])


def _send_result(t) -> SendResult:
    status, msg_id, _offset_msg_id, _queue_id, queue_offset, _broker = t
    return SendResult(SendStatus(status), msg_id, queue_offset)


# Started clients stay alive until shutdown() even if the user drops every reference, and
# are shut down at interpreter exit so that it neither hangs nor crashes.
_live_clients: "set" = set()
_live_lock = threading.Lock()


def _keep_alive(client) -> None:
    with _live_lock:
        _live_clients.add(client)


def _release(client) -> None:
    with _live_lock:
        _live_clients.discard(client)


@atexit.register
def _shutdown_all() -> None:
    with _live_lock:
        clients = list(_live_clients)
    for c in clients:
        try:
            c.shutdown()
        except Exception:  # noqa: BLE001 - exit must go on
            log.exception("shutting down %r at exit failed", c)


# Further attempts of a failed synchronous or asynchronous send, each on another broker when
# the topic has one (the originals' default).
SEND_RETRY_TIMES = 2


def _name_servers_from_env() -> str:
    return os.environ.get("NAMESRV_ADDR", "")


class Message:
    """An outgoing message. It may be sent many times, from several threads."""

    def __init__(self, topic: Optional[StrOrBytes]) -> None:
        """A message for ``topic`` (``str`` or UTF-8 ``bytes``; ``None`` leaves it empty,
        which fails at send time)."""
        self._topic = "" if topic is None else _text(topic, "topic")
        self._body = b""
        self._flag = 0
        self._properties: Dict[str, str] = {}

    def set_keys(self, keys: StrOrBytes) -> None:
        """Sets the ``KEYS`` property (several keys separated by a space)."""
        if isinstance(keys, (list, tuple)):
            keys = " ".join(_property_text(k, "keys") for k in keys)
        self._set("KEYS", _property_text(keys, "keys"))

    def set_tags(self, tags: StrOrBytes) -> None:
        """Sets the ``TAGS`` property (one tag per message)."""
        self._set("TAGS", _property_text(tags, "tags"))

    def set_body(self, body: Union[str, bytes, bytearray, memoryview]) -> None:
        """The body: ``str`` is encoded as UTF-8; bytes-like values are sent byte for byte."""
        if isinstance(body, str):
            self._body = body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            self._body = bytes(body)
        else:
            raise TypeError("body must be str or bytes, got %s" % type(body).__name__)

    def set_property(self, key: StrOrBytes, value: StrOrBytes) -> None:
        """A user property; key and value must not contain ``\\x01``/``\\x02``."""
        self._set(_property_text(key, "property key"), _property_text(value, "property value"))

    def set_delay_time_level(self, delay_time_level: int) -> None:
        """Delay level 1..18 (1s 5s 10s 30s 1m ... 2h with the default levels); 0: none."""
        level = _int(delay_time_level, "delay_time_level")
        if level <= 0:
            self._properties.pop("DELAY", None)
        else:
            self._properties["DELAY"] = str(level)

    def destroy(self) -> None:
        """Kept for rocketmq-client-python 0.5 scripts; nothing to free."""

    def _set(self, key: str, value: str) -> None:
        if value:
            self._properties[key] = value
        else:
            self._properties.pop(key, None)

    @property
    def topic(self) -> str:
        """The topic the message is sent to."""
        return self._topic

    @property
    def body(self) -> bytes:
        """The body as set (uncompressed)."""
        return self._body

    @property
    def tags(self) -> str:
        """The ``TAGS`` property, ``""`` when unset."""
        return self._properties.get("TAGS", "")

    @property
    def keys(self) -> str:
        """The ``KEYS`` property, ``""`` when unset."""
        return self._properties.get("KEYS", "")

    @property
    def properties(self) -> Dict[str, str]:
        """A copy of every property set so far."""
        return dict(self._properties)

    def _wire(self) -> Tuple[str, bytes, int, Dict[str, str]]:
        return (self._topic, self._body, self._flag, dict(self._properties))


# The received-message class is native (src/client/message.rs): a lazy view that makes Python
# objects only for the fields read. Its data is copied out of the consumer: it stays valid
# after the callback returns.
ReceivedMessage = _rocketmq.ReceivedMessage
RecvMessage = ReceivedMessage


def hashing_queue_selector(mq_size: int, msg: "ReceivedMessage", arg: Any) -> int:
    """The default ``send_orderly`` selector: ``int(arg) % mq_size``."""
    return int(arg) % mq_size


def _java_string_hash(s: str) -> int:
    """Java ``String.hashCode`` over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def _outgoing_view(
    msg: "Message", msg_id: str = "", properties: Optional[Dict[str, str]] = None
) -> "ReceivedMessage":
    """A ReceivedMessage describing an outgoing message (for queue selectors and local
    transactions): topic, tags, keys, body, properties and id; the numbers are 0."""
    return ReceivedMessage(
        fields=(
            msg.topic,
            msg.tags.encode(),
            msg.keys.encode(),
            msg.body,
            msg_id,
            "",
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            dict(msg.properties if properties is None else properties),
            "",
            "",
        )
    )


_ClientT = TypeVar("_ClientT", bound="_ClientConfig")


class _ClientConfig(abc.ABC):
    """Settings and the lifecycle shared by producers and consumers."""

    @abc.abstractmethod
    def start(self) -> None:
        """Starts the client."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stops the client; idempotent."""

    def destroy(self) -> None:
        """Same as shutdown() (rocketmq-client-python 0.5 spelling)."""
        self.shutdown()

    def __enter__(self: _ClientT) -> _ClientT:
        """Starts the client and returns it."""
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        """Shuts the client down."""
        self.shutdown()

    def _shut_down_quietly(self) -> None:
        """Shuts down if still running; never raises (used as ``__del__``)."""
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - never raise from __del__
            pass

    def _init_config(self, group_id) -> None:
        if group_id is None:
            raise NullPointerException("group_id must not be None")
        self._group = _text(group_id, "group_id")
        self._namesrv = _name_servers_from_env()
        self._instance_name = "DEFAULT"
        self._credentials: Optional[Tuple[str, str, str]] = None
        self._namesrv_domain: Optional[str] = None

    def _native_client_options(self) -> Dict[str, Any]:
        """Keyword arguments every native client takes: group, name servers, instance name,
        credentials and name-server domain."""
        return {
            "group": self._group,
            "name_servers_list": self._namesrv,
            "instance_name": self._instance_name,
            "credentials": self._credentials,
            "namesrv_domain": self._namesrv_domain,
        }

    def set_group(self, group_name: StrOrBytes) -> None:
        """Changes the group; takes effect at the next ``start()``."""
        self._group = _text(group_name, "group_name")

    def set_namesrv_addr(self, addr: StrOrBytes) -> None:
        """Name servers as ``"host:port;host2:port2"``."""
        self._namesrv = _text(addr, "addr")
        native = getattr(self, "_native", None)
        if native is not None and hasattr(native, "set_name_servers"):
            native.set_name_servers(self._namesrv)

    set_name_server_address = set_namesrv_addr

    def set_namesrv_domain(self, domain: StrOrBytes) -> None:
        """An ``http://`` URL answering the name-server list (``"host:port;host2:port2"``).

        The list is fetched at ``start()`` and every 2 minutes after; a failed fetch keeps
        the current list. ``https`` URLs are refused at ``start()``. A plain ``host:port``
        is taken as the address itself (a frequent mix-up)."""
        domain = _text(domain, "domain")
        if "://" not in domain and ":" in domain and "/" not in domain:
            log.warning("set_namesrv_domain(%r) looks like an address; using it as one", domain)
            self._namesrv = domain
            self._namesrv_domain = None
            return
        self._namesrv_domain = domain

    set_name_server_domain = set_namesrv_domain

    def set_session_credentials(
        self, access_key: StrOrBytes, access_secret: StrOrBytes, channel: StrOrBytes
    ) -> None:
        """ACL credentials: every request then carries ``AccessKey``, ``OnsChannel`` (the
        channel, usually ``"ALIYUN"``) and an HMAC-SHA1 ``Signature``."""
        self._credentials = (
            _text(access_key, "access_key"),
            _text(access_secret, "access_secret"),
            _text(channel, "channel"),
        )

    def set_instance_name(self, name: StrOrBytes) -> None:
        """Instance name used in the client id; clients with different names are separate
        members of their group."""
        self._instance_name = _text(name, "name")

    def set_message_trace(self, enabled: Any) -> None:
        """Accepted for compatibility; message trace is not sent."""
        self._message_trace = bool(enabled)

    def set_log_path(self, path: Any) -> None:
        """Accepted for compatibility; logs go to the ``rocketmq`` logger."""
        log.debug("set_log_path(%r) ignored: logs go to the 'rocketmq' logger", path)

    def set_log_level(self, level: int) -> None:
        """Sets the level of the ``rocketmq`` logger from a ``_CLogLevel`` or int."""
        levels = {1: logging.CRITICAL, 2: logging.ERROR, 3: logging.WARNING, 4: logging.INFO}
        log.setLevel(levels.get(int(level), logging.DEBUG))

    def set_log_file_num_and_size(self, num: int, size: int) -> None:
        """Accepted for compatibility; no log files are written."""
        log.debug("set_log_file_num_and_size(%r, %r) ignored: no log files", num, size)


class Producer(_ClientConfig):
    """Sends messages. Thread-safe once started; every send releases the GIL."""

    _started_groups: "set" = set()
    _groups_lock = threading.Lock()

    def __init__(
        self,
        group_id: StrOrBytes,
        orderly: Union[bool, int, None] = False,
        timeout: Optional[int] = None,
        compress_level: Optional[int] = None,
        max_message_size: Optional[int] = None,
    ) -> None:
        """A producer of ``group_id``. The second positional argument is ``orderly`` when a
        bool (rocketmq-client-python 2.0) and ``timeout`` in ms when an int (rocketmq 0.4)."""
        self._init_config(group_id)
        # The second positional argument is `orderly` (A20) when a bool and `timeout`
        # (0.4.x) when an int.
        if isinstance(orderly, int) and not isinstance(orderly, bool):
            if timeout is None:
                timeout = orderly
            orderly = False
        self._orderly = bool(orderly)
        self._timeout = 3000
        self._compress_level = 5
        self._compress_over = 4096
        self._max_message_size = 4 * 1024 * 1024
        self._native: Optional[_rocketmq.NativeProducer] = None
        if timeout is not None:
            self.set_timeout(timeout)
        if compress_level is not None:
            self.set_compress_level(compress_level)
        if max_message_size is not None:
            self.set_max_message_size(max_message_size)

    def set_timeout(self, timeout: int) -> None:
        """Send timeout in milliseconds (default 3000)."""
        timeout = _int(timeout, "timeout")
        if timeout <= 0:
            raise ValueError("timeout must be a positive number of milliseconds")
        self._timeout = timeout

    def set_compress_level(self, level: int) -> None:
        """zlib level -1..9 for bodies over 4 KiB (default 5)."""
        level = _int(level, "compress_level")
        if not -1 <= level <= 9:
            raise ValueError("compress_level must be between -1 and 9")
        self._compress_level = level

    def set_compress_msg_body_over_howmuch(self, size: int) -> None:
        """Bodies larger than ``size`` bytes are compressed (default 4096)."""
        self._compress_over = _int(size, "size")

    def set_max_message_size(self, size: int) -> None:
        """Largest body accepted, in bytes (default 4 MiB, as the broker)."""
        size = _int(size, "max_message_size")
        if size <= 0:
            raise ValueError("max_message_size must be positive")
        self._max_message_size = size

    def start(self) -> None:
        """Starts the producer; raises ProducerStartFailed for a blank group or a group
        already started in this process. Does not contact the name server."""
        if self._native is not None:
            return
        if not self._group.strip():
            raise ProducerStartFailed("the specified group is blank")
        with Producer._groups_lock:
            if self._group in Producer._started_groups:
                raise ProducerStartFailed(
                    "The producer group[%s] has been created before, specify another name "
                    "please." % self._group
                )
            Producer._started_groups.add(self._group)
        try:
            self._native = _rocketmq.NativeProducer(
                timeout_ms=self._timeout,
                retry_times=SEND_RETRY_TIMES,
                compress_level=self._compress_level,
                compress_over=self._compress_over,
                max_message_size=self._max_message_size,
                **self._native_client_options(),
                **self._native_producer_options(),
            )
        except Exception as e:
            with Producer._groups_lock:
                Producer._started_groups.discard(self._group)
            raise ProducerStartFailed(str(e)) from e
        _keep_alive(self)

    def _native_producer_options(self) -> Dict[str, Any]:
        """Extra keyword arguments of the native producer (the transaction checker)."""
        return {}

    def shutdown(self) -> None:
        """Waits for pending ``send_async`` callbacks (bounded by the send timeout), then
        unregisters the group from the brokers and closes the producer's connections.
        Idempotent; fine before start()."""
        native, self._native = self._native, None
        if native is None:
            return
        if not native.shutdown():
            log.warning("producer %s shut down with send_async callbacks pending", self._group)
        with Producer._groups_lock:
            Producer._started_groups.discard(self._group)
        _release(self)

    # In the class's own namespace: the originals' test suites `del PushConsumer.__del__`.
    __del__ = _ClientConfig._shut_down_quietly

    def _require(self, exc: Callable[[str], Exception]) -> "_rocketmq.NativeProducer":
        if self._native is None:
            raise exc("producer not started (call start() first)")
        return self._native

    @staticmethod
    def _check_message(msg) -> None:
        if not isinstance(msg, Message):
            raise TypeError("expected a Message, got %s" % type(msg).__name__)

    def send_sync(self, msg: Message) -> SendResult:
        """Sends and waits for the broker; raises ProducerSendSyncFailed on failure."""
        self._check_message(msg)
        native = self._require(ProducerSendSyncFailed)
        try:
            return _send_result(native.send(*msg._wire()))
        except _rocketmq.ClientError as e:
            raise ProducerSendSyncFailed(str(e)) from None

    def send_oneway(self, msg: Message) -> None:
        """Sends without waiting for an answer."""
        self._check_message(msg)
        native = self._require(ProducerSendOnewayFailed)
        try:
            native.send_oneway(*msg._wire())
        except _rocketmq.ClientError as e:
            raise ProducerSendOnewayFailed(str(e)) from None

    def _select(self, msg: Message, arg, queue_selector, exc) -> int:
        native = self._require(exc)
        try:
            n = native.queue_count(msg.topic)
        except _rocketmq.ClientError as e:
            raise exc(str(e)) from None
        view = _outgoing_view(msg)
        try:
            index = queue_selector(n, view, arg)
        except Exception as e:  # noqa: BLE001 - a selector error fails the send
            raise exc("the queue selector raised %r" % e) from e
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise exc("the queue selector returned %r; expected an int in 0..%d" % (index, n - 1))
        return index

    def send_orderly(
        self,
        msg: Message,
        arg: Any,
        retry_times: int = 3,
        queue_selector: Callable[[int, ReceivedMessage, Any], int] = hashing_queue_selector,
    ) -> SendResult:
        """Sends to the queue ``queue_selector(queue_count, msg, arg)`` picks, retrying on
        that queue only; raises ProducerSendOrderlyFailed on failure."""
        self._check_message(msg)
        index = self._select(msg, arg, queue_selector, ProducerSendOrderlyFailed)
        try:
            return _send_result(
                self._require(ProducerSendOrderlyFailed).send_to_queue(
                    *msg._wire(), index, max(1, int(retry_times))
                )
            )
        except _rocketmq.ClientError as e:
            raise ProducerSendOrderlyFailed(str(e)) from None

    def send_oneway_orderly(
        self,
        msg: Message,
        arg: Any,
        queue_selector: Callable[[int, ReceivedMessage, Any], int] = hashing_queue_selector,
    ) -> None:
        """Like send_orderly() but one-way: no answer, no retry."""
        self._check_message(msg)
        index = self._select(msg, arg, queue_selector, ProducerSendOnewayFailed)
        try:
            self._require(ProducerSendOnewayFailed).send_to_queue(*msg._wire(), index, 1)
        except _rocketmq.ClientError as e:
            raise ProducerSendOnewayFailed(str(e)) from None

    def send_orderly_with_sharding_key(self, msg: Message, sharding_key: StrOrBytes) -> SendResult:
        """Messages with the same key go to the same queue (Java ``String.hashCode``)."""
        key = _text(sharding_key, "sharding_key")

        def by_key(n, _msg, _arg):
            return abs(_java_string_hash(key)) % n

        return self.send_orderly(msg, None, 3, by_key)

    def send_batch(self, msgs: List[Message]) -> SendResult:
        """Sends messages of one topic as one batch; ``msg_id`` joins the ids with commas."""
        assert msgs, "msgs must not be empty"
        for m in msgs:
            assert isinstance(m, Message), "every item of msgs must be a Message"
        native = self._require(ProducerSendSyncFailed)
        try:
            return _send_result(native.send_batch([m._wire() for m in msgs]))
        except _rocketmq.ClientError as e:
            raise ProducerSendSyncFailed(str(e)) from None

    def send_async(
        self,
        msg: Message,
        success_callback: Optional[Callable[[SendResult], Any]],
        exception_callback: Optional[Callable[[Exception], Any]],
    ) -> None:
        """Starts the send and returns at once. Later, on the library's send-callback thread,
        ``success_callback(SendResult)`` or ``exception_callback(ProducerSendAsyncFailed)``
        is called once. A callback's exception is logged (logger ``rocketmq``) and ignored.
        ``shutdown()`` waits for pending callbacks."""
        self._check_message(msg)
        native = self._require(ProducerSendAsyncFailed)

        def done(ok: bool, payload: Any) -> None:
            if ok:
                if success_callback is not None:
                    _call_quietly(success_callback, _send_result(payload))
                return
            exc = ProducerSendAsyncFailed(payload, 14, "", 0, "ClientError")
            if exception_callback is None:
                log.error("send_async failed: %s", exc)
            else:
                _call_quietly(exception_callback, exc)

        try:
            native.send_async(*msg._wire(), done)
        except _rocketmq.ClientError as e:
            raise ProducerSendAsyncFailed(str(e), 14, "", 0, "ClientError") from None


_TRANSACTION_STATUS_ERROR = (
    "Transaction status error, please use enum 'TransactionStatus' as response"
)


def _transaction_verdict(callback: Callable[..., Any], what: str, *args: Any) -> int:
    """Runs a local-transaction or check-back callback and returns its TransactionStatus
    value. COMMIT, ROLLBACK, UNKNOWN (or 0, 1, 2) are used as they are; an exception or any
    other value is logged with its traceback and gives UNKNOWN (the broker checks back)."""
    try:
        result = callback(*args)
    except BaseException:  # noqa: BLE001 - a callback must never break the producer
        log.exception("exception in %s %r; the transaction state is UNKNOWN", what, callback)
        return int(TransactionStatus.UNKNOWN)
    for status in TransactionStatus:
        try:
            if result == status:
                return int(status)
        except Exception:  # noqa: BLE001 - odd __eq__ implementations are invalid values
            break
    try:
        raise ValueError(_TRANSACTION_STATUS_ERROR)
    except ValueError:
        log.exception("%s %r returned %r; the transaction state is UNKNOWN", what, callback, result)
    return int(TransactionStatus.UNKNOWN)


def _checker_wrapper(checker_callback: Callable[["ReceivedMessage"], Any]):
    """The native check-back callback: builds the message and validates the answer. It holds
    the user's callback only (not the producer), so that no reference cycle keeps a dropped
    producer alive."""

    def check(msg: "ReceivedMessage") -> int:
        return _transaction_verdict(checker_callback, "transaction checker", msg)

    return check


class TransactionMQProducer(Producer):
    """Sends transactional messages: a half message, the local transaction, then commit or
    rollback. The broker checks back on half messages left UNKNOWN; ``checker_callback`` then
    decides, on a library thread."""

    def __init__(
        self,
        group_id: StrOrBytes,
        checker_callback: Callable[["ReceivedMessage"], Any],
        user_args: Any = None,
        timeout: Optional[int] = None,
        compress_level: Optional[int] = None,
        max_message_size: Optional[int] = None,
    ) -> None:
        """``checker_callback(msg: ReceivedMessage) -> TransactionStatus`` answers the
        broker's check-backs. ``user_args`` is accepted and ignored, as in the original."""
        if not callable(checker_callback):
            raise TypeError("checker_callback must be callable")
        super().__init__(
            group_id,
            False,
            timeout=timeout,
            compress_level=compress_level,
            max_message_size=max_message_size,
        )
        self._checker_callback = checker_callback
        self._user_args = user_args

    def _native_producer_options(self) -> Dict[str, Any]:
        return {"checker": _checker_wrapper(self._checker_callback)}

    def send_message_in_transaction(
        self,
        message: Message,
        local_execute: Callable[["ReceivedMessage", Any], Any],
        user_args: Any = None,
    ) -> SendResult:
        """Sends ``message`` as a half message; if the broker stored it (status OK), calls
        ``local_execute(msg, user_args)`` on this thread, else the outcome is ROLLBACK; then
        sends the outcome to the broker (one-way) and returns the half message's
        SendResult. ``msg`` describes the outgoing message (with its id). An exception or a
        value other than a TransactionStatus gives UNKNOWN (logged). A failed half-message
        send raises ProducerSendTransactionFailed."""
        self._check_message(message)
        if not callable(local_execute):
            raise TypeError("local_execute must be callable")
        native = self._require(ProducerSendTransactionFailed)
        try:
            result, half_properties = native.send_half(*message._wire())
        except _rocketmq.ClientError as e:
            raise ProducerSendTransactionFailed(str(e)) from None
        send_result = _send_result(result)
        if send_result.status == SendStatus.OK:
            view = _outgoing_view(message, send_result.msg_id, half_properties)
            status = _transaction_verdict(local_execute, "local transaction", view, user_args)
        else:
            status = int(TransactionStatus.ROLLBACK)
        try:
            native.end_transaction(message.topic, result, status)
        except _rocketmq.ClientError as e:
            log.warning(
                "cannot end transaction of message %s: %s; the broker will check back",
                send_result.msg_id,
                e,
            )
        return send_result


def _call_quietly(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except BaseException:  # noqa: BLE001 - user callback errors are reported, not raised
        log.exception("exception in callback %r", fn)


class MessageQueue:
    """A queue of a topic on one broker, as ``PullConsumer`` offset hooks receive it."""

    __slots__ = ("topic", "brokerName", "queueId")

    def __init__(self, topic: bytes, brokerName: bytes, queueId: int) -> None:  # noqa: N803
        """A queue; attribute names are those of the original ctypes structure."""
        self.topic = topic
        self.brokerName = brokerName
        self.queueId = queueId

    def __repr__(self) -> str:
        return "MessageQueue(topic=%r, brokerName=%r, queueId=%r)" % (
            self.topic,
            self.brokerName,
            self.queueId,
        )


_PULL_FOUND, _PULL_NO_NEW_MSG, _PULL_NO_MATCHED_MSG, _PULL_OFFSET_ILLEGAL = 0, 1, 2, 3


class PullConsumer(_ClientConfig):
    """Reads every queue of a topic from offsets it keeps in ``offset_table``.

    Override :meth:`get_message_queue_offset`/:meth:`set_message_queue_offset` to keep offsets
    elsewhere. ``pull()`` never waits for new messages: it stops once every queue is drained.
    """

    offset_table: Dict[str, int] = {}

    #: Attempts on a failing broker before pull() raises PullConsumerFetchMessageFailed.
    pull_retry_times = 3

    def __init__(self, group_id: StrOrBytes) -> None:
        """A pull consumer of ``group_id`` (``None`` raises NullPointerException)."""
        self._init_config(group_id)
        self._native: Optional[_rocketmq.NativePullClient] = None

    def start(self) -> None:
        """Starts the consumer; raises PullConsumerStartFailed for a blank group."""
        if self._native is not None:
            return
        if not self._group.strip():
            raise PullConsumerStartFailed("the specified group is blank")
        try:
            self._native = _rocketmq.NativePullClient(**self._native_client_options())
        except Exception as e:
            raise PullConsumerStartFailed(str(e)) from e
        _keep_alive(self)

    def shutdown(self) -> None:
        """Closes the consumer's connections. Idempotent; fine before start()."""
        native, self._native = self._native, None
        if native is not None:
            native.shutdown()
            _release(self)

    # In the class's own namespace: the originals' test suites `del PushConsumer.__del__`.
    __del__ = _ClientConfig._shut_down_quietly

    @staticmethod
    def _key(mq: MessageQueue) -> str:
        return "%s@%s@%s" % (maybe_decode(mq.topic), maybe_decode(mq.brokerName), mq.queueId)

    def get_message_queue_offset(self, mq: MessageQueue) -> int:
        """The offset ``pull()`` starts ``mq`` at: ``offset_table``'s entry, else 0.
        Override to keep offsets elsewhere."""
        return self.offset_table.get(self._key(mq), 0)

    def set_message_queue_offset(self, mq: MessageQueue, offset: int) -> None:
        """Records the next offset of ``mq`` (called before a batch is yielded). Override
        together with get_message_queue_offset()."""
        self.offset_table[self._key(mq)] = offset

    def pull(
        self, topic: StrOrBytes, expression: StrOrBytes = "*", max_num: int = 32
    ) -> Iterator[ReceivedMessage]:
        """Yields the messages of every queue from its stored offset, then stops."""
        topic = _text(topic, "topic")
        expression = _text(expression, "expression")
        max_num = _int(max_num, "max_num")
        if self._native is None:
            raise PullConsumerFetchMessageFailed("pull consumer not started (call start() first)")
        native = self._native
        try:
            queues = native.fetch_subscribe_queues(topic)
        except _rocketmq.ClientError as e:
            raise _PullConsumerFetchQueuesFailed(str(e)) from None
        for q_topic, broker, queue_id in queues:
            mq = MessageQueue(q_topic.encode(), broker.encode(), queue_id)
            failures = 0
            while True:
                offset = self.get_message_queue_offset(mq)
                try:
                    status, next_offset, _min, _max, msgs = native.pull(
                        q_topic, broker, queue_id, expression, offset, max_num
                    )
                except _rocketmq.ClientError as e:
                    failures += 1
                    if failures >= self.pull_retry_times:
                        raise PullConsumerFetchMessageFailed(str(e)) from None
                    continue
                failures = 0
                # The offset is saved before the batch is yielded, as the original did.
                self.set_message_queue_offset(mq, next_offset)
                if status == _PULL_FOUND:
                    yield from msgs
                elif status == _PULL_NO_NEW_MSG:
                    break


_CONSUME_STATUS_ERROR = "Consume status error, please use enum 'ConsumeStatus' as response"


def _consume_verdict(callback, message: ReceivedMessage) -> bool:
    """Runs one callback; True means consumed. None, 0 and CONSUME_SUCCESS are success; 1 and
    RECONSUME_LATER ask for redelivery; anything else, or an exception, is logged with its
    traceback and redelivered."""
    try:
        result = callback(message)
    except BaseException:  # noqa: BLE001 - a callback must never kill the consumer
        log.exception(
            "exception in consumer callback for message %s; it will be redelivered", message.id
        )
        return False
    return _verdict_of(result, message)


def _verdict_of(result: Any, message: ReceivedMessage) -> bool:
    """What a callback's return value means (see ``_consume_verdict``)."""
    if result is None:
        return True
    try:
        if result == 0:
            return True
        if result == 1:
            return False
    except Exception:  # noqa: BLE001 - odd __eq__ implementations count as invalid values
        pass
    try:
        raise ValueError(_CONSUME_STATUS_ERROR)
    except ValueError:
        log.exception(
            "callback returned %r for message %s; it will be redelivered", result, message.id
        )
    return False


class PushConsumer(_ClientConfig):
    """Receives messages pushed to callbacks, one callback per subscribed topic.

    Callbacks run on the consumer's threads. Return ``None``/``ConsumeStatus.CONSUME_SUCCESS``
    when done, ``ConsumeStatus.RECONSUME_LATER`` (or raise) to have the message delivered
    again later.
    """

    _started_groups: "set" = set()
    _groups_lock = threading.Lock()

    def __init__(
        self,
        group_id: StrOrBytes,
        orderly: bool = False,
        message_model: Union[MessageModel, int] = MessageModel.CLUSTERING,
    ) -> None:
        """A push consumer of ``group_id``; ``orderly`` consumes each queue one message at
        a time, in order."""
        self._init_config(group_id)
        self._orderly = bool(orderly)
        self._thread_count = os.cpu_count() or 4
        self._batch_max_size = 1
        self._max_reconsume_times = 16
        self._max_cached_per_queue = 1000
        self._max_cached_mb_per_queue = 100
        self._consume_from_first = False
        self._subscriptions: Dict[str, str] = {}
        self._callbacks: Dict[str, Callable[[ReceivedMessage], Any]] = {}
        self._native: Optional[_rocketmq.NativePushConsumer] = None
        self.set_message_model(message_model)

    def set_message_model(self, model: Union[MessageModel, int]) -> None:
        """``MessageModel.CLUSTERING`` (default) or ``MessageModel.BROADCASTING``."""
        self._message_model = int(model)

    def set_thread_count(self, thread_count: int) -> None:
        """Threads that run callbacks (default: the number of CPUs)."""
        n = _int(thread_count, "thread_count")
        if n == 0:
            raise NullPointerException("thread_count must be at least 1")
        if n > 0:
            self._thread_count = n

    def set_message_batch_max_size(self, max_size: int) -> None:
        """Messages handed over together (the callback still gets one at a time)."""
        n = _int(max_size, "max_size")
        if n == 0:
            raise NullPointerException("max_size must be at least 1")
        if n > 0:
            self._batch_max_size = n

    def set_max_reconsume_times(self, times: int) -> None:
        """Deliveries of a failing message before it goes to the dead-letter queue (16)."""
        self._max_reconsume_times = _int(times, "times")

    def set_max_cache_message_size(self, size: int) -> None:
        """Unacknowledged messages kept per queue before pulling pauses (1000)."""
        n = _int(size, "size")
        if n <= 0:
            raise ValueError("size must be positive")
        self._max_cached_per_queue = n

    def set_max_cache_message_size_in_mb(self, mb: int) -> None:
        """Body megabytes (MiB) of unacknowledged messages kept per queue before pulling
        pauses (100, at most 1024). A queue with nothing unacknowledged always pulls, so
        one pull may pass the limit."""
        n = _int(mb, "mb")
        if not 1 <= n <= 1024:
            raise ValueError("mb must be between 1 and 1024")
        self._max_cached_mb_per_queue = n

    def set_consume_from_first_offset(self, first: bool = True) -> None:
        """A new group starts at the oldest message instead of the newest."""
        self._consume_from_first = bool(first)

    def subscribe(
        self,
        topic: StrOrBytes,
        callback: Callable[[ReceivedMessage], Any],
        expression: StrOrBytes = "*",
    ) -> None:
        """Delivers ``topic``'s messages matching ``expression`` (``*`` or ``A || B``)."""
        topic = _text(topic, "topic")
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._subscriptions[topic] = _text(expression, "expression")
        self._callbacks[topic] = callback

    def _register_callback(self, callback) -> None:
        for topic in self._callbacks:
            self._callbacks[topic] = callback

    def _unregister_callback(self) -> None:
        """Kept for compatibility; callbacks stay until shutdown."""

    def _dispatch(self, batches):
        verdicts = []
        callbacks = self._callbacks
        for batch in batches:
            ok = True
            for msg in batch:
                cb = callbacks.get(msg.topic)
                if cb is None:
                    log.warning("no callback for topic %r; message %s dropped", msg.topic, msg.id)
                    continue
                if not _consume_verdict(cb, msg):
                    ok = False
                    break
            verdicts.append(ok)
        return verdicts

    def start(self) -> None:
        """Starts consuming; raises PushConsumerStartFailed without a subscription, for a
        blank or reserved group, an invalid message model or a group already started here.
        An unreachable name server is not a start failure (it is retried)."""
        if self._native is not None:
            return
        if not self._subscriptions:
            raise PushConsumerStartFailed("messageListener is null (call subscribe() first)")
        if not self._group.strip():
            raise PushConsumerStartFailed("the specified group is blank")
        if self._group == "DEFAULT_CONSUMER":
            raise PushConsumerStartFailed("consumerGroup can not equal DEFAULT_CONSUMER")
        if self._message_model not in (0, 1):
            raise PushConsumerStartFailed("messageModel is valid ")
        # One consumer per group and instance name, as in the original client instance;
        # several members of a group in one process need distinct instance names.
        key = (self._group, self._instance_name)
        with PushConsumer._groups_lock:
            if key in PushConsumer._started_groups:
                raise PushConsumerStartFailed(
                    "The cousumer group[%s] has been created before, specify another name "
                    "please (or another instance name)." % self._group
                )
            PushConsumer._started_groups.add(key)
        try:
            self._native = _rocketmq.NativePushConsumer(
                subscriptions=list(self._subscriptions.items()),
                dispatch=self._dispatch,
                broadcasting=self._message_model == MessageModel.BROADCASTING,
                orderly=self._orderly,
                thread_count=self._thread_count,
                batch_max_size=self._batch_max_size,
                max_reconsume_times=self._max_reconsume_times,
                consume_from_first=self._consume_from_first,
                max_cached_per_queue=self._max_cached_per_queue,
                max_cached_mb_per_queue=self._max_cached_mb_per_queue,
                **self._native_client_options(),
            )
        except Exception as e:
            with PushConsumer._groups_lock:
                PushConsumer._started_groups.discard(key)
            raise PushConsumerStartFailed(str(e)) from e
        _keep_alive(self)

    def shutdown(self) -> None:
        """Stops, waits for running callbacks, commits offsets. Idempotent."""
        native, self._native = self._native, None
        if native is None:
            return
        native.shutdown()
        with PushConsumer._groups_lock:
            PushConsumer._started_groups.discard((self._group, self._instance_name))
        _release(self)

    # In the class's own namespace: the originals' test suites `del PushConsumer.__del__`.
    __del__ = _ClientConfig._shut_down_quietly
