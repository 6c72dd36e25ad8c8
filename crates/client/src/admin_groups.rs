//! The admin calls about consumer groups' configs and topics' message types, as Java's
//! `DefaultMQAdminExt` makes them, on every master broker of the cluster:
//! `create_subscription_group` (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, 200),
//! `delete_subscription_group` (DELETE_SUBSCRIPTIONGROUP, 207), `list_subscription_groups`
//! and `subscription_group` (GET_ALL_SUBSCRIPTIONGROUP_CONFIG, 201: looking a group up in the
//! table does not create it, where GET_SUBSCRIPTIONGROUP_CONFIG would, since brokers create
//! groups on first use).
//!
//! What must stay true: every master broker is asked; a failure names the broker address and
//! what it answered; configs go out as the Java broker reads them (its JSON field names).

use crate::admin::Admin;
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use rocketmq_protocol::body::subscription_group::DeleteSubscriptionGroupRequestHeader;
use rocketmq_protocol::body::{
    decode_json, encode_json, SubscriptionGroupConfig, SubscriptionGroupWrapper,
};
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::RemotingCommand;
use std::collections::BTreeMap;

fn check_group(group: &str) -> Result<()> {
    if group.trim().is_empty() {
        return Err(ClientError::IllegalArgument(
            "the group name is blank: pass the consumer group's name".into(),
        ));
    }
    Ok(())
}

impl Admin {
    /// Sends `request` to every master broker; returns their names. `what` says what was
    /// asked, for the error.
    async fn to_every_master(&self, request: RemotingCommand, what: &str) -> Result<Vec<String>> {
        let masters = self.master_brokers().await?;
        if masters.is_empty() {
            return Err(ClientError::IllegalArgument(format!(
                "the name server {} knows no master broker to {what}: start a broker registered with it",
                self.client.name_servers().join(";")
            )));
        }
        for (name, addr) in &masters {
            let answer = self.client.invoke(addr, request.clone()).await?;
            if answer.code != response_code::SUCCESS {
                return Err(ClientError::Remote {
                    addr: addr.clone(),
                    code: answer.code,
                    remark: format!(
                        "broker {name} refused to {what}: {}",
                        answer.remark.unwrap_or_default()
                    ),
                });
            }
        }
        Ok(masters.into_keys().collect())
    }

    /// Creates or replaces `config` on every master broker; returns their names.
    pub async fn create_subscription_group(
        &self,
        config: &SubscriptionGroupConfig,
    ) -> Result<Vec<String>> {
        check_group(&config.group_name)?;
        let request = ClientInstance::request(request_code::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(encode_json(config));
        let what = format!("create subscription group {:?}", config.group_name);
        self.to_every_master(request, &what).await
    }

    /// Deletes `group`'s config on every master broker; returns their names. A broker that
    /// has no such group answers success. `clean_offset` asks the brokers to remove the
    /// group's committed offsets too (Apache's do; ours keep them). Apache 5.5.0's broker
    /// re-creates the group with the defaults at once when `clean_offset` is false (its
    /// handler looks the group up again after the delete, which auto-creates it).
    pub async fn delete_subscription_group(
        &self,
        group: &str,
        clean_offset: bool,
    ) -> Result<Vec<String>> {
        check_group(group)?;
        let request = ClientInstance::request(request_code::DELETE_SUBSCRIPTIONGROUP).with_header(
            &DeleteSubscriptionGroupRequestHeader {
                group_name: group.to_string(),
                clean_offset,
            },
        );
        let what = format!("delete subscription group {group:?}");
        self.to_every_master(request, &what).await
    }

    /// Every group config of every master broker, by group name (the first broker's, in
    /// broker-name order, when several hold one).
    pub async fn list_subscription_groups(
        &self,
    ) -> Result<BTreeMap<String, SubscriptionGroupConfig>> {
        let masters = self.master_brokers().await?;
        let mut all = BTreeMap::new();
        for (name, addr) in &masters {
            let request = ClientInstance::request(request_code::GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
            let answer = self.client.invoke(addr, request).await?;
            if answer.code != response_code::SUCCESS {
                return Err(ClientError::Remote {
                    addr: addr.clone(),
                    code: answer.code,
                    remark: format!(
                        "broker {name} did not list its subscription groups: {}",
                        answer.remark.unwrap_or_default()
                    ),
                });
            }
            let table: SubscriptionGroupWrapper = decode_json(&answer.body).map_err(|e| {
                ClientError::Protocol(format!("bad subscription group table from {addr}: {e}"))
            })?;
            for (group, config) in table.subscription_group_table {
                all.entry(group).or_insert(config);
            }
        }
        Ok(all)
    }

    /// `group`'s config on the master brokers, `None` when none has it (asking does not
    /// create it).
    pub async fn subscription_group(&self, group: &str) -> Result<Option<SubscriptionGroupConfig>> {
        check_group(group)?;
        Ok(self.list_subscription_groups().await?.remove(group))
    }
}
