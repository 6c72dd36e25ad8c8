//! Subscription-group commands of Java's AdminBrokerProcessor:
//! UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200, body = one config as JSON),
//! UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST (225, body `{"groupConfigList":[...]}`),
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201, body = table + forbiddenTable + dataVersion, header
//! `totalGroupNum`), DELETE_SUBSCRIPTIONGROUP (207, header groupName, cleanOffset) and
//! GET_SUBSCRIPTIONGROUP_CONFIG (352, header group; body = the config).
//!
//! What must stay true: an empty create body is a success that changes nothing (Java decodes
//! it to null); a body that is not a config is refused with SYSTEM_ERROR and changes nothing.

use super::answer::{bad_header, done, error, op_error};
use crate::broker::services::Broker;
use rocketmq_protocol::body::subscription_group::{
    DeleteSubscriptionGroupRequestHeader, GetSubscriptionGroupConfigRequestHeader,
    SubscriptionGroupList,
};
use rocketmq_protocol::body::{decode_json, encode_json, SubscriptionGroupConfig};
use rocketmq_protocol::code::{request_code as rc, response_code as resp};
use rocketmq_protocol::RemotingCommand;

/// 200 and 225.
pub(super) fn update(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    if req.body.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
        return RemotingCommand::response_to(req);
    }
    let configs = if req.code == rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST {
        decode_json::<SubscriptionGroupList>(&req.body).map(|l| l.group_config_list)
    } else {
        decode_json::<SubscriptionGroupConfig>(&req.body).map(|c| vec![c])
    };
    match configs {
        Ok(configs) => done(req, broker.update_subscription_groups(configs)),
        Err(e) => error(
            req,
            resp::SYSTEM_ERROR,
            format!("the body is not a subscription group config: {e}"),
        ),
    }
}

/// 201.
pub(super) fn get_all(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let table = broker.subscription_group_table();
    RemotingCommand::response_to(req)
        .with_field("totalGroupNum", table.subscription_group_table.len())
        .with_body(encode_json(&table))
}

/// 207.
pub(super) fn delete(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    match req.decode_header::<DeleteSubscriptionGroupRequestHeader>() {
        Ok(h) => done(req, broker.delete_subscription_group(&h.group_name)),
        Err(e) => bad_header(req, e),
    }
}

/// 352.
pub(super) fn get(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h = match req.decode_header::<GetSubscriptionGroupConfigRequestHeader>() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    match broker.subscription_group_config(&h.group) {
        Ok(config) => RemotingCommand::response_to(req).with_body(encode_json(&config)),
        Err(e) => op_error(req, e),
    }
}
