//! Topics and inspection: UPDATE_AND_CREATE_TOPIC (17), GET_ALL_TOPIC_CONFIG (21),
//! VIEW_MESSAGE_BY_ID (33) and CHECK_CLIENT_CONFIG (46).
//!
//! What must stay true: system topics and the template topic cannot be changed; a created or
//! changed topic is reported done only after the name server knows it (at most
//! [`crate::broker::TOPIC_ANNOUNCE_TIMEOUT`]); CHECK_CLIENT_CONFIG accepts TAG, and SQL92
//! when the expression parses and SQL92 is on, answering a parse error (position and reason)
//! with Java's SUBSCRIPTION_PARSE_FAILED.

use crate::broker::error::OpError;
use crate::broker::message_filter::{is_tag_type, SQL92_TYPE};
use crate::broker::services::Broker;
use crate::broker::topic::{validate_topic_name, AUTO_CREATE_TOPIC, NOT_ALLOWED_SEND_TOPICS};
use bytes::Bytes;
use rocketmq_protocol::body::CheckClientRequestBody;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::CreateTopicRequestHeader;
use rocketmq_store::TopicConfig;

/// Every topic config of the broker with the version of the table.
pub struct TopicConfigTable {
    /// Changes with every topic change (what the name server compares).
    pub data_version: i64,
    /// When the broker started, in ms (the version's timestamp).
    pub started_at_millis: i64,
    pub topics: Vec<TopicConfig>,
}

impl Broker {
    /// Creates or changes a topic and waits until the name server knows it.
    pub async fn update_topic(&self, h: &CreateTopicRequestHeader) -> Result<(), OpError> {
        if let Err(refusal) = validate_topic_name(&h.topic) {
            return Err(OpError::new(refusal.code, refusal.remark));
        }
        if NOT_ALLOWED_SEND_TOPICS.contains(&h.topic.as_str()) || h.topic == AUTO_CREATE_TOPIC {
            return Err(OpError::new(
                resp::NO_PERMISSION,
                format!(
                    "the topic {} is a system topic and cannot be changed",
                    h.topic
                ),
            ));
        }
        if h.read_queue_nums <= 0
            || h.write_queue_nums <= 0
            || h.read_queue_nums > 1024
            || h.write_queue_nums > 1024
        {
            return Err(OpError::new(
                resp::INVALID_PARAMETER,
                "readQueueNums and writeQueueNums must be between 1 and 1024",
            ));
        }
        let mut config = TopicConfig::new(h.topic.clone(), h.read_queue_nums, h.perm);
        config.write_queue_nums = h.write_queue_nums;
        config.topic_filter_type = h.topic_filter_type.clone();
        config.topic_sys_flag = h.topic_sys_flag.unwrap_or(0);
        config.order = h.order;
        let version = self
            .topics
            .put_with_attributes(config, h.attributes.as_deref())?
            .map_err(|refusal| OpError::new(refusal.code, refusal.remark))?;
        self.announced(version).await;
        Ok(())
    }

    /// Every topic config.
    pub fn all_topic_configs(&self) -> TopicConfigTable {
        TopicConfigTable {
            data_version: self.topics.data_version(),
            started_at_millis: self.started_at_millis,
            topics: self.topics.all(),
        }
    }

    /// The stored record at a commit-log offset.
    pub fn view_message(&self, commit_log_offset: i64) -> Result<Bytes, OpError> {
        self.store.read_record(commit_log_offset).ok_or_else(|| {
            OpError::system(format!(
                "can not find message by the offset, {commit_log_offset}"
            ))
        })
    }

    /// Whether this broker can serve a consumer configured like this (Java
    /// `ClientManageProcessor.checkClientConfig`): TAG always; otherwise SYSTEM_ERROR while
    /// SQL92 is off, then the expression must build.
    pub fn check_client_config(&self, body: &CheckClientRequestBody) -> Result<(), OpError> {
        let Some(sub) = body.subscription_data.as_ref() else {
            return Ok(());
        };
        let ty = sub.expression_type.as_str();
        if is_tag_type(Some(ty)) {
            return Ok(());
        }
        if !self.config.enable_property_filter {
            return Err(OpError::system(format!(
                "The broker does not support consumer to filter message by {ty} \
                 (start it with enable_property_filter on to use {SQL92_TYPE})"
            )));
        }
        self.build_message_filter(Some(ty), &sub.sub_string)
            .map(|_| ())
            .map_err(|e| OpError::new(e.code, e.remark))
    }
}
