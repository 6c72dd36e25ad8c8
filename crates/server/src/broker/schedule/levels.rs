//! Delay levels and the rewrite of a message into the schedule topic: pure rules, no store.
//!
//! What must stay true: a level is always clamped to `1..=level_count()` before use, so a
//! message names an existing schedule queue whatever level its producer asked for.

use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::properties::{
    get_property, set_property, DELAY, REAL_QID, REAL_TOPIC, TAGS,
};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::MessageToStore;
use std::fmt;
use std::time::Duration;

/// The topic holding delayed messages; queue n-1 holds level n.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";

/// A bad delay-level specification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayLevelsError(pub String);

impl fmt::Display for DelayLevelsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid delay levels: {}", self.0)
    }
}

impl std::error::Error for DelayLevelsError {}

/// The delay of each level, level 1 first (Java `messageDelayLevel`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayLevels {
    delays: Vec<Duration>,
}

impl DelayLevels {
    /// Parses a space-separated list such as `"1s 5s 10s 30s 1m 2h"`. Each entry is a
    /// non-negative integer followed by a unit: `ms`, `s`, `m`, `h` or `d`.
    pub fn parse(spec: &str) -> Result<Self, DelayLevelsError> {
        let mut delays = Vec::new();
        for (i, token) in spec.split_whitespace().enumerate() {
            let level = i + 1;
            let (digits, unit_ms): (&str, u64) = if let Some(d) = token.strip_suffix("ms") {
                (d, 1)
            } else if let Some(d) = token.strip_suffix('s') {
                (d, 1_000)
            } else if let Some(d) = token.strip_suffix('m') {
                (d, 60_000)
            } else if let Some(d) = token.strip_suffix('h') {
                (d, 3_600_000)
            } else if let Some(d) = token.strip_suffix('d') {
                (d, 86_400_000)
            } else {
                return Err(DelayLevelsError(format!(
                    "level {level} {token:?} has no unit (use ms, s, m, h or d, e.g. \"10s\")"
                )));
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DelayLevelsError(format!(
                    "level {level} {token:?} must be a whole number followed by a unit"
                )));
            }
            let ms = digits
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(unit_ms))
                .filter(|&ms| ms <= i64::MAX as u64 / 2)
                .ok_or_else(|| DelayLevelsError(format!("level {level} {token:?} is too large")))?;
            delays.push(Duration::from_millis(ms));
        }
        if delays.is_empty() {
            return Err(DelayLevelsError(
                "no levels given (expected e.g. \"1s 5s 10s\")".into(),
            ));
        }
        if delays.len() > i32::MAX as usize {
            return Err(DelayLevelsError("too many levels".into()));
        }
        Ok(DelayLevels { delays })
    }

    /// Number of levels (18 for the standard list).
    pub fn level_count(&self) -> i32 {
        self.delays.len() as i32
    }

    /// `level` clamped to `1..=level_count()`.
    pub fn clamp(&self, level: i32) -> i32 {
        level.clamp(1, self.level_count())
    }

    /// The delay of a level, after clamping it to `1..=level_count()`.
    pub fn delay_of(&self, level: i32) -> Duration {
        self.delays[(self.clamp(level) - 1) as usize]
    }

    pub(super) fn delay_ms(&self, level: i32) -> i64 {
        self.delay_of(level).as_millis() as i64
    }
}

/// Rewrites a message for delayed delivery at `level` (clamped to the configured levels):
/// `REAL_TOPIC`/`REAL_QID` record where it belongs, `DELAY` holds the clamped level, it goes
/// to [`SCHEDULE_TOPIC`] queue level-1, and its tags code is the delivery time
/// `now_ms + delay`. `now_ms` stands for the store time.
pub fn to_scheduled(
    levels: &DelayLevels,
    mut msg: MessageToStore,
    level: i32,
    now_ms: i64,
) -> MessageToStore {
    let level = levels.clamp(level);
    let mut props = set_property(&msg.properties, REAL_TOPIC, &msg.topic);
    props = set_property(&props, REAL_QID, &msg.queue_id.to_string());
    props = set_property(&props, DELAY, &level.to_string());
    msg.properties = props;
    msg.topic = SCHEDULE_TOPIC.to_string();
    msg.queue_id = level - 1;
    msg.tags_code = now_ms.saturating_add(levels.delay_ms(level));
    msg
}

/// The `DELAY` level of a property string, when it asks for delayed delivery (> 0).
pub fn requested_delay_level(properties: &str) -> Option<i32> {
    get_property(properties, DELAY)
        .and_then(|v| v.trim().parse::<i32>().ok())
        .filter(|&l| l > 0)
}

/// The copy of a held message (a delay level's or a timer's) that goes to the topic and queue
/// its `REAL_TOPIC`/`REAL_QID` name: everything of the record kept but the properties, which
/// are what `edit` makes of them, and the tags code, the hash of their `TAGS`. `None` when
/// the record does not say where (no `REAL_TOPIC` or no valid `REAL_QID`).
pub fn copy_to_real_queue(
    stored: StoredMessage,
    edit: impl FnOnce(&str) -> String,
) -> Option<MessageToStore> {
    let topic = get_property(&stored.properties, REAL_TOPIC)?.to_string();
    let queue_id = get_property(&stored.properties, REAL_QID)?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|&q| q >= 0)?;
    let properties = edit(&stored.properties);
    Some(MessageToStore {
        topic,
        queue_id,
        flag: stored.flag,
        sys_flag: stored.sys_flag,
        born_timestamp: stored.born_timestamp,
        born_host: stored.born_host,
        store_host: stored.store_host,
        reconsume_times: stored.reconsume_times,
        prepared_transaction_offset: 0,
        body: stored.body,
        tags_code: tags_code(get_property(&properties, TAGS)),
        properties,
    })
}
