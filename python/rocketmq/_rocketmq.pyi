"""Native half of the `rocketmq` package (PyO3). Private: use `rocketmq.broker`."""

import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Type, Union, final

__all__ = [
    "_EmbeddedCluster",
    "NativeAdmin",
    "NativeProducer",
    "NativePullClient",
    "NativePushConsumer",
    "PopConsumer",
    "PoppedMessage",
    "GrpcProducer",
    "GrpcConsumer",
    "GrpcClientError",
    "ClientError",
    "FilterExpressionRefused",
    "ReceivedMessage",
    "check_delay_levels",
    "default_store_dir",
    "reset_log_cache",
    "DEFAULT_HOST",
    "DEFAULT_NAMESRV_PORT",
    "DEFAULT_BROKER_PORT",
    "DEFAULT_GRPC_PORT",
    "DEFAULT_FLUSH",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_DELAY_LEVELS",
    "DEFAULT_SEGMENT_SIZE",
    "DEFAULT_CLUSTER_NAME",
    "DEFAULT_BROKER_NAME",
    "DEFAULT_TRANSACTION_CHECK_INTERVAL_MS",
    "DEFAULT_TRANSACTION_TIMEOUT_MS",
    "DEFAULT_TRANSACTION_CHECK_MAX",
    "DEFAULT_TIMER_MAX_DELAY",
    "DEFAULT_FILE_RESERVED_TIME",
    "DEFAULT_DISK_MAX_USED_RATIO",
    "DEFAULT_DISK_REFUSE_RATIO",
    "SYSTEM_PROPERTY_NAMES",
    "__version__",
]

__version__: str

# The broker defaults, defined once in the Rust server's configuration.
DEFAULT_HOST: str
DEFAULT_NAMESRV_PORT: int
DEFAULT_BROKER_PORT: int
DEFAULT_GRPC_PORT: int
DEFAULT_FLUSH: str
DEFAULT_MAX_MESSAGE_SIZE: int
DEFAULT_DELAY_LEVELS: str
DEFAULT_SEGMENT_SIZE: int
DEFAULT_CLUSTER_NAME: str
DEFAULT_BROKER_NAME: str
DEFAULT_TRANSACTION_CHECK_INTERVAL_MS: int
DEFAULT_TRANSACTION_TIMEOUT_MS: int
DEFAULT_TRANSACTION_CHECK_MAX: int
DEFAULT_TIMER_MAX_DELAY: str
DEFAULT_FILE_RESERVED_TIME: str
DEFAULT_DISK_MAX_USED_RATIO: int
DEFAULT_DISK_REFUSE_RATIO: int

# Property names that are never a user property (the protocol crate's one list).
SYSTEM_PROPERTY_NAMES: Tuple[str, ...]

def default_store_dir() -> Path:
    """The per-user store directory: ``$XDG_DATA_HOME/rocketmq`` or ``~/.local/share/rocketmq``."""

def check_delay_levels(levels: str) -> None:
    """Raise ValueError (saying what is wrong) unless `levels` is a valid delay-level string."""

@final
class _EmbeddedCluster:
    """A name server + broker pair running in this process; started by the constructor."""

    def __new__(
        cls,
        store_dir: Union[str, "os.PathLike[str]"],
        *,
        host: Optional[str] = None,
        namesrv_port: Optional[int] = None,
        broker_port: Optional[int] = None,
        flush: Optional[str] = None,
        max_message_size: Optional[int] = None,
        delay_levels: Optional[str] = None,
        segment_size: Optional[int] = None,
        cluster_name: Optional[str] = None,
        broker_name: Optional[str] = None,
        advertised_host: Optional[str] = None,
        namesrv_addr: Optional[str] = None,
        transaction_check_interval_ms: Optional[int] = None,
        transaction_timeout_ms: Optional[int] = None,
        transaction_check_max: Optional[int] = None,
        timer_max_delay: Optional[str] = None,
        message_index: Optional[bool] = None,
        file_reserved_time: Optional[str] = None,
        disk_max_used_ratio: Optional[int] = None,
        disk_refuse_ratio: Optional[int] = None,
        enable_property_filter: Optional[bool] = None,
        grpc_port: Optional[int] = None,
    ) -> "_EmbeddedCluster": ...
    @property
    def namesrv_addr(self) -> str: ...
    @property
    def broker_addr(self) -> str: ...
    @property
    def grpc_endpoint(self) -> Optional[str]: ...
    @property
    def store_dir(self) -> Path: ...
    @property
    def running(self) -> bool: ...
    def kill(self) -> None: ...
    def shutdown(self) -> None: ...

