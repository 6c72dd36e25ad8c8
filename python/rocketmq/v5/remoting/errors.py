"""The errors of the remoting clients as the native gRPC client raises them:
``GrpcClientError(kind, code, message)``, which ``rocketmq.v5.exception`` maps onto the
official exception classes.

What must stay true: the message is the native client's text unchanged (it says what failed
and what to do); a refused argument is kind ``argument``, a client not started or shut down
kind ``state``; a broker's refusal (``... answered code N: ...``) kind ``status`` with the
code the Apache proxy turns that refusal into (so the same exception class as over gRPC);
anything else kind ``remoting``.
"""

from __future__ import annotations

import re
from typing import Optional

from rocketmq.v5.remoting.natives import native

#: A broker's refusal in the native client's text.
_REFUSAL = re.compile(r"answered code (-?\d+): ")
#: Remoting response codes -> apache.rocketmq.v2 codes, as the Apache proxy maps them;
#: any other refusal is INTERNAL_SERVER_ERROR there too.
_STATUS_OF_REFUSAL = {
    13: 40000,  # MESSAGE_ILLEGAL -> BAD_REQUEST
    16: 40300,  # NO_PERMISSION -> FORBIDDEN
    17: 40402,  # TOPIC_NOT_EXIST -> TOPIC_NOT_FOUND
    26: 40403,  # SUBSCRIPTION_GROUP_NOT_EXIST -> CONSUMER_GROUP_NOT_FOUND
}
_INTERNAL_SERVER_ERROR = 50001


def grpc_error(kind: str, message: str, code: Optional[int] = None) -> BaseException:
    return native().GrpcClientError(kind, code, message)


def from_remoting(error: BaseException) -> BaseException:
    """The ``GrpcClientError`` of an error the native remoting clients raised."""
    text = str(error)
    if isinstance(error, (ValueError, TypeError)):
        return grpc_error("argument", text)
    lowered = text.lower()
    if "shut down" in lowered or "not started" in lowered:
        return grpc_error("state", text)
    refusal = _REFUSAL.search(text)
    if refusal is not None:
        code = _STATUS_OF_REFUSAL.get(int(refusal.group(1)), _INTERNAL_SERVER_ERROR)
        return grpc_error("status", text, code)
    return grpc_error("remoting", text)


def native_errors() -> tuple:
    """The exception types the native remoting clients raise."""
    return (native().ClientError, ValueError, TypeError)
