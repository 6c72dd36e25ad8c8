//! The recall handle of a timer message (RocketMQ 5's `RecallMessageHandle`, version 1): what
//! a send of a timer message answers in `recallHandle`, and what RECALL_MESSAGE and the gRPC
//! RecallMessage take back to cancel it.
//!
//! What must stay true: the text is `v1 <topic> <broker name> <timestamp> <message id>`
//! (single spaces), encoded as URL-safe Base64 with padding, as Apache's broker writes it, so
//! a handle of either broker decodes here; decoding refuses anything else with
//! "recall handle is invalid" (Apache's words), and ignores items past the fifth.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use std::fmt;

const VERSION_1: &str = "v1";

/// The fields of a recall handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecallHandle {
    /// The message's real topic.
    pub topic: String,
    /// The broker that holds the timer message.
    pub broker_name: String,
    /// When the message is due, ms since the epoch, as text (Apache's broker writes its
    /// wheel slot + 1; this broker the exact deliver time).
    pub timestamp: String,
    /// The message's `UNIQ_KEY`.
    pub message_id: String,
}

/// A handle that does not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRecallHandle;

impl fmt::Display for InvalidRecallHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("recall handle is invalid")
    }
}

impl std::error::Error for InvalidRecallHandle {}

impl RecallHandle {
    /// The handle's text, as the send answers it.
    pub fn encode(&self) -> String {
        let text = [
            VERSION_1,
            &self.topic,
            &self.broker_name,
            &self.timestamp,
            &self.message_id,
        ]
        .join(" ");
        URL_SAFE.encode(text.as_bytes())
    }

    /// The fields of a handle's text.
    pub fn decode(handle: &str) -> Result<RecallHandle, InvalidRecallHandle> {
        if handle.is_empty() {
            return Err(InvalidRecallHandle);
        }
        let bytes = URL_SAFE
            .decode(handle.as_bytes())
            .map_err(|_| InvalidRecallHandle)?;
        let text = String::from_utf8(bytes).map_err(|_| InvalidRecallHandle)?;
        let items: Vec<&str> = text.split(' ').collect();
        if items.len() < 5 || items[0] != VERSION_1 {
            return Err(InvalidRecallHandle);
        }
        Ok(RecallHandle {
            topic: items[1].to_string(),
            broker_name: items[2].to_string(),
            timestamp: items[3].to_string(),
            message_id: items[4].to_string(),
        })
    }

    /// The timestamp as ms since the epoch (`None` when it is not a number).
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.timestamp.trim().parse().ok()
    }
}

/// The key a recall marker names its message by: `<real topic>+<UNIQ_KEY>` (Apache's
/// `TimerMessageStore.buildDeleteKey`), the value of its `TIMER_DEL_UNIQKEY`.
pub fn delete_key(real_topic: &str, uniq_key: &str) -> String {
    format!("{real_topic}+{uniq_key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle() -> RecallHandle {
        RecallHandle {
            topic: "Orders".into(),
            broker_name: "broker-a".into(),
            timestamp: "1767225600001".into(),
            message_id: "7F00000100002A9F0000000000000001".into(),
        }
    }

    #[test]
    fn a_handle_is_url_safe_base64_of_the_five_fields_and_decodes_back() {
        let text = handle().encode();
        assert_eq!(
            URL_SAFE.decode(&text).unwrap(),
            b"v1 Orders broker-a 1767225600001 7F00000100002A9F0000000000000001"
        );
        assert!(!text.contains('+') && !text.contains('/'));
        assert_eq!(RecallHandle::decode(&text), Ok(handle()));
        assert_eq!(handle().timestamp_ms(), Some(1_767_225_600_001));
    }

    #[test]
    fn what_is_not_a_v1_handle_is_invalid() {
        let encode = |s: &str| URL_SAFE.encode(s.as_bytes());
        for bad in [
            String::new(),
            "not base64 !".to_string(),
            encode("v2 T b 1 id"),
            encode("v1 T b 1"),
            "djEgVCBiIDEgaWQ".to_string(), // a v1 handle without its padding
        ] {
            assert_eq!(
                RecallHandle::decode(&bad),
                Err(InvalidRecallHandle),
                "{bad}"
            );
        }
        let longer = RecallHandle::decode(&encode("v1 T b 5 id extra")).unwrap();
        assert_eq!(longer.message_id, "id");
        assert_eq!(InvalidRecallHandle.to_string(), "recall handle is invalid");
    }

    #[test]
    fn the_delete_key_joins_topic_and_id_with_a_plus() {
        assert_eq!(delete_key("T", "ID"), "T+ID");
    }
}
