//! The check-back service: a pass over the half queue that asks producers about undecided
//! transactions older than the timeout (see the module above for what must stay true).

use super::rules::{
    half_copy, real_destination, transaction_id_of, CHECK_MAX_TIME_TOPIC, HALF_TOPIC,
};
use super::state::save_progress;
use crate::broker::services::Broker;
use crate::remoting::ConnectionHandle;
use rocketmq_protocol::code::request_code;
use rocketmq_protocol::header::CheckTransactionStateRequestHeader;
use rocketmq_protocol::message::{decode_stored, encode_stored, StoredMessage};
use rocketmq_protocol::message_id::create_offset_msg_id;
use rocketmq_protocol::properties::{
    get_property, set_property, CHECK_IMMUNITY_TIME_IN_SECONDS, PGROUP, TRANSACTION_CHECK_TIMES,
    UNIQ_KEY,
};
use rocketmq_protocol::RemotingCommand;
use rocketmq_store::StoreError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Most half messages one check-back pass looks at, so a large backlog is worked through
/// in slices with progress persisted between them.
pub const MAX_HALVES_PER_PASS: usize = 2048;
/// How long a pass waits for its re-appended copies to be durable before saving progress.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

/// A check-back to send once the copy it names is durable.
struct PendingCheck {
    group: String,
    commit_log_offset: i64,
}

impl Broker {
    /// One check-back pass at `now_ms` (see the module doc). Returns how many
    /// CHECK_TRANSACTION_STATE requests were sent.
    pub fn transaction_check_pass(&self, now_ms: i64) -> usize {
        let mut progress = self
            .transactions
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let store = &self.store;
        let start = *progress;
        let max = store.max_offset(HALF_TOPIC, 0);
        let mut offset = start.max(store.min_offset(HALF_TOPIC, 0)).min(max);
        let timeout_ms = self.config.transaction_timeout.as_millis() as i64;
        let check_max = self.config.transaction_check_max;
        let mut waiters = Vec::new();
        let mut checks = Vec::new();
        let mut looked = 0usize;
        while offset < max && looked < MAX_HALVES_PER_PASS {
            looked += 1;
            let Some(half) = store
                .queue_entry(HALF_TOPIC, 0, offset)
                .and_then(|e| store.read_record(e.commit_log_offset))
                .and_then(|raw| decode_stored(&raw).ok().map(|(m, _)| m))
            else {
                tracing::warn!(offset, "unreadable half message; skipped");
                offset += 1;
                continue;
            };
            // Held until this half is handled: a decision arriving meanwhile waits, so no copy
            // is appended (and checked back) after its transaction was decided.
            let decided = self
                .transactions
                .decided
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if transaction_id_of(&half.properties).is_none_or(|id| decided.contains(id)) {
                offset += 1;
                continue;
            }
            // The half queue is in store order: once one is too young, so are the rest.
            if now_ms.saturating_sub(half.store_timestamp) < timeout_ms {
                break;
            }
            let immunity_ms = get_property(&half.properties, CHECK_IMMUNITY_TIME_IN_SECONDS)
                .and_then(|s| s.trim().parse::<i64>().ok())
                .map(|s| s.saturating_mul(1000));
            let put = if immunity_ms
                .is_some_and(|ms| now_ms.saturating_sub(half.born_timestamp) < ms)
            {
                // Not to be checked yet: move it to the end of the queue, unchanged.
                store.put_messages(vec![half_copy(&half, half.properties.clone(), HALF_TOPIC)])
            } else {
                let times = get_property(&half.properties, TRANSACTION_CHECK_TIMES)
                    .and_then(|s| s.trim().parse::<i32>().ok())
                    .unwrap_or(0);
                if times >= check_max {
                    tracing::warn!(
                        transaction = transaction_id_of(&half.properties),
                        times,
                        "transaction still undecided after the maximum number of check-backs; discarded into {CHECK_MAX_TIME_TOPIC}"
                    );
                    self.topics
                        .get_or_create(CHECK_MAX_TIME_TOPIC, 1, 6)
                        .and_then(|_| {
                            store.put_messages(vec![half_copy(
                                &half,
                                half.properties.clone(),
                                CHECK_MAX_TIME_TOPIC,
                            )])
                        })
                } else {
                    let props = set_property(
                        &half.properties,
                        TRANSACTION_CHECK_TIMES,
                        &(times + 1).to_string(),
                    );
                    let put = store.put_messages(vec![half_copy(&half, props, HALF_TOPIC)]);
                    if let Ok(outcome) = &put {
                        if let Some(r) = outcome.results.first() {
                            checks.push(PendingCheck {
                                group: get_property(&half.properties, PGROUP)
                                    .unwrap_or("")
                                    .to_string(),
                                commit_log_offset: r.commit_log_offset,
                            });
                        }
                    }
                    put
                }
            };
            drop(decided);
            match put {
                Ok(outcome) => {
                    if let Some(w) = outcome.durable {
                        waiters.push(w);
                    }
                    offset += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "transaction check-back refused by the store; retrying next pass");
                    break;
                }
            }
        }
        if offset == start {
            return 0;
        }
        // Progress may only pass copies that are durable.
        let durable = if waiters.is_empty() {
            store.flush().map_err(|e| e.to_string())
        } else {
            waiters
                .into_iter()
                .try_for_each(|w| w.wait(DURABLE_WAIT))
                .map_err(|e: StoreError| e.to_string())
        };
        match durable {
            Ok(()) => {
                *progress = offset;
                if let Err(e) = save_progress(store.as_ref(), offset) {
                    tracing::warn!(error = %e, "saving transaction check progress failed");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "re-appended half messages not confirmed durable; progress not advanced")
            }
        }
        drop(progress);
        checks.into_iter().filter(|c| self.send_check(c)).count()
    }

    /// Sends CHECK_TRANSACTION_STATE for the half copy at `check.commit_log_offset` to one
    /// live connection of its producer group.
    fn send_check(&self, check: &PendingCheck) -> bool {
        let Some(conn) = self.clients.producer_connection(&check.group) else {
            tracing::info!(
                group = check.group,
                "no live producer of the group to check an undecided transaction with"
            );
            return false;
        };
        let Some(mut msg) = self
            .store
            .read_record(check.commit_log_offset)
            .and_then(|raw| decode_stored(&raw).ok().map(|(m, _)| m))
        else {
            return false;
        };
        check_request(&mut msg, &self.config.broker_name).is_some_and(|cmd| send_to(&conn, cmd))
    }

    /// Runs check-back passes every `transaction_check_interval` on a plain thread until
    /// `stop` is set; looks at `stop` at least every 100 ms.
    pub fn spawn_transaction_check(
        self: Arc<Self>,
        stop: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<()> {
        const SLICE: Duration = Duration::from_millis(100);
        std::thread::Builder::new()
            .name("transaction-check".into())
            .spawn(move || {
                let interval = self
                    .config
                    .transaction_check_interval
                    .max(Duration::from_millis(10));
                loop {
                    let mut wait = interval;
                    while !wait.is_zero() {
                        if stop.load(Ordering::Acquire) {
                            return;
                        }
                        let slice = wait.min(SLICE);
                        std::thread::sleep(slice);
                        wait -= slice;
                    }
                    let sent = self.transaction_check_pass(rocketmq_protocol::now_millis());
                    if sent > 0 {
                        tracing::debug!(sent, "transaction check-backs sent");
                    }
                }
            })
            .expect("spawning the transaction check thread")
    }
}

