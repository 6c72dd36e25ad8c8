//! Timer messages (RocketMQ 5): a message with `TIMER_DELAY_SEC`, `TIMER_DELAY_MS`,
//! `TIMER_DELIVER_MS` or `__STARTDELIVERTIME` is held until its time, then delivered to its
//! real topic and queue.
//!
//! - `rules`: pure decisions: when a message is a timer message, its deliver time, the limit,
//!   the rewrite into [`TIMER_TOPIC`] and the copy delivered at its time;
//! - `send_hook`: the one call the send path and the transaction commit make;
//! - `service`: [`TimerService`], which takes the timer queue into the on-disk timer log and
//!   wheel (`rocketmq_store::TimerStore`) and delivers each entry at its time.
//!
//! What must stay true:
//! - a timer message is stored first in `rmq_sys_wheel_timer` queue 0 (the send is
//!   acknowledged after that append, durable under sync flush) with `REAL_TOPIC`, `REAL_QID`
//!   and `TIMER_OUT_MS` (its deliver time, also its consume-queue tags code);
//! - it never reaches its real topic before its deliver time, and is delivered once the time
//!   comes even after a restart or a crash (late by the downtime at most); a crash may deliver
//!   again what was delivered since the last checkpoint (tens of ms), never lose one;
//! - the delivered copy keeps body, flag, sys flag, born host/time, reconsume times and every
//!   property (`UNIQ_KEY`, `KEYS`, `TAGS`, the timer properties, `REAL_TOPIC`/`REAL_QID`), plus
//!   `TIMER_ENQUEUE_MS`/`TIMER_DEQUEUE_MS` as Apache's, with `WAIT=false`;
//! - memory holds only the entries of the slots due within about one slot (1 s) and those
//!   taken in since for that window, never every scheduled message.

mod rules;
mod send_hook;
mod service;
#[cfg(test)]
mod tests;

pub use rules::{check_timer_max_delay, stored_deliver_ms, TIMER_TOPIC};
pub use service::TimerService;
