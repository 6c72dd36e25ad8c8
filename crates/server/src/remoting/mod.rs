//! The connection layer shared by the name server and the broker.
//!
//! - [`server`]: accept loop; per connection one reader task (check-then-parse over a
//!   `BytesMut`) and one writer task fed by a channel. Requests are processed concurrently
//!   (one task each), so a held long-poll pull never blocks the next request on the same
//!   connection; responses go back matched by `opaque`.
//! - [`client`]: a small request/response client used by the broker to register with the
//!   name server over one long-lived connection.
//!
//! What must stay true: a malformed or oversized frame closes that connection only; every
//! request whose one-way bit is clear gets an answer (cpp 1.2.3 sends its one-way requests with
//! flag 0); requests with the one-way bit set never do; everything we write is JSON, the only
//! header cpp 1.2.3 can read.

pub mod client;
pub mod server;

pub use server::{serve, ConnectionHandle, RequestProcessor};
