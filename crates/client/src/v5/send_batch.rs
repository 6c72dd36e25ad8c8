//! Pipelined normal messages of one topic share `SendMessage` requests.
//!
//! Nagle's rule, per topic: a send that finds no request of its topic out goes at once,
//! alone, on the caller's task (a lone or synchronous send waits for nothing it would not
//! wait for anyway); a send that finds one out waits in the topic's line, and whichever
//! request ends next takes what waits (up to [`MAX_BATCH_MESSAGES`] messages,
//! [`MAX_BATCH_BYTES`] of bodies) in one request. A line holding a full batch does not wait
//! for that: it starts a request of its own, up to [`MAX_REQUESTS_IN_FLIGHT`] out at once.
//! Nothing lingers on a timer: a batch forms only while a request is out, and it shrinks the
//! per-message cost of the HTTP/2 and gRPC layers on both ends.
//!
//! What must stay true: every queued send gets exactly one answer (its receipt or its
//! error; a producer stopped under it answers it with an error); a slot is returned exactly
//! when its line is empty, so a waiting message always has a request coming for it; the lock
//! is never held across an await.

use super::error::{GrpcError, GrpcResult};
use super::sender::{Prepared, SendReceipt, Sender};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// What a send's caller gets its answer through: a channel it awaits, or a callback run
/// where the request ends (see [`SendBatcher::send_then`]).
pub type SendCallback = Box<dyn FnOnce(GrpcResult<SendReceipt>) + Send>;

enum Reply {
    Channel(oneshot::Sender<GrpcResult<SendReceipt>>),
    Callback(SendCallback),
}

impl Reply {
    fn answer(self, result: GrpcResult<SendReceipt>) {
        match self {
            Reply::Channel(tx) => {
                let _ = tx.send(result);
            }
            Reply::Callback(done) => done(result),
        }
    }
}

/// Send requests out at once per topic.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 4;
/// Messages in one batched request at most.
pub const MAX_BATCH_MESSAGES: usize = 64;
/// Bodies in one batched request at most, in bytes (a larger message goes alone).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

struct Waiting {
    msg: Prepared,
    reply: Reply,
}

#[derive(Default)]
struct Line {
    waiting: VecDeque<Waiting>,
    /// Body bytes of `waiting`.
    waiting_bytes: usize,
    in_flight: usize,
}

impl Line {
    fn holds_a_full_batch(&self) -> bool {
        self.waiting.len() >= MAX_BATCH_MESSAGES || self.waiting_bytes >= MAX_BATCH_BYTES
    }
}

/// The per-topic lines of one producer's normal sends.
#[derive(Default)]
pub(super) struct SendBatcher {
    lines: Mutex<HashMap<String, Line>>,
}

/// A message waiting in its line: whether this call took a slot for it.
struct Queued(bool);

impl SendBatcher {
    fn lines(&self) -> std::sync::MutexGuard<'_, HashMap<String, Line>> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Ok((msg, reply))` when no request of the topic is out (send it now, then hand the
    /// slot on), else the message waits in its line.
    fn enter(&self, msg: Prepared, reply: Reply) -> Result<(Prepared, Reply), Queued> {
        let mut lines = self.lines();
        let line = lines.entry(msg.topic.clone()).or_default();
        if line.in_flight == 0 && line.waiting.is_empty() {
            line.in_flight = 1;
            return Ok((msg, reply));
        }
        line.waiting_bytes += msg.proto.body.len();
        line.waiting.push_back(Waiting { msg, reply });
        let take_slot = line.in_flight == 0
            || (line.holds_a_full_batch() && line.in_flight < MAX_REQUESTS_IN_FLIGHT);
        if take_slot {
            line.in_flight += 1;
        }
        Err(Queued(take_slot))
    }

    /// What waits in `topic`'s line, as the next batch; an empty line returns the slot.
    fn next_batch(&self, topic: &str) -> Vec<Waiting> {
        let mut lines = self.lines();
        let Some(line) = lines.get_mut(topic) else {
            return Vec::new();
        };
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        while let Some(next) = line.waiting.front() {
            let size = next.msg.proto.body.len();
            if !batch.is_empty()
                && (batch.len() == MAX_BATCH_MESSAGES || bytes + size > MAX_BATCH_BYTES)
            {
                break;
            }
            bytes += size;
            batch.extend(line.waiting.pop_front());
        }
        line.waiting_bytes -= bytes;
        if batch.is_empty() {
            line.in_flight -= 1;
            if line.in_flight == 0 {
                lines.remove(topic);
            }
        }
        batch
    }