def reset_log_cache() -> None:
    """Make Rust log records follow a changed Python logging configuration."""

# ---- Client bindings (rocketmq.client wraps these; private, shapes may change) ----

_Credentials = Tuple[str, str, str]
_Properties = Dict[str, str]
# (status, msg_id, offset_msg_id, queue_id, queue_offset, broker_name, recall_handle: "" unless
# a timer message)
_SendTuple = Tuple[int, str, str, int, int, str, str]
# The fields of a ReceivedMessage, in the order of ReceivedMessage.fields():
# (topic, tags, keys, body, id, offset_msg_id, queue_id, queue_offset, commit_log_offset,
#  reconsume_times, store_size, born_timestamp, store_timestamp, prepared_transaction_offset,
#  properties, born_host, store_host)
_MessageTuple = Tuple[
    str,
    bytes,
    bytes,
    bytes,
    str,
    str,
    int,
    int,
    int,
    int,
    int,
    int,
    int,
    int,
    _Properties,
    str,
    str,
]
# (topic, broker_name, queue_id)
_QueueTuple = Tuple[str, str, int]
# (status, next_begin_offset, min_offset, max_offset, messages)
_PullTuple = Tuple[int, int, int, int, List["ReceivedMessage"]]
# `callback(ok, value or error text)` of the `*_async` calls, run on the send-callback thread.
_Callback = Callable[[bool, Any], object]

class ClientError(Exception):
    """A client operation failed; the message says what and where."""

class FilterExpressionRefused(ClientError):
    """A broker refused a subscription expression (CHECK_CLIENT_CONFIG); the message has
    the broker's reason, for SQL92 the parse error and its position."""

@final
class ReceivedMessage:
    """A received message (`rocketmq.client.ReceivedMessage`, also named `RecvMessage`).

    Its fields are read-only and made into Python objects only when read. It stays valid
    after the consumer callback returns.
    """

    def __new__(cls, *, fields: _MessageTuple) -> "ReceivedMessage":
        """Built by the library from the 17 fields of `fields()`; not meant to be called."""
    def fields(self) -> _MessageTuple:
        """Every field as a tuple, in the order of `_MessageTuple`."""
    def __reduce__(
        self,
    ) -> Tuple[Any, Tuple[Type["ReceivedMessage"], Tuple[()], Dict[str, _MessageTuple]]]:
        """Pickles as `copyreg.__newobj_ex__(cls, (), {"fields": fields})`."""
    @property
    def topic(self) -> str:
        """The topic the message was sent to (a retried message's original topic)."""
    @property
    def tags(self) -> bytes:
        """The ``TAGS`` property as bytes, ``b''`` when absent."""
    @property
    def keys(self) -> bytes:
        """The ``KEYS`` property as bytes, ``b''`` when absent."""
    @property
    def body(self) -> bytes:
        """The (decompressed) body."""
    @property
    def id(self) -> str:
        """The message id (the producer's ``UNIQ_KEY``, else the offset id)."""
    @property
    def offset_msg_id(self) -> str:
        """The broker's id: store host and commit-log offset, in hex."""
    @property
    def queue_id(self) -> int: ...
    @property
    def queue_offset(self) -> int: ...
    @property
    def commit_log_offset(self) -> int: ...
    @property
    def reconsume_times(self) -> int:
        """How many times the message was delivered before this delivery."""
    @property
    def store_size(self) -> int: ...
    @property
    def born_timestamp(self) -> int:
        """When the producer created it, in milliseconds since the epoch."""
    @property
    def store_timestamp(self) -> int:
        """When the broker stored it, in milliseconds since the epoch."""
    @property
    def prepared_transaction_offset(self) -> int: ...
    @property
    def properties(self) -> Dict[str, str]:
        """Every property, as a new dict."""
    @property
    def born_host(self) -> str:
        """The producer's address, ``"ip:port"``."""
    @property
    def store_host(self) -> str:
        """The broker's address, ``"ip:port"``."""
    @property
    def delay_time_level(self) -> int:
        """The ``DELAY`` property as an int; 0 when absent or not a number."""
    @property
    def body_length(self) -> int:
        """Length of the (decompressed) body in bytes."""
    def get_property(self, prop: Any) -> bytes:
        """A property's value as bytes (name as str, bytes or MessageProperty); ``b''`` when
        absent."""
    def __getitem__(self, key: Any, /) -> bytes:
        """``msg[key]`` is ``msg.get_property(key)``."""
    def __bytes__(self) -> bytes:
        """The body."""

