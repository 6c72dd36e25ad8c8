//! Delayed delivery by delay level (spec 5.3, Java `ScheduleMessageService`).
//!
//! A message with `DELAY` = n is stored by [`to_scheduled`] in `SCHEDULE_TOPIC_XXXX` queue n-1
//! with its real topic and queue in `REAL_TOPIC`/`REAL_QID` and its delivery time (store time
//! plus the level's delay) as the consume-queue tags code. [`ScheduleService`] walks each level queue in
//! order and, once an entry is due, appends a copy to the real topic/queue.
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

use rocketmq_protocol::message::decode_stored;
use rocketmq_protocol::properties::{
    get_property, remove_property, set_property, DELAY, REAL_QID, REAL_TOPIC, TAGS, TIMER_DELAY_MS,
    TIMER_DELAY_SEC, TIMER_DELIVER_MS, WAIT,
};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::{MessageStore, MessageToStore};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The topic holding delayed messages; queue n-1 holds level n.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Name of the store config document holding the per-level delivery offsets.
pub const DELAY_OFFSET_CONFIG: &str = "delayOffset";
/// Longest pause between two passes: a message scheduled at a level that was empty is
/// noticed within this time (Java polls an empty level every 100 ms too).
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Pause after the store refused a delivery (disk full, shut down) before trying again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// Most messages one level delivers in one pass, so a backlog after a long downtime does not
/// delay the other levels or offset persistence for long.
pub const MAX_DELIVERIES_PER_LEVEL_PASS: usize = 256;
/// How long to wait for a sync-flush acknowledgement of a delivery.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

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

    fn delay_ms(&self, level: i32) -> i64 {
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

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DelayOffsetDoc {
    #[serde(default)]
    offset_table: BTreeMap<i32, i64>,
}

/// Called with (topic, queue id) after a delayed message was appended there, so that long
/// polls on that queue wake up.
pub type DeliveredCallback = Arc<dyn Fn(&str, i32) + Send + Sync>;

/// Redelivers due delayed messages. One pass at a time ([`ScheduleService::run_once`] holds
/// the offset table for the whole pass), usually driven by [`ScheduleService::spawn`].
pub struct ScheduleService {
    store: Arc<dyn MessageStore>,
    levels: DelayLevels,
    on_delivered: DeliveredCallback,
    /// Next schedule-queue offset per queue id (index = level - 1). Longer than the level
    /// count when the store holds queues of levels a previous configuration had.
    offsets: Mutex<Vec<i64>>,
}

impl ScheduleService {
    /// Loads the persisted offsets from `store`. An unreadable offsets document is logged and
    /// treated as empty (every level restarts from its first message: duplicates, no loss).
    pub fn new(
        store: Arc<dyn MessageStore>,
        levels: DelayLevels,
        on_delivered: DeliveredCallback,
    ) -> Self {
        let saved = match store.load_config(DELAY_OFFSET_CONFIG) {
            Some(json) => serde_json::from_str::<DelayOffsetDoc>(&json).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "unreadable delay offsets; restarting every level");
                DelayOffsetDoc::default()
            }),
            None => DelayOffsetDoc::default(),
        };
        // Queues left by a configuration with more levels are still drained.
        let highest_queue = store
            .queues()
            .into_iter()
            .filter(|(t, _)| t == SCHEDULE_TOPIC)
            .map(|(_, q)| q)
            .max()
            .unwrap_or(-1);
        let count = (levels.level_count()).max(highest_queue.saturating_add(1)) as usize;
        let offsets = (0..count)
            .map(|i| {
                let level = i as i32 + 1;
                saved.offset_table.get(&level).copied().unwrap_or(0).max(0)
            })
            .collect();
        ScheduleService {
            store,
            levels,
            on_delivered,
            offsets: Mutex::new(offsets),
        }
    }

    pub fn levels(&self) -> &DelayLevels {
        &self.levels
    }

    /// The next schedule-queue offset to deliver for `level` (for inspection and tests).
    pub fn delivery_offset(&self, level: i32) -> Option<i64> {
        let offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        usize::try_from(level - 1)
            .ok()
            .and_then(|i| offsets.get(i).copied())
    }

    /// One pass over every level at time `now_ms`: delivers each due message, persists the
    /// advanced offsets, and returns how long to wait before the next pass (zero when a level
    /// still has due messages, at most [`POLL_INTERVAL`] otherwise, [`RETRY_AFTER_FAILURE`]
    /// after the store refused a delivery).
    pub fn run_once(&self, now_ms: i64) -> Duration {
        let mut offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        let before = offsets.clone();
        let mut wait = POLL_INTERVAL;
        let mut failed = false;
        let mut durable = true;
        let mut waiters = Vec::new();
        let mut woken: BTreeSet<(String, i32)> = BTreeSet::new();

        for (index, offset) in offsets.iter_mut().enumerate() {
            let queue_id = index as i32;
            let level = queue_id + 1;
            let max_delay = self.levels.delay_ms(level);
            let min = self.store.min_offset(SCHEDULE_TOPIC, queue_id);
            let max = self.store.max_offset(SCHEDULE_TOPIC, queue_id);
            if *offset < min {
                tracing::warn!(
                    level,
                    from = *offset,
                    to = min,
                    "delay offset below queue start"
                );
                *offset = min;
            }
            if *offset > max {
                // The queue is shorter than the persisted offset (e.g. a store reset): follow it.
                tracing::warn!(
                    level,
                    from = *offset,
                    to = max,
                    "delay offset past queue end"
                );
                *offset = max;
            }
            let mut delivered = 0usize;
            while *offset < max {
                if delivered == MAX_DELIVERIES_PER_LEVEL_PASS {
                    wait = Duration::ZERO;
                    break;
                }
                let Some(entry) = self.store.queue_entry(SCHEDULE_TOPIC, queue_id, *offset) else {
                    tracing::warn!(
                        level,
                        offset = *offset,
                        "missing schedule queue entry; skipped"
                    );
                    *offset += 1;
                    continue;
                };
                // A delivery time further ahead than the level's delay means the clock went
                // back since it was stored: deliver now rather than hold it (Java does the
                // same in `correctDeliverTimestamp`).
                let mut due_at = entry.tags_code;
                if due_at > now_ms.saturating_add(max_delay) {
                    due_at = now_ms;
                }
                if due_at > now_ms {
                    wait = wait.min(Duration::from_millis((due_at - now_ms) as u64));
                    break;
                }
                let Some(msg) = self
                    .store
                    .read_record(entry.commit_log_offset)
                    .and_then(|raw| decode_stored(&raw).ok())
                    .and_then(|(stored, _)| redelivery(stored))
                else {
                    tracing::warn!(
                        level,
                        offset = *offset,
                        commit_log_offset = entry.commit_log_offset,
                        "unreadable delayed message; skipped"
                    );
                    *offset += 1;
                    continue;
                };
                let target = (msg.topic.clone(), msg.queue_id);
                match self.store.put_messages(vec![msg]) {
                    Ok(outcome) => {
                        if let Some(w) = outcome.durable {
                            waiters.push(w);
                        }
                        woken.insert(target);
                        *offset += 1;
                        delivered += 1;
                    }
                    Err(e) => {
                        tracing::warn!(level, error = %e, "delayed delivery refused by the store");
                        failed = true;
                        break;
                    }
                }
            }
            if failed {
                break;
            }
        }

        for (topic, queue_id) in &woken {
            (self.on_delivered)(topic, *queue_id);
        }

        if *offsets != before {
            // Offsets may only be persisted once what they cover is durable.
            if waiters.is_empty() {
                if let Err(e) = self.store.flush() {
                    tracing::warn!(error = %e, "flush before saving delay offsets failed");
                    durable = false;
                }
            }
            for w in waiters {
                if let Err(e) = w.wait(DURABLE_WAIT) {
                    tracing::warn!(error = %e, "delayed delivery not confirmed durable");
                    durable = false;
                }
            }
            if durable {
                self.persist(&offsets);
            }
        }
        if failed {
            RETRY_AFTER_FAILURE
        } else {
            wait
        }
    }

    fn persist(&self, offsets: &[i64]) {
        let doc = DelayOffsetDoc {
            offset_table: offsets
                .iter()
                .enumerate()
                .map(|(i, &o)| (i as i32 + 1, o))
                .collect(),
        };
        match serde_json::to_string(&doc) {
            Ok(json) => {
                if let Err(e) = self.store.save_config(DELAY_OFFSET_CONFIG, &json) {
                    tracing::warn!(error = %e, "saving delay offsets failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "encoding delay offsets failed"),
        }
    }

    /// Runs passes on a plain thread until `stop` is set; checks `stop` at least every
    /// 100 ms.
    pub fn spawn(self: Arc<Self>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        std::thread::Builder::new()
            .name("schedule-service".into())
            .spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    let mut wait = self.run_once(now_ms());
                    while !wait.is_zero() && !stop.load(Ordering::Acquire) {
                        let slice = wait.min(POLL_INTERVAL);
                        std::thread::sleep(slice);
                        wait -= slice;
                    }
                }
            })
            .expect("spawning the schedule-service thread")
    }
}