    /// Sends `msg` (a normal message) alone or in a batch; see the module header.
    pub async fn send(self: &Arc<Self>, sender: &Sender, msg: Prepared) -> GrpcResult<SendReceipt> {
        let topic = msg.topic.clone();
        let handle = Handle::current();
        let (tx, rx) = oneshot::channel();
        match self.enter(msg, Reply::Channel(tx)) {
            Ok((msg, _own_channel)) => {
                // This call sends its message itself and answers with the result directly;
                // the slot is handed on even when the caller drops this future.
                let _slot = HeldSlot {
                    batcher: self.clone(),
                    handle,
                    sender: sender.clone(),
                    topic,
                };
                sender.send_one(&msg).await
            }
            Err(Queued(took_slot)) => {
                if took_slot {
                    self.hand_on(&handle, sender, &topic);
                }
                rx.await.unwrap_or_else(|_| Err(stopped()))
            }
        }
    }

    /// Like [`SendBatcher::send`] without a future per message: `done` runs on the runtime
    /// (`handle`) where the request ends, for a whole batch one after another. For callers
    /// outside the runtime (the Python bindings).
    pub fn send_then(
        self: &Arc<Self>,
        handle: &Handle,
        sender: &Sender,
        msg: Prepared,
        done: SendCallback,
    ) {
        let topic = msg.topic.clone();
        match self.enter(msg, Reply::Callback(done)) {
            Ok((msg, reply)) => {
                let batcher = self.clone();
                let sender = sender.clone();
                let runtime = handle.clone();
                handle.spawn(async move {
                    reply.answer(sender.send_one(&msg).await);
                    batcher.hand_on(&runtime, &sender, &msg.topic);
                });
            }
            Err(Queued(true)) => self.hand_on(handle, sender, &topic),
            Err(Queued(false)) => {}
        }
    }

    /// Carries `topic`'s waiting messages with the slot the caller holds, on a task of its
    /// own, until the line is empty (then the slot is returned).
    fn hand_on(self: &Arc<Self>, handle: &Handle, sender: &Sender, topic: &str) {
        let first = self.next_batch(topic);
        if first.is_empty() {
            return;
        }
        let batcher = self.clone();
        let sender = sender.clone();
        let topic = topic.to_string();
        handle.spawn(async move {
            let mut batch = first;
            while !batch.is_empty() {
                let (msgs, replies): (Vec<Prepared>, Vec<Reply>) =
                    batch.into_iter().map(|w| (w.msg, w.reply)).unzip();
                let results = sender.send_batch(&msgs).await;
                for (reply, result) in replies.into_iter().zip(results) {
                    reply.answer(result);
                }
                batch = batcher.next_batch(&topic);
            }
        });
    }
}

/// The slot of a message sent alone by an awaiting caller: handed on when dropped, so a
/// caller that gives up (a timeout around `send`) does not leave its line waiting forever.
struct HeldSlot {
    batcher: Arc<SendBatcher>,
    handle: Handle,
    sender: Sender,
    topic: String,
}

impl Drop for HeldSlot {
    fn drop(&mut self) {
        self.batcher
            .hand_on(&self.handle, &self.sender, &self.topic);
    }
}

