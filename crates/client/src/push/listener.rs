//! The contract between the push consumer and the code that consumes: a
//! [`MessageListener`] gets [`ConsumeBatch`]es and sets each one's [`ConsumeStatus`].

use crate::message::MessageExt;
use crate::route::MessageQueue;
use std::sync::Arc;

/// What the listener reports for a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumeStatus {
    Success,
    ReconsumeLater,
    /// The consumer was stopping; the listener did not see the batch.
    NotRun,
}

/// Messages of one queue handed to the listener together.
#[derive(Debug)]
pub struct ConsumeBatch {
    pub queue: MessageQueue,
    /// Shared, so a listener can keep a message (the Python bindings hand it out as a lazy
    /// object) while the consumer still acknowledges or sends it back.
    pub messages: Vec<Arc<MessageExt>>,
    pub status: ConsumeStatus,
}

/// Consumes messages. Called on the consumer's dispatcher threads with every batch that was
/// waiting; it must set each batch's `status`.
pub trait MessageListener: Send + Sync + 'static {
    fn consume(&self, batches: &mut [ConsumeBatch]);
}
