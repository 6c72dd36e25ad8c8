//! Recalling a timer message over remoting: RECALL_MESSAGE (370) to the broker its recall
//! handle names (`SendResult::recall_handle` of the send), as the Java producer's
//! `recallMessage` does.
//!
//! What must stay true: a handle that does not decode is refused here, before any request,
//! saying what to pass; the broker's refusal (topic unknown, handle of another topic or
//! broker, time already passed) comes back as `ClientError::Remote` with its remark.

use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::producer::Producer;
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{RecallMessageRequestHeader, RecallMessageResponseHeader};
use rocketmq_protocol::recall::RecallHandle;

impl Producer {
    /// Cancels the timer message `recall_handle` names before its time; returns its message
    /// id (`UNIQ_KEY`).
    pub async fn recall(&self, topic: &str, recall_handle: &str) -> Result<String> {
        let handle = RecallHandle::decode(recall_handle).map_err(|e| {
            ClientError::IllegalArgument(format!(
                "{e}: pass the recall handle a timer message's send returned"
            ))
        })?;
        // The route names the broker's address.
        self.client.publish_route(topic).await?;
        let addr = self
            .client
            .broker_addr(&handle.broker_name)
            .ok_or_else(|| ClientError::NoRoute {
                topic: topic.to_string(),
                name_servers: self.client.name_servers(),
                cause: format!(
                    "the recall handle names broker {}, which serves no queue of the topic",
                    handle.broker_name
                ),
            })?;
        let request = ClientInstance::request(request_code::RECALL_MESSAGE).with_header(
            &RecallMessageRequestHeader {
                producer_group: Some(self.config.group.clone()),
                topic: topic.to_string(),
                recall_handle: recall_handle.to_string(),
            },
        );
        let response = self.client.invoke(&addr, request).await?;
        if response.code != response_code::SUCCESS {
            return Err(ClientError::Remote {
                addr,
                code: response.code,
                remark: response.remark.unwrap_or_default(),
            });
        }
        let header: RecallMessageResponseHeader = response
            .decode_header()
            .map_err(|e| ClientError::Protocol(format!("bad RECALL_MESSAGE answer: {e}")))?;
        Ok(header.msg_id)
    }
}
