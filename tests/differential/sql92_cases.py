"""The SQL92 table: messages (tags and user properties), expressions over them with the
messages each must match by Java's semantics, and expressions every broker must refuse.

The expected column follows apache/rocketmq's ``filter`` module (its SelectorParser grammar,
ComparisonExpression, UnaryExpression, LogicExpression, ConstantExpression and
``ExpressionTest``) applied to what a broker sees: every property value is a string.
The rules the rows exercise:

* an integer literal is an ``Integer`` (a ``Long`` beyond 32 bits), a decimal literal a
  ``Double``; a property compared with a number is converted to that literal's type
  (``Integer.valueOf``, ``Long.valueOf``, ``Double.valueOf``), so ``a > 3`` with a = "3.5"
  or "10000000000" fails to convert, and a failed conversion makes the whole expression
  unmatched for that message (the broker catches the exception);
* a property compared with TRUE/FALSE is ``Boolean.valueOf`` of its text (case-insensitive
  "true" is true, anything else false); a bare property used as a condition is false when
  present (it is not a Boolean) and unknown when missing, so ``NOT flag`` matches every
  message that has ``flag``;
* a missing property makes a comparison, BETWEEN and IN unknown (never matched, and NOT of it
  is unknown too); AND/OR follow three-valued logic (FALSE AND unknown = FALSE, TRUE OR
  unknown = TRUE); IS NULL is true for it; CONTAINS, NOT CONTAINS, STARTSWITH and ENDSWITH are
  FALSE for it (so ``NOT (x CONTAINS 'a')`` matches a message without x, ``x NOT CONTAINS
  'a'`` does not) and FALSE for an empty search string;
* ``=`` and IN compare strings exactly (``a IN ('3')`` does not match "03", ``a = 3`` does);
* property names are case-sensitive, keywords are not; TAGS is the message's tag.

Invalid expressions are refused when compiled (CHECK_CLIENT_CONFIG answers
SUBSCRIPTION_PARSE_FAILED): syntax errors, ``BETWEEN`` with a lower bound above the upper,
``>``/``<`` against a string literal, IN with numbers, comparisons with NULL, constants of
different types compared, and a decimal literal below Double.MIN_VALUE (Java's
ConstantExpression refuses ``0.0``; ``-1.5`` is the negation of 1.5 and is fine). Java's
parser stops at the first token that cannot continue an expression without requiring the
end of the input, so ``a LIKE 'x%'`` compiles (as the bare property ``a``): such inputs are
left out of both lists.
"""

from typing import Dict, FrozenSet, List, Optional, Tuple

#: (id, tag or None, user properties)
MESSAGES: List[Tuple[str, Optional[str], Dict[str, str]]] = [
    ("m0", "TagA", {"a": "1", "region": "eu", "price": "9.5", "flag": "true", "name": "alpha"}),
    ("m1", "TagB", {"a": "3", "region": "us", "price": "10", "flag": "false", "name": "beta"}),
    (
        "m2",
        "TagA",
        {"a": "5", "region": "eu", "price": "100.25", "flag": "TRUE", "name": "alphabet"},
    ),
    ("m3", "TagC", {"a": "3.5", "region": "apac", "name": "gamma"}),
    ("m4", None, {"a": "abc", "region": "eu", "name": "it's"}),
    ("m5", "TagB", {"a": "-3", "price": "0", "name": "delta"}),
    ("m6", "TagA", {}),
    ("m7", "TagD", {"a": "10000000000", "region": "EU", "flag": "yes", "name": "omega"}),
    ("m8", "TagC", {"a": "03", "region": "eu", "price": "9.99", "name": "alpha beta"}),
]

ALL = frozenset(m for m, _, _ in MESSAGES)


def _ids(text: str) -> FrozenSet[str]:
    return frozenset(text.split())