@final
class NativeProducer:
    """The Rust producer behind `rocketmq.client.Producer`."""

    def __new__(
        cls,
        *,
        group: str,
        name_servers_list: str,
        instance_name: str = "DEFAULT",
        timeout_ms: int = 3000,
        retry_times: int = 2,
        compress_level: int = 5,
        compress_over: int = 4096,
        max_message_size: int = 4194304,
        credentials: Optional[_Credentials] = None,
        namesrv_domain: Optional[str] = None,
        checker: Optional[Callable[[ReceivedMessage], int]] = None,
    ) -> "NativeProducer": ...
    def send(self, topic: str, body: bytes, flag: int, properties: _Properties) -> _SendTuple:
        """Sends and waits; returns a send tuple."""
    def send_async(
        self,
        topic: str,
        body: bytes,
        flag: int,
        properties: _Properties,
        callback: Callable[[bool, Union[_SendTuple, str]], object],
    ) -> None:
        """Starts a send; `callback(ok, send tuple or error text)` runs later on the
        send-callback thread."""
    def send_many_async(
        self,
        messages: List[Tuple[str, bytes, int, _Properties]],
        callback: Callable[[bool, List[Tuple[bool, Union[_SendTuple, str]]]], object],
    ) -> None:
        """Starts every send at once; `callback(True, [(ok, send tuple or error text), ...])`
        runs once on the send-callback thread when all have finished, in message order."""
    def send_oneway(self, topic: str, body: bytes, flag: int, properties: _Properties) -> None:
        """Sends without waiting for the broker."""
    def queue_count(self, topic: str) -> int:
        """Number of writable queues of `topic` (for queue selectors)."""
    def send_to_queue(
        self,
        topic: str,
        body: bytes,
        flag: int,
        properties: _Properties,
        index: int,
        attempts: int = 3,
    ) -> _SendTuple:
        """Sends to the writable queue at `index`, retrying on that queue only."""
    def send_batch(self, messages: List[Tuple[str, bytes, int, _Properties]]) -> _SendTuple:
        """Sends `(topic, body, flag, properties)` items as one batch."""
    def send_half(
        self, topic: str, body: bytes, flag: int, properties: _Properties
    ) -> Tuple[_SendTuple, _Properties]:
        """Sends the half message of a transaction; returns the send tuple and the half
        message's properties (with its id)."""
    def end_transaction(self, topic: str, result: _SendTuple, status: int) -> None:
        """Ends the transaction of the half message `result` with a `TransactionStatus`
        value (one-way)."""
    def recall(self, topic: str, recall_handle: str) -> str:
        """Cancels the timer message `recall_handle` names (RECALL_MESSAGE) before its time;
        returns its message id."""
    def queue_count_async(self, topic: str, callback: _Callback) -> None:
        """`queue_count` for asyncio: `callback(True, count)` or `callback(False, text)`."""
    def send_to_queue_async(
        self,
        topic: str,
        body: bytes,
        flag: int,
        properties: _Properties,
        index: int,
        attempts: int,
        callback: _Callback,
    ) -> None:
        """`send_to_queue` for asyncio: `callback(True, send tuple)` or `callback(False, text)`."""
    def send_batch_async(
        self, messages: List[Tuple[str, bytes, int, _Properties]], callback: _Callback
    ) -> None:
        """`send_batch` for asyncio: `callback(True, send tuple)` or `callback(False, text)`."""
    def send_oneway_async(
        self, topic: str, body: bytes, flag: int, properties: _Properties, callback: _Callback
    ) -> None:
        """`send_oneway` for asyncio: `callback(True, None)` once the request is written."""
    def send_half_async(
        self, topic: str, body: bytes, flag: int, properties: _Properties, callback: _Callback
    ) -> None:
        """`send_half` for asyncio: `callback(True, (send tuple, half properties))`."""
    def end_transaction_async(
        self, topic: str, result: _SendTuple, status: int, callback: _Callback
    ) -> None:
        """`end_transaction` for asyncio: `callback(True, None)` once the request is written."""
    def set_name_servers(self, list: str) -> None:
        """Replaces the name-server list (`"host:port;host:port"`)."""
    def shutdown(self, wait_ms: Optional[int] = None) -> bool:
        """Waits for pending async sends and their callbacks (bounded), unregisters the
        producer group, then closes the producer's connections; false when the wait timed
        out."""

