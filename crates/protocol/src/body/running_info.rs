//! GET_CONSUMER_RUNNING_INFO (307) answer body: Java's `ConsumerRunningInfo`, the state a
//! consumer reports to the broker (and through it to admin tools): string properties, its
//! subscriptions, and one line per owned queue.
//!
//! What must stay true: the body is written as fastjson writes it, keys in alphabetical
//! order, and `mqTable` keyed by the queue *object*
//! (`{"mqTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{..}},..}`). No JSON library
//! writes or reads object keys, so [`ConsumerRunningInfo::encode`] and
//! [`ConsumerRunningInfo::decode`] handle that table by hand and leave every value inside it
//! to serde. `statusTable` (per-topic consume statistics) is written empty: the client does
//! not keep those counters.

use super::heartbeat::SubscriptionData;
use super::lock::MessageQueue;
use super::BodyError;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One owned queue in a running-info answer: the fields of Java's `ProcessQueueInfo` that
/// this client tracks, in fastjson's (alphabetical) key order. Reading ignores the others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessQueueInfo {
    /// Pulled but not yet acknowledged messages.
    #[serde(rename = "cachedMsgCount")]
    pub cached_msg_count: u64,
    /// Highest in-flight offset (0 when nothing is in flight).
    #[serde(rename = "cachedMsgMaxOffset")]
    pub cached_msg_max_offset: i64,
    /// Lowest in-flight offset (0 when nothing is in flight).
    #[serde(rename = "cachedMsgMinOffset")]
    pub cached_msg_min_offset: i64,
    /// Body bytes in flight, in whole MiB (rounded down).
    #[serde(rename = "cachedMsgSizeInMiB")]
    pub cached_msg_size_in_mib: u64,
    /// What the consumer commits: the first unacknowledged offset, else the next pull offset.
    #[serde(rename = "commitOffset")]
    pub commit_offset: i64,
    /// Java's spelling.
    #[serde(rename = "droped")]
    pub dropped: bool,
}

/// The answer to GET_CONSUMER_RUNNING_INFO (307).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerRunningInfo {
    /// One entry per owned queue.
    pub mq_table: BTreeMap<MessageQueue, ProcessQueueInfo>,
    /// Configuration and identity as strings (`consumerGroup`, `clientId`,
    /// `PROP_CONSUME_TYPE`, ...).
    pub properties: BTreeMap<String, String>,
    pub subscription_set: Vec<SubscriptionData>,
}

impl ConsumerRunningInfo {
    /// The body as fastjson writes it (see the module docs).
    pub fn encode(&self) -> bytes::Bytes {
        let mut out = String::from("{\"mqTable\":{");
        for (i, (mq, info)) in self.mq_table.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(mq).unwrap_or_default());
            out.push(':');
            out.push_str(&serde_json::to_string(info).unwrap_or_default());
        }
        out.push_str("},\"properties\":");
        out.push_str(&serde_json::to_string(&self.properties).unwrap_or_default());
        out.push_str(",\"statusTable\":{},\"subscriptionSet\":");
        out.push_str(&serde_json::to_string(&self.subscription_set).unwrap_or_default());
        out.push('}');
        bytes::Bytes::from(out)
    }

    /// Reads a body in the form [`encode`](Self::encode) writes, keys in any order; unknown
    /// keys are skipped when they hold plain JSON.
    pub fn decode(body: &[u8]) -> Result<Self, BodyError> {
        let mut r = Reader { text: body, pos: 0 };
        let mut info = ConsumerRunningInfo::default();
        r.expect(b'{')?;
        if r.eat(b'}') {
            return Ok(info);
        }
        loop {
            let key: String = r.value()?;
            r.expect(b':')?;
            match key.as_str() {
                "mqTable" => info.mq_table = r.object_keyed_table()?,
                "properties" => info.properties = r.value()?,
                "subscriptionSet" => info.subscription_set = r.value()?,
                _ => {
                    r.value::<IgnoredAny>()?;
                }
            }
            if r.eat(b',') {
                continue;
            }
            r.expect(b'}')?;
            return Ok(info);
        }
    }
}

