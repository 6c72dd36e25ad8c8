//! The push consumer: rebalance, one long-polling pull loop per owned queue, dispatcher
//! threads that run the listener, offsets, send-back of failures, orderly queue locks.
//!
//! Shape of the data flow:
//!
//! ```text
//!  rebalance (start, every 20 s, on NOTIFY_CONSUMER_IDS_CHANGED)       rebalance.rs
//!     -> one ProcessQueue + pull task per owned queue          process_queue.rs, pull_loop.rs
//!  pull task --(batch over a channel)--> dispatcher threads             dispatch.rs
//!     dispatcher: takes every batch waiting (up to 64) and hands them to the listener in
//!     one call, so that a Python listener takes the GIL once per wake-up, not per message
//!  ack (tokio): success -> forget the offsets; failure -> send back
//!     (clustering) or drop (broadcasting)                               concurrent.rs
//!     orderly: retry the same message locally after a pause             orderly.rs
//!  offset persister (every 5 s and at shutdown): commits the first
//!     unacknowledged offset, else the next pull offset         offsets.rs, offset_store.rs
//!  broker requests: NOTIFY_CONSUMER_IDS_CHANGED -> rebalance now        broker_requests.rs
//!     GET_CONSUMER_RUNNING_INFO -> Java's ConsumerRunningInfo           running_info.rs
//!     RESET_CONSUMER_CLIENT_OFFSET -> restart queues at new offsets     reset_offset.rs
//!  subscriptions that are not tags (SQL92): CHECK_CLIENT_CONFIG at start
//!     and at subscribe on the running consumer                         subscriptions.rs
//! ```
//!
//! The files: `consumer.rs` is the caller's handle ([`PushConsumer`]); `consumer_core.rs`
//! holds the state its tasks share (`ConsumerCore`), whose methods live in the files of
//! their concern above; `config.rs`, `listener.rs`, `process_queue.rs`, `offset_store.rs`,
//! `dispatch.rs` and `allocate.rs` are leaves that know nothing of the core. No file imports
//! this one.
//!
//! What must stay true:
//! - the committed offset never passes a message that is pulled but not yet acknowledged:
//!   in-flight offsets and the next pull offset change together under one lock;
//! - no Rust lock is held while the listener runs (it may take the GIL) or across `.await`;
//! - shutdown stops pulls first, lets running listener calls finish, then commits offsets,
//!   and never joins the thread it runs on (a listener may call shutdown).

mod allocate;
mod broker_requests;
mod concurrent;
mod config;
mod consumer;
mod consumer_core;
mod dispatch;
mod heartbeat;
mod listener;
mod offset_store;
mod offsets;
mod orderly;
mod process_queue;
mod pull_loop;
mod rebalance;
mod reset_offset;
#[cfg(test)]
mod reset_offset_tests;
mod running_info;
mod subscriptions;
#[cfg(test)]
mod subscriptions_tests;
#[cfg(test)]
mod tests;

pub use config::{ConsumeFrom, PushConsumerConfig, Subscription};
pub use consumer::PushConsumer;
pub use listener::{ConsumeBatch, ConsumeStatus, MessageListener};
