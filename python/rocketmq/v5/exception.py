"""The exceptions of the 5.x API, named and arranged as the official client's
(``rocketmq.v5.exception``), and the translation of the native client's errors into them.

What must stay true: a server status maps to the class the official client raises for it
(``MessagingResultChecker``), with ``code`` set; a transport failure is a plain
``ClientException``; misuse is ``IllegalStateException`` / ``IllegalArgumentException``.
"""

from __future__ import annotations

from typing import Dict, NoReturn, Optional, Type

from rocketmq.grpc_protocol import Code

__all__ = [
    "ClientException",
    "BadRequestException",
    "UnauthorizedException",
    "PaymentRequiredException",
    "ForbiddenException",
    "NotFoundException",
    "PayloadTooLargeException",
    "PayloadEmptyException",
    "TooManyRequestsException",
    "LiteTopicQuotaExceededException",
    "LiteSubscriptionQuotaExceededException",
    "RequestHeaderFieldsTooLargeException",
    "InternalErrorException",
    "ProxyTimeoutException",
    "UnsupportedException",
    "IllegalArgumentException",
    "IllegalStateException",
]


class ClientException(Exception):
    """Base of every 5.x client error; ``code`` is the server's status code when it answered."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.__code = code

    def __str__(self) -> str:
        if self.__code:
            return f"{self.__code}, {super().__str__()}"
        return super().__str__()

    @property
    def code(self) -> Optional[int]:
        return self.__code


class BadRequestException(ClientException):
    pass


class UnauthorizedException(ClientException):
    pass


class PaymentRequiredException(ClientException):
    pass


class ForbiddenException(ClientException):
    pass


class NotFoundException(ClientException):
    pass


class PayloadTooLargeException(ClientException):
    pass


class PayloadEmptyException(ClientException):
    pass


class TooManyRequestsException(ClientException):
    pass


class LiteTopicQuotaExceededException(ClientException):
    pass


class LiteSubscriptionQuotaExceededException(ClientException):
    pass


class RequestHeaderFieldsTooLargeException(ClientException):
    pass


class InternalErrorException(ClientException):
    pass


class ProxyTimeoutException(ClientException):
    pass


class UnsupportedException(ClientException):
    pass


class IllegalArgumentException(ClientException):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class IllegalStateException(ClientException):
    def __init__(self, message: str) -> None:
        super().__init__(message)


_BAD_REQUEST = {int(c) for c in Code if 40000 <= c < 40100}
_BY_CODE: Dict[int, Type[ClientException]] = {
    Code.UNAUTHORIZED: UnauthorizedException,
    Code.PAYMENT_REQUIRED: PaymentRequiredException,
    Code.FORBIDDEN: ForbiddenException,
    Code.NOT_FOUND: NotFoundException,
    Code.TOPIC_NOT_FOUND: NotFoundException,
    Code.CONSUMER_GROUP_NOT_FOUND: NotFoundException,
    Code.PAYLOAD_TOO_LARGE: PayloadTooLargeException,
    Code.MESSAGE_BODY_TOO_LARGE: PayloadTooLargeException,
    Code.MESSAGE_BODY_EMPTY: PayloadEmptyException,
    Code.TOO_MANY_REQUESTS: TooManyRequestsException,
    Code.LITE_TOPIC_QUOTA_EXCEEDED: LiteTopicQuotaExceededException,
    Code.LITE_SUBSCRIPTION_QUOTA_EXCEEDED: LiteSubscriptionQuotaExceededException,
    Code.REQUEST_HEADER_FIELDS_TOO_LARGE: RequestHeaderFieldsTooLargeException,
    Code.MESSAGE_PROPERTIES_TOO_LARGE: RequestHeaderFieldsTooLargeException,
    Code.INTERNAL_ERROR: InternalErrorException,
    Code.INTERNAL_SERVER_ERROR: InternalErrorException,
    Code.HA_NOT_AVAILABLE: InternalErrorException,
    Code.PROXY_TIMEOUT: ProxyTimeoutException,
    Code.MASTER_PERSISTENCE_TIMEOUT: ProxyTimeoutException,
    Code.SLAVE_PERSISTENCE_TIMEOUT: ProxyTimeoutException,
    Code.UNSUPPORTED: UnsupportedException,
    Code.VERSION_UNSUPPORTED: UnsupportedException,
    Code.VERIFY_FIFO_MESSAGE_UNSUPPORTED: UnsupportedException,
}


def exception_for_status(code: int, message: str) -> ClientException:
    """The exception the official client raises for a server status `code`."""
    if code in _BAD_REQUEST:
        return BadRequestException(message, code)
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(message, code)
    return ClientException(message, code)


def from_native(error: BaseException) -> ClientException:
    """The 5.x exception of a native ``GrpcClientError(kind, code, message)``."""
    args = tuple(getattr(error, "args", ()))
    if len(args) != 3:
        return ClientException(str(error))
    kind, code, message = args[0], args[1], args[2]
    if kind == "status" and code is not None:
        return exception_for_status(int(code), message)
    if kind == "state":
        return IllegalStateException(message)
    if kind == "argument":
        return IllegalArgumentException(message)
    return ClientException(message)


def raise_native(error: BaseException) -> NoReturn:
    raise from_native(error) from None
