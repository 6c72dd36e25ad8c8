"""The SQL92 table (sql92_cases.py) evaluated by both brokers: the same messages are sent
once to a one-queue topic on each side, then every expression is one pulled scan of the
queue (PULL_MESSAGE with expressionType SQL92 and the subscription bit, as Java's pull
consumers send it); the matched messages must be the expected column on Apache's broker (run
with enablePropertyFilter=true), and the same on ours. Every valid expression passes
CHECK_CLIENT_CONFIG on both; every invalid one is refused by both with the same code
(SUBSCRIPTION_PARSE_FAILED), and the remark says why. Apache's remark is the compiler's
exception as Java prints it, "<exception class>: <message>", e.g.
``org.apache.rocketmq.filter.parser.ParseException: Encountered "<EOF>" at line 1, column
9.`` followed by the tokens it expected, or ``java.lang.RuntimeException: Illegal values of
between, ...`` for a rule checked while compiling; ours need not name Java classes, but where
Apache's names a position ("line L, column C") ours names the same one.
"""

from __future__ import annotations

import json
import re
import time
from typing import Dict, Tuple

import pytest
from compare import both
from sql92_cases import CASES, INVALID, MESSAGES
from wire import PULL_MESSAGE, PULL_SUBSCRIPTION, SUCCESS, decode_records

#: Where a parse error points, in Apache's remark and ours.
POSITION = re.compile(r"line \d+, column \d+")
#: Apache's remark: a Java exception's toString().
JAVA_EXCEPTION = re.compile(r"^[a-z][\w.]*\.[A-Z]\w*: \S")
CHECK_CLIENT_CONFIG = 46
SUBSCRIPTION_PARSE_FAILED = 23
GROUP = "diff-sql92"
#: What the table must use at least once (grammar operators, literals, TAGS).
OPERATORS = (
    " = ",
    "<>",
    " > ",
    ">=",
    " < ",
    "<=",
    " BETWEEN ",
    "NOT BETWEEN",
    " IN ",
    "NOT IN",
    "IS NULL",
    "IS NOT NULL",
    " AND ",
    " OR ",
    "NOT ",
    "TRUE",
    "FALSE",
    "CONTAINS",
    "NOT CONTAINS",
    "STARTSWITH",
    "ENDSWITH",
    "TAGS",
    "'",
    ".",
)
#: Pulls of one scan at most (each answer moves on by at least one message).
MAX_PULLS = len(MESSAGES) + 2


@pytest.fixture(scope="module")
def table_topic(sides):
    """A one-queue topic on each side holding MESSAGES in order (body = the message id)."""
    topic = f"DiffSql92x{int(time.time() * 1000)}"
    assert both(sides, lambda side: side.create_topic(topic, queues=1).code) == (0, 0)
    both(sides, lambda side: side.wait_for_route(topic))

    def fill(side):
        for ident, tag, props in MESSAGES:
            properties = dict(props)
            if tag is not None:
                properties["TAGS"] = tag
            reply = side.send(topic, queue_id=0, body=ident.encode(), properties=properties)
            assert reply.code == SUCCESS, (side, reply.remark)
        side.wait_for_max_offset(topic, 0, len(MESSAGES))

    both(sides, fill)
    return topic


def scan(side, topic: str, expression: str):
    """The ids of the messages ``expression`` matches, or ``(code, remark)`` of a refusal."""
    got, offset = [], 0
    for _ in range(MAX_PULLS):
        reply = side.broker(
            PULL_MESSAGE,
            {
                "consumerGroup": GROUP,
                "topic": topic,
                "queueId": 0,
                "queueOffset": offset,
                "maxMsgNums": 32,
                "sysFlag": PULL_SUBSCRIPTION,
                "commitOffset": 0,
                "suspendTimeoutMillis": 0,
                "subscription": expression,
                "subVersion": 0,
                "expressionType": "SQL92",
            },
        )
        if reply.code == SUCCESS:
            got += [r.body.decode() for r in decode_records(reply.body)]
        elif reply.code not in (19, 20):  # PULL_NOT_FOUND, PULL_RETRY_IMMEDIATELY
            return (reply.code, reply.remark)
        offset = int(reply.ext_fields.get("nextBeginOffset", offset))
        if offset >= len(MESSAGES):
            return frozenset(got)
    raise AssertionError(f"{side.kind}: {expression!r} did not reach the end of the queue")


def check(side, topic: str, expression: str) -> Tuple[int, str]:
    """CHECK_CLIENT_CONFIG of an SQL92 subscription, as Java's checkClientInBroker sends it."""
    body = {
        "clientId": "127.0.0.1@diff-sql92",
        "group": GROUP,
        "subscriptionData": {
            "topic": topic,
            "subString": expression,
            "expressionType": "SQL92",
            "tagsSet": [],
            "codeSet": [],
            "subVersion": int(time.time() * 1000),
            "classFilterMode": False,
        },
    }
    reply = side.broker(CHECK_CLIENT_CONFIG, {}, json.dumps(body).encode())
    return reply.code, reply.remark or ""


@pytest.fixture(scope="module")
def results(sides, table_topic) -> Dict[str, Dict[str, object]]:
    """side kind -> expression -> matched ids (or the refusal), both sides at once."""

    def run(side):
        return {expression: scan(side, table_topic, expression) for expression, _ in CASES}

    ours, apache = both(sides, run)
    return {"ours": ours, "apache": apache}


def test_the_table_covers_every_operator():
    assert len(CASES) >= 60
    text = " ".join(expression.upper() for expression, _ in CASES)
    for operator in OPERATORS:
        assert operator in text, operator


@pytest.mark.parametrize("expression, expected", CASES, ids=[e for e, _ in CASES])
def test_apache_matches_the_expected_column(results, expression, expected):
    assert results["apache"][expression] == expected


@pytest.mark.parametrize("expression, expected", CASES, ids=[e for e, _ in CASES])
def test_ours_matches_apache_and_the_expected_column(results, expression, expected):
    ours, apache = results["ours"][expression], results["apache"][expression]
    assert ours == apache, f"ours={sorted(ours)!r} apache={sorted(apache)!r}"
    assert ours == expected


def test_valid_expressions_pass_the_client_config_check(sides, table_topic):
    def run(side):
        return {e: check(side, table_topic, e)[0] for e, _ in CASES}

    ours, apache = both(sides, run)
    assert apache == {e: SUCCESS for e, _ in CASES}
    assert ours == apache


@pytest.mark.parametrize("expression", INVALID)
def test_invalid_expressions_are_refused_by_both(sides, table_topic, expression):
    (our_code, our_remark), (apache_code, apache_remark) = both(
        sides, lambda side: check(side, table_topic, expression)
    )
    assert apache_code == SUBSCRIPTION_PARSE_FAILED, apache_remark
    assert JAVA_EXCEPTION.match(apache_remark), apache_remark
    assert our_code == apache_code, our_remark
    assert our_remark.strip(), "our refusal gives no reason"
    position = POSITION.search(apache_remark)
    if position:
        assert position.group(0) in our_remark, (apache_remark, our_remark)
