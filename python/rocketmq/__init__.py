"""RocketMQ for Python: a client written in Rust plus a bundled name server and broker.

`rocketmq.broker.LocalBroker` runs a RocketMQ-compatible name server and broker in this
process; `rocketmq-broker` (or `python -m rocketmq.broker`) runs them as a program.
"""

__version__ = "0.1.0"