/// A cursor over a body that reads punctuation itself and every value through serde.
struct Reader<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn skip_blanks(&mut self) {
        while self
            .text
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    /// Consumes `byte` if it comes next (after blanks).
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_blanks();
        if self.text.get(self.pos) == Some(&byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), BodyError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(BodyError::Json(format!(
                "expected '{}' at byte {}",
                byte as char, self.pos
            )))
        }
    }

    /// One JSON value, read by serde.
    fn value<T: DeserializeOwned>(&mut self) -> Result<T, BodyError> {
        self.skip_blanks();
        let mut stream =
            serde_json::Deserializer::from_slice(&self.text[self.pos..]).into_iter::<T>();
        match stream.next() {
            Some(Ok(v)) => {
                self.pos += stream.byte_offset();
                Ok(v)
            }
            Some(Err(e)) => Err(BodyError::Json(e.to_string())),
            None => Err(BodyError::Json("the body ends early".into())),
        }
    }

    /// `{ {queue}:{info}, .. }`: a map keyed by queue objects.
    fn object_keyed_table(
        &mut self,
    ) -> Result<BTreeMap<MessageQueue, ProcessQueueInfo>, BodyError> {
        let mut table = BTreeMap::new();
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Ok(table);
        }
        loop {
            let mq: MessageQueue = self.value()?;
            self.expect(b':')?;
            let info: ProcessQueueInfo = self.value()?;
            table.insert(mq, info);
            if self.eat(b',') {
                continue;
            }
            self.expect(b'}')?;
            return Ok(table);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ConsumerRunningInfo {
        let queue = |id| MessageQueue::new("T", "b", id);
        ConsumerRunningInfo {
            mq_table: BTreeMap::from([
                (
                    queue(1),
                    ProcessQueueInfo {
                        cached_msg_count: 2,
                        cached_msg_max_offset: 11,
                        cached_msg_min_offset: 10,
                        cached_msg_size_in_mib: 0,
                        commit_offset: 10,
                        dropped: false,
                    },
                ),
                (
                    queue(0),
                    ProcessQueueInfo {
                        commit_offset: 7,
                        dropped: true,
                        ..ProcessQueueInfo::default()
                    },
                ),
            ]),
            properties: BTreeMap::from([
                ("consumerGroup".to_string(), "G".to_string()),
                (
                    "PROP_CONSUME_TYPE".to_string(),
                    "CONSUME_PASSIVELY".to_string(),
                ),
            ]),
            subscription_set: vec![SubscriptionData {
                topic: "T".into(),
                sub_string: "A || B".into(),
                code_set: vec![65, 66],
                tags_set: vec!["A".into(), "B".into()],
                sub_version: 7,
                ..SubscriptionData::default()
            }],
        }
    }

    const SAMPLE_JSON: &str = concat!(
        r#"{"mqTable":{"#,
        r#"{"brokerName":"b","queueId":0,"topic":"T"}:{"cachedMsgCount":0,"#,
        r#""cachedMsgMaxOffset":0,"cachedMsgMinOffset":0,"cachedMsgSizeInMiB":0,"#,
        r#""commitOffset":7,"droped":true},"#,
        r#"{"brokerName":"b","queueId":1,"topic":"T"}:{"cachedMsgCount":2,"#,
        r#""cachedMsgMaxOffset":11,"cachedMsgMinOffset":10,"cachedMsgSizeInMiB":0,"#,
        r#""commitOffset":10,"droped":false}},"#,
        r#""properties":{"PROP_CONSUME_TYPE":"CONSUME_PASSIVELY","consumerGroup":"G"},"#,
        r#""statusTable":{},"#,
        r#""subscriptionSet":[{"classFilterMode":false,"codeSet":[65,66],"#,
        r#""expressionType":"TAG","subString":"A || B","subVersion":7,"#,
        r#""tagsSet":["A","B"],"topic":"T"}]}"#
    );

    #[test]
    fn encodes_as_fastjson_writes_it() {
        assert_eq!(
            std::str::from_utf8(&sample().encode()).unwrap(),
            SAMPLE_JSON
        );
    }

    #[test]
    fn an_empty_answer_keeps_every_table() {
        assert_eq!(
            &ConsumerRunningInfo::default().encode()[..],
            br#"{"mqTable":{},"properties":{},"statusTable":{},"subscriptionSet":[]}"#
        );
    }

    #[test]
    fn decodes_what_it_encodes() {
        // `codeSet` is never read back (see `SubscriptionData`); everything else is.
        let mut expected = sample();
        expected.subscription_set[0].code_set.clear();
        assert_eq!(
            ConsumerRunningInfo::decode(SAMPLE_JSON.as_bytes()).unwrap(),
            expected
        );
        let empty = ConsumerRunningInfo::default();
        assert_eq!(ConsumerRunningInfo::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn decodes_java_extras_and_blanks() {
        // Java writes more per-queue fields and more top-level keys; they are skipped.
        let body = concat!(
            r#"{ "jstack" : "main...", "mqTable" : { {"brokerName":"b","queueId":3,"#,
            r#""topic":"T"} : {"cachedMsgCount":1,"commitOffset":5,"droped":false,"#,
            r#""locked":true,"lastPullTimestamp":1700000000000} },"#,
            r#""properties":{"consumerGroup":"G"},"statusTable":{"T":{"pullRT":1.5}},"#,
            r#""subscriptionSet":[{"subString":"*","subVersion":"9","topic":"T"}] }"#
        );
        let info = ConsumerRunningInfo::decode(body.as_bytes()).unwrap();
        assert_eq!(
            info.mq_table[&MessageQueue::new("T", "b", 3)],
            ProcessQueueInfo {
                cached_msg_count: 1,
                commit_offset: 5,
                ..ProcessQueueInfo::default()
            }
        );
        assert_eq!(info.properties["consumerGroup"], "G");
        assert_eq!(info.subscription_set[0].sub_version, 9);
        assert_eq!(info.subscription_set[0].topic, "T");
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            &b""[..],
            b"[]",
            br#"{"mqTable":{"b":1}}"#,
            br#"{"mqTable":{{"brokerName":"b","queueId":0,"topic":"T"}}}"#,
            br#"{"properties":{}"#,
            br#"{"properties":{} "x":1}"#,
        ] {
            assert!(
                ConsumerRunningInfo::decode(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