@final
class NativePullClient:
    """Route lookups and single pulls for `rocketmq.client.PullConsumer`."""

    def __new__(
        cls,
        *,
        group: str,
        name_servers_list: str,
        instance_name: str = "DEFAULT",
        timeout_ms: int = 10000,
        credentials: Optional[_Credentials] = None,
        namesrv_domain: Optional[str] = None,
    ) -> "NativePullClient": ...
    def fetch_subscribe_queues(self, topic: str) -> List[_QueueTuple]:
        """The readable queues of `topic`, sorted."""
    def check_expression(self, topic: str, expression: str, expression_type: str = "TAG") -> None:
        """Asks every broker of `topic` whether it accepts the expression; raises
        `FilterExpressionRefused` when one refuses it (tag expressions are not asked)."""
    def pull(
        self,
        topic: str,
        broker_name: str,
        queue_id: int,
        expression: str,
        offset: int,
        max_num: int,
        expression_type: str = "TAG",
    ) -> _PullTuple:
        """One non-blocking pull: `(status, next_begin_offset, min_offset, max_offset,
        messages)`; `expression_type` is "TAG" or "SQL92"."""
    def fetch_subscribe_queues_async(self, topic: str, callback: _Callback) -> None:
        """`fetch_subscribe_queues` for asyncio: `callback(True, [queue tuples])` or
        `callback(False, text)`."""
    def pull_async(
        self,
        topic: str,
        broker_name: str,
        queue_id: int,
        expression: str,
        offset: int,
        max_num: int,
        suspend_ms: int,
        callback: _Callback,
        expression_type: str = "TAG",
    ) -> None:
        """`pull` for asyncio: `callback(True, pull tuple)` or `callback(False, text)`; a
        long poll of up to `suspend_ms` (at most 60 s) when it is positive."""
    def query_offset(self, topic: str, broker_name: str, queue_id: int) -> Optional[int]:
        """The group's offset committed on the broker for the queue; None when none."""
    def query_offset_async(
        self, topic: str, broker_name: str, queue_id: int, callback: _Callback
    ) -> None:
        """`query_offset` for asyncio: `callback(True, offset or None)`."""
    def commit_offset(self, topic: str, broker_name: str, queue_id: int, offset: int) -> None:
        """Commits the group's offset of the queue on the broker (UPDATE_CONSUMER_OFFSET)."""
    def commit_offset_async(
        self, topic: str, broker_name: str, queue_id: int, offset: int, callback: _Callback
    ) -> None:
        """`commit_offset` for asyncio: `callback(True, None)` once the broker answered."""
    def set_name_servers(self, list: str) -> None:
        """Replaces the name-server list (`"host:port;host:port"`)."""
    def shutdown(self) -> None:
        """Ends the async calls in flight, stops the route refresh, closes the connections,
        and waits (at most 5 s) for the callbacks of the calls it ended."""

@final
class NativePushConsumer:
    """The Rust push consumer behind `rocketmq.client.PushConsumer`; consuming from creation."""

    def __new__(
        cls,
        *,
        group: str,
        name_servers_list: str,
        subscriptions: List[Tuple[str, str, str]],
        dispatch: Callable[[List[List[ReceivedMessage]]], List[bool]],
        instance_name: str = "DEFAULT",
        broadcasting: bool = False,
        orderly: bool = False,
        thread_count: int = 4,
        batch_max_size: int = 1,
        max_reconsume_times: int = 16,
        consume_from_first: bool = False,
        consume_from_timestamp: Optional[int] = None,
        max_cached_per_queue: int = 1000,
        max_cached_mb_per_queue: int = 100,
        credentials: Optional[_Credentials] = None,
        namesrv_domain: Optional[str] = None,
    ) -> "NativePushConsumer": ...
    @property
    def client_id(self) -> str: ...
    def subscribe(self, topic: str, expression: str, expression_type: str) -> None:
        """Subscribes the running consumer to `topic` (replacing its subscription); raises
        `FilterExpressionRefused` when a broker refuses the expression."""
    def owned_queues(self) -> List[_QueueTuple]:
        """Queues owned now."""
    def pulling_queues(self) -> List[_QueueTuple]:
        """Owned queues that are being pulled from a known offset."""
    def shutdown(self, grace_ms: int = 30000) -> None:
        """Stops; waits up to `grace_ms` for running callbacks, commits offsets."""

