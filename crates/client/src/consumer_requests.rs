//! The requests a consumer makes besides pulling: heartbeats, the group's member list,
//! sending a failed message back, queue locks for orderly consumption, unregistering, and
//! asking a broker whether it accepts a subscription (CHECK_CLIENT_CONFIG).

use crate::error::{ClientError, ExpressionRefusal, Result};
use crate::instance::ClientInstance;
use crate::message::MessageExt;
use crate::route::MessageQueue;
use rocketmq_protocol::body::heartbeat::{CheckClientRequestBody, HeartbeatData, SubscriptionData};
use rocketmq_protocol::body::lock::{
    ConsumerListBody, LockBatchRequestBody, LockBatchResponseBody,
};
use rocketmq_protocol::body::{decode_json, encode_json};
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{
    ConsumerSendMsgBackRequestHeader, GetConsumerListByGroupRequestHeader,
    UnregisterClientRequestHeader,
};
use rocketmq_protocol::RemotingCommand;
use std::collections::BTreeSet;

fn expect_success(addr: &str, resp: &RemotingCommand) -> Result<()> {
    if resp.code == response_code::SUCCESS {
        Ok(())
    } else {
        Err(ClientError::Remote {
            addr: addr.to_string(),
            code: resp.code,
            remark: resp.remark.clone().unwrap_or_default(),
        })
    }
}

impl ClientInstance {
    /// Sends `heartbeat` to one broker. Like Java 5.x's, the request carries an (empty)
    /// `HeartbeatRequestHeader`, so its `extFields` is `{}` rather than absent.
    pub async fn send_heartbeat(&self, addr: &str, heartbeat: &HeartbeatData) -> Result<()> {
        let cmd = ClientInstance::request(request_code::HEART_BEAT)
            .with_custom_header()
            .with_body(encode_json(heartbeat));
        let resp = self.invoke(addr, cmd).await?;
        expect_success(addr, &resp)
    }

    /// The client ids of `group` as the broker at `addr` knows them, sorted.
    pub async fn consumer_ids(&self, addr: &str, group: &str) -> Result<Vec<String>> {
        let cmd = ClientInstance::request(request_code::GET_CONSUMER_LIST_BY_GROUP).with_header(
            &GetConsumerListByGroupRequestHeader {
                consumer_group: group.to_string(),
            },
        );
        let resp = self.invoke(addr, cmd).await?;
        expect_success(addr, &resp)?;
        let body: ConsumerListBody = decode_json(&resp.body)
            .map_err(|e| ClientError::Protocol(format!("consumer list from {addr}: {e}")))?;
        let mut ids = body.consumer_id_list;
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Hands a message that failed to consume back to its broker, which schedules a retry
    /// (or moves it to the dead-letter queue after `max_reconsume_times`).
    pub async fn send_back(
        &self,
        group: &str,
        msg: &MessageExt,
        delay_level: i32,
        max_reconsume_times: i32,
    ) -> Result<()> {
        // The broker that stored the message holds it at this offset.
        let addr = msg.store_host.to_string();
        let cmd = ClientInstance::request(request_code::CONSUMER_SEND_MSG_BACK).with_header(
            &ConsumerSendMsgBackRequestHeader {
                offset: msg.commit_log_offset,
                group: group.to_string(),
                delay_level,
                origin_msg_id: Some(msg.msg_id.clone()),
                origin_topic: Some(msg.topic.clone()),
                unit_mode: false,
                max_reconsume_times: Some(max_reconsume_times),
            },
        );
        let resp = self.invoke(&addr, cmd).await?;
        expect_success(&addr, &resp)
    }

    /// Asks the broker at `addr` to lock `queues` for this client; returns those it granted.
    pub async fn lock_queues(
        &self,
        addr: &str,
        group: &str,
        queues: BTreeSet<MessageQueue>,
    ) -> Result<BTreeSet<MessageQueue>> {
        let body = LockBatchRequestBody {
            client_id: self.client_id.clone(),
            consumer_group: group.to_string(),
            mq_set: queues,
            only_this_broker: true,
        };
        let cmd =
            ClientInstance::request(request_code::LOCK_BATCH_MQ).with_body(encode_json(&body));
        let resp = self.invoke(addr, cmd).await?;
        expect_success(addr, &resp)?;
        let locked: LockBatchResponseBody = decode_json(&resp.body)
            .map_err(|e| ClientError::Protocol(format!("lock response from {addr}: {e}")))?;
        Ok(locked.lock_ok_mq_set)
    }

    pub async fn unlock_queues(
        &self,
        addr: &str,
        group: &str,
        queues: BTreeSet<MessageQueue>,
    ) -> Result<()> {
        let body = LockBatchRequestBody {
            client_id: self.client_id.clone(),
            consumer_group: group.to_string(),
            mq_set: queues,
            only_this_broker: true,
        };
        let cmd =
            ClientInstance::request(request_code::UNLOCK_BATCH_MQ).with_body(encode_json(&body));
        let resp = self.invoke(addr, cmd).await?;
        expect_success(addr, &resp)
    }

    /// CHECK_CLIENT_CONFIG, as Java's `checkClientInBroker` sends it for a subscription that
    /// is not a tag expression: the broker compiles the expression and answers SUCCESS, or
    /// its refusal (SUBSCRIPTION_PARSE_FAILED with the parse error, or SYSTEM_ERROR when it
    /// does not filter by properties), which becomes [`ClientError::ExpressionRefused`].
    pub async fn check_client_config(
        &self,
        addr: &str,
        group: &str,
        subscription: &SubscriptionData,
    ) -> Result<()> {
        let body = CheckClientRequestBody {
            client_id: self.client_id.clone(),
            group: group.to_string(),
            subscription_data: Some(subscription.clone()),
        };
        let cmd = ClientInstance::request(request_code::CHECK_CLIENT_CONFIG)
            .with_body(encode_json(&body));
        let resp = self.invoke(addr, cmd).await?;
        if resp.code == response_code::SUCCESS {
            return Ok(());
        }
        Err(ClientError::ExpressionRefused(Box::new(
            ExpressionRefusal {
                addr: addr.to_string(),
                topic: subscription.topic.clone(),
                expression_type: subscription.expression_type.clone(),
                expression: subscription.sub_string.clone(),
                code: resp.code,
                remark: resp.remark.unwrap_or_default(),
            },
        )))
    }

    /// Tells a broker this client leaves `consumer_group` / `producer_group`.
    pub async fn unregister(
        &self,
        addr: &str,
        producer_group: Option<&str>,
        consumer_group: Option<&str>,
    ) -> Result<()> {
        let cmd = ClientInstance::request(request_code::UNREGISTER_CLIENT).with_header(
            &UnregisterClientRequestHeader {
                client_id: self.client_id.clone(),
                producer_group: producer_group.map(str::to_string),
                consumer_group: consumer_group.map(str::to_string),
            },
        );
        let resp = self.invoke(addr, cmd).await?;
        expect_success(addr, &resp)
    }
}
