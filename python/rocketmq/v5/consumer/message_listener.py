"""``MessageListener`` and ``ConsumeResult`` under the module path the official client's
examples import them from (``rocketmq.v5.consumer.message_listener``). Re-exports only."""

from rocketmq.v5.push_consumer import ConsumeResult, MessageListener

__all__ = ["ConsumeResult", "MessageListener"]
