"""Namespaced names of the 5.x API over remoting (``rocketmq.v5.remoting.names``): where the
Apache proxy puts a namespace's topics and groups, and back."""

from __future__ import annotations

import pytest

from rocketmq.v5.remoting.names import unwrap, wrap


@pytest.mark.parametrize(
    "name, wrapped, short",
    [
        ("Orders", "ns1%Orders", "Orders"),
        ("ns1%Orders", "ns1%Orders", "Orders"),
        ("%RETRY%G1", "%RETRY%ns1%G1", "%RETRY%G1"),
        ("%DLQ%G1", "%DLQ%ns1%G1", "%DLQ%G1"),
        ("%RETRY%ns1%G1", "%RETRY%ns1%G1", "%RETRY%G1"),
        ("ns2%Orders", "ns1%ns2%Orders", "ns2%Orders"),
    ],
)
def test_names_wrap_and_unwrap(name, wrapped, short):
    assert wrap("ns1", name) == wrapped
    assert unwrap("ns1", wrapped) == short


def test_no_namespace_changes_nothing():
    for name in ("Orders", "%RETRY%G1", "a%b", ""):
        assert wrap("", name) == name and unwrap("", name) == name
    assert wrap("ns1", "") == ""
    # A name outside the namespace comes back as it is.
    assert unwrap("ns1", "other%Orders") == "other%Orders"
