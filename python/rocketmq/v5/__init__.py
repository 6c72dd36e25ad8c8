"""The RocketMQ 5.x Python API (the official ``rocketmq-python-client``'s), over this
package's native gRPC client: ``from rocketmq.v5 import Producer, SimpleConsumer, ...`` or,
as the official client is used, ``from rocketmq import Producer, ...``.

What must stay true: the names exported here are the official client's, with its
constructors, defaults and methods; importing this package loads only the Python modules
of the API (the native module is loaded by the first client created).
"""

from rocketmq.grpc_protocol import TransactionResolution
from rocketmq.v5.client import ClientConfiguration, Credentials
from rocketmq.v5.consumer import ConsumeResult, MessageListener, PushConsumer, SimpleConsumer
from rocketmq.v5.model import FilterExpression, Message, SendReceipt
from rocketmq.v5.producer import Producer, Transaction, TransactionChecker

__all__ = [
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
