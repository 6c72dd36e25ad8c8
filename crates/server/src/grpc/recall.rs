//! RecallMessage: cancel a timer message before it is delivered, as Apache's proxy maps it
//! (`RecallMessageActivity`, `ProducerProcessor.recallMessage`) onto the broker's recall
//! operation ([`crate::broker::ops::recall`]).
//!
//! - the topic is checked (ILLEGAL_TOPIC); a typed topic must take delay messages
//!   (MESSAGE_PROPERTY_CONFLICT_WITH_TYPE otherwise); an untyped one takes every type here;
//! - a handle that does not decode is INTERNAL_SERVER_ERROR "recall handle is invalid", as the
//!   proxy answers it; the broker's refusals keep their remark, TOPIC_NOT_EXIST as
//!   TOPIC_NOT_FOUND and every other one as INTERNAL_SERVER_ERROR (the proxy's mapping);
//! - success: OK and the recalled message's id.

use super::consumer_args::topic_name;
use super::message_in::check_type;
use super::status::{from_op_error, ok, status};
use super::GrpcFront;
use rocketmq_grpc::v2;
use rocketmq_protocol::recall::RecallHandle;
use tonic::{Request, Response, Status};

pub(super) async fn recall_message(
    front: &GrpcFront,
    request: Request<v2::RecallMessageRequest>,
) -> Result<Response<v2::RecallMessageResponse>, Status> {
    let req = request.into_inner();
    let (status, message_id) = match recall(front, &req).await {
        Ok(id) => (ok(), id),
        Err(refusal) => (refusal, String::new()),
    };
    Ok(Response::new(v2::RecallMessageResponse {
        status: Some(status),
        message_id,
    }))
}

async fn recall(front: &GrpcFront, req: &v2::RecallMessageRequest) -> Result<String, v2::Status> {
    let topic = topic_name(req.topic.as_ref())?;
    if let Some(config) = front.broker.topics.get(&topic) {
        check_type(&config.attributes, v2::MessageType::Delay)?;
    }
    if let Err(e) = RecallHandle::decode(&req.recall_handle) {
        return Err(status(v2::Code::InternalServerError, e.to_string()));
    }
    front
        .broker
        .recall(&topic, &req.recall_handle, None)
        .await
        .map_err(|e| from_op_error(&e))
}
