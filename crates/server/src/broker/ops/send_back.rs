//! CONSUMER_SEND_MSG_BACK (36): a consumer gives a message back; it goes to the group's retry
//! topic through the delay levels, or to the dead-letter topic once its retries are used up
//! (the decision is [`crate::broker::retry::decide_send_back`], with the subscription group's
//! `retryMaxTimes` unless the request's own maximum applies).
//!
//! What must stay true: the answer comes after the append (and, with sync flush, after the
//! record is durable or [`super::send::SYNC_FLUSH_TIMEOUT`] passed).

use super::send::SYNC_FLUSH_TIMEOUT;
use crate::broker::error::OpError;
use crate::broker::retry::{decide_send_back, SendBackRequest, SendBackTarget};
use crate::broker::schedule::to_scheduled;
use crate::broker::services::Broker;
use rocketmq_protocol::header::ConsumerSendMsgBackRequestHeader;
use rocketmq_protocol::message::decode_stored;
use rocketmq_protocol::message_id::create_offset_msg_id;
use rocketmq_protocol::now_millis;

impl Broker {
    /// Re-stores the message at `h.offset` for a later retry or in the dead-letter topic.
    /// `client_version` is the consumer's protocol version (it decides whether
    /// `maxReconsumeTimes` is read).
    pub async fn consumer_send_back(
        &self,
        h: &ConsumerSendMsgBackRequestHeader,
        client_version: i32,
    ) -> Result<(), OpError> {
        let Some(group) = self.subscription_group_on_use(&h.group) else {
            return Err(OpError::new(
                rocketmq_protocol::code::response_code::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group not exist, {}", h.group),
            ));
        };
        if group.retry_queue_nums <= 0 {
            // Java: a group without retry queues drops what is given back.
            return Ok(());
        }
        let Some(raw) = self.store.read_record(h.offset) else {
            return Err(OpError::system(format!(
                "look message by offset failed, {}",
                h.offset
            )));
        };
        let original = decode_stored(&raw).map(|(m, _)| m).map_err(|e| {
            OpError::system(format!(
                "the message at offset {} cannot be decoded: {e:?}",
                h.offset
            ))
        })?;
        let decision = decide_send_back(
            &original,
            &create_offset_msg_id(original.store_host, original.physical_offset),
            &SendBackRequest {
                group: &h.group,
                delay_level: h.delay_level,
                max_reconsume_times: h.max_reconsume_times,
                request_version: client_version,
                group_max_reconsume_times: group.retry_max_times,
            },
            self.delay_levels.level_count(),
        );
        let topic = decision.topic_config.topic_name.clone();
        self.topics.get_or_create(
            &topic,
            decision.topic_config.write_queue_nums,
            decision.topic_config.perm,
        )?;
        let mut message = decision.message;
        message.store_host = self.store_host;
        if let SendBackTarget::Retry { delay_level } = decision.target {
            message = to_scheduled(&self.delay_levels, message, delay_level, now_millis());
        } else {
            tracing::info!(
                group = h.group,
                "message sent to the dead-letter topic {topic}"
            );
        }
        let outcome = self.store.put_messages(vec![message])?;
        if let Some(waiter) = outcome.durable {
            let _ = tokio::time::timeout(SYNC_FLUSH_TIMEOUT, waiter.0).await;
        }
        Ok(())
    }
}
