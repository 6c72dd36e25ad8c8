//! Which keys a stored message is indexed under, and whether a record answers a key query.
//! Shared by the file store's index and the memory store, so both answer queries alike.
//!
//! A message is indexed under its `UNIQ_KEY` and under each space-separated word of its
//! `KEYS`, each paired with its topic. A rolled-back transactional record is not indexed
//! (nobody can consume it); every other record is, whatever its topic.

use crate::message_store::KeyKind;
use rocketmq_protocol::message::RecordView;
use rocketmq_protocol::properties::{get_property, KEYS, UNIQ_KEY};
use rocketmq_protocol::sysflag;

/// Most keys one message is indexed under (a unique key and its `KEYS` words); words past it
/// are not indexed.
pub const MAX_KEYS_PER_MESSAGE: usize = 64;

/// Hash of a (topic, key) pair: FNV-1a over `topic`, a separator byte and `key`, folded to
/// 32 bits. Stable across runs and platforms (it is stored in index files).
pub fn key_hash(topic: &str, key: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    topic.bytes().for_each(&mut eat);
    eat(b'#');
    key.bytes().for_each(&mut eat);
    (h ^ (h >> 32)) as u32
}

/// Whether a record with these flags is indexed.
pub fn is_indexed(sys_flag: i32) -> bool {
    sysflag::transaction_type(sys_flag) != sysflag::TRANSACTION_ROLLBACK_TYPE
}

/// The hashes a record is indexed under (at most [`MAX_KEYS_PER_MESSAGE`], duplicates
/// removed); empty for a record that is not indexed.
pub fn index_hashes(v: &RecordView<'_>, out: &mut Vec<u32>) {
    out.clear();
    if !is_indexed(v.sys_flag) {
        return;
    }
    let uniq = get_property(v.properties, UNIQ_KEY).filter(|k| !k.is_empty());
    let words = get_property(v.properties, KEYS)
        .into_iter()
        .flat_map(|k| k.split(' '))
        .filter(|w| !w.is_empty());
    for key in uniq.into_iter().chain(words) {
        if out.len() >= MAX_KEYS_PER_MESSAGE {
            break;
        }
        let h = key_hash(v.topic, key);
        if !out.contains(&h) {
            out.push(h);
        }
    }
}

/// Whether a record answers a query for `key` of `kind` on `topic` between the two store
/// times (inclusive).
pub fn record_matches(
    v: &RecordView<'_>,
    topic: &str,
    key: &str,
    kind: KeyKind,
    begin_timestamp: i64,
    end_timestamp: i64,
) -> bool {
    if v.topic != topic
        || !is_indexed(v.sys_flag)
        || v.store_timestamp < begin_timestamp
        || v.store_timestamp > end_timestamp
    {
        return false;
    }
    let unique = || get_property(v.properties, UNIQ_KEY) == Some(key);
    let word = || {
        get_property(v.properties, KEYS)
            .is_some_and(|k| k.split(' ').any(|w| !w.is_empty() && w == key))
    };
    match kind {
        KeyKind::UniqueKey => unique(),
        KeyKind::Keys => word(),
        KeyKind::Any => unique() || word(),
    }
}
