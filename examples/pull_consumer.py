"""The pull-consumer sample of the original documentation, unchanged but for the address:
it points at the bundled broker (``rocketmq-broker``, or ``NAMESRV_ADDR``)."""

import os

#PullConsumer
from rocketmq.client import PullConsumer
consumer = PullConsumer('CID_XXX')
consumer.set_namesrv_addr(os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
# For ip and port name server address, use `set_namesrv_addr` method, for example:
# consumer.set_namesrv_addr('127.0.0.1:9887')
consumer.set_session_credentials('XXX', 'XXXX', 'ALIYUN')
consumer.start()
for msg in consumer.pull(os.environ.get("TOPIC", 'YOUR-TOPIC')):
    print(msg.id, msg.body)
consumer.shutdown()
