//! Consumer groups' configs: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) and its list form
//! (225), GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), DELETE_SUBSCRIPTIONGROUP (207),
//! GET_SUBSCRIPTIONGROUP_CONFIG (352), and [`Broker::subscription_group`], the one call the
//! rest of the broker reads a group's config through.
//!
//! What must stay true: answers as Java's `AdminBrokerProcessor` gives them: a group name is
//! checked with Java's rules and remarks before anything is stored; a config asked for by name
//! is created with the defaults when missing (Java's `autoCreateSubscriptionGroup=true`);
//! deleting a missing group succeeds.

use crate::broker::error::OpError;
use crate::broker::services::Broker;
use crate::broker::topic::MAX_GROUP_LEN;
use rocketmq_protocol::body::MessageModel;
use rocketmq_protocol::body::{SubscriptionGroupConfig, SubscriptionGroupWrapper};
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::PullMessageRequestHeader;

/// Java `TopicValidator.validateGroup`: INVALID_PARAMETER with its remark.
pub fn validate_group_for_update(group: &str) -> Result<(), OpError> {
    let refuse = |remark: String| Err(OpError::new(resp::INVALID_PARAMETER, remark));
    if group.trim().is_empty() {
        return refuse("The specified group is blank.".to_string());
    }
    if !group
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-'))
    {
        return refuse(format!(
            "The specified group: {group}, contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        ));
    }
    if group.len() > MAX_GROUP_LEN {
        return refuse(format!(
            "The specified group: {group}, is longer than group max length: {MAX_GROUP_LEN}"
        ));
    }
    Ok(())
}

/// The flags of a group's config that a pull checks.
pub(crate) struct PullGroupFlags {
    consume_enable: bool,
    consume_broadcast_enable: bool,
}

impl Broker {
    /// The config of `group`: the stored one, or Java's defaults when there is none (nothing
    /// is created). `retry_max_times` and `consume_message_orderly` are what retries, dead
    /// letters and FIFO delivery read.
    pub fn subscription_group(&self, group: &str) -> SubscriptionGroupConfig {
        self.groups
            .get(group)
            .unwrap_or_else(|| SubscriptionGroupConfig::new(group))
    }

    /// The config of `group`, created with the defaults on first use (heartbeat, pull,
    /// send-back); `None` when no group of that name can exist.
    pub(crate) fn subscription_group_on_use(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.groups.find_or_create(group)
    }

    /// Java's group checks of a pull: the group's config (created on first use), refused
    /// with NO_PERMISSION when it does not allow consuming. Returns what the later checks
    /// read.
    pub(crate) fn pull_group_check(
        &self,
        header: &PullMessageRequestHeader,
    ) -> Result<PullGroupFlags, (i32, String)> {
        let group = &header.consumer_group;
        let flags = self.groups.find_or_create_then(group, |c| PullGroupFlags {
            consume_enable: c.consume_enable,
            consume_broadcast_enable: c.consume_broadcast_enable,
        });
        let Some(config) = flags else {
            return Err((
                resp::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group [{group}] does not exist"),
            ));
        };
        if !config.consume_enable {
            return Err((
                resp::NO_PERMISSION,
                format!("subscription group no permission, {group} (consumeEnable is false: update the group to consume)"),
            ));
        }
        Ok(config)
    }

    /// Java's broadcast check of a pull that relies on the group's heartbeat: a group whose
    /// config has `consumeBroadcastEnable=false` cannot consume in broadcasting mode.
    pub(crate) fn pull_broadcast_check(
        &self,
        header: &PullMessageRequestHeader,
        config: &PullGroupFlags,
    ) -> Result<(), (i32, String)> {
        if header.has_subscription() || config.consume_broadcast_enable {
            return Ok(());
        }
        if self.clients.message_model(&header.consumer_group) == Some(MessageModel::Broadcasting) {
            return Err((
                resp::NO_PERMISSION,
                format!(
                    "the consumer group[{}] can not consume by broadcast way",
                    header.consumer_group
                ),
            ));
        }
        Ok(())
    }

    /// Creates or replaces group configs (all names are checked before any is stored).
    pub fn update_subscription_groups(
        &self,
        configs: Vec<SubscriptionGroupConfig>,
    ) -> Result<(), OpError> {
        for config in &configs {
            validate_group_for_update(&config.group_name)?;
            if let Some(key) = config.attributes.keys().next() {
                // Java's SubscriptionGroupAttributes has no attribute at all.
                return Err(OpError::system(format!("unsupported key: {key}")));
            }
        }
        if configs.is_empty() {
            return Ok(());
        }
        self.groups.put(configs)?;
        Ok(())
    }

    /// GET_SUBSCRIPTIONGROUP_CONFIG: the config of `group` (auto-created, as Java does).
    pub fn subscription_group_config(
        &self,
        group: &str,
    ) -> Result<SubscriptionGroupConfig, OpError> {
        self.subscription_group_on_use(group).ok_or_else(|| {
            OpError::new(
                resp::SUBSCRIPTION_GROUP_NOT_EXIST,
                "No group in this broker",
            )
        })
    }

    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG: every config with the table's version.
    pub fn subscription_group_table(&self) -> SubscriptionGroupWrapper {
        self.groups.all()
    }

    /// DELETE_SUBSCRIPTIONGROUP. The group's committed offsets stay (`cleanOffset` is not
    /// served: the store keeps offsets until they are overwritten).
    pub fn delete_subscription_group(&self, group: &str) -> Result<(), OpError> {
        if self.groups.delete(group)? {
            tracing::info!(group, "subscription group deleted");
        }
        Ok(())
    }
}
