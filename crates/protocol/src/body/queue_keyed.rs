//! Bodies whose map is keyed by a MessageQueue *object*, as fastjson writes Java's
//! `Map<MessageQueue, V>`: `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:12}}`.
//! No JSON library reads or writes such keys, so both directions are here by hand:
//! `ConsumeStats` (GET_CONSUME_STATS, 208, with `OffsetWrapper` values) and the reading side
//! of `ResetOffsetBody` (the answer to INVOKE_BROKER_TO_RESET_OFFSET, 222, and the
//! broker's RESET_CONSUMER_CLIENT_OFFSET, 220; also in the cpp array form).
//!
//! What must stay true: writing follows fastjson (fields in alphabetical order, a double
//! written with a fraction, `{}` for an empty map); reading accepts any JSON value as an
//! object key, standard JSON besides, and never panics on any input.

use super::lock::MessageQueue;
use super::reset_offset::ResetOffsetBodyForC;
use super::{decode_json, BodyError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Java's `OffsetWrapper`: one queue's line in `ConsumeStats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    /// The queue's max offset (one past its last message).
    pub broker_offset: i64,
    /// The group's committed offset (0 when it has none).
    pub consumer_offset: i64,
    /// Store time of the last consumed message (the one before `consumer_offset`); 0 if none.
    pub last_timestamp: i64,
    /// Where the group's latest pull started (at least `consumer_offset`).
    pub pull_offset: i64,
}

/// Java's `ConsumeStats`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsumeStats {
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
    /// Messages per second the group pulled from these topics over the last minute.
    pub consume_tps: f64,
}

impl ConsumeStats {
    /// Writes the body as fastjson does:
    /// `{"consumeTps":0.0,"offsetTable":{{"brokerName":..}:{"brokerOffset":..,..}}}`.
    pub fn encode(&self) -> bytes::Bytes {
        let tps = if self.consume_tps.is_finite() {
            self.consume_tps
        } else {
            0.0
        };
        let mut out = format!("{{\"consumeTps\":{tps:?},\"offsetTable\":{{");
        for (i, (mq, w)) in self.offset_table.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(mq).unwrap_or_default());
            out.push(':');
            out.push_str(&serde_json::to_string(w).unwrap_or_default());
        }
        out.push_str("}}");
        bytes::Bytes::from(out)
    }

    /// Reads a `ConsumeStats` body (object keys as fastjson writes them).
    pub fn decode(body: &[u8]) -> Result<ConsumeStats, BodyError> {
        let value = parse_with_object_keys(body)?;
        let consume_tps = value
            .get("consumeTps")
            .and_then(number_or_text)
            .unwrap_or(0.0);
        let mut offset_table = BTreeMap::new();
        for (key, v) in queue_keyed_entries(value.get("offsetTable"))? {
            let w: OffsetWrapper = serde_json::from_value(lenient_numbers(v))
                .map_err(|e| BodyError::Json(format!("bad OffsetWrapper: {e}")))?;
            offset_table.insert(key, w);
        }
        Ok(ConsumeStats {
            offset_table,
            consume_tps,
        })
    }
}

/// Reads a `ResetOffsetBody` (Java form, object keys) or `ResetOffsetBodyForC` (an array).
pub fn decode_reset_offset_body(body: &[u8]) -> Result<BTreeMap<MessageQueue, i64>, BodyError> {
    let value = parse_with_object_keys(body)?;
    if value.get("offsetTable").is_some_and(Value::is_array)
        && value["offsetTable"]
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_object))
    {
        let c: ResetOffsetBodyForC = decode_json(body)?;
        return Ok(c
            .offset_table
            .into_iter()
            .map(|e| {
                (
                    MessageQueue::new(e.topic, e.broker_name, e.queue_id),
                    e.offset,
                )
            })
            .collect());
    }
    let mut table = BTreeMap::new();
    for (key, v) in queue_keyed_entries(value.get("offsetTable"))? {
        let offset = number_or_text(&v)
            .ok_or_else(|| BodyError::Json(format!("bad offset {v} in offsetTable")))?;
        table.insert(key, offset as i64);
    }
    Ok(table)
}

fn number_or_text(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Numbers sent as strings become numbers (old clients write longs as text).
fn lenient_numbers(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => match s.trim().parse::<i64>() {
                        Ok(n) => (k, Value::from(n)),
                        Err(_) => (k, Value::String(s)),
                    },
                    other => (k, other),
                })
                .collect(),
        ),
        other => other,
    }
}

/// The entries of a map keyed by MessageQueue objects, as [`parse_with_object_keys`] returns
/// it: an array of `[key, value]` pairs (an empty `{}` or an absent map has none).
fn queue_keyed_entries(v: Option<&Value>) -> Result<Vec<(MessageQueue, Value)>, BodyError> {
    let pairs = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) if m.is_empty() => return Ok(Vec::new()),
        Some(Value::Array(pairs)) => pairs,
        Some(other) => {
            return Err(BodyError::Json(format!(
                "expected a map keyed by MessageQueue objects, found {other}"
            )))
        }
    };
    let mut out = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let (Some(k), Some(v)) = (pair.get(0), pair.get(1)) else {
            return Err(BodyError::Json("bad map entry".into()));
        };
        let mq: MessageQueue = serde_json::from_value(k.clone())
            .map_err(|e| BodyError::Json(format!("bad MessageQueue key {k}: {e}")))?;
        out.push((mq, v.clone()));
    }
    Ok(out)
}

/// Parses JSON in which object keys may be any value. An object whose keys are all strings
/// becomes a JSON object; one with any other key becomes an array of `[key, value]` pairs.
pub fn parse_with_object_keys(body: &[u8]) -> Result<Value, BodyError> {
    let mut p = Parser { s: body, i: 0 };
    let v = p.value(0)?;
    p.ws();
    if p.s[p.i..].iter().any(|b| *b != 0) {
        return Err(p.err("trailing data"));
    }
    Ok(v)
}

/// Deeper nesting than any body of the protocol; stops a hostile input's recursion.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> BodyError {
        BodyError::Json(format!("{what} at byte {}", self.i))
    }

    fn ws(&mut self) {
        while self
            .s
            .get(self.i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), BodyError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, BodyError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(_) => self.scalar(),
            None => Err(self.err("unexpected end")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, BodyError> {
        self.expect(b'{')?;
        let mut entries: Vec<(Value, Value)> = Vec::new();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(serde_json::Map::new()));
        }
        loop {
            let key = self.value(depth + 1)?;
            self.expect(b':')?;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
        if entries.iter().all(|(k, _)| k.is_string()) {
            Ok(Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v))
                    .collect(),
            ))
        } else {
            Ok(Value::Array(
                entries
                    .into_iter()
                    .map(|(k, v)| Value::Array(vec![k, v]))
                    .collect(),
            ))
        }
    }

    fn string(&mut self) -> Result<Value, BodyError> {
        let start = self.i;
        self.i += 1;
        loop {
            match self.s.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(b'\\') => self.i += 2,
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(_) => self.i += 1,
            }
        }
        let slice = self
            .s
            .get(start..self.i)
            .ok_or_else(|| self.err("bad string"))?;
        serde_json::from_slice(slice).map_err(|e| BodyError::Json(e.to_string()))
    }

    fn scalar(&mut self) -> Result<Value, BodyError> {
        let start = self.i;
        while self.s.get(self.i).is_some_and(|b| {
            !matches!(
                b,
                b',' | b':' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | 0
            )
        }) {
            self.i += 1;
        }
        if start == self.i {
            return Err(self.err("expected a value"));
        }
        serde_json::from_slice(&self.s[start..self.i])
            .map_err(|e| BodyError::Json(format!("{e} at byte {start}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_stats_round_trip_in_fastjson_form() {
        let mut stats = ConsumeStats::default();
        stats.offset_table.insert(
            MessageQueue::new("T", "b", 1),
            OffsetWrapper {
                broker_offset: 10,
                consumer_offset: 7,
                last_timestamp: 1700000000000,
                pull_offset: 8,
            },
        );
        let body = stats.encode();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "{\"consumeTps\":0.0,\"offsetTable\":{{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"T\"}:\
             {\"brokerOffset\":10,\"consumerOffset\":7,\"lastTimestamp\":1700000000000,\"pullOffset\":8}}}"
        );
        assert_eq!(ConsumeStats::decode(&body).unwrap(), stats);
        let empty = ConsumeStats::default().encode();
        assert_eq!(&empty[..], b"{\"consumeTps\":0.0,\"offsetTable\":{}}");
        assert!(ConsumeStats::decode(&empty)
            .unwrap()
            .offset_table
            .is_empty());
    }

    #[test]
    fn reset_offset_bodies_of_both_forms_are_read() {
        let mut table = BTreeMap::new();
        table.insert(MessageQueue::new("T", "b", 0), 5);
        table.insert(MessageQueue::new("T", "b", 3), 0);
        let java = super::super::reset_offset::encode_reset_offset_body_java(&table);
        assert_eq!(decode_reset_offset_body(&java).unwrap(), table);
        let c = super::super::encode_json(&ResetOffsetBodyForC::from_table(&table));
        assert_eq!(decode_reset_offset_body(&c).unwrap(), table);
        assert!(decode_reset_offset_body(b"{\"offsetTable\":{}}")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        for bad in [
            &b"{"[..],
            b"{{\"a\":1}",
            b"{\"offsetTable\":{{\"topic\":1}:}}",
            b"\"\\",
            b"[[[[",
            b"{\"a\":1} x",
        ] {
            assert!(parse_with_object_keys(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(10_000);
        assert!(parse_with_object_keys(deep.as_bytes()).is_err());
    }
}
