//! What a consumer asked to receive: a tag expression or an SQL92 selector, built from an
//! expression type and text (a pull header, a heartbeat subscription, a POP request) and
//! checked on each candidate message.
//!
//! What must stay true:
//! - the type is `TAG` (also empty or absent, as Java's `ExpressionType.isTagType` reads it)
//!   or `SQL92`, in any case; anything else, and an SQL92 text that does not parse, is a
//!   [`FilterError`] with `SUBSCRIPTION_PARSE_FAILED` and a remark that says what to fix (for
//!   SQL92: the position and the reason);
//! - [`MessageFilter::matches_code`] is the consume-queue check: tags codes for TAG, always
//!   true for SQL92 (Java only narrows SQL92 there with its optional bloom filter, off by
//!   default);
//! - [`MessageFilter::matches_properties`] is the check on the stored properties: for TAG the
//!   exact `TAGS` re-check (hash collisions pass the code check), for SQL92 the selector over
//!   every property, `TAGS` included; a message whose evaluation fails or gives null does not
//!   match, as in Java's `ExpressionMessageFilter.isMatchedByCommitLog`;
//! - whether SQL92 is allowed at all (the broker's `enable_property_filter`) is the caller's
//!   check (`Broker::build_message_filter` in `ops/subscription_filter.rs`), as Java makes it
//!   after parsing.

use crate::broker::filter::SubscriptionExpression;
use rocketmq_filter::Expression;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::properties::{get_property, TAGS};
use std::fmt;

/// The expression type of tag filtering.
pub const TAG_TYPE: &str = "TAG";
/// The expression type of SQL92 selectors.
pub const SQL92_TYPE: &str = "SQL92";

/// A filter that cannot be built: the response code and remark to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    pub code: i32,
    pub remark: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.remark, self.code)
    }
}

impl std::error::Error for FilterError {}

/// Whether an expression type names tag filtering (Java: null, empty or `TAG`).
pub fn is_tag_type(expression_type: Option<&str>) -> bool {
    expression_type.is_none_or(|t| t.is_empty() || t.eq_ignore_ascii_case(TAG_TYPE))
}

/// Whether an expression type names SQL92.
pub fn is_sql92_type(expression_type: Option<&str>) -> bool {
    expression_type.is_some_and(|t| t.eq_ignore_ascii_case(SQL92_TYPE))
}

/// A consumer's filter.
#[derive(Clone, Debug)]
pub enum MessageFilter {
    Tag(SubscriptionExpression),
    Sql92(Expression),
}

impl MessageFilter {
    /// Builds the filter of an expression type (`None`/empty = TAG) and its text.
    pub fn build(expression_type: Option<&str>, expression: &str) -> Result<Self, FilterError> {
        if is_tag_type(expression_type) {
            return Ok(MessageFilter::Tag(SubscriptionExpression::parse(
                expression,
            )));
        }
        if !is_sql92_type(expression_type) {
            return Err(FilterError {
                code: resp::SUBSCRIPTION_PARSE_FAILED,
                remark: format!(
                    "unknown expression type {:?}: use TAG or SQL92",
                    expression_type.unwrap_or_default()
                ),
            });
        }
        Expression::parse(expression)
            .map(MessageFilter::Sql92)
            .map_err(|e| FilterError {
                code: resp::SUBSCRIPTION_PARSE_FAILED,
                remark: format!("{e} (expression: {expression})"),
            })
    }

    /// Whether this is an SQL92 selector.
    pub fn is_sql92(&self) -> bool {
        matches!(self, MessageFilter::Sql92(_))
    }

    /// Whether every message passes (a match-all tag expression).
    pub fn is_all(&self) -> bool {
        matches!(self, MessageFilter::Tag(t) if t.is_all())
    }

    /// The consume-queue check on an entry's tags code.
    pub fn matches_code(&self, tags_code: i64) -> bool {
        match self {
            MessageFilter::Tag(t) => t.matches_code(tags_code),
            MessageFilter::Sql92(_) => true,
        }
    }

    /// The check on a message's encoded properties (`name\u{1}value\u{2}...`).
    pub fn matches_properties(&self, properties: &str) -> bool {
        match self {
            MessageFilter::Tag(t) => t.is_all() || t.matches_tag(get_property(properties, TAGS)),
            MessageFilter::Sql92(e) => e.evaluate(&|name| get_property(properties, name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_protocol::tag::tags_code;

    fn props(pairs: &[(&str, &str)]) -> String {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}\u{1}{v}\u{2}"))
            .collect()
    }

    #[test]
    fn tag_filters_keep_their_rules() {
        for ty in [None, Some(""), Some("TAG"), Some("tag")] {
            let f = MessageFilter::build(ty, "TagA || TagB").unwrap();
            assert!(!f.is_sql92());
            assert!(f.matches_code(tags_code(Some("TagA"))));
            assert!(!f.matches_code(tags_code(Some("TagC"))));
            assert!(f.matches_properties(&props(&[("TAGS", "TagB")])));
            assert!(!f.matches_properties(&props(&[("KEYS", "k")])));
        }
        assert!(MessageFilter::build(None, "*").unwrap().is_all());
    }

    #[test]
    fn sql92_sees_user_properties_and_tags() {
        let f = MessageFilter::build(Some("SQL92"), "TAGS = 'TagA' AND amount > 100").unwrap();
        assert!(f.is_sql92() && !f.is_all());
        assert!(f.matches_code(tags_code(Some("Other"))));
        assert!(f.matches_properties(&props(&[("TAGS", "TagA"), ("amount", "101")])));
        assert!(!f.matches_properties(&props(&[("TAGS", "TagA"), ("amount", "100")])));
        assert!(!f.matches_properties(&props(&[("amount", "101")])));
        // A failed conversion is no match, not an error.
        assert!(!f.matches_properties(&props(&[("TAGS", "TagA"), ("amount", "lots")])));
    }

    #[test]
    fn bad_types_and_expressions_say_what_to_fix() {
        let e = MessageFilter::build(Some("SQL92"), "a > 'x'").unwrap_err();
        assert_eq!(e.code, resp::SUBSCRIPTION_PARSE_FAILED);
        assert!(e.remark.contains("line 1, column 3"), "{e}");
        let e = MessageFilter::build(Some("XPATH"), "a").unwrap_err();
        assert_eq!(e.code, resp::SUBSCRIPTION_PARSE_FAILED);
        assert!(e.remark.contains("use TAG or SQL92"));
    }
}