@final
class NativeAdmin:
    """Cluster administration behind `rocketmq.admin.Admin`."""

    def __new__(
        cls,
        *,
        name_servers_list: str,
        timeout_ms: int = 10000,
        credentials: Optional[_Credentials] = None,
    ) -> "NativeAdmin": ...
    def cluster_info(self) -> Dict[str, Any]:
        """`{"brokers": {name: {"cluster", "addrs"}}, "clusters": {cluster: [names]}}`."""
    def wait_for_brokers(self, timeout_ms: int) -> Dict[str, str]:
        """Broker name -> master address, once a first broker has registered."""
    def create_topic(
        self,
        topic: str,
        read_queues: int,
        write_queues: int,
        perm: int,
        order: bool,
        timeout_ms: int,
        message_type: Optional[str] = None,
    ) -> List[str]:
        """Creates the topic on every master broker; their names once routed."""
    def create_subscription_group(
        self,
        group: str,
        consume_message_orderly: bool,
        retry_max_times: int,
        consume_broadcast_enable: bool,
        consume_enable: bool,
    ) -> List[str]:
        """Creates or replaces a group's config on every master broker."""
    def subscription_group(self, group: str) -> Optional[str]:
        """The group's config as JSON text, or None when no master broker has it."""
    def list_subscription_groups(self) -> str:
        """Every group's config, `{group: config}` as JSON text."""
    def delete_subscription_group(self, group: str, clean_offset: bool) -> List[str]:
        """Deletes the group's config on every master broker."""
    def topic_route(self, topic: str) -> Optional[List[Tuple[str, int, int, int]]]:
        """`[(broker_name, read_queues, write_queues, perm)]`, or None if unknown."""
    def search_offset(
        self, topic: str, queue_id: int, timestamp_ms: int, broker_name: Optional[str] = None
    ) -> int:
        """The offset of the first message stored at or after `timestamp_ms`."""
    def query_messages_by_key(
        self, topic: str, key: str, max_num: int, begin_ms: int, end_ms: int
    ) -> List[ReceivedMessage]:
        """Messages of `topic` with `key` in KEYS stored in the time range, newest first."""
    def view_message(self, msg_id: str, topic: Optional[str] = None) -> Optional[ReceivedMessage]:
        """By offset message id, or with `topic` by unique id; None when not found."""
    def reset_offset_by_time(
        self, topic: str, group: str, timestamp_ms: int
    ) -> List[Tuple[str, int, int]]:
        """`[(broker_name, queue_id, new_offset)]` after resetting the group to the time."""
    def consume_stats(
        self, group: str, topic: Optional[str] = None
    ) -> List[Tuple[str, str, int, int, int, int, int]]:
        """`[(topic, broker_name, queue_id, broker_offset, consumer_offset, pull_offset,
        last_timestamp)]`."""
    def set_name_servers(self, list: str) -> None:
        """Replaces the name-server list."""
    def shutdown(self) -> None:
        """Closes the connections."""

@final
class PoppedMessage:
    """One message received by `PopConsumer.receive`, with its receipt handle."""

    @property
    def message(self) -> ReceivedMessage: ...
    @property
    def receipt_handle(self) -> str:
        """What `ack` and `change_invisible_duration` take (Java's `POP_CK`)."""
    @property
    def delivery_attempt(self) -> int:
        """1 on the first delivery, one more per redelivery."""
    @property
    def broker_name(self) -> str: ...
    @property
    def invisible_until_ms(self) -> int:
        """When the message becomes visible to the group again unless acked."""

@final
class PopConsumer:
    """RocketMQ 5 POP consumption of one topic for one group (private; the 5.x
    `SimpleConsumer` wraps it): received messages stay invisible to the group until acked
    or until their invisible time passes, then come back with a higher delivery attempt."""

    def __new__(
        cls,
        group: str,
        topic: str,
        *,
        name_servers_list: str,
        expression: str = "*",
        expression_type: str = "TAG",
        order: bool = False,
        start_at_end: bool = False,
        instance_name: str = "DEFAULT",
        timeout_ms: int = 10000,
        credentials: Optional[_Credentials] = None,
    ) -> "PopConsumer": ...
    def start(self) -> None:
        """Looks the topic's route up (raises when the topic is unknown)."""
    def receive(
        self, max_num: int = 16, invisible_ms: int = 30000, await_ms: int = 0
    ) -> List[PoppedMessage]:
        """Up to `max_num` (1..32) messages; waits up to `await_ms` when there are none."""
    def ack(self, receipt_handle: str) -> None: ...
    def ack_batch(self, receipt_handles: List[str]) -> None: ...
    def change_invisible_duration(self, receipt_handle: str, invisible_ms: int) -> str:
        """Keeps the message hidden `invisible_ms` from now; returns its new receipt handle."""
    def shutdown(self) -> None: ...

