//! What a consumer subscribes to on a topic: a [`MessageFilter`], a tag expression (`*`,
//! `TagA || TagB`) or an SQL92 expression over the message's user properties and `TAGS`,
//! and how it is written into heartbeats, pulls and CHECK_CLIENT_CONFIG.
//!
//! What must stay true:
//! - the broker evaluates SQL92; the client never re-checks it (it has no SQL92 engine), so
//!   [`MessageFilter::matches`] passes every message of an SQL92 subscription;
//! - a tag filter's exact re-check after the broker's hash filter applies to TAG only;
//! - an SQL92 subscription is written as Java's `FilterAPI.build` writes it: its
//!   `expressionType`, its `subString`, and empty `tagsSet`/`codeSet`;
//! - an SQL92 expression is never empty (Java's client refuses it too); a tag expression
//!   that is empty means `*`.

use crate::error::{ClientError, Result};
use rocketmq_protocol::body::heartbeat::{
    SubscriptionData, EXPRESSION_TYPE_SQL92, EXPRESSION_TYPE_TAG,
};
use rocketmq_protocol::tag::java_string_hash;
use std::collections::BTreeSet;
use std::fmt;

/// The language of a subscription expression, named on the wire as Java names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ExpressionType {
    /// `*` or tags joined by `||`.
    #[default]
    Tag,
    /// RocketMQ's SQL92 subset, evaluated by the broker.
    Sql92,
}

impl ExpressionType {
    /// The name on the wire: `TAG` or `SQL92`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpressionType::Tag => EXPRESSION_TYPE_TAG,
            ExpressionType::Sql92 => EXPRESSION_TYPE_SQL92,
        }
    }

    /// Reads `TAG` or `SQL92`, in any letter case.
    pub fn parse(name: &str) -> Result<ExpressionType> {
        let n = name.trim();
        if n.eq_ignore_ascii_case(EXPRESSION_TYPE_TAG) {
            Ok(ExpressionType::Tag)
        } else if n.eq_ignore_ascii_case(EXPRESSION_TYPE_SQL92) {
            Ok(ExpressionType::Sql92)
        } else {
            Err(ClientError::IllegalArgument(format!(
                "expression type {name:?} is not one of \"TAG\", \"SQL92\""
            )))
        }
    }
}

impl fmt::Display for ExpressionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subscription expression and its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageFilter {
    /// The expression as sent to brokers (`*` for a tag filter on everything).
    pub expression: String,
    pub expression_type: ExpressionType,
    /// The tags of a TAG filter (empty = every message); empty for SQL92.
    tags: BTreeSet<String>,
}

/// The name older callers use for a [`MessageFilter`] (built with [`MessageFilter::parse`],
/// a tag expression).
pub type TagFilter = MessageFilter;

impl MessageFilter {
    /// A tag filter: `*` (or empty) for all, else tags joined by `||`.
    pub fn parse(expression: &str) -> MessageFilter {
        let e = expression.trim();
        let tags: BTreeSet<String> = if e.is_empty() || e == "*" {
            BTreeSet::new()
        } else {
            e.split("||")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        };
        MessageFilter {
            expression: if tags.is_empty() {
                "*".into()
            } else {
                e.to_string()
            },
            expression_type: ExpressionType::Tag,
            tags,
        }
    }

    /// An SQL92 filter; refuses an empty expression (checking its grammar is the broker's
    /// job: see `ClientInstance::check_client_config`).
    pub fn sql92(expression: &str) -> Result<MessageFilter> {
        let e = expression.trim();
        if e.is_empty() {
            return Err(ClientError::IllegalArgument(
                "an SQL92 expression cannot be empty: pass a condition such as \"a > 5\", or \
                 use the TAG type with \"*\" to receive every message"
                    .into(),
            ));
        }
        Ok(MessageFilter {
            expression: e.to_string(),
            expression_type: ExpressionType::Sql92,
            tags: BTreeSet::new(),
        })
    }

    /// A filter of either type.
    pub fn new(expression: &str, expression_type: ExpressionType) -> Result<MessageFilter> {
        match expression_type {
            ExpressionType::Tag => Ok(MessageFilter::parse(expression)),
            ExpressionType::Sql92 => MessageFilter::sql92(expression),
        }
    }

    pub fn is_tag(&self) -> bool {
        self.expression_type == ExpressionType::Tag
    }

    /// The client's own check of a message the broker sent: the exact tag set for TAG
    /// filters (the broker compares tag hashes only), nothing for SQL92.
    pub fn matches(&self, tag: Option<&str>) -> bool {
        match self.expression_type {
            ExpressionType::Tag => {
                self.tags.is_empty() || tag.is_some_and(|t| self.tags.contains(t))
            }
            ExpressionType::Sql92 => true,
        }
    }

    /// This filter as the `SubscriptionData` of a heartbeat or CHECK_CLIENT_CONFIG.
    pub fn subscription_data(&self, topic: &str, sub_version: i64) -> SubscriptionData {
        let tags: Vec<String> = self.tags.iter().cloned().collect();
        SubscriptionData {
            topic: topic.to_string(),
            sub_string: self.expression.clone(),
            expression_type: self.expression_type.as_str().to_string(),
            code_set: tags.iter().map(|t| java_string_hash(t)).collect(),
            tags_set: tags,
            sub_version,
            ..SubscriptionData::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_filter_matches_exact_tags_only() {
        let f = MessageFilter::parse("TagA || TagB");
        assert!(f.matches(Some("TagA")));
        assert!(f.matches(Some("TagB")));
        assert!(!f.matches(Some("TagC")));
        assert!(!f.matches(None));
        let all = MessageFilter::parse(" * ");
        assert_eq!(all.expression, "*");
        assert!(all.matches(None));
        assert!(all.matches(Some("x")));
        assert_eq!(MessageFilter::parse("").expression, "*");
    }

    #[test]
    fn sql92_filter_leaves_matching_to_the_broker() {
        let f = MessageFilter::sql92(" a > 5 ").unwrap();
        assert_eq!(f.expression, "a > 5");
        assert!(!f.is_tag());
        assert!(f.matches(None));
        assert!(f.matches(Some("TagC")));
        assert!(MessageFilter::sql92("  ").is_err());
    }

    #[test]
    fn expression_types_read_in_any_case_and_refuse_others() {
        assert_eq!(
            ExpressionType::parse("sql92").unwrap(),
            ExpressionType::Sql92
        );
        assert_eq!(ExpressionType::parse("Tag").unwrap(), ExpressionType::Tag);
        let e = ExpressionType::parse("XPATH").unwrap_err().to_string();
        assert!(e.contains("\"TAG\", \"SQL92\""), "{e}");
    }

    #[test]
    fn subscription_data_is_written_as_javas_filter_api_builds_it() {
        let sql = MessageFilter::sql92("region = 'eu'")
            .unwrap()
            .subscription_data("T", 7);
        assert_eq!(sql.expression_type, "SQL92");
        assert_eq!(sql.sub_string, "region = 'eu'");
        assert!(sql.tags_set.is_empty() && sql.code_set.is_empty());
        assert_eq!(sql.sub_version, 7);
        let tag = MessageFilter::parse("A || B").subscription_data("T", 7);
        assert_eq!(tag.expression_type, "TAG");
        assert_eq!(tag.tags_set, vec!["A".to_string(), "B".to_string()]);
        assert_eq!(tag.code_set, vec![65, 66]);
        let all = MessageFilter::parse("*").subscription_data("T", 7);
        assert!(all.tags_set.is_empty() && all.code_set.is_empty());
    }
}
