"""Sends given messages with the RocketMQ 5.x API's Producer (for the cross-protocol tests:
what it sends is consumed by remoting clients).

Arguments: endpoint, topic, messages (a list of {body, tag, keys, properties}). Records:
sent (body, message_id), done."""

from flow_io import arguments, record

from rocketmq import ClientConfiguration, Credentials, Message, Producer

args = arguments()
config = ClientConfiguration(args["endpoint"], Credentials())
producer = Producer(config, (args["topic"],))
producer.startup()
try:
    for spec in args["messages"]:
        message = Message()
        message.topic = args["topic"]
        message.body = spec["body"].encode("utf-8")
        message.tag = spec["tag"]
        message.keys = spec["keys"]
        for name, value in spec["properties"].items():
            message.add_property(name, value)
        receipt = producer.send(message)
        record("sent", body=spec["body"], message_id=receipt.message_id)
finally:
    producer.shutdown()
record("done")
