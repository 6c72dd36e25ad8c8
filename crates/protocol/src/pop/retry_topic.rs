//! POP retry topic names (Java's `KeyBuilder`).
//!
//! A message whose invisible time runs out is re-stored in the group's POP retry topic:
//! V1 `%RETRY%<group>_<topic>`, V2 `%RETRY%<group>+<topic>`. Apache 5.5 uses V1 unless the
//! broker sets `enableRetryTopicV2=true` ([`RETRY_TOPIC_V2_BY_DEFAULT`]).

/// Prefix of every retry topic (Java's `MixAll.RETRY_GROUP_TOPIC_PREFIX`).
const RETRY_PREFIX: &str = "%RETRY%";

/// The revive queue id that marks an orderly POP handle (`KeyBuilder.POP_ORDER_REVIVE_QUEUE`).
pub const POP_ORDER_REVIVE_QUEUE: i32 = 999;

/// Apache's `BrokerConfig.enableRetryTopicV2` default.
pub const RETRY_TOPIC_V2_BY_DEFAULT: bool = false;

/// `%RETRY%<group>_<topic>`.
pub fn pop_retry_topic_v1(topic: &str, group: &str) -> String {
    format!("{RETRY_PREFIX}{group}_{topic}")
}

/// `%RETRY%<group>+<topic>`.
pub fn pop_retry_topic_v2(topic: &str, group: &str) -> String {
    format!("{RETRY_PREFIX}{group}+{topic}")
}

/// The retry topic of `group` for `topic` in the chosen naming.
pub fn pop_retry_topic(topic: &str, group: &str, v2: bool) -> String {
    if v2 {
        pop_retry_topic_v2(topic, group)
    } else {
        pop_retry_topic_v1(topic, group)
    }
}

/// A retry topic named the V2 way (`%RETRY%` prefix and a `+`).
pub fn is_pop_retry_topic_v2(topic: &str) -> bool {
    topic.starts_with(RETRY_PREFIX) && topic.contains('+')
}

/// The topic a POP retry topic of `group` stands for; other topics are returned unchanged.
pub fn normal_topic_of<'a>(topic: &'a str, group: &str) -> &'a str {
    let Some(rest) = topic.strip_prefix(RETRY_PREFIX) else {
        return topic;
    };
    let Some(rest) = rest.strip_prefix(group) else {
        return topic;
    };
    rest.strip_prefix('+')
        .or_else(|| rest.strip_prefix('_'))
        .unwrap_or(topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parsing() {
        assert_eq!(pop_retry_topic("T", "G", false), "%RETRY%G_T");
        assert_eq!(pop_retry_topic("T", "G", true), "%RETRY%G+T");
        assert!(is_pop_retry_topic_v2("%RETRY%G+T"));
        assert!(!is_pop_retry_topic_v2("%RETRY%G_T"));
        assert!(!is_pop_retry_topic_v2("A+B"));
        assert_eq!(normal_topic_of("%RETRY%G_T", "G"), "T");
        assert_eq!(normal_topic_of("%RETRY%G+T_x", "G"), "T_x");
        assert_eq!(normal_topic_of("T", "G"), "T");
        assert_eq!(normal_topic_of("%RETRY%H_T", "G"), "%RETRY%H_T");
        assert_eq!(
            pop_retry_topic("T", "G", RETRY_TOPIC_V2_BY_DEFAULT),
            "%RETRY%G_T"
        );
    }
}
