"""The RocketMQ client API of PyPI ``rocketmq`` 0.4.x and Apache ``rocketmq-client-python``
2.0, backed by the Rust client in ``rocketmq._rocketmq``.

Scripts written for either original run unchanged. Differences, all supersets:

* bodies are sent and received byte for byte (the originals cut them at the first NUL);
* ``with Producer(...) as p`` binds the producer (the originals bound ``None``);
* wrong argument types raise ``TypeError``/``ValueError`` instead of crashing the process;
* nothing is written under ``~/logs``; diagnostics go to the ``rocketmq`` logger.

This module is the public face: the classes live in private modules by concept (messages,
results, producers, consumers, the client lifecycle) and name this module as their home
(``__module__``), so reprs and pickles are those of a single ``rocketmq.client``.
"""

import logging

# Names outside ``__all__`` are re-exported as the originals had them (helpers, exceptions,
# enums); ``_live_clients`` holds the started clients (see ``_lifecycle``).
from ._arguments import StrOrBytes, maybe_decode  # noqa: F401
from ._arguments import to_bytes as _to_bytes  # noqa: F401
from ._consumers import MessageQueue, PullConsumer, PushConsumer  # noqa: F401
from ._lifecycle import live_clients as _live_clients  # noqa: F401
from ._messages import Message, ReceivedMessage, RecvMessage
from ._producers import Producer, TransactionMQProducer, hashing_queue_selector  # noqa: F401
from ._results import ConsumeStatus, SendResult, SendStatus, TransactionStatus
from .consts import MessageProperty  # noqa: F401
from .exceptions import (  # noqa: F401
    ConsumerException,
    InvalidFilterExpression,
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
    ffi_check,
)
from .ffi import MessageModel, _CConsumeStatus  # noqa: F401

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
