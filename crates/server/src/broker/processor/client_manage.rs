//! ClientManageProcessor: HEART_BEAT (34), UNREGISTER_CLIENT (35) and CHECK_CLIENT_CONFIG (46).

use super::answer::{bad_header, done, error};
use crate::broker::ops::clients::HeartbeatSource;
use crate::broker::services::Broker;
use crate::remoting::ConnectionHandle;
use rocketmq_protocol::body::{decode_heartbeat_leniently, decode_json, CheckClientRequestBody};
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::UnregisterClientRequestHeader;
use rocketmq_protocol::RemotingCommand;

pub(super) fn heartbeat(
    broker: &Broker,
    conn: &ConnectionHandle,
    req: &RemotingCommand,
) -> RemotingCommand {
    let data = match decode_heartbeat_leniently(&req.body) {
        Ok(d) => d,
        Err(e) => return error(req, resp::SYSTEM_ERROR, format!("bad heartbeat body: {e}")),
    };
    let source = HeartbeatSource {
        conn,
        language: req.language,
    };
    done(req, broker.heartbeat(source, data))
}

pub(super) fn unregister(
    broker: &Broker,
    conn: &ConnectionHandle,
    req: &RemotingCommand,
) -> RemotingCommand {
    let h: UnregisterClientRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    broker.unregister_client(
        conn.id(),
        &h.client_id,
        h.producer_group.as_deref(),
        h.consumer_group.as_deref(),
    );
    RemotingCommand::response_to(req)
}

/// An unreadable body checks as an empty one (TAG filtering, accepted).
pub(super) fn check_client_config(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let body: CheckClientRequestBody = decode_json(&req.body).unwrap_or_default();
    done(req, broker.check_client_config(&body))
}
