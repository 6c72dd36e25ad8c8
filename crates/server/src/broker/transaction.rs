//! Transactional messages (spec 5.5): half messages, END_TRANSACTION (37) and the check-back
//! service that sends CHECK_TRANSACTION_STATE (39) to producers.
//!
//! - A send with `TRAN_MSG=true` is stored by [`to_half`] in [`HALF_TOPIC`] queue 0 with its
//!   real topic/queue in `REAL_TOPIC`/`REAL_QID`, `__transactionId__` = `UNIQ_KEY`, and the
//!   transaction bits reset so that the half queue indexes it.
//! - END_TRANSACTION commit appends the message to its real topic/queue (sysFlag COMMIT,
//!   `preparedTransactionOffset` = half offset, `TRAN_MSG`/`REAL_TOPIC`/`REAL_QID` removed)
//!   and the *op* record ([`OP_HALF_TOPIC`] queue 0, tag `d`, body `"<half queue offset>,"`)
//!   in one append; rollback appends only the op record.
//! - The check-back pass walks the half queue from a persisted progress offset: a half whose
//!   transaction is decided is skipped; an undecided one older than the timeout is re-appended
//!   with `TRANSACTION_CHECK_TIMES` + 1 and the producer group is asked about the new copy; one
//!   checked `transaction_check_max` times goes to [`CHECK_MAX_TIME_TOPIC`] instead.
//!
//! What must stay true:
//! - a transaction is decided at most once, whichever copy of its half message the decision
//!   names (the original or a re-appended one): decisions are keyed by transaction id, the op
//!   record carries it as `__transactionId__`, and the set of decided ids is rebuilt from the
//!   op queue at start. So a commit is delivered exactly once and a rollback never;
//! - the commit and its op record are one append (both or neither survive a crash);
//! - progress is persisted only once the re-appended copies it skips over are durable, so a
//!   restart never loses an undecided half (at worst a copy is checked twice).
//!
//! Cost: the decided set keeps every transaction id decided since the store was created
//! (one short string each) and is rebuilt at start by reading the whole op queue.

use super::schedule::{requested_delay_level, to_scheduled};
use super::send::store_error;
use super::Broker;
use crate::remoting::ConnectionHandle;
use bytes::Bytes;
use rocketmq_protocol::code::{request_code, response_code as resp};
use rocketmq_protocol::command::RemotingCommand;
use rocketmq_protocol::header::{
    commit_or_rollback, CheckTransactionStateRequestHeader, EndTransactionRequestHeader,
};
use rocketmq_protocol::message::{decode_stored, encode_stored, StoredMessage};
use rocketmq_protocol::message_id::create_offset_msg_id;
use rocketmq_protocol::properties::{
    get_property, remove_property, set_property, CHECK_IMMUNITY_TIME_IN_SECONDS, PGROUP, REAL_QID,
    REAL_TOPIC, TAGS, TRANSACTION_CHECK_TIMES, TRANSACTION_ID, TRAN_MSG, UNIQ_KEY,
};
use rocketmq_protocol::sysflag::{
    with_transaction_type, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE,
};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::{MessageStore, MessageToStore, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Half (prepared) messages, queue 0.
pub const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Op records: which half messages are decided, queue 0.
pub const OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Half messages given up after too many check-backs.
pub const CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Tag of op records ("delete").
pub const OP_TAG: &str = "d";
/// Store config document holding the check-back progress (`{"offset":N}`).
pub const PROGRESS_CONFIG: &str = "transactionCheckProgress";
/// Most half messages one check-back pass looks at, so a large backlog is worked through
/// in slices with progress persisted between them.
pub const MAX_HALVES_PER_PASS: usize = 2048;
/// How long a pass waits for its re-appended copies to be durable before saving progress.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

/// Whether a message with these properties is the first phase of a transaction. A retried
/// message (reconsume times > 0 with a delay level, as clients before 4.6.1 re-send it) is
/// not.
pub fn is_half_message(properties: &str, reconsume_times: i32) -> bool {
    let transactional =
        get_property(properties, TRAN_MSG).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    transactional && !(reconsume_times > 0 && requested_delay_level(properties).is_some())
}

/// Rewrites a transactional send into its half message (spec 5.5 step 2).
pub fn to_half(mut msg: MessageToStore, transaction_id: &str) -> MessageToStore {
    let mut props = set_property(&msg.properties, REAL_TOPIC, &msg.topic);
    props = set_property(&props, REAL_QID, &msg.queue_id.to_string());
    props = set_property(&props, TRANSACTION_ID, transaction_id);
    msg.properties = props;
    msg.sys_flag = with_transaction_type(msg.sys_flag, TRANSACTION_NOT_TYPE);
    msg.topic = HALF_TOPIC.to_string();
    msg.queue_id = 0;
    msg
}

/// The transaction a stored half message belongs to.
pub fn transaction_id_of(properties: &str) -> Option<&str> {
    get_property(properties, TRANSACTION_ID)
        .or_else(|| get_property(properties, UNIQ_KEY))
        .filter(|id| !id.is_empty())
}

fn real_destination(properties: &str) -> Option<(String, i32)> {
    let topic = get_property(properties, REAL_TOPIC).filter(|t| !t.is_empty())?;
    let queue_id = get_property(properties, REAL_QID)?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|&q| q >= 0)?;
    Some((topic.to_string(), queue_id))
}

