//! The END_TRANSACTION operation: commit or roll back a half message, at most once per
//! transaction (see the module above for what must stay true).

use super::rules::{committed, op_record, transaction_id_of, HALF_TOPIC, OP_HALF_TOPIC};
use crate::broker::error::OpError;
use crate::broker::schedule::{requested_delay_level, to_scheduled};
use crate::broker::services::Broker;
use rocketmq_protocol::header::{commit_or_rollback, EndTransactionRequestHeader};
use rocketmq_protocol::message::{decode_stored, StoredMessage};
use rocketmq_protocol::properties::{get_property, PGROUP};

/// What END_TRANSACTION did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndTransactionOutcome {
    /// The producer does not know yet (state 0): nothing done, the check-back asks again.
    Unknown,
    /// Committed or rolled back now.
    Decided,
    /// The transaction (this id) was decided before: nothing done.
    AlreadyDecided(String),
}

impl Broker {
    /// END_TRANSACTION (37). An unknown state (0) is acknowledged without doing anything
    /// (Java writes no answer at all; clients send it one-way, and a success is what a
    /// synchronous caller needs).
    pub fn end_transaction(
        &self,
        h: &EndTransactionRequestHeader,
    ) -> Result<EndTransactionOutcome, OpError> {
        let decision = h.commit_or_rollback;
        if decision == commit_or_rollback::NOT_TYPE {
            tracing::debug!(
                msg_id = h.msg_id,
                from_check = h.from_transaction_check,
                "transaction state unknown; the check-back will ask again"
            );
            return Ok(EndTransactionOutcome::Unknown);
        }
        if decision != commit_or_rollback::COMMIT && decision != commit_or_rollback::ROLLBACK {
            return Err(OpError::system(format!(
                "commitOrRollback must be 0, 8 or 12, not {decision}"
            )));
        }
        let half = self.find_half(h).map_err(|remark| {
            tracing::warn!(msg_id = h.msg_id, "END_TRANSACTION refused: {remark}");
            OpError::system(remark)
        })?;
        let Some(transaction_id) = transaction_id_of(&half.properties).map(String::from) else {
            return Err(OpError::system(format!(
                "the half message at commit log offset {} has no transaction id",
                h.commit_log_offset
            )));
        };
        let mut decided = self
            .transactions
            .decided
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if decided.contains(&transaction_id) {
            // A repeated decision (a late answer to a check-back, or a retry): done already.
            return Ok(EndTransactionOutcome::AlreadyDecided(transaction_id));
        }
        let mut records = Vec::with_capacity(2);
        if decision == commit_or_rollback::COMMIT {
            let Some(mut msg) = committed(&half, h.commit_log_offset) else {
                return Err(OpError::system(
                    "the half message does not name its real topic and queue (REAL_TOPIC/REAL_QID)",
                ));
            };
            if let Some(level) = requested_delay_level(&msg.properties) {
                msg = to_scheduled(
                    &self.delay_levels,
                    msg,
                    level,
                    rocketmq_protocol::now_millis(),
                );
            } else if let Some(timed) = self.timer_rewrite(&msg, rocketmq_protocol::now_millis())? {
                msg = timed;
            }
            records.push(msg);
        }
        self.topics.get_or_create(OP_HALF_TOPIC, 1, 6)?;
        records.push(op_record(&half, &transaction_id));
        self.store.put_messages(records)?;
        decided.insert(transaction_id);
        Ok(EndTransactionOutcome::Decided)
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
}
