"""The producer sample of the original documentation, unchanged but for the address: it
points at the bundled broker (``rocketmq-broker``, or ``NAMESRV_ADDR``)."""

import json
import os
import threading

from rocketmq.client import Message, Producer

namesrv_addr = os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876")
producer_name = "PID_EXAMPLE"
web_message_name = os.environ.get("TOPIC", "WEBServer")
session_credentials_name = "XXX"
session_credentials_password = "XXXX"
lock_reply = threading.Lock()
need_reconnected = False


# Producer
def send_msg(message):
    """
    向云端producer集群发送消息体
    """
    ret = True
    try:
        #message = {"id":"test_id","name":"test_name","message":"test_message"}
        message = json.dumps(message).encode('utf-8')
        # global reply
        lock_reply.acquire()
        producer = Producer(producer_name)
        producer.set_namesrv_addr(namesrv_addr)
        producer.set_session_credentials(session_credentials_name, session_credentials_password, 'ALIYUN')
        # For ip and port name server address, use `set_namesrv_addr` method, for example:
        # producer.set_namesrv_addr('127.0.0.1:9887')
        producer.start()
        reply = Message(web_message_name) # web_message_name topic of message (WEBServer) #topic名称
        reply.set_keys('XXX')#每个消息在业务层面的唯一标识码,要设置到keys字段,方便将来定位消息丢失问题。服务 器会为每个消息创建索引(哈希索引),应用可以通过topic,key来查询这条消息内容,以及消息被谁消费。由于是 哈希索引,请务必保证key尽可能唯一,这样可以避免潜在的哈希冲突。
        reply.set_body(message)
        reply.set_tags('')#一个应用尽可能用一个Topic,消息子类型用tags来标识,tags可以由应用自由设置。只有发 送消息设置了tags,消费方在订阅消息时,才可以利用tags在broker做消息过滤。
        ret = producer.send_sync(reply)
        producer.shutdown()
        lock_reply.release()
        ret = "send message right"
    except Exception as e:
        producer.shutdown()
        lock_reply.release()
        need_reconnected = True
        print("send message error:")
        print(e)
        ret = False
    return ret


if __name__ == "__main__":
    count = int(os.environ.get("COUNT", "3"))
    for i in range(count):
        print(send_msg({"id": "test_id_%d" % i, "name": "test_name", "message": "test_message"}))
