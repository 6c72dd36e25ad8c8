//! The properties a stored message carries: the producer's, plus `UNIQ_KEY` when it set none
//! and the broker's `CLUSTER`, built in one pass that also reads what the send path needs.
//!
//! What must stay true: the result equals `set_property(set_property(p, UNIQ_KEY, id), CLUSTER,
//! cluster)` (the first call only when no `UNIQ_KEY` is set), byte for byte.

use rocketmq_protocol::properties::{
    iter_properties, CLUSTER, NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR, TAGS, UNIQ_KEY, WAIT,
};
use rocketmq_protocol::tag::tags_code;

/// What the send path needs from one message's properties, read in the same pass that builds
/// the stored property string.
pub(super) struct StoredProperties {
    /// The producer's pairs in order (malformed segments and any `CLUSTER` dropped), then
    /// `UNIQ_KEY` if the producer set none, then `CLUSTER` (if the name is not empty).
    pub(super) properties: String,
    /// The producer's last non-empty `UNIQ_KEY`, or the generated one.
    pub(super) uniq_key: String,
    /// `WAIT` is "false" (any case): the producer does not wait for a sync flush.
    pub(super) no_wait: bool,
    pub(super) tags_code: i64,
}

/// Builds the stored property string once per message. It must equal what
/// `set_property(set_property(p, UNIQ_KEY, id), CLUSTER, cluster)` (the first call only when
/// no `UNIQ_KEY` is set) would give, without re-encoding the string twice: `iter_properties`
/// yields only non-empty values, so when no `UNIQ_KEY` is found there is none to remove.
pub(super) fn stored_properties(
    props: &str,
    cluster: &str,
    new_uniq_key: impl FnOnce() -> String,
) -> StoredProperties {
    let mut out =
        String::with_capacity(props.len() + UNIQ_KEY.len() + 40 + CLUSTER.len() + cluster.len());
    let mut uniq_key = None;
    let mut wait = None;
    let mut tags = None;
    for (k, v) in iter_properties(props) {
        match k {
            CLUSTER => continue,
            UNIQ_KEY => uniq_key = Some(v),
            WAIT => wait = Some(v),
            TAGS => tags = Some(v),
            _ => {}
        }
        push_pair(&mut out, k, v);
    }
    let uniq_key = match uniq_key {
        Some(k) => k.to_string(),
        None => {
            let k = new_uniq_key();
            push_pair(&mut out, UNIQ_KEY, &k);
            k
        }
    };
    // `set_property` skips an empty value, so an empty cluster name adds nothing.
    if !cluster.is_empty() {
        push_pair(&mut out, CLUSTER, cluster);
    }
    StoredProperties {
        properties: out,
        uniq_key,
        no_wait: wait.is_some_and(|w| w.eq_ignore_ascii_case("false")),
        tags_code: tags_code(tags),
    }
}

fn push_pair(out: &mut String, k: &str, v: &str) {
    out.push_str(k);
    out.push(NAME_VALUE_SEPARATOR);
    out.push_str(v);
    out.push(PROPERTY_SEPARATOR);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_protocol::properties::{get_property, set_property};

    /// The one-pass builder gives exactly the string of the two `set_property` calls it
    /// replaced, and reads UNIQ_KEY, WAIT and TAGS as `get_property` would.
    #[test]
    fn stored_properties_equal_the_set_property_composition() {
        let inputs = [
            "",
            "TAGS\u{1}a\u{2}",
            "KEYS\u{1}k1 k2\u{2}TAGS\u{1}t\u{2}WAIT\u{1}FALSE\u{2}",
            "UNIQ_KEY\u{1}ABC\u{2}CLUSTER\u{1}old\u{2}TAGS\u{1}x\u{2}",
            "UNIQ_KEY\u{1}\u{2}TAGS\u{1}x\u{2}",
            "UNIQ_KEY\u{1}A\u{2}UNIQ_KEY\u{1}B\u{2}WAIT\u{1}true\u{2}",
            "garbage\u{2}\u{1}v\u{2}k\u{1}\u{2}CLUSTER\u{1}c1\u{2}CLUSTER\u{1}c2\u{2}x\u{1}y",
            "TAGS\u{1}a\u{2}TAGS\u{1}b\u{2}WAIT\u{1}false",
        ];
        for cluster in ["DefaultCluster", ""] {
            for props in inputs {
                let built = stored_properties(props, cluster, || "GENERATED".to_string());
                let mut expected = props.to_string();
                let expected_key = match get_property(props, UNIQ_KEY) {
                    Some(k) if !k.is_empty() => k.to_string(),
                    _ => {
                        expected = set_property(&expected, UNIQ_KEY, "GENERATED");
                        "GENERATED".to_string()
                    }
                };
                expected = set_property(&expected, CLUSTER, cluster);
                assert_eq!(built.properties, expected, "{props:?} / {cluster:?}");
                assert_eq!(built.uniq_key, expected_key, "{props:?}");
                assert_eq!(
                    built.no_wait,
                    get_property(&expected, WAIT).is_some_and(|w| w.eq_ignore_ascii_case("false")),
                    "{props:?}"
                );
                assert_eq!(built.tags_code, tags_code(get_property(&expected, TAGS)));
            }
        }
        // A producer's UNIQ_KEY is kept: the generator is not called.
        let built = stored_properties("UNIQ_KEY\u{1}MINE\u{2}", "C", || unreachable!());
        assert_eq!(built.uniq_key, "MINE");
    }
}
