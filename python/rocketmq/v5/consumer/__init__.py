"""The 5.x consumers, under the official client's module name (``rocketmq.v5.consumer``):
``SimpleConsumer``, ``PushConsumer``, ``MessageListener``, ``ConsumeResult`` (and the module
``message_listener``, as the official examples import it). Re-exports only."""

from rocketmq.v5.push_consumer import ConsumeResult, MessageListener, PushConsumer
from rocketmq.v5.simple_consumer import SimpleConsumer

__all__ = ["SimpleConsumer", "PushConsumer", "MessageListener", "ConsumeResult"]