/// The committed copy of a half message, bound for its real topic and queue.
fn committed(half: &StoredMessage, half_offset: i64) -> Option<MessageToStore> {
    let (topic, queue_id) = real_destination(&half.properties)?;
    let mut props = half.properties.clone();
    for name in [TRAN_MSG, REAL_TOPIC, REAL_QID] {
        props = remove_property(&props, name);
    }
    Some(MessageToStore {
        topic,
        queue_id,
        flag: half.flag,
        sys_flag: with_transaction_type(half.sys_flag, TRANSACTION_COMMIT_TYPE),
        born_timestamp: half.born_timestamp,
        born_host: half.born_host,
        store_host: half.store_host,
        reconsume_times: half.reconsume_times,
        prepared_transaction_offset: half_offset,
        body: half.body.clone(),
        tags_code: tags_code(get_property(&props, TAGS)),
        properties: props,
    })
}

/// The op record saying `half` (its transaction) is decided.
fn op_record(half: &StoredMessage, transaction_id: &str) -> MessageToStore {
    let props = format!("{TAGS}\u{1}{OP_TAG}\u{2}{TRANSACTION_ID}\u{1}{transaction_id}\u{2}");
    MessageToStore {
        topic: OP_HALF_TOPIC.to_string(),
        queue_id: 0,
        flag: 0,
        sys_flag: 0,
        born_timestamp: crate::util::now_millis(),
        born_host: half.store_host,
        store_host: half.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from(format!("{},", half.queue_offset)),
        tags_code: tags_code(Some(OP_TAG)),
        properties: props,
    }
}

/// A half message appended again (same content, new offsets), e.g. with a new check count.
fn half_copy(half: &StoredMessage, properties: String, topic: &str) -> MessageToStore {
    MessageToStore {
        topic: topic.to_string(),
        queue_id: 0,
        flag: half.flag,
        sys_flag: half.sys_flag,
        born_timestamp: half.born_timestamp,
        born_host: half.born_host,
        store_host: half.store_host,
        reconsume_times: half.reconsume_times,
        prepared_transaction_offset: 0,
        body: half.body.clone(),
        tags_code: tags_code(get_property(&properties, TAGS)),
        properties,
    }
}

#[derive(Serialize, Deserialize, Default)]
struct ProgressDoc {
    #[serde(default)]
    offset: i64,
}

/// Transaction bookkeeping of one broker: decided transactions and check-back progress.
pub struct TransactionState {
    /// Transaction ids with an op record. Held while a decision is appended, so two
    /// decisions of one transaction never both append.
    decided: Mutex<HashSet<String>>,
    /// Next half-queue offset the check-back pass looks at. Held for a whole pass (lock
    /// order: `progress`, then `decided`).
    progress: Mutex<i64>,
}