fn stopped() -> GrpcError {
    GrpcError::IllegalState("the producer stopped before the message was sent".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_grpc::v2::{Message, MessageType};

    fn msg(topic: &str, id: usize, body: usize) -> Prepared {
        Prepared {
            topic: topic.into(),
            message_id: id.to_string(),
            message_group: None,
            message_type: MessageType::Normal,
            proto: Message {
                body: vec![0; body],
                ..Default::default()
            },
        }
    }

    impl SendBatcher {
        fn enter_test(&self, msg: Prepared) -> Result<(Prepared, Reply), Queued> {
            self.enter(msg, Reply::Callback(Box::new(|_| {})))
        }
    }

    fn in_flight(b: &SendBatcher, topic: &str) -> usize {
        b.lines().get(topic).map_or(0, |l| l.in_flight)
    }

    #[test]
    fn a_lone_send_goes_at_once_and_the_next_ones_wait_for_it() {
        let b = SendBatcher::default();
        assert!(b.enter_test(msg("T", 0, 1)).is_ok());
        // One request is out: the next sends wait, without a slot of their own.
        assert!(matches!(b.enter_test(msg("T", 1, 1)), Err(Queued(false))));
        assert!(matches!(b.enter_test(msg("T", 2, 1)), Err(Queued(false))));
        // Another topic has a line of its own.
        assert!(b.enter_test(msg("U", 0, 1)).is_ok());
        // The request that ends takes the whole line in one batch, in order, keeping its slot.
        let ids: Vec<String> = b
            .next_batch("T")
            .into_iter()
            .map(|w| w.msg.message_id)
            .collect();
        assert_eq!(ids, ["1", "2"]);
        assert_eq!(in_flight(&b, "T"), 1);
        // An empty line returns the slot, and the last slot removes the line.
        assert!(b.next_batch("T").is_empty());
        assert!(!b.lines().contains_key("T"));
        assert!(b.enter_test(msg("T", 3, 1)).is_ok());
    }

    #[test]
    fn a_full_batch_starts_a_request_of_its_own_up_to_the_limit() {
        let b = SendBatcher::default();
        assert!(b.enter_test(msg("T", 0, 1)).is_ok());
        let mut next = 1;
        for slot in 2..=MAX_REQUESTS_IN_FLIGHT {
            for _ in 1..MAX_BATCH_MESSAGES {
                assert!(matches!(
                    b.enter_test(msg("T", next, 1)),
                    Err(Queued(false))
                ));
                next += 1;
            }
            // The message that fills the batch takes a slot for it.
            assert!(matches!(b.enter_test(msg("T", next, 1)), Err(Queued(true))));
            next += 1;
            assert_eq!(in_flight(&b, "T"), slot);
            assert_eq!(b.next_batch("T").len(), MAX_BATCH_MESSAGES);
        }
        // Every slot is out: a full line waits for a request to end.
        for _ in 0..MAX_BATCH_MESSAGES {
            assert!(matches!(
                b.enter_test(msg("T", next, 1)),
                Err(Queued(false))
            ));
            next += 1;
        }
        // Bytes fill a batch too.
        let c = SendBatcher::default();
        assert!(c.enter_test(msg("C", 0, 1)).is_ok());
        assert!(matches!(
            c.enter_test(msg("C", 1, MAX_BATCH_BYTES / 2)),
            Err(Queued(false))
        ));
        assert!(matches!(
            c.enter_test(msg("C", 2, MAX_BATCH_BYTES / 2)),
            Err(Queued(true))
        ));
    }

    #[test]
    fn batches_stop_at_the_message_and_byte_limits() {
        let b = SendBatcher::default();
        let _ = b.enter_test(msg("T", 0, 1));
        let mut queued = Vec::new();
        for i in 0..MAX_BATCH_MESSAGES + 3 {
            queued.push(b.enter_test(msg("T", 100 + i, 1)));
        }
        assert_eq!(b.next_batch("T").len(), MAX_BATCH_MESSAGES);
        assert_eq!(b.next_batch("T").len(), 3);

        let half = MAX_BATCH_BYTES / 2;
        for i in 0..3 {
            queued.push(b.enter_test(msg("T", 200 + i, half)));
        }
        assert_eq!(b.next_batch("T").len(), 2);
        // A message larger than the limit still goes, alone.
        queued.push(b.enter_test(msg("T", 300, MAX_BATCH_BYTES * 2)));
        assert_eq!(b.next_batch("T").len(), 1);
        assert_eq!(b.next_batch("T").len(), 1);
        assert_eq!(b.lines()["T"].waiting_bytes, 0);
        // The slots taken by full lines come back one per empty look.
        while b.lines().contains_key("T") {
            assert!(b.next_batch("T").is_empty());
        }
    }
}