/// The copy of a due scheduled message that goes to its real topic and queue; `None` when
/// the record does not say where (no `REAL_TOPIC` or no valid `REAL_QID`).
fn redelivery(stored: rocketmq_protocol::message::StoredMessage) -> Option<MessageToStore> {
    let topic = get_property(&stored.properties, REAL_TOPIC)?.to_string();
    let queue_id = get_property(&stored.properties, REAL_QID)?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|&q| q >= 0)?;
    let mut props = stored.properties;
    for name in [DELAY, TIMER_DELIVER_MS, TIMER_DELAY_SEC, TIMER_DELAY_MS] {
        props = remove_property(&props, name);
    }
    props = set_property(&props, WAIT, "false");
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
        tags_code: tags_code(get_property(&props, TAGS)),
        properties: props,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rocketmq_protocol::message::StoredMessage;
    use rocketmq_protocol::properties::{decode_properties_map, encode_pairs, KEYS, UNIQ_KEY};
    use rocketmq_store::{GetRequest, MemoryStore};
    use std::net::SocketAddr;
    use std::time::Instant;

    const STANDARD: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

    fn message(
        topic: &str,
        queue_id: i32,
        tag: &str,
        body: &'static [u8],
        uniq: &str,
    ) -> MessageToStore {
        let properties =
            encode_pairs(&[(TAGS, tag), (KEYS, "k1 k2"), (UNIQ_KEY, uniq), ("p1", "v1")]);
        MessageToStore {
            topic: topic.to_string(),
            queue_id,
            flag: 5,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: "10.1.2.3:4567".parse::<SocketAddr>().unwrap(),
            store_host: "127.0.0.1:10911".parse::<SocketAddr>().unwrap(),
            reconsume_times: 2,
            prepared_transaction_offset: 0,
            body: Bytes::from_static(body),
            tags_code: tags_code(Some(tag)),
            properties,
        }
    }

    fn read_queue(store: &dyn MessageStore, topic: &str, queue_id: i32) -> Vec<StoredMessage> {
        let req = GetRequest {
            topic,
            queue_id,
            offset: 0,
            max_msgs: 1000,
            max_bytes: usize::MAX,
        };
        store
            .get_messages(&req, &|_| true)
            .messages
            .iter()
            .map(|raw| decode_stored(raw).expect("stored record decodes").0)
            .collect()
    }

    type Calls = Arc<Mutex<Vec<(String, i32)>>>;

    fn service(store: Arc<dyn MessageStore>, levels: &str) -> (ScheduleService, Calls) {
        let calls: Calls = Arc::new(Mutex::new(Vec::new()));
        let sink = calls.clone();
        let svc = ScheduleService::new(
            store,
            DelayLevels::parse(levels).unwrap(),
            Arc::new(move |t: &str, q: i32| sink.lock().unwrap().push((t.to_string(), q))),
        );
        (svc, calls)
    }

    fn schedule(
        store: &dyn MessageStore,
        levels: &DelayLevels,
        msg: MessageToStore,
        level: i32,
        now: i64,
    ) {
        store
            .put_messages(vec![to_scheduled(levels, msg, level, now)])
            .expect("put scheduled message");
    }

    #[test]
    fn parses_standard_levels() {
        let l = DelayLevels::parse(STANDARD).unwrap();
        assert_eq!(l.level_count(), 18);
        assert_eq!(l.delay_of(1), Duration::from_secs(1));
        assert_eq!(l.delay_of(3), Duration::from_secs(10));
        assert_eq!(l.delay_of(5), Duration::from_secs(60));
        assert_eq!(l.delay_of(18), Duration::from_secs(7200));
        // Clamped to 1..=18.
        assert_eq!(l.delay_of(0), Duration::from_secs(1));
        assert_eq!(l.delay_of(-3), Duration::from_secs(1));
        assert_eq!(l.delay_of(19), Duration::from_secs(7200));
        assert_eq!(l.delay_of(i32::MAX), Duration::from_secs(7200));
    }

    #[test]
    fn parses_every_unit() {
        let l = DelayLevels::parse("  100ms 2s\t3m 4h\n1d 0s ").unwrap();
        assert_eq!(l.level_count(), 6);
        assert_eq!(l.delay_of(1), Duration::from_millis(100));
        assert_eq!(l.delay_of(2), Duration::from_secs(2));
        assert_eq!(l.delay_of(3), Duration::from_secs(180));
        assert_eq!(l.delay_of(4), Duration::from_secs(4 * 3600));
        assert_eq!(l.delay_of(5), Duration::from_secs(86_400));
        assert_eq!(l.delay_of(6), Duration::ZERO);
    }

    #[test]
    fn rejects_bad_levels_with_a_clear_message() {
        for (spec, needle) in [
            ("", "no levels"),
            ("   ", "no levels"),
            ("1s 5", "level 2 \"5\" has no unit"),
            ("5x", "has no unit"),
            ("s", "whole number"),
            ("ms", "whole number"),
            ("1.5s", "whole number"),
            ("-1s", "whole number"),
            ("+1s", "whole number"),
            ("99999999999999999999d", "too large"),
            ("9999999999999999d", "too large"),
        ] {
            let err = DelayLevels::parse(spec).expect_err(spec);
            assert!(err.to_string().contains(needle), "{spec:?}: {err}");
            assert!(err.to_string().starts_with("invalid delay levels: "));
        }
    }

    #[test]
    fn to_scheduled_rewrites_for_the_level_queue() {
        let levels = DelayLevels::parse("100ms 200ms 300ms").unwrap();
        let mut m = message("Orders", 3, "TagA", b"body", "U1");
        m.properties = set_property(&m.properties, DELAY, "9");
        let s = to_scheduled(&levels, m.clone(), 9, 1_000);
        assert_eq!(s.topic, SCHEDULE_TOPIC);
        assert_eq!(s.queue_id, 2);
        assert_eq!(s.tags_code, 1_300);
        let p = decode_properties_map(&s.properties);
        assert_eq!(p[REAL_TOPIC], "Orders");
        assert_eq!(p[REAL_QID], "3");
        assert_eq!(p[DELAY], "3");
        assert_eq!(p[TAGS], "TagA");
        assert_eq!(p[UNIQ_KEY], "U1");
        assert_eq!(s.body, m.body);
        assert_eq!(s.born_host, m.born_host);
        assert_eq!(s.reconsume_times, m.reconsume_times);
        let s = to_scheduled(&levels, m, 1, 1_000);
        assert_eq!((s.queue_id, s.tags_code), (0, 1_100));
        assert_eq!(requested_delay_level(&s.properties), Some(1));
        assert_eq!(requested_delay_level(&encode_pairs(&[(DELAY, "0")])), None);
        assert_eq!(requested_delay_level(&encode_pairs(&[(DELAY, "x")])), None);
        assert_eq!(requested_delay_level(""), None);
    }

    #[test]
    fn held_until_due_then_delivered_with_properties() {
        let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
        let (svc, calls) = service(store.clone(), "100ms 200ms");
        let levels = svc.levels().clone();
        let t0 = 1_800_000_000_000;
        schedule(
            &*store,
            &levels,
            message("Orders", 1, "TagA", b"first\0", "U1"),
            1,
            t0,
        );

        let wait = svc.run_once(t0);
        assert!(read_queue(&*store, "Orders", 1).is_empty());
        assert_eq!(wait, Duration::from_millis(100));
        let wait = svc.run_once(t0 + 99);
        assert!(read_queue(&*store, "Orders", 1).is_empty());
        assert_eq!(wait, Duration::from_millis(1));
        assert!(calls.lock().unwrap().is_empty());
        assert_eq!(svc.delivery_offset(1), Some(0));

        svc.run_once(t0 + 100);
        let got = read_queue(&*store, "Orders", 1);
        assert_eq!(got.len(), 1);
        let m = &got[0];
        assert_eq!(m.topic, "Orders");
        assert_eq!(m.queue_id, 1);
        assert_eq!(&m.body[..], b"first\0");
        assert_eq!(m.flag, 5);
        assert_eq!(m.born_timestamp, 1_700_000_000_000);
        assert_eq!(m.born_host, "10.1.2.3:4567".parse::<SocketAddr>().unwrap());
        assert_eq!(m.reconsume_times, 2);
        let p = decode_properties_map(&m.properties);
        assert!(!p.contains_key(DELAY));
        assert_eq!(p[REAL_TOPIC], "Orders");
        assert_eq!(p[REAL_QID], "1");
        assert_eq!(p[WAIT], "false");
        assert_eq!(p[TAGS], "TagA");
        assert_eq!(p[KEYS], "k1 k2");
        assert_eq!(p[UNIQ_KEY], "U1");
        assert_eq!(p["p1"], "v1");
        // The consume-queue entry carries the tag hash again, so tag filtering works.
        let entry = store.queue_entry("Orders", 1, 0).unwrap();
        assert_eq!(entry.tags_code, 2598919);
        assert_eq!(*calls.lock().unwrap(), vec![("Orders".to_string(), 1)]);
        assert_eq!(svc.delivery_offset(1), Some(1));
        // Persisted.
        let doc = store
            .load_config(DELAY_OFFSET_CONFIG)
            .expect("offsets saved");
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["offsetTable"]["1"], 1);
        assert_eq!(v["offsetTable"]["2"], 0);
        // Nothing is delivered twice.
        svc.run_once(t0 + 10_000);
        assert_eq!(read_queue(&*store, "Orders", 1).len(), 1);
    }

    #[test]
    fn order_within_a_level_and_independent_levels() {
        let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
        let (svc, calls) = service(store.clone(), "100ms 200ms");
        let levels = svc.levels().clone();
        let t0 = 1_800_000_000_000;
        schedule(&*store, &levels, message("T", 0, "A", b"slow", "S"), 2, t0);
        for (i, body) in [&b"m0"[..], b"m1", b"m2"].into_iter().enumerate() {
            schedule(
                &*store,
                &levels,
                message("T", 0, "A", body, &format!("U{i}")),
                1,
                t0 + i as i64 * 10,
            );
        }
        // At t0+110 the first two level-1 messages are due, the third (t0+120) is not.
        assert_eq!(svc.run_once(t0 + 110), Duration::from_millis(10));
        let bodies: Vec<Vec<u8>> = read_queue(&*store, "T", 0)
            .iter()
            .map(|m| m.body.to_vec())
            .collect();
        assert_eq!(bodies, vec![b"m0".to_vec(), b"m1".to_vec()]);
        svc.run_once(t0 + 200);
        let bodies: Vec<Vec<u8>> = read_queue(&*store, "T", 0)
            .iter()
            .map(|m| m.body.to_vec())
            .collect();
        assert_eq!(
            bodies,
            vec![
                b"m0".to_vec(),
                b"m1".to_vec(),
                b"m2".to_vec(),
                b"slow".to_vec()
            ]
        );
        assert_eq!(svc.delivery_offset(1), Some(3));
        assert_eq!(svc.delivery_offset(2), Some(1));
        assert!(!calls.lock().unwrap().is_empty());
    }

    #[test]
    fn clock_going_back_does_not_hold_messages() {
        let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
        let (svc, _) = service(store.clone(), "100ms");
        let levels = svc.levels().clone();
        // Stored "an hour in the future": more than one delay ahead of now -> delivered now.
        schedule(
            &*store,
            &levels,
            message("T", 0, "A", b"x", "U"),
            1,
            1_800_003_600_000,
        );
        svc.run_once(1_800_000_000_000);
        assert_eq!(read_queue(&*store, "T", 0).len(), 1);
    }

    #[test]
    fn unreadable_entries_are_skipped() {
        let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
        let (svc, _) = service(store.clone(), "100ms");
        let levels = svc.levels().clone();
        let t0 = 1_800_000_000_000;
        // No REAL_TOPIC: nowhere to deliver.
        let mut bad = message("T", 0, "A", b"bad", "B");
        bad.topic = SCHEDULE_TOPIC.into();
        bad.tags_code = t0;
        store.put_messages(vec![bad]).unwrap();
        schedule(&*store, &levels, message("T", 0, "A", b"good", "G"), 1, t0);
        svc.run_once(t0 + 100);
        let got = read_queue(&*store, "T", 0);
        assert_eq!(got.len(), 1);
        assert_eq!(&got[0].body[..], b"good");
        assert_eq!(svc.delivery_offset(1), Some(2));
    }

    #[test]
    fn new_service_resumes_from_persisted_offsets() {
        let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
        let levels = DelayLevels::parse("100ms 200ms").unwrap();
        let t0 = 1_800_000_000_000;
        schedule(&*store, &levels, message("T", 0, "A", b"a", "A"), 1, t0);
        schedule(&*store, &levels, message("T", 0, "A", b"b", "B"), 2, t0);
        let (first, _) = service(store.clone(), "100ms 200ms");
        first.run_once(t0 + 150);
        assert_eq!(read_queue(&*store, "T", 0).len(), 1);
        drop(first);
        let (second, _) = service(store.clone(), "100ms 200ms");
        assert_eq!(second.delivery_offset(1), Some(1));
        assert_eq!(second.delivery_offset(2), Some(0));
        second.run_once(t0 + 60_000);
        let bodies: Vec<Vec<u8>> = read_queue(&*store, "T", 0)
            .iter()
            .map(|m| m.body.to_vec())
            .collect();
        assert_eq!(bodies, vec![b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn garbage_offsets_document_restarts_levels() {
        let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
        store.save_config(DELAY_OFFSET_CONFIG, "{not json").unwrap();
        let (svc, _) = service(store.clone(), "1s");
        assert_eq!(svc.delivery_offset(1), Some(0));
        assert_eq!(svc.delivery_offset(2), None);
        assert_eq!(svc.delivery_offset(0), None);
    }

    #[test]
    fn queues_of_removed_levels_are_still_drained() {
        let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
        let old = DelayLevels::parse("100ms 200ms 300ms").unwrap();
        let t0 = 1_800_000_000_000;
        schedule(&*store, &old, message("T", 0, "A", b"lvl3", "U"), 3, t0);
        let (svc, _) = service(store.clone(), "100ms");
        svc.run_once(t0 + 300);
        assert_eq!(read_queue(&*store, "T", 0).len(), 1);
        assert_eq!(svc.delivery_offset(3), Some(1));
    }

    /// Polls `cond` until true or `deadline` passes.
    fn wait_for(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        cond()
    }

    #[test]
    fn spawned_service_delivers_on_time_and_stops() {
        let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
        let (svc, calls) = service(store.clone(), "100ms 200ms");
        let levels = svc.levels().clone();
        let svc = Arc::new(svc);
        let stop = Arc::new(AtomicBool::new(false));
        let handle = svc.clone().spawn(stop.clone());
        let sent_at = now_ms();
        schedule(
            &*store,
            &levels,
            message("Live", 2, "A", b"x", "U"),
            2,
            sent_at,
        );
        assert!(wait_for(Duration::from_secs(10), || !read_queue(
            &*store, "Live", 2
        )
        .is_empty()));
        let got = read_queue(&*store, "Live", 2);
        assert_eq!(got.len(), 1);
        // Delivered no earlier than due.
        assert!(got[0].store_timestamp >= sent_at + 200, "delivered early");
        assert!(wait_for(Duration::from_secs(5), || calls
            .lock()
            .unwrap()
            .len()
            == 1));
        stop.store(true, Ordering::Release);
        let stopped_at = Instant::now();
        handle.join().expect("schedule thread");
        assert!(stopped_at.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn file_store_restart_keeps_delays_async_flush() {
        file_store_restart_keeps_delays(rocketmq_store::FlushMode::Async);
    }

    #[test]
    fn file_store_restart_keeps_delays_sync_flush() {
        file_store_restart_keeps_delays(rocketmq_store::FlushMode::Sync);
    }

    fn file_store_restart_keeps_delays(flush: rocketmq_store::FlushMode) {
        use rocketmq_store::{FileStore, StoreConfig};
        let dir = tempfile::tempdir().unwrap();
        let open = || -> Arc<dyn MessageStore> {
            let mut cfg = StoreConfig::new(dir.path());
            cfg.flush = flush;
            cfg.commit_log_segment_size = 1 << 20;
            cfg.consume_queue_entries_per_file = 1024;
            FileStore::open(cfg).expect("open file store")
        };
        let levels = DelayLevels::parse("100ms 200ms").unwrap();
        let t0 = now_ms();
        {
            let store = open();
            schedule(&*store, &levels, message("T", 0, "A", b"a", "A"), 1, t0);
            schedule(&*store, &levels, message("T", 0, "A", b"b", "B"), 2, t0);
            schedule(&*store, &levels, message("T", 1, "A", b"c", "C"), 2, t0 + 1);
            let (svc, _) = service(store.clone(), "100ms 200ms");
            // Before anything is due nothing moves.
            svc.run_once(t0 + 50);
            assert!(read_queue(&*store, "T", 0).is_empty());
            svc.run_once(t0 + 150);
            assert_eq!(read_queue(&*store, "T", 0).len(), 1);
            store.shutdown();
        }
        // Downtime: both level-2 messages fell due. The reopened store's service delivers them
        // at once, and not the level-1 message again.
        let store = open();
        assert_eq!(read_queue(&*store, "T", 0).len(), 1);
        let (svc, calls) = service(store.clone(), "100ms 200ms");
        assert_eq!(svc.delivery_offset(1), Some(1));
        svc.run_once(t0 + 5_000);
        let q0: Vec<Vec<u8>> = read_queue(&*store, "T", 0)
            .iter()
            .map(|m| m.body.to_vec())
            .collect();
        assert_eq!(q0, vec![b"a".to_vec(), b"b".to_vec()]);
        let q1 = read_queue(&*store, "T", 1);
        assert_eq!(q1.len(), 1);
        assert_eq!(decode_properties_map(&q1[0].properties)[UNIQ_KEY], "C");
        let mut woken = calls.lock().unwrap().clone();
        woken.sort();
        assert_eq!(woken, vec![("T".to_string(), 0), ("T".to_string(), 1)]);
        store.shutdown();
        // The store directory stays locked until every handle is gone.
        drop(svc);
        drop(store);
        // And after one more restart, nothing is delivered twice.
        let store = open();
        let (svc, _) = service(store.clone(), "100ms 200ms");
        svc.run_once(t0 + 60_000);
        assert_eq!(read_queue(&*store, "T", 0).len(), 2);
        assert_eq!(read_queue(&*store, "T", 1).len(), 1);
        store.shutdown();
    }
}
