//! Values of an evaluation and Java's comparison rules between them
//! (`ComparisonExpression.__compare` with string conversion on, as `SelectorParser.parse`
//! always sets it).
//!
//! What must stay true:
//! - a property is always a string (the broker's evaluation context hands properties over as
//!   strings); constants are `Integer`, `Long`, `Double`, `String`, `Boolean` or null;
//! - mixed types convert as Java does: the narrower number widens, a string is parsed to the
//!   other side's number type (`Integer.valueOf`, `Long.valueOf`, `Double.valueOf`), a string
//!   against a boolean becomes `Boolean.valueOf`; a parse failure, and a boolean on the left
//!   of a string (Java's `ClassCastException`), is an evaluation failure ([`Failed`]);
//!   anything else of different types compares as "less" (-1);
//! - no allocation: strings are borrowed from the expression or the message.

use std::cmp::Ordering;

/// A value during evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(&'a str),
}

/// The evaluation threw in Java; the message then does not match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failed;

impl Value<'_> {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Java `a.equals(b)`: same class and same value (`Double.equals` compares bits).
pub fn java_equals(a: Value<'_>, b: Value<'_>) -> bool {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Long(x), Value::Long(y)) => x == y,
        (Value::Double(x), Value::Double(y)) => double_bits(x) == double_bits(y),
        (Value::Str(x), Value::Str(y)) => x == y,
        _ => false,
    }
}

fn double_bits(d: f64) -> i64 {
    if d.is_nan() {
        0x7ff8_0000_0000_0000
    } else {
        d.to_bits() as i64
    }
}

/// Java `Double.compare`.
pub fn java_double_cmp(a: f64, b: f64) -> Ordering {
    if a < b {
        Ordering::Less
    } else if a > b {
        Ordering::Greater
    } else {
        double_bits(a).cmp(&double_bits(b))
    }
}

/// Java `String.compareTo`: UTF-16 code units.
fn java_string_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Java `Integer.valueOf(String)`.
pub fn java_int(s: &str) -> Result<i32, Failed> {
    s.parse::<i32>().map_err(|_| Failed)
}

/// Java `Long.valueOf(String)`.
pub fn java_long(s: &str) -> Result<i64, Failed> {
    s.parse::<i64>().map_err(|_| Failed)
}

/// Java `Boolean.valueOf(String)`: `true` in any case, everything else false.
pub fn java_bool(s: &str) -> bool {
    s.eq_ignore_ascii_case("true")
}

/// Java `Double.valueOf(String)` for decimal input: surrounding blanks (chars up to U+0020)
/// are ignored, a sign, `NaN`, `Infinity`, and a trailing `f`/`F`/`d`/`D` are accepted.
/// Java's hexadecimal floating-point form (`0x1p3`) is not.
pub fn java_double(s: &str) -> Result<f64, Failed> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let (negative, body) = match t.as_bytes().first() {
        Some(b'+') => (false, &t[1..]),
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    let magnitude = match body {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        _ => {
            let body = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
            if !is_java_decimal(body) {
                return Err(Failed);
            }
            body.parse::<f64>().map_err(|_| Failed)?
        }
    };
    Ok(if negative { -magnitude } else { magnitude })
}

/// `digits [. digits] [(e|E) [+-] digits]` with at least one mantissa digit.
fn is_java_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut mantissa_digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// Java `ComparisonExpression.__compare(lv, rv, true)` on two non-null values, as -1/0/1.
pub fn java_compare(lv: Value<'_>, rv: Value<'_>) -> Result<Ordering, Failed> {
    use Value::*;
    Ok(match (lv, rv) {
        (Bool(a), Bool(b)) => a.cmp(&b),
        (Int(a), Int(b)) => a.cmp(&b),
        (Long(a), Long(b)) => a.cmp(&b),
        (Double(a), Double(b)) => java_double_cmp(a, b),
        (Str(a), Str(b)) => java_string_cmp(a, b),
        // Java casts the Boolean to String here and throws ClassCastException.
        (Bool(_), Str(_)) => return Err(Failed),
        (Int(a), Long(b)) => (a as i64).cmp(&b),
        (Int(a), Double(b)) => java_double_cmp(a as f64, b),
        (Int(a), Str(b)) => a.cmp(&java_int(b)?),
        (Long(a), Int(b)) => a.cmp(&(b as i64)),
        (Long(a), Double(b)) => java_double_cmp(a as f64, b),
        (Long(a), Str(b)) => a.cmp(&java_long(b)?),
        (Double(a), Int(b)) => java_double_cmp(a, b as f64),
        (Double(a), Long(b)) => java_double_cmp(a, b as f64),
        (Double(a), Str(b)) => java_double_cmp(a, java_double(b)?),
        (Str(a), Bool(b)) => java_bool(a).cmp(&b),
        (Str(a), Int(b)) => java_int(a)?.cmp(&b),
        (Str(a), Long(b)) => java_long(a)?.cmp(&b),
        (Str(a), Double(b)) => java_double_cmp(java_double(a)?, b),
        // Null never gets here; a number against a boolean is "less" in Java.
        _ => Ordering::Less,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_double_accepts_what_java_accepts() {
        assert_eq!(java_double(" 1.5 "), Ok(1.5));
        assert_eq!(java_double("1.5d"), Ok(1.5));
        assert_eq!(java_double("-2e3"), Ok(-2000.0));
        assert_eq!(java_double(".5"), Ok(0.5));
        assert_eq!(java_double("5."), Ok(5.0));
        assert_eq!(java_double("-Infinity"), Ok(f64::NEG_INFINITY));
        assert!(java_double("NaN").unwrap().is_nan());
        for bad in ["", ".", "abc", "inf", "nan", "1e", "1.2.3", "1_0", "0x10"] {
            assert_eq!(java_double(bad), Err(Failed), "{bad:?}");
        }
    }

    #[test]
    fn mixed_types_convert_like_java() {
        use Value::*;
        assert_eq!(java_compare(Str("5"), Int(5)), Ok(Ordering::Equal));
        assert_eq!(java_compare(Int(5), Str("6")), Ok(Ordering::Less));
        assert_eq!(java_compare(Str("5.0"), Int(5)), Err(Failed));
        assert_eq!(java_compare(Str("5.0"), Double(5.0)), Ok(Ordering::Equal));
        assert_eq!(java_compare(Str("3000000000"), Int(1)), Err(Failed));
        assert_eq!(
            java_compare(Str("3000000000"), Long(1)),
            Ok(Ordering::Greater)
        );
        assert_eq!(java_compare(Str("TRUE"), Bool(true)), Ok(Ordering::Equal));
        assert_eq!(java_compare(Bool(true), Str("true")), Err(Failed));
        assert_eq!(java_compare(Int(1), Bool(true)), Ok(Ordering::Less));
        assert_eq!(java_compare(Double(-0.0), Double(0.0)), Ok(Ordering::Less));
    }
}
