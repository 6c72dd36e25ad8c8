//! Broker registration bodies (spec 4.5): `RegisterBrokerBody`, the topic config wrapper
//! and `DataVersion`, in the JSON form and the zlib-compressed binary form
//! (`compressed=true` in the REGISTER_BROKER header).
//!
//! Compressed layout (one zlib stream, big-endian ints): len + DataVersion JSON; topic
//! count; per topic len + `TopicConfig` text; len + filter-server list JSON; optional
//! 5.x mapping entries (ignored on read, written as count 0). Every length and count is
//! checked against the inflated data before use.

use super::topic_config::TopicConfig;
use super::BodyError;
use crate::compression;
use crate::lenient::i64_any;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version stamp of a broker's topic configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataVersion {
    #[serde(default, deserialize_with = "i64_any")]
    pub counter: i64,
    #[serde(default, deserialize_with = "i64_any")]
    pub state_version: i64,
    #[serde(default, deserialize_with = "i64_any")]
    pub timestamp: i64,
}

/// Topic configs of a broker plus their version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfigSerializeWrapper {
    #[serde(default)]
    pub data_version: DataVersion,
    #[serde(default)]
    pub topic_config_table: BTreeMap<String, TopicConfig>,
}

/// REGISTER_BROKER body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBrokerBody {
    #[serde(default)]
    pub filter_server_list: Vec<String>,
    #[serde(default)]
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

/// Inflate limit for compressed registration bodies (many thousands of topics fit).
pub const MAX_INFLATED_REGISTER_BODY: usize = 64 * 1024 * 1024;

impl RegisterBrokerBody {
    /// Decodes the body of a REGISTER_BROKER request; `compressed` is the header flag.
    pub fn decode(body: &[u8], compressed: bool) -> Result<Self, BodyError> {
        if !compressed {
            return super::decode_json(body);
        }
        let data = compression::inflate(body, MAX_INFLATED_REGISTER_BODY)?;
        let mut r = Cursor {
            data: &data,
            pos: 0,
        };
        let version_json = r.chunk("dataVersion")?;
        let data_version: DataVersion = super::decode_json(version_json)?;
        let count = r.count("topic count")?;
        let mut table = BTreeMap::new();
        for _ in 0..count {
            let text = r.chunk("topic config")?;
            let text = std::str::from_utf8(text)
                .map_err(|_| BodyError::Malformed("topic config is not UTF-8".into()))?;
            let config = TopicConfig::decode_text(text)
                .ok_or_else(|| BodyError::Malformed(format!("bad topic config {text:?}")))?;
            table.insert(config.topic_name.clone(), config);
        }
        let filter_server_list = if r.remaining() > 0 {
            super::decode_json(r.chunk("filter server list")?)?
        } else {
            Vec::new()
        };
        Ok(RegisterBrokerBody {
            filter_server_list,
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version,
                topic_config_table: table,
            },
        })
    }

    /// Encodes as JSON, or in the compressed form (zlib level 9, as Java's
    /// `Deflater.BEST_COMPRESSION`) with an empty 5.x mapping section.
    pub fn encode(&self, compressed: bool) -> bytes::Bytes {
        if !compressed {
            return super::encode_json(self);
        }
        let mut raw = Vec::new();
        let put_chunk = |raw: &mut Vec<u8>, bytes: &[u8]| {
            raw.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            raw.extend_from_slice(bytes);
        };
        let wrapper = &self.topic_config_serialize_wrapper;
        put_chunk(&mut raw, &super::encode_json(&wrapper.data_version));
        raw.extend_from_slice(&(wrapper.topic_config_table.len() as i32).to_be_bytes());
        for config in wrapper.topic_config_table.values() {
            put_chunk(&mut raw, config.encode_text().as_bytes());
        }
        put_chunk(&mut raw, &super::encode_json(&self.filter_server_list));
        raw.extend_from_slice(&0i32.to_be_bytes());
        compression::deflate(&raw, 9).into()
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn count(&mut self, what: &str) -> Result<usize, BodyError> {
        let b = self
            .data
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| BodyError::Malformed(format!("{what}: truncated")))?;
        let n = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        self.pos += 4;
        let n = usize::try_from(n)
            .map_err(|_| BodyError::Malformed(format!("{what}: negative value {n}")))?;
        // Every counted item needs at least 4 bytes, so a count larger than that is a lie.
        if n > self.remaining() {
            return Err(BodyError::Malformed(format!(
                "{what}: {n} exceeds the data"
            )));
        }
        Ok(n)
    }

    fn chunk(&mut self, what: &str) -> Result<&'a [u8], BodyError> {
        let n = self.count(what)?;
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode_json, encode_json};

    // The name server answers QUERY_DATA_VERSION with the registered version in this form
    // (fastjson's alphabetical field order), or `null` for a broker that registered without
    // a body.
    #[test]
    fn data_version_json_is_fastjson_order_and_none_is_null() {
        let version = DataVersion {
            counter: 3,
            state_version: 0,
            timestamp: 1_700_000_000_000,
        };
        assert_eq!(
            encode_json(&Some(version.clone())).as_ref(),
            br#"{"counter":3,"stateVersion":0,"timestamp":1700000000000}"#
        );
        assert_eq!(encode_json(&None::<DataVersion>).as_ref(), b"null");
        // A 4.x broker sends no stateVersion and may send numbers as strings.
        assert_eq!(
            decode_json::<Option<DataVersion>>(br#"{"counter":"3","timestamp":1700000000000}"#)
                .unwrap(),
            Some(version)
        );
        assert_eq!(decode_json::<Option<DataVersion>>(b"null").unwrap(), None);
        assert!(decode_json::<Option<DataVersion>>(b"").is_err());
    }
}
