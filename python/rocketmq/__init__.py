"""RocketMQ for Python: a client written in Rust plus a bundled name server and broker.

`rocketmq.broker.LocalBroker` runs a RocketMQ-compatible name server and broker in this
process; `rocketmq-broker` (or `python -m rocketmq.broker`) runs them as a program.
"""

__version__ = "0.1.0"

# The 5.x API (the official rocketmq-python-client's names) is loaded on first use, so that
# `import rocketmq` costs no more than before it existed.
_V5_EXPORTS = {
    "Producer": "rocketmq.v5.producer",
    "Transaction": "rocketmq.v5.producer",
    "TransactionChecker": "rocketmq.v5.producer",
    "TransactionResolution": "rocketmq.grpc_protocol",
    "SimpleConsumer": "rocketmq.v5.simple_consumer",
    "PushConsumer": "rocketmq.v5.push_consumer",
    "MessageListener": "rocketmq.v5.push_consumer",
    "ConsumeResult": "rocketmq.v5.push_consumer",
    "Message": "rocketmq.v5.model",
    "FilterExpression": "rocketmq.v5.model",
    "SendReceipt": "rocketmq.v5.model",
    "ClientConfiguration": "rocketmq.v5.client",
    "Credentials": "rocketmq.v5.client",
}


def __getattr__(name: str):
    module = _V5_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rocketmq' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_V5_EXPORTS))
