//! The broker's operations, apart from any transport: what a client can ask of the broker,
//! as methods of [`Broker`](crate::broker::Broker) that take and return plain Rust values
//! (protocol header and body structs where they fit, typed results) and fail with an
//! [`OpError`] (response code + remark). No operation sees a `RemotingCommand`.
//!
//! - [`send`]: sends, single and batch, including half messages, in two phases
//!   (`send_store`, never waiting, then `send_finish`);
//! - [`pull`]: pulls with long polling (`pull` holds until data, the suspend time, shutdown
//!   or the caller going away);
//! - [`offsets`]: consumer offsets and queue bounds;
//! - [`clients`]: heartbeats, unregistering, consumer lists;
//! - [`locks`]: queue locks of orderly consumers;
//! - [`send_back`]: messages given back by consumers (retry or dead letter);
//! - [`admin`]: topics, message lookup, client config checks;
//! - [`query`]: messages by key or unique key (QUERY_MESSAGE);
//! - [`recall`]: a timer message cancelled before its time (RECALL_MESSAGE);
//! - [`assignment`]: server-side load balancing (QUERY_ASSIGNMENT, SET_MESSAGE_REQUEST_MODE);
//! - [`consume_stats`], [`reset_offset`]: a group's progress per queue, and moving it to a time;
//! - [`pop`], [`pop_ack`], [`pop_revive`]: POP consumption (pop with long polling; ack,
//!   change-invisible, notification; the revive of what was not acked in time);
//!   [`pop_extend`]: a delivery kept invisible longer under the same handle (gRPC auto-renew);
//! - [`subscription_group`]: consumer groups' configs (create, get, list, delete);
//! - END_TRANSACTION is [`crate::broker::transaction`]'s `end_transaction`.
//!
//! How a front end plugs in: it decodes its own request into these types, calls the
//! operation on the shared `Arc<Broker>`, and encodes the result or the `OpError` in its own
//! answer. The remoting front end is `broker::processor` (one thin processor per
//! concern); a second one (gRPC) does the same with its own messages. Two things are still
//! tied to a remoting connection and need a counterpart there: a heartbeat names the
//! `ConnectionHandle` that server pushes (membership changes, transaction check-backs) go
//! to, and the client table forgets a client when that connection closes
//! (`connection_gone`). A pull takes any future as "the caller went away".
//!
//! What must stay true: operations never block a runtime thread on I/O other than the store's
//! appends; the only ones that wait are `send_finish`, `pull`, `consumer_send_back`,
//! `update_topic` and `recall`, and they wait asynchronously.

pub mod admin;
pub mod assignment;
pub mod clients;
pub mod consume_stats;
pub mod locks;
pub mod offsets;
pub mod pop;
pub mod pop_ack;
pub mod pop_extend;
pub mod pop_revive;
pub mod pull;
pub mod query;
pub mod recall;
pub mod reset_offset;
pub mod send;
pub mod send_back;
mod send_properties;
pub mod subscription_filter;
pub mod subscription_group;

#[cfg(test)]
mod consume_admin_tests;
#[cfg(test)]
mod tests;
