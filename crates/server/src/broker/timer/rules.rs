//! Timer rules: which property asks for a timer, the deliver time it means, the limit, and
//! the two rewrites (into the timer topic, and back out at delivery). Pure: no store, no clock.

use crate::broker::schedule::copy_to_real_queue;
use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::properties::{
    get_property, set_property, REAL_QID, REAL_TOPIC, START_DELIVER_TIME, TIMER_DELAY_MS,
    TIMER_DELAY_SEC, TIMER_DELIVER_MS, TIMER_DEL_UNIQKEY, TIMER_DEQUEUE_MS, TIMER_ENQUEUE_MS,
    TIMER_OUT_MS, UNIQ_KEY, WAIT,
};
use rocketmq_protocol::recall::delete_key;
use rocketmq_store::MessageToStore;
use std::time::Duration;

/// The topic timer messages wait in (Apache's `TimerMessageStore.TIMER_TOPIC`).
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";

/// What a message's properties ask of the timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimerRequest {
    /// No timer property (or the message is already a timer message's stored form).
    None,
    /// Deliver at this time (ms since the epoch); may be in the past.
    At(i64),
    /// A timer property whose value is not a whole number: refused.
    Malformed {
        property: &'static str,
        value: String,
    },
}

/// Reads the timer properties the way Apache's broker does: `TIMER_DELAY_SEC` first, then
/// `TIMER_DELAY_MS` (both from `now_ms`), then `TIMER_DELIVER_MS`; then `__STARTDELIVERTIME`
/// (epoch ms, the Alibaba Cloud clients' property, which Apache's broker ignores). A message
/// already carrying `TIMER_OUT_MS` is not scheduled again.
pub fn timer_deliver_ms(properties: &str, now_ms: i64) -> TimerRequest {
    if get_property(properties, TIMER_OUT_MS).is_some() {
        return TimerRequest::None;
    }
    let read = |property: &'static str| {
        get_property(properties, property).map(|v| match v.trim().parse::<i64>() {
            Ok(n) => Ok(n),
            Err(_) => Err(TimerRequest::Malformed {
                property,
                value: v.to_string(),
            }),
        })
    };
    let pick = |r: Result<i64, TimerRequest>, to_deliver: &dyn Fn(i64) -> i64| match r {
        Ok(n) => TimerRequest::At(to_deliver(n)),
        Err(m) => m,
    };
    if let Some(r) = read(TIMER_DELAY_SEC) {
        return pick(r, &|s| now_ms.saturating_add(s.saturating_mul(1000)));
    }
    if let Some(r) = read(TIMER_DELAY_MS) {
        return pick(r, &|ms| now_ms.saturating_add(ms));
    }
    if let Some(r) = read(TIMER_DELIVER_MS) {
        return pick(r, &|at| at);
    }
    if let Some(r) = read(START_DELIVER_TIME) {
        return pick(r, &|at| at);
    }
    TimerRequest::None
}

/// Checks a `--timer-max-delay` (parsed by [`crate::parse_duration`], the one reader of
/// durations with a unit): more than 0 and at most 365 days.
pub fn check_timer_max_delay(delay: Duration) -> Result<Duration, String> {
    if delay.is_zero() || delay > Duration::from_secs(365 * 86_400) {
        return Err(format!(
            "the timer max delay must be more than 0 and at most 365d, not {} ms",
            delay.as_millis()
        ));
    }
    Ok(delay)
}

/// The remark of a refused timer message (Apache's wording, which names the limit in ms).
pub fn too_far_remark(max_delay_ms: i64, asked_ms: i64) -> String {
    format!(
        "timer message illegal, the delay time should not be bigger than the max delay {max_delay_ms}ms \
         (this message asks for {asked_ms}ms; the broker's limit is set by --timer-max-delay / timer_max_delay)"
    )
}

/// The stored form of a timer message due at `deliver_ms`: in [`TIMER_TOPIC`] queue 0, its
/// real topic and queue in `REAL_TOPIC`/`REAL_QID`, its deliver time in `TIMER_OUT_MS` and as
/// its tags code.
pub fn to_timer(mut msg: MessageToStore, deliver_ms: i64) -> MessageToStore {
    let mut props = set_property(&msg.properties, TIMER_OUT_MS, &deliver_ms.to_string());
    props = set_property(&props, REAL_TOPIC, &msg.topic);
    props = set_property(&props, REAL_QID, &msg.queue_id.to_string());
    msg.properties = props;
    msg.topic = TIMER_TOPIC.to_string();
    msg.queue_id = 0;
    msg.tags_code = deliver_ms;
    msg
}

/// The deliver time of a stored timer message (its `TIMER_OUT_MS`).
pub fn stored_deliver_ms(properties: &str) -> Option<i64> {
    get_property(properties, TIMER_OUT_MS).and_then(|v| v.trim().parse().ok())
}

/// What a recall marker cancels (its `TIMER_DEL_UNIQKEY`); `None` for any other message.
pub fn recall_marker_key(properties: &str) -> Option<&str> {
    get_property(properties, TIMER_DEL_UNIQKEY)
}

/// The key a recall names a stored timer message by: `<REAL_TOPIC>+<UNIQ_KEY>`.
pub fn recall_key(properties: &str) -> Option<String> {
    Some(delete_key(
        get_property(properties, REAL_TOPIC)?,
        get_property(properties, UNIQ_KEY)?,
    ))
}

/// The copy of a due timer message that goes to its real topic and queue at `now_ms`: every
/// property kept (`REAL_TOPIC`/`REAL_QID` too), plus Apache's bookkeeping `TIMER_ENQUEUE_MS`
/// (when the timer message was stored) and `TIMER_DEQUEUE_MS` (now), and `WAIT=false`; `None`
/// when the record does not say where.
pub fn redelivery(stored: StoredMessage, now_ms: i64) -> Option<MessageToStore> {
    let enqueued = stored.store_timestamp.to_string();
    // REAL_TOPIC/REAL_QID stay, as on Apache's delivered copy.
    copy_to_real_queue(stored, |properties| {
        let props = set_property(properties, TIMER_ENQUEUE_MS, &enqueued);
        let props = set_property(&props, TIMER_DEQUEUE_MS, &now_ms.to_string());
        set_property(&props, WAIT, "false")
    })
}