# The RocketMQ 5 (gRPC) client behind `rocketmq.v5` (src/v5/). Errors are
# `GrpcClientError(kind, code, message)`; received messages are dicts keyed by the names of
# `rocketmq.v5.Message`'s fields; receipts are
# (message_id, transaction_id, offset, recall_handle, topic, queue_id, broker_name, endpoint).

_Receipt = Tuple[str, str, int, str, str, int, str, str]

class GrpcClientError(Exception):
    """args: (kind, code, message); kind is 'status', 'transport', 'state' or 'argument'."""

@final
class GrpcProducer:
    """The Rust 5.x producer behind `rocketmq.v5.Producer`."""

    def __new__(
        cls,
        endpoints: str,
        access_key: str,
        secret_key: str,
        namespace: str,
        request_timeout: float,
        tls: bool,
        topics: List[str],
        checker: Optional[Callable[[Dict[str, Any]], Optional[bool]]] = None,
    ) -> "GrpcProducer": ...
    @property
    def client_id(self) -> str: ...
    @property
    def is_running(self) -> bool: ...
    def start(self) -> None: ...
    def shutdown(self) -> None: ...
    def send(
        self,
        topic: str,
        body: bytes,
        tag: Optional[str],
        keys: List[str],
        properties: Dict[str, str],
        message_group: Optional[str],
        delivery_timestamp_ms: Optional[int],
        priority: Optional[int],
        transactional: bool,
    ) -> _Receipt: ...
    def send_async(
        self,
        topic: str,
        body: bytes,
        tag: Optional[str],
        keys: List[str],
        properties: Dict[str, str],
        message_group: Optional[str],
        delivery_timestamp_ms: Optional[int],
        priority: Optional[int],
        callback: Callable[[bool, Any], object],
    ) -> None:
        """`callback(True, receipt)` or `callback(False, GrpcClientError)`, on the callback
        thread."""
    def recall(self, topic: str, recall_handle: str) -> str: ...
    def end_transaction(
        self, endpoint: str, topic: str, message_id: str, transaction_id: str, commit: bool
    ) -> None: ...

@final
class GrpcConsumer:
    """The Rust 5.x consumer behind `rocketmq.v5.SimpleConsumer` and `PushConsumer`."""

    def __new__(
        cls,
        endpoints: str,
        access_key: str,
        secret_key: str,
        namespace: str,
        request_timeout: float,
        tls: bool,
        group: str,
        subscriptions: List[Tuple[str, int, str]],
        long_polling_timeout: float,
        push: bool,
    ) -> "GrpcConsumer": ...
    @property
    def client_id(self) -> str: ...
    @property
    def is_running(self) -> bool: ...
    @property
    def fifo(self) -> bool: ...
    def retry_policy(self) -> Tuple[int, List[float]]: ...
    def start(self) -> None: ...
    def shutdown(self) -> None: ...
    def stop_receiving(self) -> None: ...
    def subscribe(self, topic: str, filter_type: int, expression: str) -> None: ...
    def unsubscribe(self, topic: str) -> None: ...
    def receive(
        self, max_message_num: int, invisible_duration: Optional[float] = None
    ) -> List[Dict[str, Any]]: ...
    def ack(self, topic: str, message_id: str, receipt_handle: str, endpoint: str) -> None: ...
    def ack_async(
        self,
        topic: str,
        message_id: str,
        receipt_handle: str,
        endpoint: str,
        callback: Callable[[bool, Any], object],
    ) -> None: ...
    def change_invisible_duration(
        self,
        topic: str,
        message_id: str,
        receipt_handle: str,
        endpoint: str,
        invisible_duration: float,
    ) -> str: ...
    def change_invisible_duration_async(
        self,
        topic: str,
        message_id: str,
        receipt_handle: str,
        endpoint: str,
        invisible_duration: float,
        callback: Callable[[bool, Any], object],
    ) -> None: ...
    def forward_to_dead_letter_queue(
        self,
        topic: str,
        message_id: str,
        receipt_handle: str,
        endpoint: str,
        delivery_attempt: int,
        max_delivery_attempts: int,
    ) -> None: ...