impl TransactionState {
    /// Rebuilds the decided set from the op queue and loads the persisted progress.
    pub fn load(store: &dyn MessageStore) -> TransactionState {
        let mut decided = HashSet::new();
        let max = store.max_offset(OP_HALF_TOPIC, 0);
        let mut offset = store.min_offset(OP_HALF_TOPIC, 0);
        while offset < max {
            let op = store
                .queue_entry(OP_HALF_TOPIC, 0, offset)
                .and_then(|e| store.read_record(e.commit_log_offset))
                .and_then(|raw| decode_stored(&raw).ok().map(|(m, _)| m));
            match op {
                Some(op) => match get_property(&op.properties, TRANSACTION_ID) {
                    Some(id) => {
                        decided.insert(id.to_string());
                    }
                    // Op records of other writers name half queue offsets only.
                    None => {
                        for half_offset in String::from_utf8_lossy(&op.body)
                            .split(',')
                            .filter_map(|s| s.trim().parse::<i64>().ok())
                        {
                            if let Some(id) = store
                                .queue_entry(HALF_TOPIC, 0, half_offset)
                                .and_then(|e| store.read_record(e.commit_log_offset))
                                .and_then(|raw| decode_stored(&raw).ok())
                                .and_then(|(h, _)| {
                                    transaction_id_of(&h.properties).map(String::from)
                                })
                            {
                                decided.insert(id);
                            }
                        }
                    }
                },
                None => tracing::warn!(offset, "unreadable transaction op record; skipped"),
            }
            offset += 1;
        }
        let progress = match store.load_config(PROGRESS_CONFIG) {
            Some(json) => serde_json::from_str::<ProgressDoc>(&json)
                .map(|d| d.offset.max(0))
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "unreadable transaction check progress; rescanning the half queue");
                    0
                }),
            None => 0,
        };
        TransactionState {
            decided: Mutex::new(decided),
            progress: Mutex::new(progress),
        }
    }

    pub fn is_decided(&self, transaction_id: &str) -> bool {
        self.decided
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(transaction_id)
    }

    /// The next half-queue offset the check-back service looks at.
    pub fn progress(&self) -> i64 {
        *self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn error(req: &RemotingCommand, code: i32, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(req)
        .with_code(code)
        .with_remark(remark)
}

/// A check-back to send once the copy it names is durable.
struct PendingCheck {
    group: String,
    commit_log_offset: i64,
}

impl Broker {
    /// END_TRANSACTION (37). Unknown (0) is acknowledged without doing anything (Java writes
    /// no answer at all; clients send it one-way, and a SUCCESS answer to a non-one-way
    /// request is what a synchronous caller needs).
    pub(crate) fn end_transaction(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: EndTransactionRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => return error(req, resp::SYSTEM_ERROR, e.to_string()),
        };
        let decision = h.commit_or_rollback;
        if decision == commit_or_rollback::NOT_TYPE {
            tracing::debug!(
                msg_id = h.msg_id,
                from_check = h.from_transaction_check,
                "transaction state unknown; the check-back will ask again"
            );
            return RemotingCommand::response_to(req);
        }
        if decision != commit_or_rollback::COMMIT && decision != commit_or_rollback::ROLLBACK {
            return error(
                req,
                resp::SYSTEM_ERROR,
                format!("commitOrRollback must be 0, 8 or 12, not {decision}"),
            );
        }
        let half = match self.find_half(&h) {
            Ok(half) => half,
            Err(remark) => {
                tracing::warn!(msg_id = h.msg_id, "END_TRANSACTION refused: {remark}");
                return error(req, resp::SYSTEM_ERROR, remark);
            }
        };
        let Some(transaction_id) = transaction_id_of(&half.properties).map(String::from) else {
            return error(
                req,
                resp::SYSTEM_ERROR,
                format!(
                    "the half message at commit log offset {} has no transaction id",
                    h.commit_log_offset
                ),
            );
        };
        let mut decided = self
            .transactions
            .decided
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if decided.contains(&transaction_id) {
            // A repeated decision (a late answer to a check-back, or a retry): done already.
            return RemotingCommand::response_to(req).with_remark(format!(
                "transaction {transaction_id} was already decided; nothing done"
            ));
        }
        let mut records = Vec::with_capacity(2);
        if decision == commit_or_rollback::COMMIT {
            let Some(mut msg) = committed(&half, h.commit_log_offset) else {
                return error(
                    req,
                    resp::SYSTEM_ERROR,
                    "the half message does not name its real topic and queue (REAL_TOPIC/REAL_QID)",
                );
            };
            if let Some(level) = requested_delay_level(&msg.properties) {
                msg = to_scheduled(&self.delay_levels, msg, level, crate::util::now_millis());
            }
            records.push(msg);
        }
        if let Err(e) = self.topics.get_or_create(OP_HALF_TOPIC, 1, 6) {
            return store_error(req, &e);
        }
        records.push(op_record(&half, &transaction_id));
        match self.store.put_messages(records) {
            Ok(_) => {
                decided.insert(transaction_id);
                RemotingCommand::response_to(req)
            }
            Err(e) => store_error(req, &e),
        }
    }

    /// The half message END_TRANSACTION names, checked against the header as Java does.
    fn find_half(&self, h: &EndTransactionRequestHeader) -> Result<StoredMessage, String> {
        let not_found = || {
            format!(
                "no half (prepared) transaction message at commit log offset {}",
                h.commit_log_offset
            )
        };
        if h.commit_log_offset < 0 || h.commit_log_offset >= self.store.max_commit_log_offset() {
            return Err(not_found());
        }
        let half = self
            .store
            .read_record(h.commit_log_offset)
            .and_then(|raw| decode_stored(&raw).ok().map(|(m, _)| m))
            .filter(|m| m.physical_offset == h.commit_log_offset && m.topic == HALF_TOPIC)
            .ok_or_else(not_found)?;
        let group = get_property(&half.properties, PGROUP).unwrap_or("");
        if group != h.producer_group {
            return Err(format!(
                "the producer group is wrong: the half message at commit log offset {} belongs to {group:?}, not {:?}",
                h.commit_log_offset, h.producer_group
            ));
        }
        if half.queue_offset != h.tran_state_table_offset {
            return Err(format!(
                "the transaction state table offset is wrong: the half message at commit log offset {} has queue offset {}, not {}",
                h.commit_log_offset, half.queue_offset, h.tran_state_table_offset
            ));
        }
        Ok(half)
    }

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
                let doc = serde_json::json!({ "offset": offset }).to_string();
                if let Err(e) = store.save_config(PROGRESS_CONFIG, &doc) {
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
                    let sent = self.transaction_check_pass(crate::util::now_millis());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::notify::{NotifyingStore, QueueNotifier};
    use crate::remoting::RequestProcessor;
    use rocketmq_protocol::sysflag::{transaction_type, TRANSACTION_PREPARED_TYPE};
    use rocketmq_store::MemoryStore;

    fn props(pairs: &[(&str, &str)]) -> String {
        rocketmq_protocol::properties::encode_pairs(pairs)
    }

    fn message(topic: &str, queue_id: i32, properties: String) -> MessageToStore {
        let host = "127.0.0.1:10911".parse().unwrap();
        MessageToStore {
            topic: topic.into(),
            queue_id,
            flag: 3,
            sys_flag: TRANSACTION_PREPARED_TYPE,
            born_timestamp: 1,
            born_host: host,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from_static(b"b"),
            tags_code: 0,
            properties,
        }
    }

    #[test]
    fn half_detection_follows_tran_msg_and_skips_old_style_retries() {
        assert!(is_half_message(&props(&[(TRAN_MSG, "true")]), 0));
        assert!(is_half_message(&props(&[(TRAN_MSG, "TRUE")]), 2));
        assert!(!is_half_message(&props(&[(TRAN_MSG, "false")]), 0));
        assert!(!is_half_message(&props(&[]), 0));
        assert!(!is_half_message(
            &props(&[(TRAN_MSG, "true"), ("DELAY", "3")]),
            1
        ));
    }

    #[test]
    fn half_and_committed_rewrites() {
        let original = props(&[
            (TRAN_MSG, "true"),
            (PGROUP, "PG"),
            (TAGS, "t"),
            (UNIQ_KEY, "U1"),
        ]);
        let half = to_half(message("Real", 2, original), "U1");
        assert_eq!(half.topic, HALF_TOPIC);
        assert_eq!(half.queue_id, 0);
        assert_eq!(transaction_type(half.sys_flag), TRANSACTION_NOT_TYPE);
        assert_eq!(get_property(&half.properties, REAL_TOPIC), Some("Real"));
        assert_eq!(get_property(&half.properties, REAL_QID), Some("2"));
        assert_eq!(get_property(&half.properties, TRANSACTION_ID), Some("U1"));

        let stored = StoredMessage {
            total_size: 0,
            magic_code: 0,
            body_crc: 0,
            queue_id: 0,
            flag: half.flag,
            queue_offset: 7,
            physical_offset: 1234,
            sys_flag: half.sys_flag,
            born_timestamp: 1,
            born_host: half.born_host,
            store_timestamp: 2,
            store_host: half.store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: half.body.clone(),
            topic: HALF_TOPIC.into(),
            properties: half.properties.clone(),
        };
        let c = committed(&stored, 1234).unwrap();
        assert_eq!((c.topic.as_str(), c.queue_id, c.flag), ("Real", 2, 3));
        assert_eq!(transaction_type(c.sys_flag), TRANSACTION_COMMIT_TYPE);
        assert_eq!(c.prepared_transaction_offset, 1234);
        assert_eq!(c.tags_code, tags_code(Some("t")));
        for gone in [TRAN_MSG, REAL_TOPIC, REAL_QID] {
            assert_eq!(get_property(&c.properties, gone), None, "{gone}");
        }
        for kept in [PGROUP, UNIQ_KEY, TRANSACTION_ID, TAGS] {
            assert!(get_property(&c.properties, kept).is_some(), "{kept}");
        }
        let op = op_record(&stored, "U1");
        assert_eq!(op.topic, OP_HALF_TOPIC);
        assert_eq!(&op.body[..], b"7,");
        assert_eq!(get_property(&op.properties, TAGS), Some(OP_TAG));

        let mut no_destination = stored;
        no_destination.properties = props(&[(UNIQ_KEY, "U1")]);
        assert!(committed(&no_destination, 1234).is_none());
    }

    #[test]
    fn decisions_are_rebuilt_from_op_records_of_either_form() {
        let store = MemoryStore::new();
        let h1 = to_half(message("Real", 0, props(&[(UNIQ_KEY, "A")])), "A");
        let h2 = to_half(message("Real", 0, props(&[(UNIQ_KEY, "B")])), "B");
        let h3 = to_half(message("Real", 0, props(&[(UNIQ_KEY, "C")])), "C");
        let put = store.put_messages(vec![h1, h2, h3]).unwrap();
        assert_eq!(put.results[1].queue_offset, 1);
        let mut with_id = message(OP_HALF_TOPIC, 0, props(&[(TRANSACTION_ID, "A")]));
        with_id.sys_flag = 0;
        // An op record as Java writes it: only the half queue offset.
        let mut offsets_only = message(OP_HALF_TOPIC, 0, props(&[(TAGS, OP_TAG)]));
        offsets_only.sys_flag = 0;
        offsets_only.body = Bytes::from_static(b"1,");
        store.put_messages(vec![with_id, offsets_only]).unwrap();
        store
            .save_config(PROGRESS_CONFIG, r#"{"offset":2}"#)
            .unwrap();
        let state = TransactionState::load(&store);
        assert!(state.is_decided("A"));
        assert!(state.is_decided("B"));
        assert!(!state.is_decided("C"));
        assert_eq!(state.progress(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_committed_delayed_message_goes_through_the_schedule_topic() {
        let notifier = Arc::new(QueueNotifier::default());
        let store: Arc<dyn MessageStore> = Arc::new(NotifyingStore::new(
            Arc::new(MemoryStore::new()),
            notifier.clone(),
        ));
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let broker = Broker::new(
            crate::ServerConfig::default(),
            "127.0.0.1:10911".parse().unwrap(),
            store.clone(),
            notifier,
            shutdown,
        )
        .unwrap();
        let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
        let properties = props(&[(TRAN_MSG, "true"), (PGROUP, "PG"), ("DELAY", "2")]);
        let send = RemotingCommand::new_request(10)
            .with_field("producerGroup", "PG")
            .with_field("topic", "T")
            .with_field("defaultTopic", "TBW102")
            .with_field("defaultTopicQueueNums", 4)
            .with_field("queueId", 1)
            .with_field("sysFlag", TRANSACTION_PREPARED_TYPE)
            .with_field("bornTimestamp", 1)
            .with_field("flag", 0)
            .with_field("properties", properties)
            .with_body(b"x".to_vec());
        let sent = broker.clone().process(conn.clone(), send).await.unwrap();
        assert_eq!(sent.code, resp::SUCCESS, "{:?}", sent.remark);
        // Half, not scheduled: the delay waits for the commit.
        assert_eq!(store.max_offset(HALF_TOPIC, 0), 1);
        assert_eq!(
            store.max_offset(super::super::schedule::SCHEDULE_TOPIC, 1),
            0
        );
        let (_, offset) =
            rocketmq_protocol::message_id::decode_offset_msg_id(sent.field("msgId").unwrap())
                .unwrap();
        let end = RemotingCommand::new_request(request_code::END_TRANSACTION)
            .with_field("producerGroup", "PG")
            .with_field("tranStateTableOffset", sent.field("queueOffset").unwrap())
            .with_field("commitLogOffset", offset)
            .with_field("commitOrRollback", commit_or_rollback::COMMIT)
            .with_field("msgId", sent.field("transactionId").unwrap());
        let ended = broker.clone().process(conn, end).await.unwrap();
        assert_eq!(ended.code, resp::SUCCESS, "{:?}", ended.remark);
        assert_eq!(
            store.max_offset("T", 1),
            0,
            "not delivered before its delay"
        );
        assert_eq!(
            store.max_offset(super::super::schedule::SCHEDULE_TOPIC, 1),
            1
        );
        assert_eq!(store.max_offset(OP_HALF_TOPIC, 0), 1);
    }
}
