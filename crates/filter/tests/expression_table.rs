//! The SQL92 table: expressions x property maps with the result Java's broker gives (its
//! `ExpressionTest` semantics with every property a string, as the broker's evaluation context
//! hands them over), and rejected expressions with the position and reason.
//!
//! The maps are ones a message can carry through a broker: no empty values (Java's property
//! decoder drops a property whose value is empty, and so does ours), so the same rows can be
//! sent to a real broker and pulled back.

use rocketmq_filter::Expression;

type Props = &'static [(&'static str, &'static str)];

const P0: Props = &[];
const P1: Props = &[
    ("a", "3"),
    ("b", "5"),
    ("region", "eu"),
    ("amount", "250"),
    ("TAGS", "TagA"),
    ("name", "axb"),
];
const P2: Props = &[
    ("a", "10"),
    ("b", "4"),
    ("region", "us"),
    ("amount", "99.5"),
    ("TAGS", "TagB"),
    ("name", "abb"),
];
const P3: Props = &[
    ("a", "abc"),
    ("b", "3000000000"),
    ("region", "EU"),
    ("amount", "-1"),
    ("TAGS", "it's"),
    ("name", "xyz"),
    ("flag", "TRUE"),
];
const MAPS: [Props; 4] = [P0, P1, P2, P3];

const T: bool = true;
const F: bool = false;

/// (expression, expected for P0, P1, P2, P3).
const TABLE: &[(&str, [bool; 4])] = &[
    // Comparisons of a string property with numbers convert the string (Integer.valueOf for an
    // int literal): "abc" fails to convert, which makes the whole evaluation fail (no match).
    ("a = 3", [F, T, F, F]),
    ("a <> 3", [F, F, T, F]),
    ("a = '3'", [F, T, F, F]),
    ("a > 5", [F, F, T, F]),
    ("a >= 3", [F, T, T, F]),
    ("a < 10", [F, T, F, F]),
    ("a <= 10", [F, T, T, F]),
    ("amount > 100", [F, T, F, F]),
    ("amount > 100.0", [F, T, F, F]),
    ("amount < 100.0", [F, F, T, T]),
    ("amount = 250", [F, T, F, F]),
    ("amount = 99.5", [F, F, T, F]),
    ("amount >= -1", [F, T, F, T]),
    ("amount >= -1.0", [F, T, T, T]),
    ("amount > 1e2", [F, T, F, F]),
    ("a = 3.0", [F, T, F, F]),
    ("3 = a", [F, T, F, F]),
    ("+a = 3", [F, T, F, F]),
    // 2147483647 is an Integer (the string must fit an int), 2147483648 a Long.
    ("b > 2147483647", [F, F, F, F]),
    ("b > 2147483648", [F, F, F, T]),
    ("b > 2147483648L", [F, F, F, T]),
    // Two strings: > and < compare them as doubles; = compares them as strings.
    ("a > b", [F, F, T, F]),
    ("a = b", [T, F, F, F]),
    ("a <> b", [F, T, T, T]),
    // Null on the left of = is unknown; null on the right only is false.
    ("'eu' = region", [F, T, F, F]),
    ("'eu' <> region", [T, F, T, T]),
    ("region <> 'eu'", [F, F, T, T]),
    ("RegioN = 'eu'", [F, F, F, F]),
    // Logic: three-valued, short-circuit, and an evaluation failure ends everything.
    ("region = 'eu' AND amount > 100", [F, T, F, F]),
    ("region = 'eu' OR amount > 100", [F, T, F, F]),
    ("region = 'eu' and a = 3", [F, T, F, F]),
    ("a = 3 OR b = 4", [F, T, T, F]),
    ("b = 4 OR a = 3", [F, T, T, F]),
    ("a = 3 AND b = 5", [F, T, F, F]),
    ("(a = 3 OR a = 10) AND TAGS = 'TagB'", [F, F, T, F]),
    ("a = 3 OR a = 10 AND TAGS = 'TagB'", [F, T, T, F]),
    ("NOT (a = 3)", [F, F, T, F]),
    ("NOT (region = 'eu' OR region = 'us')", [F, F, F, T]),
    // Unary NOT binds tighter than =: (NOT a) = 3 compares a boolean with a number.
    ("NOT a = 3", [F, F, F, F]),
    ("a = 3 = TRUE", [F, T, F, F]),
    // IN / NOT IN (strings only; a missing property is unknown).
    ("region IN ('eu', 'us')", [F, T, T, F]),
    ("region NOT IN ('eu', 'us')", [F, F, F, T]),
    ("region IN ('a', 'b', 'c', 'd', 'eu')", [F, T, F, F]),
    ("a IN ('3') OR a IN ('10')", [F, T, T, F]),
    ("TAGS IN ('TagA', 'TagB')", [F, T, T, F]),
    // BETWEEN is >= AND <=; NOT BETWEEN is < OR >.
    ("a BETWEEN 2 AND 10", [F, T, T, F]),
    ("a NOT BETWEEN 2 AND 5", [F, F, T, F]),
    ("a BETWEEN 2.5 AND 3.5", [F, T, F, F]),
    ("amount BETWEEN 0.5 AND 300", [F, T, F, F]),
    // IS [NOT] NULL.
    ("a IS NULL", [T, F, F, F]),
    ("a IS NOT NULL", [F, T, T, T]),
    ("flag IS NULL", [T, T, T, F]),
    ("name IS NOT NULL AND name = 'xyz'", [F, F, F, T]),
    // CONTAINS family: false on null and on an empty search string, NOT forms included.
    ("name CONTAINS 'x'", [F, T, F, T]),
    ("name NOT CONTAINS 'x'", [F, F, T, F]),
    ("name STARTSWITH 'ab'", [F, F, T, F]),
    ("name NOT STARTSWITH 'ab'", [F, T, F, T]),
    ("name ENDSWITH 'b'", [F, T, T, F]),
    ("name NOT ENDSWITH 'b'", [F, F, F, T]),
    ("name CONTAINS ''", [F, F, F, F]),
    ("name NOT CONTAINS ''", [F, F, F, F]),
    (
        "TAGS STARTSWITH 'Tag' AND NOT (TAGS = 'TagB')",
        [F, T, F, F],
    ),
    // TAGS is a property like the others.
    ("TAGS = 'TagA'", [F, T, F, F]),
    ("TAGS = 'it''s'", [F, F, F, T]),
    // Constants and booleans: a string property is never a Boolean, but = TRUE converts it.
    ("TRUE", [T, T, T, T]),
    ("FALSE", [F, F, F, F]),
    ("NULL", [F, F, F, F]),
    ("flag", [F, F, F, F]),
    ("NOT flag", [F, F, F, T]),
    ("flag = TRUE", [F, F, F, T]),
    ("flag = FALSE", [F, F, F, F]),
    ("-a > 0", [F, F, F, F]),
    // Comments, case and trailing text (Java's parser never reads past the expression).
    ("region = 'eu' -- the region\n", [F, T, F, F]),
    ("region = 'eu' /* c */ AND a = 3", [F, T, F, F]),
    ("region = 'eu' trailing words", [F, T, F, F]),
];

