"""Running the application's callbacks and reading their answers (private).

What must stay true: a callback's exception or unexpected return value never escapes into
the library's threads. It is logged (logger ``rocketmq``, with its traceback) and turns into
the safe outcome: a redelivery for consumers, ``UNKNOWN`` (the broker checks back) for
transactions.
"""

import logging
from typing import Any, Callable

from ._messages import ReceivedMessage
from ._results import TransactionStatus

log = logging.getLogger("rocketmq")


def call_quietly(fn: Callable[..., Any], *args: Any) -> None:
    """Calls ``fn(*args)``; an exception is logged and swallowed."""
    try:
        fn(*args)
    except BaseException:  # noqa: BLE001 - user callback errors are reported, not raised
        log.exception("exception in callback %r", fn)


_CONSUME_STATUS_ERROR = "Consume status error, please use enum 'ConsumeStatus' as response"


def consume_verdict(callback: Callable[[ReceivedMessage], Any], message: ReceivedMessage) -> bool:
    """Runs one consumer callback; True means consumed. None, 0 and CONSUME_SUCCESS are
    success; 1 and RECONSUME_LATER ask for redelivery; anything else, or an exception, is
    logged with its traceback and redelivered."""
    try:
        result = callback(message)
    except BaseException:  # noqa: BLE001 - a callback must never kill the consumer
        log.exception(
            "exception in consumer callback for message %s; it will be redelivered", message.id
        )
        return False
    return verdict_of(result, message)


def verdict_of(result: Any, message: ReceivedMessage) -> bool:
    """What a consumer callback's return value means (see ``consume_verdict``)."""
    if result is None:
        return True
    try:
        if result == 0:
            return True
        if result == 1:
            return False
    except Exception:  # noqa: BLE001 - odd __eq__ implementations count as invalid values
        pass
    try:
        raise ValueError(_CONSUME_STATUS_ERROR)
    except ValueError:
        log.exception(
            "callback returned %r for message %s; it will be redelivered", result, message.id
        )
    return False


_TRANSACTION_STATUS_ERROR = (
    "Transaction status error, please use enum 'TransactionStatus' as response"
)


def transaction_verdict(callback: Callable[..., Any], what: str, *args: Any) -> int:
    """Runs a local-transaction or check-back callback and returns its TransactionStatus
    value. COMMIT, ROLLBACK, UNKNOWN (or 0, 1, 2) are used as they are; an exception or any
    other value is logged with its traceback and gives UNKNOWN (the broker checks back)."""
    try:
        result = callback(*args)
    except BaseException:  # noqa: BLE001 - a callback must never break the producer
        log.exception("exception in %s %r; the transaction state is UNKNOWN", what, callback)
        return int(TransactionStatus.UNKNOWN)
    for status in TransactionStatus:
        try:
            if result == status:
                return int(status)
        except Exception:  # noqa: BLE001 - odd __eq__ implementations are invalid values
            break
    try:
        raise ValueError(_TRANSACTION_STATUS_ERROR)
    except ValueError:
        log.exception("%s %r returned %r; the transaction state is UNKNOWN", what, callback, result)
    return int(TransactionStatus.UNKNOWN)


def transaction_checker(
    checker_callback: Callable[[ReceivedMessage], Any],
) -> Callable[[ReceivedMessage], int]:
    """The native check-back callback: runs the user's checker and validates the answer. It
    holds the user's callback only (not the producer), so that no reference cycle keeps a
    dropped producer alive."""

    def check(msg: ReceivedMessage) -> int:
        return transaction_verdict(checker_callback, "transaction checker", msg)

    return check
