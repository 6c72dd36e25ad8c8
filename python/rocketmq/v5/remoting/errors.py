"""The errors of the remoting clients as the native gRPC client raises them:
``GrpcClientError(kind, code, message)``, which ``rocketmq.v5.exception`` maps onto the
official exception classes.

What must stay true: the message is the native client's text unchanged (it says what failed
and what to do); a refused argument is kind ``argument``, a client not started or shut down
kind ``state``, anything else kind ``remoting``.
"""

from __future__ import annotations

from typing import Optional


def _native():
    from rocketmq import _rocketmq

    return _rocketmq


def grpc_error(kind: str, message: str, code: Optional[int] = None) -> BaseException:
    return _native().GrpcClientError(kind, code, message)


def from_remoting(error: BaseException) -> BaseException:
    """The ``GrpcClientError`` of an error the native remoting clients raised."""
    text = str(error)
    if isinstance(error, (ValueError, TypeError)):
        return grpc_error("argument", text)
    lowered = text.lower()
    if "shut down" in lowered or "not started" in lowered:
        return grpc_error("state", text)
    return grpc_error("remoting", text)


def native_errors() -> tuple:
    """The exception types the native remoting clients raise."""
    return (_native().ClientError, ValueError, TypeError)