fn send_to(conn: &ConnectionHandle, cmd: RemotingCommand) -> bool {
    let sent = conn.send_oneway_request(cmd);
    if !sent {
        tracing::info!(
            conn = conn.id(),
            "transaction check-back dropped: connection busy or gone"
        );
    }
    sent
}

/// CHECK_TRANSACTION_STATE for a stored half message: header per spec 3.2, body the message
/// in the stored layout with its real topic and queue restored.
fn check_request(msg: &mut StoredMessage, broker_name: &str) -> Option<RemotingCommand> {
    let (topic, queue_id) = real_destination(&msg.properties)?;
    let uniq = get_property(&msg.properties, UNIQ_KEY).map(String::from);
    let header = CheckTransactionStateRequestHeader {
        tran_state_table_offset: msg.queue_offset,
        commit_log_offset: msg.physical_offset,
        transaction_id: transaction_id_of(&msg.properties).map(String::from),
        msg_id: uniq,
        offset_msg_id: Some(create_offset_msg_id(msg.store_host, msg.physical_offset)),
        topic: Some(topic.clone()),
        broker_name: Some(broker_name.to_string()),
    };
    msg.topic = topic;
    msg.queue_id = queue_id;
    let body = encode_stored(msg).ok()?;
    Some(
        RemotingCommand::new_request(request_code::CHECK_TRANSACTION_STATE)
            .with_header(&header)
            .with_body(body),
    )
}
