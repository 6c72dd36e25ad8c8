//! The remoting front end of the broker: one thin processor per concern (as the Java broker
//! has them), each decoding a command's header and body, calling the operation in
//! [`crate::broker::ops`] and encoding its result or error as the answer.
//!
//! - `send`: sends and consumer send-back; `pull`: pulls;
//! - `client_manage`: heartbeats, unregistering, client config checks;
//! - `consumer_manage`: consumer lists and offsets;
//! - `admin`: topics, queue bounds, message lookup, queue locks;
//! - `query`: messages by key (QUERY_MESSAGE);
//! - `consume_admin`: consume stats and reset offset by time;
//! - `end_transaction`: END_TRANSACTION; `recall`: RECALL_MESSAGE (timer messages);
//! - `assignment`: QUERY_ASSIGNMENT and SET_MESSAGE_REQUEST_MODE (server-side load balancing);
//! - `retention`: DELETE_EXPIRED_COMMITLOG, CLEAN_EXPIRED_CONSUMEQUEUE (clean at once);
//! - `pop`: POP, ACK, BATCH_ACK, CHANGE_INVISIBLE_TIME, NOTIFICATION (RocketMQ 5 consumption);
//! - `subscription_group`: consumer groups' configs (200, 201, 207, 225, 352);
//! - `answer`: the one place errors become response commands.
//!
//! What must stay true: sends are appended in the connection's reader (phase 1 of the send
//! operation runs before `process` returns its future), so pipelined sends on one connection
//! keep their arrival order; every other request runs in its own task.

mod admin;
mod answer;
mod assignment;
mod client_manage;
mod consume_admin;
mod consumer_manage;
mod end_transaction;
mod pop;
mod pull;
mod query;
mod recall;
mod retention;
mod send;
mod subscription_group;
#[cfg(test)]
mod tests;

use crate::broker::services::Broker;
use crate::remoting::server::{not_supported, BoxFuture};
use crate::remoting::{ConnectionHandle, RequestProcessor};
use rocketmq_protocol::code::request_code as rc;
use rocketmq_protocol::RemotingCommand;
use std::sync::Arc;

async fn dispatch(
    broker: &Broker,
    conn: ConnectionHandle,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let response = match req.code {
        rc::PULL_MESSAGE | rc::LITE_PULL_MESSAGE => {
            let answer = pull::pull(broker, &conn, &req).await;
            consume_admin::observe_pull(broker, &req, &answer);
            answer
        }
        rc::HEART_BEAT => client_manage::heartbeat(broker, &conn, &req),
        rc::UNREGISTER_CLIENT => client_manage::unregister(broker, &conn, &req),
        rc::CHECK_CLIENT_CONFIG => client_manage::check_client_config(broker, &req),
        rc::GET_CONSUMER_LIST_BY_GROUP => consumer_manage::consumer_list(broker, &req),
        rc::QUERY_CONSUMER_OFFSET => consumer_manage::query_offset(broker, &req),
        rc::UPDATE_CONSUMER_OFFSET => consumer_manage::update_offset(broker, &req),
        rc::GET_MAX_OFFSET
        | rc::GET_MIN_OFFSET
        | rc::SEARCH_OFFSET_BY_TIMESTAMP
        | rc::GET_EARLIEST_MSG_STORETIME => admin::queue_bounds(broker, &req),
        rc::CONSUMER_SEND_MSG_BACK => send::send_back(broker, &req).await,
        rc::LOCK_BATCH_MQ => admin::lock_batch(broker, &req),
        rc::UNLOCK_BATCH_MQ => admin::unlock_batch(broker, &req),
        rc::VIEW_MESSAGE_BY_ID => admin::view_message(broker, &req),
        rc::QUERY_MESSAGE => query::query_message(broker, &req).await,
        rc::UPDATE_AND_CREATE_TOPIC => admin::update_topic(broker, &req).await,
        rc::GET_ALL_TOPIC_CONFIG => admin::all_topic_config(broker, &req),
        rc::GET_CONSUME_STATS => consume_admin::consume_stats(broker, &req),
        rc::INVOKE_BROKER_TO_RESET_OFFSET => consume_admin::reset_offset(broker, &req),
        rc::END_TRANSACTION => end_transaction::end_transaction(broker, &req),
        rc::RECALL_MESSAGE => recall::recall(broker, &req).await,
        rc::POP_MESSAGE => pop::pop(broker, &conn, &req).await,
        rc::ACK_MESSAGE => pop::ack(broker, &req).await,
        rc::BATCH_ACK_MESSAGE => pop::batch_ack(broker, &req).await,
        rc::CHANGE_MESSAGE_INVISIBLETIME => pop::change_invisible(broker, &req).await,
        rc::NOTIFICATION => pop::notification(broker, &conn, &req).await,
        rc::DELETE_EXPIRED_COMMITLOG | rc::CLEAN_EXPIRED_CONSUMEQUEUE => {
            retention::clean_now(broker, &req).await
        }
        rc::QUERY_ASSIGNMENT => assignment::query_assignment(broker, &req),
        rc::SET_MESSAGE_REQUEST_MODE => assignment::set_message_request_mode(broker, &req),
        rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP | rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST => {
            subscription_group::update(broker, &req)
        }
        rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => subscription_group::get_all(broker, &req),
        rc::DELETE_SUBSCRIPTIONGROUP => subscription_group::delete(broker, &req),
        rc::GET_SUBSCRIPTIONGROUP_CONFIG => subscription_group::get(broker, &req),
        _ => not_supported(&req),
    };
    Some(response)
}

impl RequestProcessor for Broker {
    fn process(
        self: Arc<Self>,
        conn: ConnectionHandle,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        if matches!(
            request.code,
            rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE
        ) {
            // Append now, in the reader: sends on one connection keep their arrival order.
            let phase = send::store(&self, conn.peer(), &request);
            return Box::pin(async move { Some(send::finish(&self, &request, phase).await) });
        }
        Box::pin(async move { dispatch(&self, conn, request).await })
    }

    fn connection_closed(&self, conn: &ConnectionHandle) {
        self.connection_gone(conn.id());
    }
}
