//! [`ConsumerRequestHandler`]: what the push consumer answers when a broker asks it
//! something: NOTIFY_CONSUMER_IDS_CHANGED wakes the rebalance; GET_CONSUMER_RUNNING_INFO
//! gets the consumer's running info; RESET_CONSUMER_CLIENT_OFFSET restarts queues at the
//! offsets it names; anything else is not supported.
//!
//! What must stay true: the handler runs on a connection's reader, so it never waits; it
//! holds the consumer weakly (the client instance owns the handler, and must not keep the
//! consumer alive).

use super::consumer_core::{ConsumerCore, LOG};
use crate::remoting::RequestHandler;
use rocketmq_protocol::body::decode_reset_offset_body;
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::RemotingCommand;
use std::sync::{Arc, OnceLock, Weak};
use tokio::sync::Notify;

pub(super) struct ConsumerRequestHandler {
    pub(super) rebalance_now: Arc<Notify>,
    /// Set once the consumer exists.
    pub(super) core: OnceLock<Weak<ConsumerCore>>,
}

impl RequestHandler for ConsumerRequestHandler {
    fn handle(&self, _from: &str, request: RemotingCommand) -> Option<RemotingCommand> {
        match request.code {
            request_code::NOTIFY_CONSUMER_IDS_CHANGED => {
                self.rebalance_now.notify_one();
                None
            }
            request_code::GET_CONSUMER_RUNNING_INFO => Some(self.running_info(&request)),
            request_code::RESET_CONSUMER_CLIENT_OFFSET => {
                self.reset_offset(&request);
                None
            }
            _ => Some(RemotingCommand::new_response(
                response_code::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {} not supported", request.code),
            )),
        }
    }
}

impl ConsumerRequestHandler {
    /// RESET_CONSUMER_CLIENT_OFFSET: restarts the owned queues of the table at their new
    /// offsets (reset_offset.rs). One-way: nothing is answered.
    fn reset_offset(&self, request: &RemotingCommand) {
        let Some(core) = self.core.get().and_then(Weak::upgrade) else {
            return;
        };
        let group = request.field("group").unwrap_or_default().to_string();
        match decode_reset_offset_body(&request.body) {
            Ok(table) => {
                core.reset_offsets(&group, table);
            }
            Err(e) => {
                tracing::warn!(target: LOG, error = %e, "unreadable offset reset from the broker; ignored")
            }
        }
    }

    fn running_info(&self, request: &RemotingCommand) -> RemotingCommand {
        let error =
            |remark: String| RemotingCommand::new_response(response_code::SYSTEM_ERROR, remark);
        let Some(core) = self.core.get().and_then(Weak::upgrade) else {
            return error("the consumer is not running".into());
        };
        // One consumer per client instance: another group's question is not ours to answer
        // (Java answers the same way for a group it does not have).
        if let Some(group) = request.ext_fields.get("consumerGroup") {
            if *group != core.config.group {
                return error(format!(
                    "The Consumer Group <{group}> not exist in this consumer"
                ));
            }
        }
        RemotingCommand::new_response(response_code::SUCCESS, "")
            .with_body(core.running_info().encode())
    }
}
