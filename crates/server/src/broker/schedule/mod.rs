//! Delayed delivery by delay level (spec 5.3, Java `ScheduleMessageService`).
//!
//! A message with `DELAY` = n is stored by [`to_scheduled`] in `SCHEDULE_TOPIC_XXXX` queue n-1
//! with its real topic and queue in `REAL_TOPIC`/`REAL_QID` and its delivery time (store time
//! plus the level's delay) as the consume-queue tags code. [`ScheduleService`] walks each level
//! queue in order and, once an entry is due, appends a copy to the real topic/queue.
//!
//! - `levels`: the delay levels and the rewrite into the schedule topic (pure, no store);
//! - `service`: the delivery service over the store and its persisted offsets.
//!
//! What must stay true:
//! - a message never appears in its real topic before its delivery time, and within one level
//!   messages are delivered in the order they were scheduled;
//! - the per-level delivery offsets are persisted (store config `delayOffset`,
//!   `{"offsetTable":{"1":12,...}}`) only after the messages delivered up to them are durable,
//!   so a restart never loses a delayed message: a new service on the reopened store resumes
//!   at the persisted offsets and delivers what fell due meanwhile at once (a crash between
//!   delivering and persisting may deliver a message twice, never zero times);
//! - the delivered copy keeps body, flag, sys flag, born host/time, store host, reconsume
//!   times and properties (including `UNIQ_KEY`, `REAL_TOPIC`, `REAL_QID`), without `DELAY`
//!   and the timer properties, with `WAIT=false` and the tag hash as tags code.

mod levels;
mod service;
#[cfg(test)]
mod tests;

pub use levels::{
    copy_to_real_queue, requested_delay_level, to_scheduled, DelayLevels, SCHEDULE_TOPIC,
};
pub use service::ScheduleService;
