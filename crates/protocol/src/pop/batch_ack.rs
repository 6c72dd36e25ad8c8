//! BATCH_ACK_MESSAGE (200151) body: Java's `BatchAckMessageRequestBody` of `BatchAck`s.
//!
//! A `BatchAck` names one POP batch of one queue (group, topic, retry mark, the batch's
//! start offset, queue id, revive queue, pop time, invisible time) and the acked messages as
//! a bit set: bit `i` set = offset `startOffset + i` acked. The bit set travels as fastjson
//! writes a byte array: base64 of Java's `BitSet.toByteArray()` (little-endian bytes, bit
//! `i` in byte `i / 8` at position `i % 8`, trailing zero bytes dropped). Short keys
//! (`c`, `t`, ...) are written; the long names are read too.

use crate::lenient::{i32_any, i64_any};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest bit index accepted from a peer (a batch never holds more messages).
const MAX_BITS: usize = 1 << 16;

/// One queue's acks of one POP batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAck {
    #[serde(rename = "c", alias = "consumerGroup", default)]
    pub consumer_group: String,
    #[serde(rename = "t", alias = "topic", default)]
    pub topic: String,
    /// The retry mark of [`crate::pop::TopicKind`] (`0`, `1`, `2`).
    #[serde(rename = "r", alias = "retry", default)]
    pub retry: String,
    #[serde(
        rename = "so",
        alias = "startOffset",
        deserialize_with = "i64_any",
        default
    )]
    pub start_offset: i64,
    #[serde(rename = "q", alias = "queueId", deserialize_with = "i32_any", default)]
    pub queue_id: i32,
    #[serde(
        rename = "rq",
        alias = "reviveQueueId",
        deserialize_with = "i32_any",
        default
    )]
    pub revive_queue_id: i32,
    #[serde(
        rename = "pt",
        alias = "popTime",
        deserialize_with = "i64_any",
        default
    )]
    pub pop_time: i64,
    #[serde(
        rename = "it",
        alias = "invisibleTime",
        deserialize_with = "i64_any",
        default
    )]
    pub invisible_time: i64,
    /// Indexes (relative to `start_offset`) of the acked messages, ascending.
    #[serde(
        rename = "b",
        alias = "bitSet",
        serialize_with = "write_bits",
        deserialize_with = "read_bits",
        default
    )]
    pub acked: Vec<u32>,
}

impl BatchAck {
    /// The queue offsets this ack covers.
    pub fn acked_offsets(&self) -> Vec<i64> {
        self.acked
            .iter()
            .map(|i| self.start_offset.saturating_add(i64::from(*i)))
            .collect()
    }
}

/// BATCH_ACK_MESSAGE body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchAckMessageRequestBody {
    #[serde(default)]
    pub broker_name: String,
    #[serde(default)]
    pub acks: Vec<BatchAck>,
}

fn write_bits<S: Serializer>(bits: &[u32], s: S) -> Result<S::Ok, S::Error> {
    let len = bits.iter().max().map_or(0, |m| *m as usize / 8 + 1);
    let mut bytes = vec![0u8; len];
    for b in bits {
        bytes[*b as usize / 8] |= 1 << (b % 8);
    }
    s.serialize_str(&base64_encode(&bytes))
}

fn read_bits<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let bytes =
        base64_decode(&text).ok_or_else(|| serde::de::Error::custom("bit set is not base64"))?;
    if bytes.len() * 8 > MAX_BITS {
        return Err(serde::de::Error::custom("bit set too large"));
    }
    let mut out = Vec::new();
    for (i, byte) in bytes.iter().enumerate() {
        for bit in 0..8 {
            if byte & (1 << bit) != 0 {
                out.push((i * 8 + bit) as u32);
            }
        }
    }
    Ok(out)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc = 0u32;
    let mut n = 0;
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = acc << 6 | v;
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    match n {
        0 => {}
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode_json, encode_json};

    #[test]
    fn base64_roundtrip() {
        for bytes in [&[][..], &[1], &[1, 2], &[1, 2, 3], &[255, 0, 7, 9]] {
            assert_eq!(base64_decode(&base64_encode(bytes)).unwrap(), bytes);
        }
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert_eq!(base64_encode(&[5]), "BQ==");
        assert!(base64_decode("!!").is_none());
    }

    #[test]
    fn batch_ack_body_in_java_shape() {
        let body = BatchAckMessageRequestBody {
            broker_name: "b".into(),
            acks: vec![BatchAck {
                consumer_group: "G".into(),
                topic: "T".into(),
                retry: "0".into(),
                start_offset: 100,
                queue_id: 1,
                revive_queue_id: 2,
                pop_time: 5,
                invisible_time: 6,
                acked: vec![0, 2, 9],
            }],
        };
        let json = String::from_utf8(encode_json(&body).to_vec()).unwrap();
        // bits 0 and 2 -> byte 0 = 0b101, bit 9 -> byte 1 = 0b10: base64 of [5, 2].
        assert!(json.contains(r#""b":"BQI=""#), "{json}");
        assert!(json.contains(r#""so":100"#), "{json}");
        let back: BatchAckMessageRequestBody = decode_json(json.as_bytes()).unwrap();
        assert_eq!(back, body);
        assert_eq!(back.acks[0].acked_offsets(), vec![100, 102, 109]);
        let long: BatchAckMessageRequestBody = decode_json(
            br#"{"brokerName":"b","acks":[{"consumerGroup":"G","topic":"T","retry":"1","startOffset":"3","queueId":0,"reviveQueueId":0,"popTime":1,"invisibleTime":2,"bitSet":"AQ=="}]}"#,
        )
        .unwrap();
        assert_eq!(long.acks[0].acked_offsets(), vec![3]);
        assert!(decode_json::<BatchAckMessageRequestBody>(br#"{"acks":[{"b":"%%"}]}"#).is_err());
    }
}
