//! The broker: topics, sends, pulls with long polling, offsets, clients, locks, retries,
//! transactions and delayed delivery.
//!
//! Layout, from the bottom up:
//! - shared services: `services` (the [`Broker`] that holds them all), `topic` (topic
//!   configs over the store), [`client`] (who is connected), [`rebalance_lock`] (queue
//!   locks), [`notify`] (wake-ups of held pulls on every append), `register` (name-server
//!   registration), `request_modes` (PULL or POP per topic and group);
//! - pure rules: [`filter`] (tag filters), [`retry`] (send-back decisions), the levels of
//!   [`schedule`] and the rewrites of [`transaction`];
//! - background services: the delay service of [`schedule`], the check-back of
//!   [`transaction`] and the timer-message service of [`timer`]; the POP state of [`pop`]
//!   (its revive runs as `ops::pop_revive`);
//! - [`ops`]: the operations, transport-neutral, failing with [`error::OpError`];
//! - `processor`: the remoting front end, one thin processor per concern, that decodes
//!   commands, calls the operations and encodes the answers.
//!
//! Dependencies point down this list: services and rules never use an operation, operations
//! never use a processor.
//!
//! Lock order: no lock of this module is held across an await. Each manager's mutex
//! (clients, locks, notifier) is a leaf; the one nesting is the topic manager's creation lock,
//! held while the store persists a topic config (store locks are taken inside, never the
//! other way round).

pub mod client;
pub mod error;
pub mod filter;
pub mod message_filter;
pub mod notify;
pub mod ops;
pub mod pop;
mod processor;
pub mod pull_stats;
pub mod rebalance_lock;
mod register;
mod request_modes;
pub mod retry;
pub mod schedule;
mod services;
pub mod subscription_group;
#[cfg(test)]
pub(crate) mod test_broker;
pub mod timer;
pub(crate) mod topic;
pub mod transaction;

pub use services::Broker;
