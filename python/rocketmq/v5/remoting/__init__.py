"""The 5.x API without a proxy: ``ClientConfiguration(..., protocol="remoting")`` (or an
endpoint written ``remoting://host:9876``) names the cluster's name servers, and the 5.x
clients speak RocketMQ's remoting protocol straight to the brokers, through the same native
clients as the 4.x API (``rocketmq._rocketmq``):

- ``Producer``: the native producer (message groups pick their queue by a hash of the
  group, delivery timestamps become timer messages, transactions are half messages ended by
  ``END_TRANSACTION`` and checked back over the producer's connection);
- ``SimpleConsumer`` and a clustering ``PushConsumer``: the native POP consumer (one per
  subscribed topic), so receive, ack and invisible durations behave as over gRPC;
- a broadcasting ``PushConsumer`` (``PushConsumer(..., broadcasting=True)``, which the
  official 5.x client cannot do): the native push consumer in broadcasting mode.

Each class here offers the methods of the native gRPC client it stands in for
(``GrpcProducer``, ``GrpcConsumer``) and raises ``GrpcClientError(kind, code, message)``
as it does, so the public classes above them are the same for both protocols.
"""
