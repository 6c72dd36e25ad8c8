//! The POP revive: a normal-POP message not acked within its invisible time is stored again
//! in the group's POP retry topic with its reconsume count + 1 (or, once the count reached
//! the group's maximum, in `%DLQ%<group>`), then removed from the in-flight state.
//!
//! What must stay true:
//! - the copy is appended (and durable under sync flush) before the entry is removed from
//!   the journal: a crash in between revives it once more after the restart (a duplicate,
//!   never a loss);
//! - an entry is revived only after its invisible time passed, when no ack or change can
//!   touch it any more (`PopState::check` refuses expired handles);
//! - the maximum comes from [`pop_max_reconsume_times`], the one place it is read.

use crate::broker::pop::journal::Record;
use crate::broker::pop::state::{InFlight, PopKey};
use crate::broker::pop::PopService;
use crate::broker::retry::{dlq_topic, DLQ_QUEUE_NUMS, RETRY_QUEUE_NUMS};
use crate::broker::services::Broker;
use rocketmq_protocol::body::topic_config::perm;
use rocketmq_protocol::message::decode_stored;
use rocketmq_protocol::now_millis;
use rocketmq_protocol::pop::normal_topic_of;
use rocketmq_protocol::properties::{
    get_property, remove_property, set_property, FIRST_POP_TIME, ORIGIN_GROUP, POP_CK, TAGS,
};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::MessageToStore;
use std::sync::Arc;
use std::time::Duration;

/// Most entries revived per pass.
const REVIVE_BATCH: usize = 256;
/// Longest the revive sleeps without looking (it is woken earlier by new entries).
const REVIVE_IDLE: Duration = Duration::from_secs(1);

/// The group's maximum number of redeliveries before the dead-letter topic: its
/// subscription-group `retryMaxTimes` (16 unless configured).
pub fn pop_max_reconsume_times(broker: &Broker, group: &str) -> i32 {
    broker.subscription_group(group).retry_max_times
}

impl Broker {
    /// The lowest commit-log offset an in-flight POP message still needs (retention keeps
    /// everything from there, so an un-acked message can always come back).
    pub fn pop_lowest_needed_commit_log_offset(&self) -> Option<i64> {
        self.pop.read(|s| {
            s.queues()
                .filter_map(|(k, q)| {
                    let oldest = *q.in_flight.keys().next()?;
                    self.store
                        .queue_entry(&k.topic, k.queue_id, oldest)
                        .map(|e| e.commit_log_offset)
                })
                .min()
        })
    }

    /// Revives expired entries until shutdown.
    pub async fn run_pop_revive(self: Arc<Self>) {
        let mut shutdown = self.shutdown.clone();
        loop {
            // From here until the plan is stored every new entry wakes the revive, so an
            // entry added while it looks is never slept past.
            self.pop.revive_awake();
            let revived = self.revive_expired(now_millis()).await;
            self.pop.compact_if_large();
            if revived >= REVIVE_BATCH {
                continue;
            }
            let now = now_millis();
            let sleep = self
                .pop
                .read(|s| s.next_expiry())
                .map(|at| Duration::from_millis(at.saturating_sub(now).max(1) as u64))
                .unwrap_or(REVIVE_IDLE)
                .min(REVIVE_IDLE);
            self.pop
                .revive_sleeps_until(now.saturating_add(sleep.as_millis() as i64));
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.pop.revive_wake.notified() => {}
                _ = crate::util::until_true(&mut shutdown) => return,
            }
        }
    }

    /// One pass: revives what expired by `now`; returns how many entries it handled.
    pub async fn revive_expired(&self, now: i64) -> usize {
        let expired = self.pop.read(|s| s.expired(now, REVIVE_BATCH));
        let n = expired.len();
        for (key, offset, entry) in expired {
            if let Err(e) = self.revive_one(&key, offset, &entry).await {
                tracing::warn!(
                    group = key.group,
                    topic = key.topic,
                    offset,
                    "cannot revive a POP message yet: {e}"
                );
                return n;
            }
            let (_, sync) = self.pop.change(|state| {
                let still = state
                    .queue(&key)
                    .and_then(|q| q.in_flight.get(&offset))
                    .is_some_and(|e| e.pop_time == entry.pop_time);
                if still && state.remove(&key, offset) {
                    (
                        true,
                        vec![Record::Remove {
                            key: key.clone(),
                            offset,
                        }],
                    )
                } else {
                    (false, Vec::new())
                }
            });
            PopService::make_durable(sync).await;
        }
        n
    }

    /// Stores the retry (or dead-letter) copy of one expired message.
    async fn revive_one(&self, key: &PopKey, offset: i64, entry: &InFlight) -> Result<(), String> {
        let Some(qe) = self.store.queue_entry(&key.topic, key.queue_id, offset) else {
            // Removed by retention: nothing left to deliver.
            return Ok(());
        };
        let Some(raw) = self.store.read_record(qe.commit_log_offset) else {
            return Ok(());
        };
        let (m, _) = decode_stored(&raw).map_err(|e| format!("undecodable record: {e:?}"))?;
        let normal = normal_topic_of(&key.topic, &key.group).to_string();
        let max = pop_max_reconsume_times(self, &key.group);
        let to_dlq = m.reconsume_times >= max;
        let target = if to_dlq {
            dlq_topic(&key.group)
        } else {
            super::pop::pop_retry_topic_of(&normal, &key.group)
        };
        let queues = if to_dlq {
            DLQ_QUEUE_NUMS
        } else {
            RETRY_QUEUE_NUMS
        };
        self.topics
            .get_or_create(&target, queues, perm::READ | perm::WRITE)
            .map_err(|e| e.to_string())?;
        // As Apache's revive: the properties kept, the first pop time added, the group it was
        // revived for named, no handle.
        let mut props = remove_property(&m.properties, POP_CK);
        if get_property(&props, FIRST_POP_TIME).is_none() {
            props = set_property(&props, FIRST_POP_TIME, &entry.pop_time.to_string());
        }
        props = set_property(&props, ORIGIN_GROUP, &key.group);
        let message = MessageToStore {
            topic: target.clone(),
            queue_id: 0,
            flag: m.flag,
            sys_flag: m.sys_flag,
            born_timestamp: m.born_timestamp,
            born_host: m.born_host,
            store_host: self.store_host,
            reconsume_times: m.reconsume_times.saturating_add(1),
            prepared_transaction_offset: 0,
            body: m.body.clone(),
            tags_code: tags_code(get_property(&props, TAGS)),
            properties: props,
        };
        let outcome = self
            .store
            .put_messages(vec![message])
            .map_err(|e| e.to_string())?;
        if let Some(waiter) = outcome.durable {
            match tokio::time::timeout(super::send::SYNC_FLUSH_TIMEOUT, waiter.0).await {
                Ok(Ok(Ok(()))) => {}
                other => return Err(format!("the copy is not durable: {other:?}")),
            }
        }
        if to_dlq {
            tracing::info!(
                group = key.group,
                "POP message sent to the dead-letter topic {target}"
            );
        }
        Ok(())
    }
}
