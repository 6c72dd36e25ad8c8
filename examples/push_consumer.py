"""The push-consumer sample of the original documentation, unchanged but for the address:
it points at the bundled broker (``rocketmq-broker``, or ``NAMESRV_ADDR``). It runs until
interrupted (Ctrl-C)."""

import os

#PushConsumer
import time
from rocketmq.client import PushConsumer
def callback(msg):
    print(msg.id, msg.body)
consumer = PushConsumer('CID_XXX')
consumer.set_namesrv_addr(os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
# For ip and port name server address, use `set_namesrv_addr` method, for example:
# consumer.set_namesrv_addr('127.0.0.1:9887')
consumer.set_session_credentials('XXX', 'XXXX', 'ALIYUN')
consumer.subscribe(os.environ.get("TOPIC", 'YOUR-TOPIC'), callback)
consumer.start()
while True:
    time.sleep(3600)
consumer.shutdown()
