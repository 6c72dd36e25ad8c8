"""Argument checking and conversion shared by the thread and asyncio APIs (private).

Every string argument accepts ``str`` or UTF-8 ``bytes``; anything else is a ``TypeError``
that names the argument, never a crash in native code.
"""

from typing import Any, Union

StrOrBytes = Union[str, bytes]


def maybe_decode(val: StrOrBytes) -> str:
    """``bytes`` -> ``str`` (UTF-8); ``str`` passes through; anything else is a TypeError."""
    if isinstance(val, bytes):
        return val.decode("utf-8")
    if isinstance(val, str):
        return val
    raise TypeError("Expect bytes or str, got %s" % type(val).__name__)


# Public through rocketmq.client, as in the originals.
maybe_decode.__module__ = "rocketmq.client"


def to_bytes(s: Any) -> Any:
    """``str`` -> UTF-8 ``bytes``; anything else passes through."""
    if isinstance(s, str):
        return s.encode("utf-8")
    return s


def as_text(value: Any, what: str) -> str:
    """A string argument given as ``str`` or ``bytes``; a clear TypeError otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")
    raise TypeError(
        "%s must be str or bytes, got %s"
        % (what, "None" if value is None else type(value).__name__)
    )


def as_property_text(value: Any, what: str) -> str:
    """A property key or value: text without the wire's separators ``\\x01``/``\\x02``."""
    text = as_text(value, what)
    if "\x01" in text or "\x02" in text:
        raise ValueError("%s must not contain the characters \\x01 or \\x02" % what)
    return text


def as_int(value: Any, what: str) -> int:
    """An int argument; ``bool`` and everything else is a TypeError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, got %s" % (what, type(value).__name__))
    return value