fn lookup(map: Props) -> impl Fn(&str) -> Option<&'static str> {
    move |name: &str| map.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

#[test]
fn table_matches_java() {
    assert!(TABLE.len() >= 60, "the table has {} rows", TABLE.len());
    let mut wrong = Vec::new();
    for (text, expected) in TABLE {
        let e = Expression::parse(text).unwrap_or_else(|err| panic!("{text:?}: {err}"));
        for (i, map) in MAPS.iter().enumerate() {
            let got = e.evaluate(&lookup(map));
            if got != expected[i] {
                wrong.push(format!("{text:?} on P{i}: got {got}, want {}", expected[i]));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn an_empty_value_is_a_string_to_the_evaluator() {
    // Brokers never hand one over (see the header), but the evaluator treats it as Java's
    // does: a present, empty string.
    let empty = |n: &str| (n == "name").then_some("");
    for (text, expected) in [
        ("name IS NOT NULL AND name = ''", true),
        ("name NOT CONTAINS 'x'", true),
        ("name STARTSWITH 'x'", false),
        ("name > 1", false),
    ] {
        assert_eq!(
            Expression::parse(text).unwrap().evaluate(&empty),
            expected,
            "{text}"
        );
    }
}

#[test]
fn parser_test_valid_expressions_parse() {
    // Java ParserTest.testParse_valid (`now` is a property: this grammar has no NOW).
    for text in [
        "a=3 and b<>4 And c>5 AND d<=4",
        "a=3 or b<>4 Or c>5 OR d<=4",
        "a in ('3', '4', '5')",
        "(a not in ('6', '4', '5')) or (b in ('3', '4', '5'))",
        "(a between 2 and 10) AND (b not between 6 and 9)",
        "a is null",
        "a is not null",
        "a <= now",
        "a=3 and b contains 'xxx' and c not contains 'xxx'",
    ] {
        Expression::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
    // ExpressionTest.stringHasString: '' inside a literal is one quote.
    let e = Expression::parse("TAGS is not null and TAGS='''''tag'''''").unwrap();
    assert!(e.evaluate(&|n: &str| (n == "TAGS").then_some("''tag''")));
    assert!(!e.evaluate(&|n: &str| (n == "TAGS").then_some("'tag'")));
}

/// (expression, line, column, a piece of the reason).
const INVALID: &[(&str, u32, u32, &str)] = &[
    ("a and between 2 and 10", 1, 7, "encountered \"between\""),
    (" a between 10 and 0", 1, 4, "Illegal values of between"),
    (
        "a > 100000000000000000000000",
        1,
        5,
        "100000000000000000000000",
    ),
    ("amount > '100'", 1, 8, "Value ''100'' cannot be compared"),
    ("a > TRUE", 1, 3, "Value 'TRUE' cannot be compared"),
    ("a > (b = 1)", 1, 3, "cannot be compared"),
    ("a = NULL", 1, 3, "'NULL' cannot be compared"),
    ("TRUE = 'x'", 1, 6, "'TRUE' cannot be compared with ''x''"),
    ("5 AND a", 1, 1, "will not result in a boolean value: 5"),
    ("NOT 5", 1, 5, "will not result in a boolean value: 5"),
    (
        "a = 1 OR 'x'",
        1,
        10,
        "will not result in a boolean value: 'x'",
    ),
    ("a IN (1, 2)", 1, 7, "was expecting a string literal"),
    ("3 IN ('a')", 1, 3, "Expected a property for In expression"),
    ("a > 0.0", 1, 5, "less than 4.9E-324"),
    ("a > 1e999", 1, 5, "greater than"),
    ("a NOT b", 1, 3, "encountered \"NOT\""),
    ("a IS 5", 1, 6, "was expecting NULL or NOT NULL"),
    ("a BETWEEN 1 OR 2", 1, 13, "was expecting AND"),
    ("a = 'open", 1, 10, "a string literal is not closed"),
    ("a = #1", 1, 5, "Lexical error"),
    ("(a = 1", 1, 6, "encountered <EOF>"),
    ("a = 1 AND\n  b > 'x'", 2, 5, "cannot be compared"),
    ("a = 1 AND\tb ! 2", 1, 19, "Lexical error"),
    ("", 1, 1, "encountered <EOF>"),
];

#[test]
fn invalid_expressions_name_position_and_reason() {
    let mut wrong = Vec::new();
    for (text, line, column, reason) in INVALID {
        match Expression::parse(text) {
            Ok(_) => wrong.push(format!("{text:?} parsed")),
            Err(e) => {
                let shown = e.to_string();
                if (e.line, e.column) != (*line, *column) || !e.reason.contains(reason) {
                    wrong.push(format!(
                        "{text:?}: got {shown:?}, want line {line}, column {column}, {reason:?}"
                    ));
                }
                assert!(shown.contains(&format!("line {line}, column {column}")));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn deep_expressions_are_refused_not_crashing() {
    let parens = format!("{}a = 1{}", "(".repeat(100_000), ")".repeat(100_000));
    let e = Expression::parse(&parens).unwrap_err();
    assert!(e.reason.contains("nested too deeply"), "{e}");
    let nots = format!("{}a", "NOT ".repeat(100_000));
    assert!(Expression::parse(&nots)
        .unwrap_err()
        .reason
        .contains("nested too deeply"));
    let chain = vec!["a = 1"; 100_000].join(" OR ");
    let e = Expression::parse(&chain).unwrap_err();
    assert!(e.reason.contains("too deep"), "{e}");
    // Realistic sizes pass: 60 parentheses, 300 chained conditions, a 2000-element IN list.
    let ok = format!("{}a = 1{}", "(".repeat(60), ")".repeat(60));
    assert!(Expression::parse(&ok)
        .unwrap()
        .evaluate(&|n: &str| (n == "a").then_some("1")));
    let chain = vec!["a = 1"; 300].join(" OR ");
    assert!(Expression::parse(&chain)
        .unwrap()
        .evaluate(&|n: &str| (n == "a").then_some("1")));
    let items: Vec<String> = (0..2000).map(|i| format!("'v{i}'")).collect();
    let e = Expression::parse(&format!("a IN ({})", items.join(", "))).unwrap();
    assert!(e.evaluate(&|n: &str| (n == "a").then_some("v1999")));
    assert!(!e.evaluate(&|n: &str| (n == "a").then_some("v2000")));
}
