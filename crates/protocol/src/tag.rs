//! Tag hash codes as the Java broker computes them (spec 5.2): `String.hashCode()` of the whole
//! `TAGS` value over UTF-16 code units, 32-bit wrapping, sign-extended to 64 bits.
//!
//! What must stay true: the result equals Java's for every string, including characters
//! outside the BMP (which count as two UTF-16 code units), because consume-queue entries
//! written by us are matched against hash codes computed by Java and C++ clients.

/// Java `String.hashCode()`: `h = 31*h + c` over UTF-16 code units, wrapping at 32 bits.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(unit as i32))
}

/// The consume-queue tags code of a message: the hash of its `TAGS` value sign-extended to
/// 64 bits, or 0 when the message has no tag (absent or empty).
pub fn tags_code(tags: Option<&str>) -> i64 {
    match tags {
        Some(t) if !t.is_empty() => java_string_hash(t) as i64,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_values() {
        assert_eq!(java_string_hash("TagA"), 2598919);
        assert_eq!(tags_code(Some("TagA")), 2598919);
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(tags_code(None), 0);
        assert_eq!(tags_code(Some("")), 0);
        // "hello world".hashCode() == 1794106052 in Java.
        assert_eq!(java_string_hash("hello world"), 1794106052);
        // Overflow into negative: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(tags_code(Some("polygenelubricants")), i32::MIN as i64);
    }

    #[test]
    fn counts_utf16_units() {
        // U+1F600 is the surrogate pair D83D DE00: 31*0xD83D + 0xDE00.
        assert_eq!(java_string_hash("\u{1F600}"), 31 * 0xD83D + 0xDE00);
        // U+00E9 is one unit.
        assert_eq!(java_string_hash("\u{e9}"), 0xE9);
    }
}
