//! QUERY_MESSAGE (12): the messages of a topic stored under a key (a `KEYS` word) or a unique
//! key (`UNIQ_KEY`), between two store times, from the store's message index.
//!
//! What must stay true (as the Java broker): at most [`MAX_QUERY_NUM`] records per answer,
//! and a unique-key query uses [`UNIQUE_KEY_QUERY_NUM`] whatever the caller asked; both kinds
//! answer the messages that carry the key as a `KEYS` word or as their `UNIQ_KEY` (Java's
//! index holds both in one space; clients keep the kind they asked for); the newest matches
//! are answered, oldest first (commit-log order, as Java's); the answer always
//! carries where the index stands; an empty result is `QUERY_NOT_FOUND`. The
//! store lookup may wait (bounded) for the index to catch up, so it runs off the runtime's
//! threads.

use crate::broker::error::OpError;
use crate::broker::services::Broker;
use bytes::Bytes;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::message::POS_PHYSICAL_OFFSET;
use rocketmq_store::{KeyKind, KeyQuery};

/// Most records one answer holds (Java `maxMsgsNumBatch`).
pub const MAX_QUERY_NUM: usize = 64;
/// Records a unique-key query asks for (Java `defaultQueryMaxNum`).
pub const UNIQUE_KEY_QUERY_NUM: usize = 32;

/// A key query as a client asks it.
#[derive(Clone, Debug)]
pub struct MessageQuery {
    pub topic: String,
    pub key: String,
    /// `key` is a unique key (`_UNIQUE_KEY_QUERY=true`), not a `KEYS` word.
    pub unique: bool,
    pub max_num: i32,
    pub begin_timestamp: i64,
    pub end_timestamp: i64,
}

/// What QUERY_MESSAGE answers: the records (possibly none) and the index's position.
#[derive(Clone, Debug, Default)]
pub struct QueryAnswer {
    /// Whole stored records: the newest `maxNum` that match, in commit-log order (as Java's
    /// broker answers them).
    pub records: Vec<Bytes>,
    pub index_last_update_timestamp: i64,
    pub index_last_update_phy_offset: i64,
}

impl QueryAnswer {
    /// The error a front end answers when nothing was found (the position still goes along).
    pub fn not_found() -> OpError {
        OpError::new(
            resp::QUERY_NOT_FOUND,
            "can not find message, maybe time range not correct",
        )
    }
}

/// The PHYSICALOFFSET field of a stored record (0 for a record too short to hold it).
fn commit_log_offset_of(record: &[u8]) -> i64 {
    record
        .get(POS_PHYSICAL_OFFSET..POS_PHYSICAL_OFFSET + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, i64::from_be_bytes)
}

impl Broker {
    /// Looks the key up in the store's index (see the module docs for the limits).
    pub async fn query_messages(&self, q: MessageQuery) -> Result<QueryAnswer, OpError> {
        let max_num = if q.unique {
            UNIQUE_KEY_QUERY_NUM
        } else {
            usize::try_from(q.max_num).unwrap_or(0).min(MAX_QUERY_NUM)
        };
        let store = self.store.clone();
        let lookup = tokio::task::spawn_blocking(move || {
            store.query_by_key(&KeyQuery {
                topic: &q.topic,
                key: &q.key,
                kind: KeyKind::Any,
                max_num,
                begin_timestamp: q.begin_timestamp,
                end_timestamp: q.end_timestamp,
            })
        })
        .await
        .map_err(|e| OpError::system(format!("the key query failed: {e}")))?;
        let mut records = lookup.records;
        records.sort_by_key(|r| commit_log_offset_of(r));
        Ok(QueryAnswer {
            records,
            index_last_update_timestamp: lookup.index_last_update_timestamp,
            index_last_update_phy_offset: lookup.index_last_update_phy_offset,
        })
    }
}
