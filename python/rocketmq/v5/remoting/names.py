"""Namespaces of the 5.x API over remoting, as the Apache proxy applies them: a resource
``name`` of namespace ``ns`` is ``ns%name`` on the brokers (``%RETRY%ns%group`` and
``%DLQ%ns%group`` for the group's retry and dead-letter topics); what comes back is shown
without it.

What must stay true: ``unwrap(ns, wrap(ns, name)) == name``; an empty namespace changes
nothing; a name already in the namespace is not wrapped twice.
"""

from __future__ import annotations

#: Between a namespace and the name it holds.
SEPARATOR = "%"
#: Prefixes kept in front of the namespace.
PREFIXES = ("%RETRY%", "%DLQ%")


def wrap(namespace: str, name: str) -> str:
    """`name` as the brokers know it in `namespace`."""
    if not namespace or not name:
        return name
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return prefix + wrap(namespace, name[len(prefix) :])
    head = namespace + SEPARATOR
    return name if name.startswith(head) else head + name


def unwrap(namespace: str, name: str) -> str:
    """A broker's `name` as the application in `namespace` knows it."""
    if not namespace or not name:
        return name
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return prefix + unwrap(namespace, name[len(prefix) :])
    head = namespace + SEPARATOR
    return name[len(head) :] if name.startswith(head) else name
