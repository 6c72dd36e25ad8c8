//! Messages as the client sends them ([`Message`]) and receives them ([`MessageExt`]).

use bytes::Bytes;
use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::properties::{self as prop};
use rocketmq_protocol::{compression, message_id, sysflag};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// An outgoing message. Properties hold tags, keys and user properties alike, as on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub flag: i32,
    pub properties: BTreeMap<String, String>,
    pub body: Bytes,
}

impl Message {
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Message {
            topic: topic.into(),
            body: body.into(),
            ..Default::default()
        }
    }

    pub fn set_tags(&mut self, tags: &str) {
        self.set_or_clear(prop::TAGS, tags);
    }

    /// Keys separated by spaces, as the wire stores them.
    pub fn set_keys(&mut self, keys: &str) {
        self.set_or_clear(prop::KEYS, keys);
    }

    pub fn set_delay_level(&mut self, level: i32) {
        self.properties
            .insert(prop::DELAY.to_string(), level.to_string());
    }

    pub fn set_property(&mut self, name: &str, value: &str) {
        self.set_or_clear(name, value);
    }

    pub fn tags(&self) -> Option<&str> {
        self.properties.get(prop::TAGS).map(String::as_str)
    }

    pub fn keys(&self) -> Option<&str> {
        self.properties.get(prop::KEYS).map(String::as_str)
    }

    /// Empty values are dropped, as the wire cannot carry them.
    fn set_or_clear(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.properties.remove(name);
        } else {
            self.properties.insert(name.to_string(), value.to_string());
        }
    }

    /// The property string to send.
    pub fn encoded_properties(&self) -> String {
        prop::encode_properties(self.properties.iter())
    }
}

/// A received message: the stored record decoded, with its body inflated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageExt {
    pub topic: String,
    pub flag: i32,
    pub body: Bytes,
    pub properties: BTreeMap<String, String>,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body_crc: i32,
    /// Size of the stored record in bytes.
    pub store_size: i32,
    /// The client-visible id: `UNIQ_KEY` when present, else the offset id.
    pub msg_id: String,
    /// The broker's id: store host + commit-log offset.
    pub offset_msg_id: String,
}

impl MessageExt {
    /// Builds the client view of a pulled record. A compressed body is inflated (up to
    /// `max_body` bytes); a body that fails to inflate is kept as stored.
    pub fn from_stored(m: StoredMessage, max_body: usize) -> MessageExt {
        let mut sys_flag = m.sys_flag;
        let body = if sysflag::is_compressed(m.sys_flag) {
            match compression::inflate(&m.body, max_body) {
                Ok(b) => {
                    sys_flag &= !sysflag::COMPRESSED_FLAG;
                    Bytes::from(b)
                }
                Err(_) => m.body.clone(),
            }
        } else {
            m.body.clone()
        };
        let properties = prop::decode_properties_map(&m.properties);
        let offset_msg_id = message_id::create_offset_msg_id(m.store_host, m.physical_offset);
        let msg_id = properties
            .get(prop::UNIQ_KEY)
            .cloned()
            .unwrap_or_else(|| offset_msg_id.clone());
        MessageExt {
            topic: m.topic,
            flag: m.flag,
            body,
            properties,
            queue_id: m.queue_id,
            queue_offset: m.queue_offset,
            commit_log_offset: m.physical_offset,
            sys_flag,
            born_timestamp: m.born_timestamp,
            born_host: m.born_host,
            store_timestamp: m.store_timestamp,
            store_host: m.store_host,
            reconsume_times: m.reconsume_times,
            prepared_transaction_offset: m.prepared_transaction_offset,
            body_crc: m.body_crc,
            store_size: m.total_size,
            msg_id,
            offset_msg_id,
        }
    }

    pub fn tags(&self) -> Option<&str> {
        self.properties.get(prop::TAGS).map(String::as_str)
    }

    pub fn keys(&self) -> Option<&str> {
        self.properties.get(prop::KEYS).map(String::as_str)
    }

    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }
}
