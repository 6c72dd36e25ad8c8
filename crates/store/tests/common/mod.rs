//! Helpers shared by the store tests.
#![allow(dead_code)]

use bytes::Bytes;
use rocketmq_protocol::message::{decode_stored, StoredMessage};
use rocketmq_protocol::properties::{encode_pairs, TAGS};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::{
    FlushMode, GetRequest, GetResult, IndexConfig, MessageStore, MessageToStore, StoreConfig,
};
use std::path::Path;
use std::time::Duration;

pub fn msg(topic: &str, queue_id: i32, body: &[u8], tag: Option<&str>) -> MessageToStore {
    let mut pairs = vec![("UNIQ_KEY", "ABCDEF0123456789"), ("KEYS", "k1 k2")];
    if let Some(t) = tag {
        pairs.push((TAGS, t));
    }
    MessageToStore {
        topic: topic.to_string(),
        queue_id,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "127.0.0.1:40000".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::copy_from_slice(body),
        properties: encode_pairs(&pairs),
        tags_code: tags_code(tag),
    }
}

/// A file-store config with small files so tests exercise roll-over.
pub fn small_config(root: &Path) -> StoreConfig {
    let mut c = StoreConfig::new(root);
    c.commit_log_segment_size = 64 * 1024;
    c.consume_queue_entries_per_file = 64;
    c.flush = FlushMode::Async;
    c.flush_interval = Duration::from_millis(50);
    c.max_message_size = 16 * 1024;
    c.index = Some(IndexConfig {
        slots_per_file: 64,
        entries_per_file: 256,
        durable_interval: Duration::from_millis(50),
    });
    c
}

pub fn get_all(
    store: &dyn MessageStore,
    topic: &str,
    queue_id: i32,
    offset: i64,
    max: i32,
) -> GetResult {
    store.get_messages(
        &GetRequest {
            topic,
            queue_id,
            offset,
            max_msgs: max,
            max_bytes: usize::MAX,
        },
        &|_| true,
    )
}

pub fn decode(b: &[u8]) -> StoredMessage {
    let (m, n) = decode_stored(b).expect("valid stored record");
    assert_eq!(n, b.len());
    m
}

/// Every message of a queue, read in pulls of up to 32.
pub fn read_queue(store: &dyn MessageStore, topic: &str, queue_id: i32) -> Vec<StoredMessage> {
    let mut out = Vec::new();
    let mut offset = store.min_offset(topic, queue_id);
    let max = store.max_offset(topic, queue_id);
    let mut rounds = 0;
    while offset < max {
        rounds += 1;
        assert!(rounds < 1_000_000, "read_queue does not advance");
        let r = get_all(store, topic, queue_id, offset, 32);
        assert_eq!(r.messages.len(), r.queue_offsets.len());
        for (m, qo) in r.messages.iter().zip(&r.queue_offsets) {
            let d = decode(m);
            assert_eq!(d.queue_offset, *qo);
            out.push(d);
        }
        assert!(r.next_begin_offset > offset);
        offset = r.next_begin_offset;
    }
    out
}

/// Deterministic body for message `i`.
pub fn body_for(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| ((i * 31 + j * 7) % 251) as u8).collect()
}
