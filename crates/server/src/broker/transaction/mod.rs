//! Transactional messages (spec 5.5): half messages, END_TRANSACTION (37) and the check-back
//! service that sends CHECK_TRANSACTION_STATE (39) to producers.
//!
//! - `rules`: the pure rewrites (send -> half, half -> committed copy, op record, re-appended
//!   copy) and the system topics;
//! - `state`: which transactions are decided and how far the check-back got;
//! - `end`: the END_TRANSACTION operation ([`crate::broker::Broker::end_transaction`]);
//! - `check`: the check-back service ([`crate::broker::Broker::transaction_check_pass`]).
//!
//! How it works:
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

mod check;
mod end;
mod rules;
pub(crate) mod state;
#[cfg(test)]
mod tests;

pub use end::EndTransactionOutcome;
pub use rules::{is_half_message, to_half, HALF_TOPIC};