#: (expression, ids of the messages it matches)
CASES: List[Tuple[str, FrozenSet[str]]] = [
    # = and <> against integers: the property is converted; "3.5", "abc" and a value beyond
    # 32 bits fail to convert and are not matched either way.
    ("a = 3", _ids("m1 m8")),
    ("a <> 3", _ids("m0 m2 m5")),
    ("a = '3'", _ids("m1")),
    ("a = 3.0", _ids("m1 m8")),
    ("a = 10000000000", _ids("m7")),
    # ordering comparisons
    ("a > 3", _ids("m2")),
    ("a >= 3", _ids("m1 m2 m8")),
    ("a < 3", _ids("m0 m5")),
    ("a <= 3", _ids("m0 m1 m5 m8")),
    ("a > 3.0", _ids("m2 m3 m7")),
    ("a < 0", _ids("m5")),
    ("a > -5", _ids("m0 m1 m2 m5 m8")),
    ("a > 1 AND a < 5", _ids("m1 m8")),
    ("NOT (a > 1)", _ids("m0 m5")),
    # BETWEEN / NOT BETWEEN (AND of >= and <=, OR of < and >); a mixed-type range converts
    # the property twice, "3.5" fails the integer bound.
    ("a BETWEEN 1 AND 3", _ids("m0 m1 m8")),
    ("a NOT BETWEEN 1 AND 3", _ids("m2 m5")),
    ("a BETWEEN 3.0 AND 5", _ids("m1 m2 m8")),
    ("price BETWEEN 9.5 AND 10.0", _ids("m0 m1 m8")),
    # decimals; an integer literal against a decimal text fails to convert
    ("price > 9.9", _ids("m1 m2 m8")),
    ("price >= 10", _ids("m1")),
    ("price < 10.0", _ids("m0 m5 m8")),
    ("price = 10.0", _ids("m1")),
    # IN / NOT IN compare strings exactly
    ("a IN ('1', '3', 'abc')", _ids("m0 m1 m4")),
    ("a NOT IN ('1', '3', 'abc')", _ids("m2 m3 m5 m7 m8")),
    ("a IN ('03')", _ids("m8")),
    ("region IN ('eu', 'us')", _ids("m0 m1 m2 m4 m8")),
    ("region NOT IN ('eu')", _ids("m1 m3 m7")),
    ("region NOT IN ('eu', 'EU', 'us')", _ids("m3")),
    # IS [NOT] NULL
    ("a IS NULL", _ids("m6")),
    ("a IS NOT NULL", ALL - {"m6"}),
    ("a <> 3 OR a IS NULL", _ids("m0 m2 m5 m6")),
    # strings
    ("region = 'eu'", _ids("m0 m2 m4 m8")),
    ("region <> 'eu'", _ids("m1 m3 m7")),
    ("NOT (region = 'eu')", _ids("m1 m3 m7")),
    ("name = 'it''s'", _ids("m4")),
    ("REGION = 'eu'", frozenset()),
    # AND / OR / NOT, three-valued
    ("region = 'eu' AND a > 2", _ids("m2 m8")),
    ("region = 'eu' OR a = 3", _ids("m0 m1 m2 m4 m8")),
    ("region = 'eu' and a >= 5", _ids("m2")),
    ("(a < 0 OR a > 4) AND region IS NOT NULL", _ids("m2")),
    ("region = 'eu' AND (name STARTSWITH 'al' OR TAGS = 'TagB')", _ids("m0 m2 m8")),
    # TRUE / FALSE
    ("TRUE", ALL),
    ("FALSE", frozenset()),
    ("TRUE AND a IS NULL", _ids("m6")),
    ("FALSE OR region = 'us'", _ids("m1")),
    ("flag = TRUE", _ids("m0 m2")),
    ("flag = FALSE", _ids("m1 m7")),
    ("flag <> TRUE", _ids("m1 m7")),
    ("flag", frozenset()),
    ("NOT flag", _ids("m0 m1 m2 m7")),
    # CONTAINS / NOT CONTAINS / STARTSWITH / ENDSWITH
    ("name CONTAINS 'alpha'", _ids("m0 m2 m8")),
    ("name NOT CONTAINS 'alpha'", _ids("m1 m3 m4 m5 m7")),
    ("NOT (name CONTAINS 'alpha')", _ids("m1 m3 m4 m5 m6 m7")),
    ("name CONTAINS ''", frozenset()),
    ("name STARTSWITH 'al'", _ids("m0 m2 m8")),
    ("name ENDSWITH 'a'", _ids("m0 m1 m3 m5 m7 m8")),
    ("name ENDSWITH 'bet'", _ids("m2")),
    ("name STARTSWITH 'alpha' AND name ENDSWITH 'beta'", _ids("m8")),
    ("name NOT STARTSWITH 'al'", _ids("m1 m3 m4 m5 m7")),
    ("name NOT ENDSWITH 'a'", _ids("m2 m4")),
    # missing properties
    ("missing = 'x'", frozenset()),
    ("missing IS NULL", ALL),
    ("missing <> 'x'", frozenset()),
    ("missing > 1 OR TRUE", ALL),
    ("missing > 1 AND TRUE", frozenset()),
    ("NOT (missing > 1)", frozenset()),
    # TAGS
    ("TAGS = 'TagA'", _ids("m0 m2 m6")),
    ("TAGS IN ('TagB', 'TagC')", _ids("m1 m3 m5 m8")),
    ("TAGS IS NULL", _ids("m4")),
    ("TAGS NOT IN ('TagA')", _ids("m1 m3 m5 m7 m8")),
    ("TAGS <> 'TagA' AND TAGS IS NOT NULL", _ids("m1 m3 m5 m7 m8")),
]

#: Expressions every broker refuses to compile.
INVALID: List[str] = [
    "a >== 5",
    "region = ",
    "(a > 1",
    "a # 1",
    "a BETWEEN 5 AND 1",
    "a > 'x'",
    "a IN (1, 2)",
    "a = NULL",
    "TRUE = 1",
    "AND a = 1",
    "a > 0.0",
]
