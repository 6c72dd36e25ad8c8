//! Tag filtering of pulled messages (spec 5.2): a consumer's tag expression (`"TagA || TagB"`,
//! `"*"`) parsed the way Java `FilterAPI.buildSubscriptionData` and cpp `FilterAPI` parse it,
//! and the two checks made on each message.
//!
//! What must stay true:
//! - [`SubscriptionExpression::matches_code`] is the broker's consume-queue check (Java
//!   `ExpressionMessageFilter.isMatchedByConsumeQueue`): everything passes a match-all
//!   expression; otherwise the entry's tags code, truncated to 32 bits as Java's `(int)` cast
//!   does, must be one of the hash codes. Hash collisions pass; a message without a tag has
//!   tags code 0 and does not pass a non-empty tag set (Java's "no tagsCode" case is a null
//!   from the extended consume queue, which this store never produces).
//! - [`SubscriptionExpression::matches_tag`] is the exact re-check the clients make
//!   (`PullAPIWrapper.processPullResult`): with a non-empty tag set the `TAGS` string must be
//!   exactly one of the tags; a message without `TAGS` is dropped.
//! - Parsing never fails: any string gives an expression.

use rocketmq_protocol::tag::java_string_hash;
use std::collections::{BTreeSet, HashSet};

/// The expression that matches every message.
pub const SUB_ALL: &str = "*";

/// A parsed tag expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionExpression {
    /// The expression as the broker reports it back: `*` for match-all, else the input.
    sub_string: String,
    /// Trimmed, non-empty tags; empty means match-all.
    tags: BTreeSet<String>,
    /// Java `String.hashCode()` of each tag.
    codes: HashSet<i32>,
}

impl SubscriptionExpression {
    /// Parses a tag expression. Empty (after trimming) or `*` matches everything; otherwise
    /// the expression is split on `||`, each part trimmed, empty parts dropped.
    ///
    /// Java compares the untrimmed string with `*`, so `" * "` there becomes the literal tag
    /// `*` that no real message carries; here a padded `*` is read as match-all, which
    /// delivers a superset of what Java's broker would send (the client re-check of a Java
    /// consumer still applies its own rule).
    pub fn parse(expression: &str) -> Self {
        let trimmed = expression.trim();
        if trimmed.is_empty() || trimmed == SUB_ALL {
            return Self::all();
        }
        let tags: BTreeSet<String> = expression
            .split("||")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        if tags.is_empty() {
            // Only separators and blanks, e.g. "||": nothing to filter by.
            return Self::all();
        }
        let codes = tags.iter().map(|t| java_string_hash(t)).collect();
        SubscriptionExpression {
            sub_string: expression.to_string(),
            tags,
            codes,
        }
    }

    /// The match-all expression `*`.
    pub fn all() -> Self {
        SubscriptionExpression {
            sub_string: SUB_ALL.to_string(),
            tags: BTreeSet::new(),
            codes: HashSet::new(),
        }
    }

    /// Whether every message matches.
    pub fn is_all(&self) -> bool {
        self.tags.is_empty()
    }

    /// `*` for match-all, else the expression as given.
    #[cfg(test)]
    pub fn sub_string(&self) -> &str {
        &self.sub_string
    }

    /// The tag set (empty for match-all), sorted.
    #[cfg(test)]
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(String::as_str)
    }

    /// The hash-code set (empty for match-all).
    #[cfg(test)]
    pub fn codes(&self) -> impl Iterator<Item = i32> + '_ {
        self.codes.iter().copied()
    }

    /// The broker's consume-queue check on an entry's tags code.
    pub fn matches_code(&self, tags_code: i64) -> bool {
        // Java: codeSet.contains((int) tagsCode) — a truncating cast.
        self.is_all() || self.codes.contains(&(tags_code as i32))
    }

    /// The exact check on a message's `TAGS` property.
    pub fn matches_tag(&self, tag: Option<&str>) -> bool {
        if self.is_all() {
            return true;
        }
        match tag {
            Some(t) => self.tags.contains(t),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_protocol::tag::tags_code;

    #[test]
    fn match_all_forms() {
        for e in ["", "*", " * ", "   ", "||", " || "] {
            let s = SubscriptionExpression::parse(e);
            assert!(s.is_all(), "{e:?} should match all");
            assert_eq!(s.sub_string(), "*");
            assert!(s.matches_code(0));
            assert!(s.matches_code(tags_code(Some("Anything"))));
            assert!(s.matches_tag(None));
            assert!(s.matches_tag(Some("Anything")));
        }
    }

    #[test]
    fn two_tags() {
        let s = SubscriptionExpression::parse("TagA || TagB");
        assert!(!s.is_all());
        assert_eq!(s.sub_string(), "TagA || TagB");
        assert_eq!(s.tags().collect::<Vec<_>>(), vec!["TagA", "TagB"]);
        let mut codes: Vec<i32> = s.codes().collect();
        codes.sort();
        let mut expected = vec![java_string_hash("TagA"), java_string_hash("TagB")];
        expected.sort();
        assert_eq!(codes, expected);
        assert!(s.matches_code(2598919)); // "TagA".hashCode()
        assert!(s.matches_code(tags_code(Some("TagB"))));
        assert!(!s.matches_code(tags_code(Some("TagC"))));
        assert!(s.matches_tag(Some("TagA")));
        assert!(s.matches_tag(Some("TagB")));
        assert!(!s.matches_tag(Some("TagC")));
        assert!(!s.matches_tag(Some("TagA || TagB")));
        assert!(!s.matches_tag(Some(" TagA")));
    }

    #[test]
    fn untagged_messages_do_not_match_a_tag_set() {
        let s = SubscriptionExpression::parse("TagA");
        assert!(!s.matches_code(tags_code(None)));
        assert!(!s.matches_tag(None));
    }

    #[test]
    fn empty_parts_and_padding_dropped() {
        let s = SubscriptionExpression::parse("||TagA||  ||\tTagB ||");
        assert_eq!(s.tags().collect::<Vec<_>>(), vec!["TagA", "TagB"]);
        assert_eq!(s.codes().count(), 2);
        // A literal "*" next to another tag is a tag, as in Java.
        let s = SubscriptionExpression::parse("TagA || *");
        assert!(!s.is_all());
        assert!(s.matches_tag(Some("*")));
        assert!(!s.matches_tag(Some("TagB")));
    }

    #[test]
    fn hash_collision_passes_code_check_but_not_exact_check() {
        // "Aa" and "BB" share Java hash code 2112.
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB"));
        let s = SubscriptionExpression::parse("Aa");
        assert!(s.matches_code(tags_code(Some("BB"))));
        assert!(!s.matches_tag(Some("BB")));
        assert!(s.matches_tag(Some("Aa")));
    }

    #[test]
    fn code_is_truncated_to_32_bits() {
        let s = SubscriptionExpression::parse("polygenelubricants");
        // Negative hash sign-extended, as the store writes it.
        assert!(s.matches_code(i32::MIN as i64));
        // Same low 32 bits with garbage above: Java's (int) cast keeps the low bits.
        assert!(s.matches_code((1i64 << 40) | (i32::MIN as u32 as i64)));
        assert!(!s.matches_code(i32::MAX as i64));
    }
}
