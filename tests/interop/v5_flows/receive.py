"""Receives and acks messages with the RocketMQ 5.x API's SimpleConsumer until a count came
(for the cross-protocol tests: remoting clients sent them).

Arguments: endpoint, topic, group, count. Records: received, acked, done."""

from flow_io import arguments, deadline, receive_and_ack, record

from rocketmq import ClientConfiguration, Credentials, FilterExpression, SimpleConsumer

args = arguments()
config = ClientConfiguration(args["endpoint"], Credentials())
topic = args["topic"]
consumer = SimpleConsumer(config, args["group"], {topic: FilterExpression()}, await_duration=3)
consumer.startup()
try:
    receive_and_ack(consumer, args["count"], deadline(args.get("seconds", 60)))
finally:
    consumer.shutdown()
record("done")
